"""STSTNet-style ``norm_u_v_os`` flow images: channel order and scaling, naming, and the round trip through the
package's own precomputed reader."""
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data

from mer_keras.cli import main as cli_main
from mer_keras.datasets.manifest import make_row, write_manifest
from mer_keras.datasets.precomputed import canonical, parse_name
from mer_keras.errors import InputError
from mer_keras.preprocessing import optical_strain, prepare
from mer_keras.preprocessing.flow_images import (
    UNCLIPPED,
    export_flow_images,
    image_stem,
    norm_u_v_os,
    write_image,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "realdata-dev"
N_FRAMES = 8
APEX = 5


def _analytic_entry(size=56):
    """u falls with x (quadratically), v rises with y, so strain (from u's x-derivative) rises with x."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) / size
    flow = np.dstack([-3.0 * x**2, 2.0 * y]).astype(np.float32)
    return np.dstack([flow, optical_strain(flow)])


def test_channels_stored_as_r_u_g_v_b_strain_each_min_max_scaled(tmp_path):
    image, flat = norm_u_v_os(_analytic_entry(), 28)
    assert flat == [] and image.shape == (28, 28, 3)
    write_image(tmp_path / "a.png", image)
    stored = cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)  # as the file holds it: B, G, R planes
    assert stored.dtype == np.uint8 and stored.shape == (28, 28, 3)
    r, g, b = stored[..., 2].astype(int), stored[..., 1].astype(int), stored[..., 0].astype(int)
    for channel in (r, g, b):  # min-max per image: every channel spans 0..255
        assert channel.min() == 0 and channel.max() == 255
    assert (r[:, 0] == 255).all() and (r[:, -1] == 0).all() and (np.diff(r, axis=1) <= 0).all()  # u falls with x
    assert (g[0] == 0).all() and (g[-1] == 255).all() and (np.diff(g, axis=0) >= 0).all()  # v rises with y
    assert (np.ptp(r, axis=0) == 0).all() and (np.ptp(g, axis=1) == 0).all()
    assert (np.diff(b[1:-1], axis=1) >= 0).all() and b[14, -2] > b[14, 1] + 200  # strain rises with x
    assert np.abs(stored[..., ::-1] / 255.0 - image).max() <= 0.5 / 255 + 1e-9  # rounded, not truncated


def test_a_flat_channel_is_zero_and_reported():
    entry = _analytic_entry()
    entry[..., 1] = 0.7
    image, flat = norm_u_v_os(entry, 28)
    assert flat == [1] and (image[..., 1] == 0).all() and image[..., 0].max() == 1.0


def test_public_names_read_back_to_the_manifest_keys():
    assert image_stem("casme2", "casme2/sub01", "EP02_01f") == "sub01_EP02_01f"
    assert image_stem("samm", "samm/006", "006_1_2") == "006_006_1_2"
    assert image_stem("smic-hs", "smic-hs/s1", "s1_ne_01") == "s01_s01_ne_01"
    for dataset, subject, clip in (("casme2", "sub01", "EP02_01f"), ("samm", "006", "006_1_2"),
                                   ("smic-hs", "s1", "s1_ne_01")):
        stem = image_stem(dataset, f"{dataset}/{subject}", clip)
        assert parse_name(f"{stem}.png") == canonical(dataset, subject, clip) == (dataset, f"{dataset}/{subject}",
                                                                                  clip)


def _write_zoom_clip(folder, face, zoom):
    """The face growing about its centre up to ``zoom`` at the apex: u rises with x, v with y."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    h, w = face.shape[:2]
    for t in range(N_FRAMES):
        s = 1.0 + zoom * min(t, APEX - 1) / (APEX - 1)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, s)
        names.append(f"img{t + 1}.jpg")
        cv2.imwrite(str(folder / names[-1]), cv2.warpAffine(face, m, (w, h), borderMode=cv2.BORDER_REFLECT)[..., ::-1])
    return names


@pytest.fixture(scope="module")
def zoom_manifest(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoom")
    face = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (160, 160), interpolation=cv2.INTER_AREA)
    rows = []
    for i, (subject, clip, zoom) in enumerate((("s1", "c1", 0.04), ("s1", "c2", 0.03), ("s2", "c1", 0.05))):
        folder = root / subject / clip
        rows.append(make_row(dataset="synthme", subject=f"synthme/{subject}", clip=clip, emotion="happiness",
                             onset=1, apex=APEX, offset=N_FRAMES, frames_dir=folder,
                             frame_files=_write_zoom_clip(folder, face, zoom), apex_source="annotated", fps=50)
                    | {"label": i, "class_name": ("negative", "positive", "surprise")[i], "protocol": "three-class"})
    return write_manifest(pd.DataFrame(rows), root / "m.csv")


