"""Each reader against a tiny tree in its dataset's native layout (and each release variant)."""
import importlib

import pandas as pd
import pytest

from mer_keras.datasets import (
    DATASETS,
    ManifestError,
    load_manifest,
    read_manifest,
    validate,
    write_manifest,
)
from mer_keras.datasets.manifest import COLUMNS, frame_paths
from mer_keras.datasets.reading import skipped_table
from tests.fixtures import native_layouts as nl


def by_clip(df):
    return df.set_index("clip")


@pytest.mark.parametrize("release", ["raw", "cropped"])
@pytest.mark.parametrize("subject_as_int", [False, True])
def test_casme2_releases_and_subject_spellings(tmp_path, release, subject_as_int):
    nl.write_casme2(tmp_path, release=release, subject_as_int=subject_as_int)
    df = load_manifest("casme2", tmp_path, protocol="all")
    assert list(df.columns) == list(COLUMNS)
    assert sorted(df["subject"].unique()) == ["casme2/sub01", "casme2/sub02", "casme2/sub04", "casme2/sub11"]
    row = by_clip(df).loc["EP02_01f"]
    prefix = "img" if release == "raw" else "reg_img"
    files = row["frame_files"].split("|")
    assert files[0] == f"{prefix}46.jpg" and files[-1] == f"{prefix}86.jpg"
    assert files[row["onset_idx"]] == f"{prefix}46.jpg"
    assert files[row["apex_idx"]] == f"{prefix}59.jpg"
    assert (row["onset"], row["apex"], row["offset"], row["fps"]) == (46, 59, 86, 200.0)
    assert all(p.is_file() for p in frame_paths(row))
    assert validate(df) == []


def test_casme2_missing_apex_policies(tmp_path):
    nl.write_casme2(tmp_path)
    middle = by_clip(load_manifest("casme2", tmp_path, protocol="all"))
    assert middle.loc["EP12_01f", "apex_source"] == "middle"
    assert middle.loc["EP12_01f", "apex"] == 22  # frames 20..24 -> middle 22
    assert middle.loc["EP02_01f", "apex_source"] == "annotated"

    dropped = load_manifest("casme2", tmp_path, protocol="all", missing_apex="drop")
    assert "EP12_01f" not in set(dropped["clip"])
    skipped = skipped_table(dropped)
    assert skipped.set_index("clip").loc["EP12_01f", "reason"] == "apex missing in the sheet"

    with pytest.raises(ManifestError, match=r"row 6 \(sub04/EP12_01f\).*apex '/'"):
        load_manifest("casme2", tmp_path, protocol="all", missing_apex="error")
    with pytest.raises(ValueError, match="missing_apex"):
        load_manifest("casme2", tmp_path, protocol="all", missing_apex="guess")


def test_casme2_five_class_and_default_protocol(tmp_path):
    nl.write_casme2(tmp_path)
    five = load_manifest("casme2", tmp_path, protocol="casme2-5class")
    assert dict(zip(five["clip"], five["class_name"]))["EP03_02f"] == "others"
    assert len(five) == 6
    default = load_manifest("casme2", tmp_path)  # megc2019 without the list
    assert set(default["protocol"]) == {"megc2019"}
    # others dropped, the official list's omission sub04/EP12_01f applied explicitly
    assert set(default["clip"]) == {"EP02_01f", "EP19_05f", "EP01_11f", "EP13_05f"}
    reasons = skipped_table(default).set_index("clip")["reason"]
    assert reasons["EP03_02f"] == "emotion not in protocol megc2019"
    assert "official MEGC 2019 list" in reasons["EP12_01f"]


def test_casme2_raw_and_cropped_together_need_a_choice(tmp_path):
    nl.write_casme2(tmp_path, release="raw")
    nl.write_casme2(tmp_path, release="cropped")
    with pytest.raises(ManifestError, match="several folders"):
        load_manifest("casme2", tmp_path)
    df = load_manifest("casme2", tmp_path, protocol="all", frames=tmp_path / "Cropped")
    assert df["frame_files"].str.startswith("reg_img").all()


def test_casme2_csv_export_and_renamed_spellings(tmp_path):
    cols = ("subject", "File name", "", "Onset Frame", "Apex_Frame", "offsetframe", "", "AUs", "Emotion")
    nl.write_casme2(tmp_path, sheet_name="CASME2-coding-updated.csv", columns=cols)
    assert len(load_manifest("casme2", tmp_path, protocol="all")) == 6


@pytest.mark.parametrize("subject_as_int", [False, True])
def test_samm_preamble_and_subject_padding(tmp_path, subject_as_int):
    nl.write_samm(tmp_path, subject_as_int=subject_as_int)
    df = by_clip(load_manifest("samm", tmp_path, protocol="all"))
    assert df.loc["006_1_2", "subject"] == "samm/006"
    assert df.loc["006_1_2", "frame_files"].split("|")[df.loc["006_1_2", "apex_idx"]] == "006_05588.jpg"
    assert df.loc["006_1_2", "source"] == "SAMM_Micro_FACS_Codes_v2.xlsx row 15"  # header at row 14
    assert df.loc["025_7_1", "emotion"] == "other"
    megc = load_manifest("samm", tmp_path)
    assert "025_7_1" not in set(megc["clip"])
    assert dict(zip(megc["clip"], megc["class_name"])) == {
        "006_1_2": "negative", "006_1_3": "positive", "007_6_1": "surprise"}


