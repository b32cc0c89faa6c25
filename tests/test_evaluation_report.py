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


def test_paper_001_table_1_rows_are_marked_not_comparable_in_the_table(tmp_path):
    """Paper 001's Table 1 is per-sample (Eq. 4.5): its rows say NO and why, as a non-comparable run row does,
    while another paper's published rows keep "(published)"."""
    run = tmp_path / "msresnet3d"
    write_results_json(run, config={"name": "jin", "paper": "jin2024_msresnet3d", "protocol": "casme2-4class-jin2024"},
                       scores={"all": s(0.6, 0.6, 0.7, 246), "casme2": s(0.6, 0.6, 0.7, 246)})
    df = results_table([run, runs_of_liu(tmp_path)])
    jin = df[(df["kind"] == "published") & df["method"].str.contains("Multi-scale 3D-ResNet")]
    assert len(jin) and not jin["comparable"].any() and jin["comparable"].notna().all()
    others = df[(df["kind"] == "published") & df["method"].str.contains("ShuffleNetV2")]
    assert len(others) and others["comparable"].isna().all()
    lines = format_table(df).splitlines()
    marked = [ln for ln in lines if "Multi-scale 3D-ResNet (proposed) (published)" in ln]
    assert marked and all("NO (published)" in ln and "not comparable: the paper's protocol is per-sample" in ln
                          for ln in marked)
    liu = [ln for ln in lines if "ShuffleNetV2 with improved ViT (published)" in ln]
    assert liu and all("NO" not in ln and "(published)" in ln.split("ViT (published)")[1] for ln in liu)


def runs_of_liu(tmp_path):
    run = tmp_path / "liu"
    write_results_json(run, config={"name": "shuffle", "paper": "liu2022_shufflenet"}, scores=REAL)
    return run


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


# --- issue 16: intervals, same-fold baselines, paired differences ---------------------------------------------

def fold_preds(subjects=4, clips=6, wrong=()):
    """Predictions of a run (class 0..2 cycling), wrong on the clip numbers in ``wrong``."""
    import pandas as pd

    rows = []
    for s in range(subjects):
        for c in range(clips):
            i = s * clips + c
            y = i % 3
            rows.append({"dataset": "synthme", "subject": f"synthme/s{s}", "clip": f"c{i:02d}", "y_true": y,
                         "y_pred": (y + 1) % 3 if i in wrong else y})
    return pd.DataFrame(rows)


def save_folds(run_dir, variant, preds):
    from mer_keras.evaluation import FoldStore

    store = FoldStore(run_dir, variant)
    for subject, part in preds.groupby("subject"):
        store.save(subject, part)


@pytest.fixture
def run16(tmp_path):
    """A SynthME run of three variants, intervals and baselines in results.json, fold CSVs on disk."""
    import json

    from mer_keras.evaluation import pooled_scores

    run_dir = tmp_path / "run16"
    a, b = fold_preds(), fold_preds(wrong=range(0, 24, 2))
    c = fold_preds(subjects=3)  # other clips: never paired
    for name, p in (("full", a), ("no_cbam", b), ("small", c)):
        save_folds(run_dir, name, p)
    variants = {"full": {"scores": pooled_scores(a), "label": "Full model",
                         "intervals": {"uf1": [0.56, 0.66], "uar": [0.57, 0.68], "accuracy": [0.6, 0.7]}},
                "no_cbam": {"scores": pooled_scores(b), "label": "without CBAM"},
                "small": {"scores": pooled_scores(c)}}
    write_results_json(run_dir, config={"name": "abl", "paper": "liu2022_shufflenet", "data": "synthme"},
                       scores=variants["full"]["scores"], variants=variants)
    doc = json.loads((run_dir / "results.json").read_text())
    doc["baselines"] = {"majority": {"label": "majority class of the training fold",
                                     "scores": {"all": s(0.17, 0.33, 0.33, 24), "synthme": s(0.17, 0.33, 0.33, 24)},
                                     "intervals": {"uf1": [0.1, 0.2], "uar": [0.33, 0.34], "accuracy": [0.2, 0.4]}},
                        "linear_svm": {"label": "linear SVM", "scores": {"all": s(0.5, 0.5, 0.5, 24)}}}
    (run_dir / "results.json").write_text(json.dumps(doc))
    return run_dir


