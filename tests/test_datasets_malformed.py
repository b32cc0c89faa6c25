"""Malformed inputs: every problem is reported with its file, row or clip; nothing vanishes silently."""
import shutil

import pytest

from mer_keras.datasets import ManifestError, load_manifest
from mer_keras.datasets.casme2 import read as read_casme2
from tests.fixtures import native_layouts as nl


def casme2_with(tmp_path, frames=None, **changes):
    clips = [dict(c) for c in nl.CASME2_CLIPS]
    for clip, fields in changes.items():
        next(c for c in clips if c["clip"] == clip).update(fields)
    return nl.write_casme2(tmp_path, clips=clips, frames=frames)


def test_missing_spreadsheet_names_the_folder(tmp_path):
    paths = nl.write_casme2(tmp_path)
    paths["sheet"].unlink()
    with pytest.raises(ManifestError, match="no CASME II coding sheet found") as e:
        load_manifest("casme2", tmp_path)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(ManifestError, match="annotation sheet not found"):
        load_manifest("casme2", tmp_path, sheet=tmp_path / "CASME2-coding-20140508.xlsx")


def test_renamed_column_names_the_file_and_expected_columns(tmp_path):
    cols = list(nl.CASME2_COLUMNS)
    cols[cols.index("OnsetFrame")] = "StartFrame"
    nl.write_casme2(tmp_path, columns=cols)
    with pytest.raises(ManifestError, match=r"header row 1 has no column for 'onset' \(accepted spellings "
                       r"\{'onset': \['onsetframe'.*it holds \[.*'StartFrame'.*CASME2-coding-20140508\.xlsx") as e:
        load_manifest("casme2", tmp_path)
    assert "'apex'" not in str(e.value)  # only the missing column is named


def test_samm_preamble_without_header_is_reported(tmp_path):
    cols = list(nl.SAMM_COLUMNS)
    cols[cols.index("Estimated Emotion")] = "Feeling"
    nl.write_samm(tmp_path, columns=cols)
    with pytest.raises(ManifestError, match="SAMM_Micro_FACS_Codes_v2.xlsx"):
        load_manifest("samm", tmp_path)


def test_clip_folder_without_frames(tmp_path):
    paths = nl.write_casme2(tmp_path)
    for f in (paths["frames"] / "sub02" / "EP01_11f").iterdir():
        f.unlink()
    with pytest.raises(ManifestError, match=r"row 4 \(sub02/EP01_11f\): clip folder holds no numbered image frames"):
        load_manifest("casme2", tmp_path, protocol="all")
    shutil.rmtree(paths["frames"] / "sub02" / "EP01_11f")
    with pytest.raises(ManifestError, match=r"row 4 \(sub02/EP01_11f\): clip folder does not exist"):
        load_manifest("casme2", tmp_path, protocol="all")


def test_apex_outside_onset_offset(tmp_path):
    casme2_with(tmp_path, EP19_05f={"apex": 30})
    with pytest.raises(ManifestError) as e:
        load_manifest("casme2", tmp_path, protocol="all")
    message = str(e.value)
    assert "casme2/sub01/EP19_05f" in message and "apex 30 is not within onset..offset 10..14" in message
    assert "CASME2-coding-20140508.xlsx row 3" in message


def test_unknown_emotion(tmp_path):
    casme2_with(tmp_path, EP13_05f={"emotion": "angry"})
    with pytest.raises(ManifestError, match=r"row 7 \(sub11/EP13_05f\): unknown emotion 'angry'"):
        load_manifest("casme2", tmp_path)


def test_frame_named_in_sheet_missing_on_disk(tmp_path):
    casme2_with(tmp_path)
    (tmp_path / "CASME2_RAW_selected" / "sub01" / "EP02_01f" / "img86.jpg").unlink()
    with pytest.raises(ManifestError, match="offset frame 86 is not among the clip's 6 frame"):
        load_manifest("casme2", tmp_path)


def test_every_problem_is_listed_at_once(tmp_path):
    casme2_with(tmp_path, EP13_05f={"emotion": "angry"}, EP19_05f={"apex": 30}, EP01_11f={"onset": "x"},
                frames={"EP01_11f": (1, 2, 3)})
    with pytest.raises(ManifestError) as e:
        load_manifest("casme2", tmp_path, protocol="all")
    assert len(e.value.problems) == 3
    assert "row 4 (sub02/EP01_11f): onset/offset must be frame numbers, got 'x'/'5'" in str(e.value)