@pytest.mark.parametrize("dataset,fps", [("smic-hs", 100.0), ("smic-vis", 25.0), ("smic-nir", 25.0), ("smic", 100.0)])
def test_smic_variants_label_from_folder_middle_apex(tmp_path, dataset, fps):
    nl.write_smic(tmp_path)
    df = load_manifest(dataset, tmp_path, protocol="three-class")
    key = "smic-hs" if dataset == "smic" else dataset
    assert set(df["dataset"]) == {key} and set(df["fps"]) == {fps}
    rows = by_clip(df)
    assert rows.loc["s1_ne_01", "subject"] == f"{key}/s1"
    assert rows.loc["s2_sur_01", "class_name"] == "surprise"
    sur = rows.loc["s2_sur_01"]  # 5 frames 42219..42223 -> middle 42221
    assert (sur["onset"], sur["apex"], sur["offset"], sur["apex_source"]) == (42219, 42221, 42223, "middle")
    assert len(df) == 4  # non_micro is not read


def test_smic_root_may_be_the_variant_folder(tmp_path):
    nl.write_smic(tmp_path, variants=("HS",))
    assert len(load_manifest("smic-hs", tmp_path / "HS")) == 4


def test_mmew_three_class_and_subject_keys(tmp_path):
    nl.write_mmew(tmp_path)
    df = load_manifest("mmew", tmp_path)
    assert set(df["subject"]) == {"mmew/S01", "mmew/S02"}
    assert dict(zip(df["clip"], df["class_name"])) == {
        "S01-01-001": "positive", "S01-04-001": "negative", "S02-02-001": "surprise"}
    assert set(df["fps"]) == {90.0}
    assert skipped_table(df)["emotion"].tolist() == ["others"]


def test_ck_plus_labelled_unlabelled_and_neutral(tmp_path):
    nl.write_ck_plus(tmp_path)
    df = load_manifest("ck+", tmp_path)
    assert sorted(zip(df["subject"], df["clip"], df["class_name"])) == [
        ("ck+/S005", "001", "negative"), ("ck+/S010", "002", "positive"), ("ck+/S010", "004", "surprise")]
    row = df.iloc[0]
    assert (row["onset"], row["apex"], row["offset"], row["apex_idx"]) == (1, 4, 4, 3)
    reasons = dict(zip(skipped_table(df)["clip"], skipped_table(df)["reason"]))
    assert reasons == {"003": "no emotion label file", "001": "emotion not in protocol three-class"}
    assert len(load_manifest("ckplus", tmp_path, protocol="all")) == 4  # neutral kept under all


def test_ck_plus_without_any_emotion_folder_is_an_error(tmp_path):
    nl.write_ck_plus(tmp_path)
    for f in sorted((tmp_path / "Emotion").rglob("*"), reverse=True):
        f.unlink() if f.is_file() else f.rmdir()
    (tmp_path / "Emotion").rmdir()
    with pytest.raises(ManifestError, match="no CK\\+ emotion label folder"):
        load_manifest("ck+", tmp_path)


def test_oulu_casia_reads_vis_strong_only(tmp_path):
    nl.write_oulu_casia(tmp_path)
    df = load_manifest("oulu-casia", tmp_path, protocol="all")
    assert len(df) == 6 and set(df["fps"]) == {25.0}
    assert df["frames_dir"].str.contains("/VL/Strong/").all()
    row = df.iloc[0]
    assert (row["onset"], row["apex"], row["offset"]) == (0, 2, 2)
    assert sorted(set(df["class_name"])) == ["anger", "happiness", "surprise"]


def test_jaffe_single_images(tmp_path):
    nl.write_jaffe(tmp_path)
    df = load_manifest("jaffe", tmp_path)
    rows = by_clip(df)
    assert rows.loc["KA.AN1.39", "subject"] == "jaffe/KA"
    assert rows.loc["KA.AN1.39", "class_name"] == "negative"
    assert (rows.loc["KL.SU1.158", ["onset", "apex", "offset", "apex_source"]].tolist()
            == [158, 158, 158, "single"])
    assert "KL.NE1.155" not in rows.index  # neutral dropped and counted
    assert skipped_table(df)["emotion"].tolist() == ["neutral"]


def test_mug_takes(tmp_path):
    nl.write_mug(tmp_path)
    df = load_manifest("mug", tmp_path, protocol="all")
    assert sorted(df["clip"]) == ["anger_take000", "happiness_take000", "neutral_take001", "surprise_take000"]
    assert set(df["subject"]) == {"mug/001", "mug/002"} and set(df["fps"]) == {19.0}


def test_manifest_round_trip(tmp_path):
    nl.write_casme2(tmp_path / "c")
    df = load_manifest("casme2", tmp_path / "c", protocol="casme2-5class")
    df.attrs.clear()
    out = write_manifest(df, tmp_path / "m.csv")
    back = read_manifest(out, check_frames=True)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_registry_knows_every_dataset():
    assert set(DATASETS) == {"casme2", "samm", "smic-hs", "smic-vis", "smic-nir", "mmew", "ck+",
                             "oulu-casia", "jaffe", "mug", "synthme", "synthme-macro",
                             "smic-hs-e", "smic-vis-e", "smic-nir-e", "casme3"}
    for spec in DATASETS.values():  # every lazily named reader exists and is callable
        module, function = spec.reader.split(":")
        assert callable(getattr(importlib.import_module(f"mer_keras.datasets.{module}"), function))
    with pytest.raises(ValueError, match="unknown dataset 'casme4'"):
        load_manifest("casme4", "/nowhere")


def test_all_sequences_unlabelled_gives_an_empty_manifest_with_the_reason(tmp_path):
    nl.write_ck_plus(tmp_path, sequences=[{"subject": "S005", "seq": "001", "frames": 3, "code": None}])
    df = load_manifest("ck+", tmp_path, protocol="all")
    assert len(df) == 0 and list(df.columns) == list(COLUMNS)
    assert skipped_table(df)[["subject", "clip", "reason"]].values.tolist() == [
        ["ck+/S005", "001", "no emotion label file"]]