def test_export_from_frames_reads_back_through_the_precomputed_reader(zoom_manifest, tmp_path, capsys):
    out = tmp_path / "images"
    assert cli_main(["prepare", "--manifest", str(zoom_manifest), "--representation", "flow", "--cache",
                     str(tmp_path / "c"), "--size", "64", "--export-images", str(out), "--n-jobs", "1",
                     "--no-progress"]) == 0
    assert "flow images: 3 norm_u_v_os PNG(s)" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.png")) == ["s1_c1.png", "s1_c2.png", "s2_c1.png"]
    # what the images hold before quantisation: the unclipped flow entries, shrunk and min-max scaled
    flows = prepare(zoom_manifest, "flow", tmp_path / "c", n_jobs=1, progress=False, size=64, **UNCLIPPED)
    assert flows.computed == 0  # the export's own cached entries
    expected = np.stack([norm_u_v_os(flows[i])[0] for i in range(3)])
    rows, cols = np.mgrid[0:28, 0:28]
    for image in expected:  # the zoom: u follows the column, v the row (R = u, G = v)
        assert np.corrcoef(image[..., 0].ravel(), cols.ravel())[0, 1] > 0.9
        assert np.corrcoef(image[..., 1].ravel(), rows.ravel())[0, 1] > 0.9
    expected[..., :2] = 2.0 * expected[..., :2] - 1.0  # the reader's documented mapping of u, v to [-1, 1]

    pre = tmp_path / "pre.csv"
    assert cli_main(["manifest", "precomputed", "--labels", str(out / "labels.csv"), "--input", f"flow={out}",
                     "--out", str(pre)]) == 0
    read = pd.read_csv(pre)
    assert list(read["clip"]) == ["c1", "c2", "c1"] and list(read["label"]) == [0, 1, 2]
    back = prepare(pre, "flow", tmp_path / "c2", n_jobs=1, progress=False, size=28).stack()
    assert back.shape == (3, 28, 28, 3)
    assert np.abs(back - expected).max() <= 1.0 / 255 + 1e-6  # within the files' quantisation


@pytest.mark.skipif(not (SHARED / "flow").is_dir(), reason="../shared/realdata-dev is not here")
def test_exported_images_match_the_shared_images_format(zoom_manifest, tmp_path):
    """The shared README: 28x28x3, stored u, v, strain, each channel min-max scaled to 0-255 per image. The
    shared files show it as every channel spanning 0..255 and a strain channel (B) mostly dark; ours too."""
    shared = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((SHARED / "flow").glob("*.png"))[:40]]
    export_flow_images(zoom_manifest, tmp_path / "images", tmp_path / "c", n_jobs=1, progress=False, size=64)
    ours = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((tmp_path / "images").glob("*.png"))]
    for group in (shared, ours):
        assert len(group) >= 3
        for stored in group:
            assert stored.shape == (28, 28, 3) and stored.dtype == np.uint8
            assert (stored.min(axis=(0, 1)) == 0).all() and (stored.max(axis=(0, 1)) == 255).all()
        means = np.mean([s.reshape(-1, 3).mean(axis=0) for s in group], axis=0)  # B, G, R
        assert means[0] < 0.6 * min(means[1], means[2])


def test_bad_uses_are_one_line_errors(zoom_manifest, tmp_path, capsys):
    code = cli_main(["prepare", "--manifest", str(zoom_manifest), "--representation", "apex", "--cache",
                     str(tmp_path / "c"), "--export-images", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--export-images writes flow images" in err and "Traceback" not in err
    (tmp_path / "file").write_text("in the way")
    code = cli_main(["prepare", "--manifest", str(zoom_manifest), "--representation", "flow", "--cache",
                     str(tmp_path / "c"), "--export-images", str(tmp_path / "file" / "x"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "a file stands where the folder should be" in err and "Traceback" not in err
    assert not (tmp_path / "c").exists()  # refused before any flow was computed
    rows = pd.read_csv(zoom_manifest)
    twice = pd.concat([rows.iloc[:1], rows.iloc[:1].assign(dataset="other", subject="other/s1")])
    with pytest.raises(InputError, match="would both be s1_c1.png"):
        export_flow_images(twice, tmp_path / "y", tmp_path / "c", n_jobs=1, progress=False, size=64)
