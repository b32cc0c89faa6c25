"""Precomputed inputs: the public layouts of shared flow images read as one manifest, and `prepare` on them."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer_keras.cli import main
from mer_keras.datasets import ManifestError, read_manifest, write_manifest
from mer_keras.datasets.precomputed import parse_name, read
from mer_keras.errors import InputError
from mer_keras.preprocessing import hflip, prepare
from tests.fixtures.precomputed_layouts import (
    SMALL,
    htnet_csv,
    official_rows,
    random_flow,
    scaled_flow_image,
    write_flat,
    write_fold_tree,
    write_rgb,
)

OFFICIAL = Path(__file__).resolve().parents[2] / "shared" / "megc2019" / "combined_3class_gt.csv"
COUNTS = {"smic": (70, 51, 43), "casme2": (88, 32, 25), "samm": (92, 26, 15)}


def _counts(df):
    family = df["dataset"].str.split("-").str[0]
    return {f: tuple(int((part["label"] == c).sum()) for c in range(3)) for f, part in df.groupby(family)}


def test_names_with_the_releases_identifier_traps():
    assert parse_name("006_006_1_2 .png") == ("samm", "samm/006", "006_1_2")
    assert parse_name("s01_s01_ne_01 .png") == ("smic-hs", "smic-hs/s1", "s1_ne_01")
    assert parse_name("s01_s1_ne_01.jpg") == ("smic-hs", "smic-hs/s1", "s1_ne_01")  # HTNet's imagename spelling
    assert parse_name("sub01_EP02_01f.png") == ("casme2", "casme2/sub01", "EP02_01f")
    assert parse_name("clip7.png") is None


def test_flat_folder_with_htnet_csv_gives_the_clips_subjects_and_labels(tmp_path):
    write_flat(tmp_path / "flow", SMALL)  # "sub01_EP02_01f .png": a space before the extension
    write_flat(tmp_path / "apex", SMALL, space=False, suffix=".jpg", seed=50)
    df = read({"flow": tmp_path / "flow", "apex": tmp_path / "apex"}, labels=htnet_csv(tmp_path / "l.csv", SMALL))
    assert len(df) == 9 and set(df["protocol"]) == {"megc2019"}
    got = {(r.subject, r.clip): r.label for r in df.itertuples()}
    assert got[("smic-hs/s1", "s1_ne_01")] == 0 and got[("samm/006", "006_1_2")] == 0
    assert got[("casme2/sub02", "EP11_01")] == 2 and got[("smic-hs/s11", "s11_sur_01")] == 2
    row = df.set_index("clip").loc["s1_ne_01"]
    assert row["input_flow"].endswith("s01_s01_ne_01 .png") and row["input_apex"].endswith("s01_s01_ne_01.jpg")
    write_manifest(df, tmp_path / "m.csv")
    back = read_manifest(tmp_path / "m.csv", check_frames=True)
    assert len(back) == 9


def test_per_fold_tree_is_one_manifest_with_each_clip_once(tmp_path):
    write_fold_tree(tmp_path / "tree", SMALL)
    write_flat(tmp_path / "flat", SMALL)
    tree = read({"flow": tmp_path / "tree"})  # labelled by its class folders
    flat = read({"flow": tmp_path / "flat"}, labels=htnet_csv(tmp_path / "l.csv", SMALL))
    key = ["subject", "clip", "label"]
    pd.testing.assert_frame_equal(tree[key].sort_values(key).reset_index(drop=True),
                                  flat[key].sort_values(key).reset_index(drop=True))
    assert all("/u_test/" in p for p in tree["input_flow"])  # each clip's own fold copy


def test_a_listed_clip_without_a_file_and_a_duplicate_file_are_problems(tmp_path):
    paths = write_flat(tmp_path / "flow", SMALL)
    paths["sub01_EP02_01f"].unlink()
    write_rgb(tmp_path / "flow" / "006_006_1_2.png", np.zeros((4, 4, 3)))  # beside "006_006_1_2 .png"
    with pytest.raises(ManifestError) as e:
        read({"flow": tmp_path / "flow"}, labels=htnet_csv(tmp_path / "l.csv", SMALL))
    text = str(e.value)
    assert "casme2/sub01/EP02_01f" in text and "no 'flow' file" in text
    assert "several files for one clip" in text and "006_006_1_2" in text


@pytest.mark.skipif(not OFFICIAL.is_file(), reason="official MEGC 2019 list not present")
def test_the_442_names_with_the_official_list_give_the_published_counts(tmp_path):
    rows = official_rows(OFFICIAL)
    write_flat(tmp_path / "flow", rows)
    write_rgb(tmp_path / "flow" / "sub05_EP09_05f .png", np.zeros((4, 4, 3)))  # not in the list
    df = read({"flow": tmp_path / "flow"}, megc_gt=OFFICIAL)
    assert len(df) == 442 and _counts(df) == COUNTS
    assert df.groupby(df["dataset"].str.split("-").str[0])["subject"].nunique().to_dict() == \
        {"smic": 16, "casme2": 24, "samm": 28}
    assert [s["clip"] for s in df.attrs["skipped"]] == ["sub05_EP09_05f .png"]
    with_csv = read({"flow": tmp_path / "flow"}, labels=htnet_csv(tmp_path / "l.csv", rows), megc_gt=OFFICIAL)
    assert _counts(with_csv) == COUNTS  # the CSV's s01_s1_ne_01.jpg / sub 006 spellings agree with the list


def test_cli_writes_the_manifest_and_prepare_reads_each_representation(tmp_path, capsys):
    write_flat(tmp_path / "flow", SMALL)
    write_flat(tmp_path / "apex", SMALL, seed=50)
    labels = htnet_csv(tmp_path / "l.csv", SMALL)
    out = tmp_path / "m.csv"
    assert main(["manifest", "precomputed", "--labels", str(labels), "--input", f"flow={tmp_path / 'flow'}",
                 "--input", f"apex={tmp_path / 'apex'}", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    flow = prepare(out, "flow", tmp_path / "cache", size=16, progress=False)
    assert flow.stack().shape == (9, 16, 16, 3) and flow.info(0)["source_shape"] == [4, 4, 3]
    apex = prepare(out, "apex", tmp_path / "cache", size=16, grayscale=True, masks="eyes", progress=False)
    assert apex.stack().shape == (9, 16, 16, 1)
    assert apex.info(0)["not_applied"] == {"masks": "('eyes',)"}
    flow_only = read({"flow": tmp_path / "flow"}, labels=labels)
    with pytest.raises(InputError, match=r"needs the 'apex' input .* only \['flow'\]"):
        prepare(flow_only, "apex", tmp_path / "cache", size=16, progress=False)


def test_flipping_scaled_flow_images_mirrors_u_as_flipping_the_flow_would(tmp_path):
    flow = random_flow(3, 8)
    mirrored = np.array(flow[:, ::-1])
    mirrored[..., 0] = -mirrored[..., 0]  # the flow of the mirrored face
    scaled = scaled_flow_image(flow) / 255.0
    truth = scaled_flow_image(mirrored) / 255.0
    np.testing.assert_allclose(hflip(scaled, "flow_scaled"), truth, atol=1e-6)
    assert not np.allclose(hflip(scaled, "flow"), truth, atol=1e-2)  # negating a 0..1 channel is not a mirror
    # what `prepare` makes of such files flips correctly with the pipeline's own "flow" kind
    rows = [("casme2", "sub01", "EP02_01f", 0), ("casme2", "sub01", "EP19_05f", 0)]
    write_rgb(tmp_path / "f" / "sub01_EP02_01f.png", scaled_flow_image(flow))
    write_rgb(tmp_path / "f" / "sub01_EP19_05f.png", scaled_flow_image(mirrored))
    df = read({"flow": tmp_path / "f"}, labels=htnet_csv(tmp_path / "l.csv", rows))
    x = prepare(df, "flow", tmp_path / "cache", size=8, progress=False).stack()
    np.testing.assert_allclose(hflip(x[0], "flow"), x[1], atol=2.5 / 255)  # 8-bit rounding of both files


def test_generic_folder_and_csv_with_arrays_and_emotions(tmp_path):
    (tmp_path / "flow").mkdir()
    rows = [("p1", "a", "happiness"), ("p1", "b", "anger"), ("p2", "c", "surprise"), ("p2", "d", "neutral")]
    for k, (_, clip, _) in enumerate(rows):
        np.save(tmp_path / "flow" / f"{clip}.npy", random_flow(k, 6))  # raw u, v in pixels: kept as they are
    pd.DataFrame(rows, columns=["subject", "clip", "emotion"]).assign(dataset="mydata").to_csv(tmp_path / "l.csv",
                                                                                            index=False)
    df = read({"flow": tmp_path / "flow"}, labels=tmp_path / "l.csv")
    assert list(df["subject"]) == ["mydata/p1", "mydata/p1", "mydata/p2"] and list(df["label"]) == [1, 0, 2]
    assert df.attrs["skipped"][0]["reason"] == "emotion not in protocol three-class"  # neutral, counted
    x = prepare(df, "flow", tmp_path / "cache", size=6, progress=False).stack()
    np.testing.assert_allclose(x[0][..., :2], random_flow(0, 6), rtol=1e-6)