def test_report_mode_keeps_valid_rows_and_lists_problems(tmp_path):
    casme2_with(tmp_path, EP13_05f={"emotion": "angry"}, EP19_05f={"apex": 30})
    df = load_manifest("casme2", tmp_path, protocol="all", on_error="report")
    assert "EP13_05f" not in set(df["clip"]) and "EP19_05f" not in set(df["clip"])
    assert len(df) == 4
    assert sorted(p.clip for p in df.attrs["problems"]) == ["casme2/sub01/EP19_05f", "sub11/EP13_05f"]
    with pytest.raises(ValueError, match="on_error"):
        load_manifest("casme2", tmp_path, on_error="ignore")


def test_reader_raises_by_default_when_called_directly(tmp_path):
    casme2_with(tmp_path, EP13_05f={"emotion": "angry"})
    with pytest.raises(ManifestError, match="unknown emotion"):
        read_casme2(tmp_path)
    assert len(read_casme2(tmp_path, emotions=None)) == 6  # open vocabulary, as SynthME may use


def test_duplicate_sheet_rows(tmp_path):
    clips = list(nl.CASME2_CLIPS) + [nl.CASME2_CLIPS[0]]
    nl.write_casme2(tmp_path, clips=clips)
    with pytest.raises(ManifestError, match="duplicate"):
        load_manifest("casme2", tmp_path, protocol="all")


def test_smic_unknown_class_folder_and_mislabelled_clip(tmp_path):
    nl.write_smic(tmp_path, clips=nl.SMIC_CLIPS + (("s2", "fear", "s2_fe_01", 2), ("s3", "negative", "s3_sur_03", 2)),
                  variants=("HS",))
    with pytest.raises(ManifestError) as e:
        load_manifest("smic-hs", tmp_path)
    message = str(e.value)
    assert "unknown emotion folder 'fear'" in message
    assert "s3/s3_sur_03: clip name says surprise but it sits in the negative folder" in message


def test_ck_plus_bad_label_file(tmp_path):
    paths = nl.write_ck_plus(tmp_path)
    label = next((paths["labels"] / "S005" / "001").glob("*_emotion.txt"))
    label.write_text("9\n")
    with pytest.raises(ManifestError, match=r"S005/001.*emotion code '9' is not one of"):
        load_manifest("ck+", tmp_path)


def test_jaffe_unparseable_name_and_unknown_code(tmp_path):
    paths = nl.write_jaffe(tmp_path, names=("KA.AN1.39", "KA.XX1.40"))
    nl.write_image(paths["folder"] / "photo.tiff")
    with pytest.raises(ManifestError) as e:
        load_manifest("jaffe", tmp_path)
    message = str(e.value)
    assert "KA.XX1.40.tiff" in message and "unknown emotion code 'XX'" in message
    assert "photo.tiff" in message and "is not <subject>.<code><take>.<number>" in message


def test_oulu_unknown_emotion_folder(tmp_path):
    nl.write_oulu_casia(tmp_path, subjects=("P001",), emotions=("Anger", "Contempt"))
    with pytest.raises(ManifestError, match=r"P001/Contempt: unknown emotion folder"):
        load_manifest("oulu-casia", tmp_path)


def test_mmew_sheet_clip_missing_on_disk(tmp_path):
    paths = nl.write_mmew(tmp_path)
    shutil.rmtree(paths["frames"] / "surprise" / "S02-02-001")
    with pytest.raises(ManifestError, match=r"row 4 \(S02/S02-02-001\): clip folder does not exist"):
        load_manifest("mmew", tmp_path)


def test_protocol_misuse_is_refused(tmp_path):
    nl.write_mmew(tmp_path)
    with pytest.raises(ValueError, match="megc2019 applies to"):
        load_manifest("mmew", tmp_path, protocol="megc2019")
    with pytest.raises(ValueError, match="unknown protocol"):
        load_manifest("mmew", tmp_path, protocol="seven-class")
