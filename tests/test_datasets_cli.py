"""`mer-keras manifest`: the CLI writes the same manifest as load_manifest and reports what it left out."""
import pandas as pd

from mer_keras.cli import main
from mer_keras.datasets import load_manifest, read_manifest
from tests.fixtures import native_layouts as nl


def test_manifest_command_writes_what_load_manifest_returns(tmp_path, capsys):
    nl.write_casme2(tmp_path / "casme2")
    out = tmp_path / "m.csv"
    assert main(["manifest", "casme2", "--root", str(tmp_path / "casme2"), "--out", str(out)]) == 0
    written = read_manifest(out, check_frames=True)
    expected = load_manifest("casme2", tmp_path / "casme2")
    expected.attrs.clear()
    pd.testing.assert_frame_equal(written, expected, check_dtype=False)
    printed = capsys.readouterr().out
    assert "wrote" in printed and "4 clips" in printed
    assert "emotion not in protocol megc2019" in printed and "others" in printed


def test_manifest_command_problems_write_nothing_unless_keep_going(tmp_path, capsys):
    clips = [dict(c) for c in nl.CASME2_CLIPS]
    clips[1]["apex"] = 30
    nl.write_casme2(tmp_path, clips=clips)
    out = tmp_path / "m.csv"
    assert main(["manifest", "casme2", "--root", str(tmp_path), "--protocol", "all", "--out", str(out)]) == 2
    assert not out.exists()
    assert "apex 30 is not within onset..offset 10..14" in capsys.readouterr().err
    assert main(["manifest", "casme2", "--root", str(tmp_path), "--protocol", "all", "--out", str(out),
                 "--keep-going"]) == 1
    assert len(read_manifest(out)) == 5
    assert "EP19_05f" in capsys.readouterr().err


def test_manifest_command_missing_apex_and_macro_dataset(tmp_path):
    nl.write_casme2(tmp_path / "c")
    out = tmp_path / "c.csv"
    assert main(["manifest", "casme2", "--root", str(tmp_path / "c"), "--protocol", "all",
                 "--missing-apex", "drop", "--out", str(out)]) == 0
    assert "EP12_01f" not in set(read_manifest(out)["clip"])
    nl.write_ck_plus(tmp_path / "ck")
    assert main(["manifest", "ck+", "--root", str(tmp_path / "ck"), "--out", str(tmp_path / "ck.csv")]) == 0
    assert set(read_manifest(tmp_path / "ck.csv")["protocol"]) == {"three-class"}


def test_manifest_command_composite_and_validate(tmp_path, capsys):
    nl.write_casme2(tmp_path / "c")
    nl.write_samm(tmp_path / "s")
    nl.write_smic(tmp_path / "smic", variants=("HS",))
    out = tmp_path / "megc.csv"
    assert main(["manifest", "megc2019", "--casme2", str(tmp_path / "c"), "--samm", str(tmp_path / "s"),
                 "--smic", str(tmp_path / "smic"), "--out", str(out)]) == 0
    df = read_manifest(out)
    assert df.groupby("dataset").size().to_dict() == {"casme2": 4, "samm": 3, "smic-hs": 4}
    capsys.readouterr()
    assert main(["manifest", "--validate", str(out), "--check-frames"]) == 0
    assert "11 rows, all valid" in capsys.readouterr().out
    broken = df.copy()
    broken.loc[0, "apex"] = 10_000
    broken.to_csv(tmp_path / "broken.csv", index=False)
    assert main(["manifest", "--validate", str(tmp_path / "broken.csv")]) == 2
    assert "apex 10000 is not within" in capsys.readouterr().err


def test_manifest_command_usage_errors(tmp_path, capsys):
    assert main(["manifest", "casme2", "--out", str(tmp_path / "x.csv")]) == 2
    assert "give --root" in capsys.readouterr().err
    assert main(["manifest", "megc2019", "--root", str(tmp_path), "--out", str(tmp_path / "x.csv")]) == 2
    assert "--casme2/--samm/--smic" in capsys.readouterr().err


def test_an_option_the_reader_does_not_take_is_a_clear_error(tmp_path, capsys):
    from mer_keras.cli import main

    code = main(["manifest", "smic-hs", "--root", str(tmp_path), "--missing-apex", "drop",
                 "--out", str(tmp_path / "m.csv")])
    assert code == 2
    assert "does not take --missing-apex" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()