def test_intervals_and_baselines_in_the_table(run16):
    df = results_table(run16, with_published=False)
    composite = df[df["dataset"] == "all"]
    assert list(composite["method"]) == ["abl [Full model]", "abl [without CBAM]", "abl [small]",
                                         "abl [baseline: majority]", "abl [baseline: linear_svm]"]
    assert list(composite["kind"]) == ["run"] * 3 + ["baseline"] * 2
    majority = rows_of(df, "abl [baseline: majority]", "all").iloc[0]
    assert not majority["comparable"] and "not comparable with published" in majority["note"]
    assert majority["uf1_low"] == 0.1 and majority["uar_high"] == 0.34
    full = rows_of(df, "abl [Full model]", "all").iloc[0]
    assert (full["uf1_low"], full["uf1_high"]) == (0.56, 0.66)
    # the flat intervals belong to the composite row only
    assert rows_of(df, "abl [Full model]", "synthme")["uf1_low"].isna().all()
    text = format_table(df)
    assert "1.000 [0.56, 0.66]" in text and "0.170 [0.10, 0.20]" in text and "NO (baseline)" in text
    lines = text.splitlines()
    first_baseline = next(i for i, line in enumerate(lines) if "[baseline: majority]" in line)
    assert "abl [small]" in lines[first_baseline - 1]  # baselines directly under the run's rows


def test_baselines_sit_under_their_own_run_and_above_published_rows(run16, runs):
    df = results_table([run16, runs[1]])
    composite = df[df["dataset"] == "all"]
    kinds = list(composite["kind"])
    assert kinds.index("published") > max(i for i, k in enumerate(kinds) if k == "baseline")
    methods = list(composite["method"])
    assert methods.index("abl [baseline: linear_svm]") < methods.index("demo")


def test_paired_differences_of_variants_on_the_same_clips(run16):
    from mer_keras.evaluation import format_pairs, paired_differences

    pairs = paired_differences(run16, n_boot=200)
    assert set(zip(pairs["a"], pairs["b"])) == {("Full model", "without CBAM")}  # 'small' has other clips
    uf1 = pairs[pairs["metric"] == "uf1"].iloc[0]
    assert uf1["difference"] > 0 and uf1["low"] <= uf1["high"]
    text = format_pairs(pairs, n_boot=200)
    assert "Full model" in text and "UF1 +" in text and "UAR +" in text
    assert text.rstrip().endswith("compare recipes over several seeds)")  # what the interval does not cover


def test_identical_variants_are_not_distinguishable(tmp_path):
    from mer_keras.evaluation import paired_differences, pooled_scores

    p = fold_preds(wrong=(1, 5, 9))
    for name in ("a", "b"):
        save_folds(tmp_path, name, p)
    write_results_json(tmp_path, config={"name": "twin"}, scores=pooled_scores(p),
                       variants={"a": {"scores": pooled_scores(p)}, "b": {"scores": pooled_scores(p)}})
    pairs = paired_differences(tmp_path, n_boot=100)
    assert (pairs[["difference", "low", "high"]] == 0).all().all()
    assert set(pairs["verdict"]) == {"not distinguishable"}


def test_table_command_prints_intervals_baselines_and_pairs(run16, capsys):
    assert main(["table", str(run16), "--no-published", "--n-boot", "100"]) == 0
    out = capsys.readouterr().out
    assert "[baseline: linear_svm]" in out and "1.000 [0.56, 0.66]" in out
    assert "Paired differences a - b" in out and "without CBAM" in out
    assert main(["table", str(run16), "--no-pairs"]) == 0
    assert "Paired differences" not in capsys.readouterr().out


