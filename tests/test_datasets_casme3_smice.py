"""CAS(ME)^3 part A and SMIC-E readers on fixture trees in their native layouts (fast, no TensorFlow)."""
import logging
import shutil

import pandas as pd
import pytest

from mer_keras.cli import main
from mer_keras.datasets import ManifestError, load_manifest, read_manifest
from mer_keras.datasets.labels import casme3_four_class, casme3_three_class
from mer_keras.datasets.reading import skipped_table
from tests.fixtures import casme3_smice_layouts as cl
from tests.fixtures.native_layouts import write_frames

# --- CAS(ME)^3 part A ---------------------------------------------------------------------------------

def test_casme3_default_three_classes_clip_per_interval_and_only_its_frames(tmp_path):
    cl.write_casme3(tmp_path)
    df = load_manifest("casme3", tmp_path)
    assert (df["protocol"] == "casme3-3class").all()
    got = {(r.subject, r.clip): (r.class_name, r.label) for r in df.itertuples()}
    assert got == {("casme3/spNO.1", "a_355"): ("negative", 0), ("casme3/spNO.1", "a_400"): ("positive", 1),
                   ("casme3/spNO.2", "c_20"): ("surprise", 2), ("casme3/spNO.2", "d_5"): ("negative", 0)}
    row = df.set_index("clip").loc["a_355"]
    # the task video holds 352..406; the clip lists only 355..360, read from color/ (never depth/)
    assert row["frame_files"].split("|") == [f"{n}.jpg" for n in range(355, 361)]
    assert (row["onset_idx"], row["apex_idx"], row["offset_idx"]) == (0, 2, 5)
    assert row["frames_dir"].endswith("spNO.1/a/color") and row["apex_source"] == "annotated"
    assert row["fps"] == 30.0 and "row 2" in row["source"]
    skipped = skipped_table(df)
    assert skipped[["clip", "emotion"]].values.tolist() == [["b_10", "others"]]
    assert "emotion not in protocol casme3-3class" in skipped["reason"][0]


def test_casme3_four_classes_keep_others_and_the_mappings_are_explicit(tmp_path):
    cl.write_casme3(tmp_path)
    df = load_manifest("casme3", tmp_path, protocol="casme3-4class")
    assert df.set_index("clip")["class_name"].to_dict() == {
        "a_355": "negative", "a_400": "positive", "b_10": "others", "c_20": "surprise", "d_5": "negative"}
    assert df.set_index("clip").loc["b_10", "label"] == 3 and len(skipped_table(df)) == 0
    three = {e: casme3_three_class(e) for e in ("anger", "disgust", "fear", "sad", "happy", "surprise", "others")}
    assert three == {"anger": 0, "disgust": 0, "fear": 0, "sad": 0, "happy": 1, "surprise": 2, "others": None}
    assert casme3_four_class("others") == 3 and casme3_four_class("happiness") is None  # not CAS(ME)^3's spelling


def test_casme3_problems_are_reported_together_with_their_rows(tmp_path):
    clips = list(cl.CASME3_CLIPS) + [
        {"subject": "spNO.2", "task": "d", "onset": 112, "apex": 83, "offset": 120, "emotion": "fear"},  # spNO.149/d
        {"subject": "spNO.2", "task": "z", "onset": 1, "apex": 2, "offset": 3, "emotion": "anger"},  # no task folder
        {"subject": "spNO.1", "task": "b", "onset": 11, "apex": 12, "offset": 12, "emotion": "contempt"},
        {"subject": "spNO.9", "task": "a", "onset": 1, "apex": 2, "offset": 3, "emotion": "anger"},  # no subject
    ]
    paths = cl.write_casme3(tmp_path, clips=clips)
    shutil.rmtree(paths["frames"] / "spNO.2" / "z")
    shutil.rmtree(paths["frames"] / "spNO.9")
    (paths["frames"] / "spNO.1" / "a" / "color" / "355.jpg").unlink()  # a dropped onset frame
    with pytest.raises(ManifestError) as e:
        load_manifest("casme3", tmp_path, protocol="all")
    text = str(e.value)
    assert "row 2" in text and "onset frame 355 is not among" in text
    assert "apex 83 is not within onset..offset 112..120" in text
    assert "row 8" in text and "clip folder does not exist" in text
    assert "row 9" in text and "unknown emotion 'contempt'" in text
    assert "row 10" in text and "no subject folder spNO.9" in text
    ok = load_manifest("casme3", tmp_path, protocol="all", on_error="report")
    assert sorted(ok["clip"]) == ["a_400", "b_10", "c_20", "d_5"] and len(ok.attrs["problems"]) == 6  # the apex row twice


def test_casme3_sheet_with_macro_expressions_counts_them_and_a_missing_apex_follows_the_policy(tmp_path):
    clips = [dict(c) for c in cl.CASME3_CLIPS]
    clips[3]["apex"] = "/"
    cl.write_casme3(tmp_path, clips=clips, columns=cl.CASME3_COLUMNS + ("Expression type",),
                    extra=["Micro-expression"] * 4 + ["Macro-expression"], sheet_name="CAS(ME)3_part_A_v2.xlsx")
    df = load_manifest("casme3", tmp_path, protocol="all")
    assert sorted(df["clip"]) == ["a_355", "a_400", "b_10", "c_20"]
    row = df.set_index("clip").loc["c_20"]
    assert (row["apex"], row["apex_source"]) == (21, "middle")  # middle of 20..23 among the files
    skipped = skipped_table(df)
    assert skipped[["clip", "emotion"]].values.tolist() == [["d_5", "sad"]]
    assert "Macro-expression" in skipped["reason"][0]
    dropped = load_manifest("casme3", tmp_path, protocol="all", missing_apex="drop")
    assert "c_20" not in set(dropped["clip"])


