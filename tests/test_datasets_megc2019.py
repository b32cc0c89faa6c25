"""MEGC 2019 composite: the official list's identifier traps, and the published counts both ways."""
from pathlib import Path

import pandas as pd
import pytest

from mer_keras.datasets import ManifestError, load_manifest
from mer_keras.datasets.megc2019 import composite, native_key, read_official_list
from mer_keras.datasets.reading import skipped_table
from tests.fixtures import native_layouts as nl

OFFICIAL = Path("/work/shared/megc2019/combined_3class_gt.csv")
PUBLISHED = {  # ../shared/megc2019/README.md
    "casme2": {"negative": 88, "positive": 32, "surprise": 25},
    "samm": {"negative": 92, "positive": 26, "surprise": 15},
    "smic-hs": {"negative": 70, "positive": 51, "surprise": 43},
}
PUBLISHED_SUBJECTS = {"casme2": 24, "samm": 28, "smic-hs": 16}


def test_native_key_maps_the_list_spellings():
    assert native_key("samm", "6", "006_1_2") == ("samm", "samm/006", "006_1_2")
    assert native_key("samm", "37", "037_3_1") == ("samm", "samm/037", "037_3_1")
    assert native_key("smic", "s01", "s01_ne_01") == ("smic-hs", "smic-hs/s1", "s1_ne_01")
    assert native_key("smic", "s20", "s20_sur_02") == ("smic-hs", "smic-hs/s20", "s20_sur_02")
    assert native_key("casme2", "sub01", "EP02_01f") == ("casme2", "casme2/sub01", "EP02_01f")
    with pytest.raises(ValueError, match="unknown database 'casme'"):
        native_key("casme", "sub01", "EP02_01f")


def test_list_variants_crlf_dash2_copy_and_header(tmp_path):
    rows = ["casme2,sub01,EP02_01f,1", "smic,s01,s01_ne_01,0", "samm,6,006_1_2,0"]
    (tmp_path / "a.csv").write_bytes(("\r\n".join(rows) + "\r\n").encode())
    (tmp_path / "b.csv").write_text("".join(f"{r}\n,,,\n" for r in rows))
    (tmp_path / "c.csv").write_text("data,subject,clip,label\n" + "\n".join(rows) + "\n")
    for name in ("a.csv", "b.csv", "c.csv"):
        df = read_official_list(tmp_path / name)
        assert df["key_subject"].tolist() == ["casme2/sub01", "smic-hs/s1", "samm/006"]
        assert df["label"].tolist() == [1, 0, 0]


def test_list_bad_line_and_duplicates_are_named(tmp_path):
    (tmp_path / "bad.csv").write_text("casme2,sub01,EP02_01f,1\ncasme2,sub01,EP02_02f,7\n")
    with pytest.raises(ManifestError, match=r"line 2: expected 'database,subject,clip,label'"):
        read_official_list(tmp_path / "bad.csv")
    (tmp_path / "dup.csv").write_text("smic,s01,s01_ne_01,0\nsmic,s1,s1_ne_01,0\n")
    with pytest.raises(ManifestError, match="listed twice"):
        read_official_list(tmp_path / "dup.csv")
    with pytest.raises(ManifestError, match="MEGC 2019 list not found"):
        read_official_list(tmp_path / "absent.csv")


def test_list_label_disagreeing_with_the_sheet_and_unread_clips(tmp_path):
    nl.write_casme2(tmp_path)
    (tmp_path / "gt.csv").write_text("casme2,sub01,EP02_01f,0\ncasme2,sub01,EP19_05f,0\ncasme2,sub09,EP01_01f,2\n")
    with pytest.raises(ManifestError) as e:
        load_manifest("casme2", tmp_path, megc_gt=tmp_path / "gt.csv")
    message = str(e.value)
    assert "line 1 (casme2/sub01/EP02_01f)" in message and "list label 0 disagrees with emotion 'happiness'" in message
    assert "line 3 (sub09/EP01_01f)" in message and "was not read from the dataset folder" in message


def test_casme2_fear_and_sadness_are_not_megc_negative(tmp_path):
    clips = [{"subject": "03", "clip": "EP01_02f", "onset": 1, "apex": 2, "offset": 3, "emotion": e}
             for e in ("fear",)] + [{"subject": "03", "clip": "EP01_03f", "onset": 1, "apex": 2, "offset": 3,
                                     "emotion": "sadness"}]
    nl.write_casme2(tmp_path, clips=clips)
    assert len(load_manifest("casme2", tmp_path, protocol="three-class")) == 2
    megc = load_manifest("casme2", tmp_path, protocol="megc2019")
    assert len(megc) == 0
    assert sorted(skipped_table(megc)["emotion"]) == ["fear", "sadness"]


@pytest.fixture(scope="module")
def megc_tree(tmp_path_factory):
    if not OFFICIAL.is_file():
        pytest.skip(f"official MEGC 2019 list not present at {OFFICIAL}")
    return nl.write_megc2019(tmp_path_factory.mktemp("megc"), OFFICIAL)


def counts(df):
    return {d: g["class_name"].value_counts().to_dict() for d, g in df.groupby("dataset")}


@pytest.mark.parametrize("with_list", [True, False], ids=["official-list", "class-mapping"])
def test_published_counts_both_ways(megc_tree, with_list):
    df = composite(casme2=megc_tree["casme2"], samm=megc_tree["samm"], smic=megc_tree["smic"],
                   megc_gt=OFFICIAL if with_list else None)
    assert len(df) == 442
    assert counts(df) == PUBLISHED
    assert df.groupby("dataset")["subject"].nunique().to_dict() == PUBLISHED_SUBJECTS
    assert df["subject"].nunique() == 68
    # the same clips either way, identified as on disk
    listed = {native_key(db, s, c)[1:] for db, s, c, _ in megc_tree["listed"]}
    assert set(zip(df["subject"], df["clip"])) == listed
    # labels agree with the list
    labels = {native_key(db, s, c)[1:]: lab for db, s, c, lab in megc_tree["listed"]}
    assert all(labels[(s, c)] == lab for s, c, lab in zip(df["subject"], df["clip"], df["label"]))
    skipped = skipped_table(df)
    assert {"casme2/sub04", "casme2/sub05", "samm/025"} <= set(skipped["subject"])
    assert "casme2/sub10" not in set(df["subject"]) and "casme2/sub18" not in set(df["subject"])


def test_per_subject_counts_match_the_list(megc_tree):
    df = composite(casme2=megc_tree["casme2"], samm=megc_tree["samm"], smic=megc_tree["smic"])
    official = read_official_list(OFFICIAL)
    expected = official.groupby("key_subject").size().sort_index()
    got = df.groupby("subject").size().sort_index()
    pd.testing.assert_series_equal(got, expected, check_names=False)


def test_load_manifest_megc2019_dispatches_to_composite(megc_tree):
    df = load_manifest("megc2019", casme2=megc_tree["casme2"], smic=megc_tree["smic"], megc_gt=OFFICIAL)
    assert counts(df) == {k: v for k, v in PUBLISHED.items() if k != "samm"}
    with pytest.raises(TypeError, match="prefix reader options"):
        load_manifest("megc2019", casme2=megc_tree["casme2"], frames="x")
