"""Release formats beyond the common ones: the .xls CASME II sheet, SMIC subject folders s01 / S3, MMEW's
Subject cell checked against the clip name."""
import pytest

from mer_keras.datasets import ManifestError, load_manifest
from mer_keras.datasets.reading import skipped_table
from tests.fixtures import native_layouts as nl


def test_casme2_label_ver_2_xls_sheet_is_read(tmp_path):
    xlwt = pytest.importorskip("xlwt")
    paths = nl.write_casme2(tmp_path)
    paths["sheet"].unlink()
    book = xlwt.Workbook()
    sheet = book.add_sheet("Sheet1")
    header = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame", "Action Units", "Estimated Emotion")
    for j, name in enumerate(header):
        sheet.write(0, j, name)
    for i, c in enumerate(nl.CASME2_CLIPS, start=1):  # .xls stores every number as a float: Subject 1.0
        for j, value in enumerate((float(c["subject"]), c["clip"], float(c["onset"]),
                                   c["apex"] if c["apex"] == "/" else float(c["apex"]), float(c["offset"]), "12",
                                   c["emotion"])):
            sheet.write(i, j, value)
    book.save(str(tmp_path / "CASME2_label_Ver_2.xls"))
    df = load_manifest("casme2", tmp_path, protocol="all")
    assert len(df) == len(nl.CASME2_CLIPS)
    row = df.set_index("clip").loc["EP02_01f"]
    assert row["subject"] == "casme2/sub01" and (row["onset"], row["apex"], row["offset"]) == (46, 59, 86)
    assert "CASME2_label_Ver_2.xls" in row["source"]


def test_smic_zero_padded_and_upper_case_subject_folders_are_read_and_strays_counted(tmp_path):
    clips = (("s01", "negative", "s01_ne_01", 3), ("S3", "surprise", "s3_sur_01", 3),
             ("s11", "positive", "s11_po_01", 3))
    nl.write_smic(tmp_path, clips=clips, variants=("HS",))
    nl.write_frames(tmp_path / "HS" / "subject4" / "micro" / "negative" / "x_ne_01", "image{:06d}.bmp", [1, 2])
    df = load_manifest("smic-hs", tmp_path, protocol="three-class")
    assert sorted(zip(df["subject"], df["clip"])) == [("smic-hs/s1", "s1_ne_01"), ("smic-hs/s11", "s11_po_01"),
                                                      ("smic-hs/s3", "s3_sur_01")]
    skipped = skipped_table(df)
    assert list(skipped["clip"]) == ["subject4"] and "not a SMIC subject folder" in skipped["reason"][0]


def test_smic_two_folders_of_one_subject_are_a_problem(tmp_path):
    nl.write_smic(tmp_path, clips=(("s1", "negative", "s1_ne_01", 3), ("s01", "negative", "s01_ne_02", 3)),
                  variants=("HS",))
    with pytest.raises(ManifestError, match="subject s1 has two folders"):
        load_manifest("smic-hs", tmp_path, protocol="three-class")


def test_mmew_subject_cell_must_match_the_clip_name_prefix(tmp_path):
    clips = list(nl.MMEW_CLIPS) + [{"subject": 3, "clip": "S04-01-002", "onset": 1, "apex": 2, "offset": 3,
                                    "emotion": "happiness"}]
    nl.write_mmew(tmp_path, clips=clips)
    with pytest.raises(ManifestError) as e:
        load_manifest("mmew", tmp_path)
    assert "row 6" in str(e.value) and "S04" in str(e.value) and "'3'" in str(e.value)
    ok = load_manifest("mmew", tmp_path, on_error="report")
    assert "S04-01-002" not in set(ok["clip"]) and len(ok.attrs["problems"]) == 1