def test_casme3_manifest_command(tmp_path, capsys):
    cl.write_casme3(tmp_path / "casme3")
    out = tmp_path / "m.csv"
    assert main(["manifest", "casme3", "--root", str(tmp_path / "casme3"), "--protocol", "casme3-4class",
                 "--out", str(out)]) == 0
    written = read_manifest(out, check_frames=True)
    expected = load_manifest("casme3", tmp_path / "casme3", protocol="casme3-4class")
    expected.attrs.clear()
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    assert "5 clips, 2 subjects" in capsys.readouterr().out


# --- SMIC-E -------------------------------------------------------------------------------------------

def test_smic_e_onset_offset_from_the_sheet_middle_apex_and_smic_keys(tmp_path, caplog):
    cl.write_smic_e(tmp_path)
    with caplog.at_level(logging.INFO, logger="mer_keras"):
        df = load_manifest("smic-hs-e", tmp_path, protocol="three-class")
    got = {(r.subject, r.clip): r.class_name for r in df.itertuples()}
    assert got == {("smic-hs-e/s1", "s1_ne_01"): "negative", ("smic-hs-e/s1", "s1_po_01"): "positive",
                   ("smic-hs-e/s18", "s18_sur_03"): "surprise"}  # the clip name, not the sheet's 'negative'
    row = df.set_index("clip").loc["s1_ne_01"]
    assert (row["onset"], row["apex"], row["offset"]) == (17581010, 17581013, 17581016)
    assert row["apex_source"] == "middle" and row["fps"] == 100.0
    assert row["frame_files"].split("|") == [f"image{n}.jpg" for n in range(17581010, 17581017)]
    assert row["frames_dir"].endswith("SMIC_HS_E/s01/s01_ne_01") and "SMIC-HS-E_annotation.xlsx:HS row" in row["source"]
    assert "s18_sur_03" in caplog.text and "'negative' disagrees with the clip name" in caplog.text
    assert "1 clip(s) have a second interval" in caplog.text


def test_smic_e_vis_reads_its_own_sheet_and_an_apex_column_is_used(tmp_path):
    clips = {"HS": cl.SMICE_CLIPS["HS"], "VIS": [dict(cl.SMICE_CLIPS["VIS"][0], apex=17581004)]}
    cl.write_smic_e(tmp_path, clips=clips, columns=cl.SMICE_COLUMNS + ("ApexF",))
    df = load_manifest("smic-vis-e", tmp_path, protocol="three-class")
    assert df[["subject", "clip", "apex", "apex_source", "fps"]].values.tolist() == [
        ["smic-vis-e/s2", "s2_sur_01", 17581004, "annotated", 25.0]]
    assert load_manifest("smic-e", tmp_path, protocol="three-class")["dataset"].eq("smic-hs-e").all()


def test_smic_e_folders_without_a_row_are_counted_and_problems_name_their_rows(tmp_path):
    clips = {"HS": list(cl.SMICE_CLIPS["HS"]) + [
        {"subject": 3, "clip": "s3_ne_01", "folder": ("s9", "s9_ne_01"), "onset": 1, "offset": 3,
         "emotion": "negative"},  # no s3 folder on disk
        {"subject": 4, "clip": "s1_po_02", "folder": ("s01", "s01_po_02"), "onset": 17581001, "offset": 17581002,
         "emotion": "positive"},  # Subject 4 but the clip says s1
    ]}
    paths = cl.write_smic_e(tmp_path, clips=clips)
    write_frames(paths["frames"]["HS"] / "s01" / "s01_ne_02", "image{}.jpg", (1, 2, 3))  # not in the sheet
    with pytest.raises(ManifestError) as e:
        load_manifest("smic-hs-e", tmp_path)
    text = str(e.value)
    assert "row 5" in text and "no subject folder s3" in text
    assert "row 6" in text and "Subject cell '4' disagrees with the clip name's s1" in text
    ok = load_manifest("smic-hs-e", tmp_path, on_error="report")
    skipped = skipped_table(ok)
    assert skipped[["subject", "clip", "emotion"]].values.tolist() == [
        ["smic-hs-e/s1", "s1_ne_02", "negative"], ["smic-hs-e/s9", "s9_ne_01", "negative"]]
    assert set(skipped["reason"]) == {"clip folder has no row in the SMIC-E sheet"}


def test_smic_e_sheet_choice_is_explicit(tmp_path):
    cl.write_smic_e(tmp_path, clips={"HS": cl.SMICE_CLIPS["HS"]})
    with pytest.raises(ManifestError, match="no SMIC-E sheet for NIR"):
        load_manifest("smic-nir-e", tmp_path, protocol="three-class")
    cl.write_smic_e(tmp_path, clips={"HS": cl.SMICE_CLIPS["HS"]}, sheet_name="SMIC-HS-E_annotation_orig.xlsx")
    with pytest.raises(ManifestError, match="several SMIC-E sheets for HS"):
        load_manifest("smic-hs-e", tmp_path, protocol="three-class")
    df = load_manifest("smic-hs-e", tmp_path, protocol="three-class",
                       sheet=tmp_path / "SMIC-HS-E_annotation_orig.xlsx")
    assert len(df) == 3 and df["source"].str.contains("_orig.xlsx:HS").all()


def test_smic_e_manifest_command(tmp_path, capsys):
    cl.write_smic_e(tmp_path / "smic")
    out = tmp_path / "m.csv"
    assert main(["manifest", "smic-hs-e", "--root", str(tmp_path / "smic"), "--out", str(out)]) == 0
    assert len(read_manifest(out, check_frames=True)) == 3
    assert "3 clips, 2 subjects" in capsys.readouterr().out
