"""prepare(): every representation's shape and range, the cache (hit, miss, resume), errors and fallbacks, CLI."""
import cv2
import numpy as np
import pandas as pd
import pytest
import skimage.data

from mer_keras.cli import main as cli_main
from mer_keras.datasets.manifest import make_row, write_manifest
from mer_keras.preprocessing import PreprocessingError, prepare
from mer_keras.preprocessing import representations as reps

N_FRAMES = 12


def _write_clip(folder, image, shift_px):
    """Frames of a face drifting right by up to ``shift_px`` (apex at frame 6); file names img1..img12."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for t in range(N_FRAMES):
        dx = shift_px * min(t, 5) / 5
        frame = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, 0]]), image.shape[1::-1],
                               borderMode=cv2.BORDER_REFLECT)
        names.append(f"img{t + 1}.jpg")
        cv2.imwrite(str(folder / names[-1]), frame[..., ::-1])
    return names


def _row(folder, names, subject, clip):
    return make_row(dataset="synthme", subject=f"synthme/{subject}", clip=clip, emotion="happiness", onset=1,
                    apex=6, offset=N_FRAMES, frames_dir=folder, frame_files=names, apex_source="annotated", fps=50)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Three clips of a real face (two subjects) with a 1 px drift; returned as a manifest DataFrame."""
    root = tmp_path_factory.mktemp("clips")
    face = cv2.resize(skimage.data.astronaut()[0:300, 100:400], (160, 160), interpolation=cv2.INTER_AREA)
    rows = []
    for subject, clip in (("s1", "c1"), ("s1", "c2"), ("s2", "c1")):
        folder = root / subject / clip
        rows.append(_row(folder, _write_clip(folder, face, 1.0), subject, clip))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("representation, shape, lo, hi", [
    ("flow", (64, 64, 3), -1, 1),
    ("flow_hsv", (64, 64, 3), 0, 1),
    ("apex", (64, 64, 1), 0, 1),
    ("ars", (64, 64, 3), 0, 1),
    ("rrs", (64, 64, 3), 0, 1),
    ("frame_stack", (16, 64, 64, 3), 0, 1),
    ("evm_stack", (16, 64, 64, 3), 0, 1),
])
def test_representation_shapes_and_ranges(corpus, tmp_path, representation, shape, lo, hi):
    gray = representation == "apex"
    res = prepare(corpus.iloc[:1], representation, tmp_path, n_jobs=1, progress=False, size=64, grayscale=gray,
                  masks=("eyes",))
    x = res.stack()
    assert x.shape == (1, *shape) and x.dtype == np.float32
    assert lo <= x.min() and x.max() <= hi and x.max() > x.min()
    assert len(res.fallbacks) == 0


def test_flow_sees_the_drift_and_masks_are_zero(corpus, tmp_path):
    res = prepare(corpus.iloc[:1], "flow", tmp_path, n_jobs=1, progress=False, size=64, flow_size=64,
                  masks=("eyes",), third="magnitude", flow_bound=2.0)
    x = res[0]
    info = res.info(0)
    assert info["fallback"] is None and len(info["landmarks"]) == 68
    inside = x[16:48, 16:48]
    moving = inside[..., 2] > 0
    # a 1 px rightward drift in the frame is the matrix's first column in the aligned face; / flow_bound
    m = np.array(info["matrix"])
    assert m[0, 0] > 0.5
    assert np.median(inside[..., 0][moving]) == pytest.approx(m[0, 0] / 2.0, abs=0.1)
    assert np.median(inside[..., 1][moving]) == pytest.approx(m[1, 0] / 2.0, abs=0.1)
    assert (x.reshape(-1, 3)[np.all(x.reshape(-1, 3) == 0, axis=1)]).shape[0] > 20  # masked eyes


def test_redetect_per_frame_follows_the_head(corpus, tmp_path):
    kw = {"n_jobs": 1, "progress": False, "size": 64, "flow_method": "farneback", "third": "magnitude",
          "flow_bound": 2.0}
    fixed = prepare(corpus.iloc[:1], "flow", tmp_path, **kw)[0]
    tracked = prepare(corpus.iloc[:1], "flow", tmp_path, redetect=True, **kw)[0]
    # the clip's drift is rigid: re-fitting on the apex frame cancels most of it
    assert abs(np.median(tracked[16:48, 16:48, 0])) < 0.5 * abs(np.median(fixed[16:48, 16:48, 0]))


def test_flow_stack_shape(corpus, tmp_path):
    res = prepare(corpus.iloc[:1], "flow_stack", tmp_path, n_jobs=1, progress=False, size=48, n_frames=4,
                  flow_method="farneback", magnify=False)
    x = res[0]
    assert x.shape == (4, 48, 48, 3) and -1 <= x.min() and x.max() <= 1
    assert np.abs(x[-1, ..., 0]).mean() > np.abs(x[0, ..., 0]).mean()  # later key frames moved further


