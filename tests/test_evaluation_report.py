"""Results tables beside published numbers, non-comparable marking, and the `table` command."""
import pytest

from mer_keras.cli import main
from mer_keras.evaluation import format_table, results_table, write_results_json
from mer_keras.evaluation.report import SYNTHETIC_NOTE


def s(uf1, uar, acc, n):
    return {"uf1": uf1, "uar": uar, "accuracy": acc, "n": n}


REAL = {"all": s(0.71, 0.72, 0.80, 442), "casme2": s(0.81, 0.82, 0.85, 145),
        "smic-hs": s(0.61, 0.62, 0.70, 164), "samm": s(0.51, 0.52, 0.60, 133)}
LEAKY = {"all": s(0.91, 0.92, 0.95, 442), "casme2": s(0.9, 0.9, 0.9, 145)}


@pytest.fixture
def runs(tmp_path):
    real = tmp_path / "real"
    write_results_json(real, config={"name": "shuffle", "protocol": "megc2019"}, scores=REAL,
                       variants={"ghost_vit": {"scores": REAL, "label": "Ghost-ViT"},
                                 "best_epoch": {"scores": LEAKY, "leaky": True,
                                                "description": "best-test-epoch selection"}},
                       extra={"paper": "liu2022_shufflenet"})
    synth = tmp_path / "synth"
    write_results_json(synth, config={"name": "demo", "paper": "liu2022_mobilevit"},
                       scores={"all": s(0.5, 0.5, 0.6, 40), "synthme": s(0.5, 0.5, 0.6, 40)})
    return real, synth


def rows_of(df, method, dataset):
    return df[(df["method"] == method) & (df["dataset"] == dataset)]


def test_table_holds_runs_and_published_rows_of_the_same_papers(runs):
    df = results_table(runs)
    headline = rows_of(df, "shuffle [Ghost-ViT]", "casme2")  # headline equals this variant: one row
    assert len(headline) == 1 and headline.iloc[0]["uf1"] == 0.81 and bool(headline.iloc[0]["comparable"])
    assert len(rows_of(df, "shuffle", "casme2")) == 0
    vit = rows_of(df, "ShuffleNetV2 with improved ViT (published)", "casme2")
    assert vit.iloc[0]["uf1"] == 0.7008 and "tables/2" in vit.iloc[0]["source"]
    assert rows_of(df, "ShuffleNetV2 with improved ViT (published)", "smic").iloc[0]["uar"] == 0.7159
    assert rows_of(df, "STSTNet (published)", "all").iloc[0]["uar"] == 0.7605  # protocol megc2019
    assert rows_of(df, "MobileViT (proposed) (published)", "all").iloc[0]["accuracy"] == 0.8427
    assert "mmew" not in set(df["dataset"])  # no run reports MMEW
    # composite rows come first, ours before the published ones
    assert df.iloc[0]["dataset"] == "all" and df.iloc[0]["kind"] == "run"


def test_non_comparable_rows_are_marked(runs):
    df = results_table(runs)
    leaky = rows_of(df, "shuffle [best_epoch]", "all").iloc[0]
    assert not leaky["comparable"] and "leaky option: best-test-epoch selection" in leaky["note"]
    synth = rows_of(df, "demo", "synthme").iloc[0]
    assert not synth["comparable"] and synth["note"] == SYNTHETIC_NOTE
    text = format_table(df)
    assert "NO" in text and "SynthME (synthetic)" in text and "[1] " in text
    assert "0.7008" in text and "shuffle [Ghost-ViT]" in text


def test_without_published_rows(runs):
    df = results_table(runs[0], with_published=False)
    assert set(df["kind"]) == {"run"} and len(df) == 4 + 2


def test_table_command(runs, capsys, tmp_path):
    out_csv = tmp_path / "table.csv"
    assert main(["table", str(runs[0]), str(runs[1]), "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "shuffle [best_epoch]" in printed and "LBP-TOP (published)" in printed
    assert out_csv.read_text().startswith("dataset,method,kind")
    assert main(["table", str(tmp_path / "missing")]) == 2
    assert "no results.json" in capsys.readouterr().err


def test_unknown_paper_is_an_error(tmp_path):
    write_results_json(tmp_path, config={"paper": "nobody2020"}, scores={"all": s(1, 1, 1, 1)})
    with pytest.raises(ValueError, match="unknown paper"):
        results_table([tmp_path])


def test_evaluation_never_imports_tensorflow():
    import subprocess
    import sys

    code = ("import sys, mer_keras.evaluation, mer_keras.evaluation.plots, mer_keras.evaluation.commands; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'dlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_synthetic_flag_in_extra_marks_the_run(tmp_path):
    write_results_json(tmp_path, config={"name": "x"}, scores={"all": s(0.4, 0.4, 0.5, 9)},
                       extra={"synthetic": True, "experiment": "liu2022_mobilevit", "paper": "liu2022_mobilevit"})
    row = rows_of(results_table([tmp_path]), "liu2022_mobilevit", "all").iloc[0]
    assert not row["comparable"] and row["note"] == SYNTHETIC_NOTE