def test_old_results_without_intervals_print_as_before(runs):
    df = results_table(runs)
    assert df[["uf1_low", "uf1_high", "uar_low", "accuracy_high"]].isna().all().all()
    assert "baseline" not in set(df["kind"])
    line = next(x for x in format_table(df).splitlines() if x.startswith("all") and "shuffle [Ghost-ViT]" in x)
    assert "0.7100  0.7200  0.8000  442" in line


def test_a_damaged_fold_folder_still_prints_the_table(run16, capsys):
    import shutil

    folder = run16 / "folds" / "full"
    first = min(folder.glob("*.csv"))
    shutil.copy(first, folder / "copy.csv")  # the same clips twice
    assert main(["table", str(run16), "--no-published"]) == 2
    captured = capsys.readouterr()
    assert "abl [Full model]" in captured.out and "no paired differences" in captured.err


def _twin_run(run_dir, net_wrong, svm_wrong, subjects=4):
    """A run of experiment 'twin': variant 'net' and both baselines with fold CSVs (a --set makes the runs differ)."""
    import json

    from mer_keras.evaluation import pooled_scores

    preds = {"net": fold_preds(subjects, wrong=net_wrong), "baseline_linear_svm": fold_preds(subjects, wrong=svm_wrong),
             "baseline_majority": fold_preds(subjects, wrong=range(0, 24, 3))}
    for name, p in preds.items():
        save_folds(run_dir, name, p)
    write_results_json(run_dir, config={"name": "twin"}, scores=pooled_scores(preds["net"]),
                       variants={"net": {"scores": pooled_scores(preds["net"])}})
    doc = json.loads((run_dir / "results.json").read_text())
    doc["baselines"] = {k: {"label": k, "scores": {"all": pooled_scores(preds[f"baseline_{k}"])["all"]}}
                        for k in ("majority", "linear_svm")}
    (run_dir / "results.json").write_text(json.dumps(doc))
    return run_dir


def test_runs_of_one_experiment_are_told_apart_and_paired_across_runs(tmp_path, capsys):
    """Two runs of one experiment (one --set apart) used to print as one run, their lines merged; --across-runs pairs
    the network of one with the network and the floor of the other, never with a run on other clips."""
    from mer_keras.evaluation import paired_differences

    raw = _twin_run(tmp_path / "raw", net_wrong=(1, 5, 9), svm_wrong=(1, 5, 9, 13, 17))
    centred = _twin_run(tmp_path / "centred", net_wrong=(), svm_wrong=(1, 5))
    other = _twin_run(tmp_path / "other", net_wrong=(), svm_wrong=(), subjects=3)
    within = paired_differences([raw, centred], n_boot=100)
    assert set(within["run"]) == {"twin (raw)", "twin (centred)"}
    assert len(within) == 2 * 3 * 2  # per run: 3 pairs of net and two baselines, 2 metrics each; none across
    across = paired_differences([raw, centred, other], n_boot=100, across_runs=True)
    between = across[across["run"].str.contains(" vs ")]
    assert set(between["run"]) == {"twin (raw) vs twin (centred)"}  # 'other' holds other clips
    assert not (between["a"].str.contains("majority") | between["b"].str.contains("majority")).any()
    assert len(between) == 2 * 2 * 2  # {net, linear_svm} x {net, linear_svm}, 2 metrics
    uf1 = between[between["metric"] == "uf1"].set_index(["a", "b"])["difference"]
    assert uf1[("twin (raw): net", "twin (centred): net")] < 0  # the centred run's network is never wrong
    assert uf1[("twin (raw): baseline: linear_svm", "twin (centred): net")] < uf1[("twin (raw): net", "twin (centred): net")]
    assert main(["table", str(raw), str(centred), "--no-published", "--n-boot", "50", "--across-runs"]) == 0
    out = capsys.readouterr().out
    assert "twin (raw) vs twin (centred)" in out and "twin (raw): baseline: linear_svm" in out
    assert main(["table", str(raw), str(centred), "--no-published", "--n-boot", "50"]) == 0
    assert " vs " not in capsys.readouterr().out.split("Paired differences")[1]
