"""The MEGC 2019 evaluation log: exact format, native spelling and round trip."""
import pandas as pd
import pytest

from mer_keras.evaluation import read_megc_log, write_megc_log
from mer_keras.evaluation.megc_log import megc_clip, megc_subject

# the example block of shared/megc2019/README.md, written from our manifest's keys
README_EXAMPLE = """casme2 sub01
EP02_01f 1 1
EP19_05f 0 1
smic s01
s01_ne_01 0 0
samm 006
006_1_2 0 2
"""


def predictions():
    return pd.DataFrame(
        [
            ("casme2", "casme2/sub01", "EP02_01f", 1, 1),
            ("casme2", "casme2/sub01", "EP19_05f", 0, 1),
            ("smic-hs", "smic-hs/s1", "s1_ne_01", 0, 0),
            ("samm", "samm/006", "006_1_2", 0, 2),
        ],
        columns=["dataset", "subject", "clip", "y_true", "y_pred"],
    )


def test_log_text_is_exactly_the_organisers_format(tmp_path):
    path = write_megc_log(predictions(), tmp_path / "megc_log.txt")
    assert path.read_text() == README_EXAMPLE


def test_round_trip(tmp_path):
    df = predictions().assign(score_0=0.5)  # extra columns are ignored
    write_megc_log(df, tmp_path / "log.txt")
    back = read_megc_log(tmp_path / "log.txt")
    assert back.to_dict("records") == [
        {"database": "casme2", "subject": "sub01", "clip": "EP02_01f", "y_true": 1, "y_pred": 1},
        {"database": "casme2", "subject": "sub01", "clip": "EP19_05f", "y_true": 0, "y_pred": 1},
        {"database": "smic", "subject": "s01", "clip": "s01_ne_01", "y_true": 0, "y_pred": 0},
        {"database": "samm", "subject": "006", "clip": "006_1_2", "y_true": 0, "y_pred": 2},
    ]


def test_native_spelling_of_subjects_and_clips():
    assert megc_subject("smic-hs", "smic-hs/s1") == "s01"
    assert megc_subject("smic-vis", "smic-vis/s20") == "s20"
    assert megc_subject("samm", "samm/6") == "006"
    assert megc_subject("synthme", "synthme/sub03") == "sub03"
    assert megc_clip("smic-nir", "s3_sur_02") == "s03_sur_02"
    assert megc_clip("casme2", "EP02_01f") == "EP02_01f"
    with pytest.raises(ValueError, match="not qualified"):
        megc_subject("samm", "casme2/sub01")
    with pytest.raises(ValueError, match="s<number>"):
        megc_subject("smic-hs", "smic-hs/x1")


def test_blank_lines_skipped_and_malformed_lines_reported(tmp_path):
    ok = tmp_path / "ok.txt"
    ok.write_text("synthme sub03\n\nclip_a 2 0\r\n")
    assert read_megc_log(ok)[["database", "subject", "clip", "y_pred"]].values.tolist() == [
        ["synthme", "sub03", "clip_a", 0]
    ]
    for text, message in [
        ("EP02_01f 1 1\n", "before any"),
        ("casme2 sub01\nEP02_01f one 1\n", "integers"),
        ("casme2 sub01\nEP02_01f 1 1 1\n", ":2: expected"),
    ]:
        bad = tmp_path / "bad.txt"
        bad.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_megc_log(bad)


def test_clip_names_with_spaces_are_refused(tmp_path):
    df = predictions()
    df.loc[0, "clip"] = "EP02 01f"
    with pytest.raises(ValueError, match="whitespace"):
        write_megc_log(df, tmp_path / "log.txt")
    assert not (tmp_path / "log.txt").exists()