def test_cache_hit_miss_on_changed_parameter(corpus, tmp_path):
    first = prepare(corpus, "apex", tmp_path, n_jobs=2, progress=False, size=48)
    assert (first.computed, first.reused, len(first)) == (3, 0, 3)
    again = prepare(corpus, "apex", tmp_path, n_jobs=2, progress=False, size=48)
    assert (again.computed, again.reused) == (0, 3)
    np.testing.assert_array_equal(again.stack(), first.stack())
    other = prepare(corpus, "apex", tmp_path, n_jobs=1, progress=False, size=48, masks=("eyes",))
    assert other.computed == 3 and not np.array_equal(other.stack(), first.stack())
    assert list(other.manifest["clip"]) == list(corpus["clip"])


def test_resume_after_interruption(corpus, tmp_path, monkeypatch):
    real = reps.compute
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(reps, "compute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(corpus, "rrs", tmp_path, n_jobs=1, progress=False, size=48)
    monkeypatch.setattr(reps, "compute", real)
    assert len(list(tmp_path.rglob("*.npz"))) == 2 and not list(tmp_path.rglob("*.tmp*"))
    resumed = prepare(corpus, "rrs", tmp_path, n_jobs=1, progress=False, size=48)
    assert (resumed.computed, resumed.reused) == (1, 2)


def test_unreadable_frame_and_short_clip_name_clip_and_frame(corpus, tmp_path):
    broken = corpus.iloc[[0]].copy()
    folder = tmp_path / "broken"
    folder.mkdir()
    names = str(broken.iloc[0]["frame_files"]).split("|")
    for n in names:
        (folder / n).write_bytes(b"not an image")
    broken["frames_dir"] = str(folder)
    # frame 5 is the apex: rep_apex reads and aligns on the apex frame alone
    with pytest.raises(PreprocessingError, match=r"clip synthme/s1/c1: frame 5 \(.*img6.jpg\) cannot be read"):
        prepare(broken, "apex", tmp_path / "cache", n_jobs=1, progress=False, size=48)
    short = corpus.iloc[[1]].copy()
    short["apex_idx"] = 30
    short["offset_idx"] = 40
    with pytest.raises(PreprocessingError, match=r"synthme/s1/c2: has 12 frame\(s\).*position\(s\) \[30\]"):
        prepare(short, "apex", tmp_path / "cache", n_jobs=1, progress=False, size=48)


def test_no_face_error_then_explicit_fallbacks(corpus, tmp_path):
    faceless = tmp_path / "blank"
    faceless.mkdir()
    names = [f"img{t + 1}.jpg" for t in range(N_FRAMES)]
    for name in names:
        cv2.imwrite(str(faceless / name), np.full((160, 160, 3), 90, np.uint8))
    rows = pd.concat([corpus.iloc[:2], pd.DataFrame([_row(faceless, names, "s1", "blank")])], ignore_index=True)
    with pytest.raises(PreprocessingError, match="no frontal face found in clip synthme/s1/blank, apex frame 5"):
        prepare(rows, "apex", tmp_path / "c", n_jobs=1, progress=False, size=48)
    prev = prepare(rows, "apex", tmp_path / "c", n_jobs=1, progress=False, size=48, on_no_face="previous")
    assert list(prev.fallbacks["clip"]) == ["blank"]
    assert "previous clip transform (from synthme/s1/c2)" in prev.fallbacks["fallback"].iloc[0]
    assert prev.info(2)["matrix"] == prev.info(1)["matrix"]
    centre = prepare(rows, "apex", tmp_path / "c", n_jobs=1, progress=False, size=48, on_no_face="center")
    assert centre.fallbacks["fallback"].iloc[0].startswith("center crop")
    assert centre.computed == 3  # a different fallback policy is a different cache entry


def test_unknown_parameter_is_rejected(corpus, tmp_path):
    with pytest.raises(ValueError, match="unknown parameter.*'sise'"):
        prepare(corpus, "flow", tmp_path, size=64, sise=3)
    with pytest.raises(ValueError, match="unknown representation"):
        prepare(corpus, "optical", tmp_path)


def test_cli_prepare_runs_and_reuses_the_cache(corpus, tmp_path, capsys):
    manifest = write_manifest(corpus.assign(label=0, class_name="negative", protocol="three-class"),
                              tmp_path / "m.csv")
    argv = ["prepare", "--manifest", str(manifest), "--representation", "flow", "--cache", str(tmp_path / "c"),
            "--size", "48", "--flow-method", "farneback", "--param", "third=magnitude", "--n-jobs", "1",
            "--no-progress"]
    assert cli_main(argv) == 0
    assert "3 computed, 0 reused" in capsys.readouterr().out
    assert cli_main(argv) == 0
    assert "0 computed, 3 reused" in capsys.readouterr().out
