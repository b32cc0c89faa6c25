"""``mer-keras table RUN... --seeds``: runs of one setting over several training seeds, each seed against its own
same-fold floor, then the mean, the spread and how many seeds clear the floor; runs of other settings refused."""
import json

import pytest

from mer_keras.cli import main
from mer_keras.errors import InputError
from mer_keras.evaluation import pooled_scores, write_results_json
from mer_keras.evaluation.seeds import format_seed_summary, seed_summary
from tests.test_evaluation_report import fold_preds, save_folds

SETTINGS = {"model": "ststnet", "finetune": {"epochs": 20}}


def _seed_run(run_dir, seed, net_wrong, label="ours", settings=SETTINGS, mirrored_wrong=None):
    """A run made with ``--seed seed``: variant 'net' and a same-fold linear SVM wrong on 6 of its 24 clips (and,
    with ``mirrored_wrong``, a mirrored floor wrong on those clips)."""
    preds = {"net": fold_preds(wrong=net_wrong), "baseline_linear_svm": fold_preds(wrong=range(0, 24, 4))}
    if mirrored_wrong is not None:
        preds["baseline_linear_svm_mirrored"] = fold_preds(wrong=mirrored_wrong)
    for name, p in preds.items():
        save_folds(run_dir, name, p)
    write_results_json(run_dir, config={"name": "twin", "data": "m.csv"}, seeds={"seed": seed},
                       scores=pooled_scores(preds["net"]),
                       variants={"net": {"scores": pooled_scores(preds["net"]), "label": label,
                                         "config": {"label": label, **settings}}})
    doc = json.loads((run_dir / "results.json").read_text())
    doc["baselines"] = {kind[len("baseline_"):]: {"label": kind, "scores": {"all": pooled_scores(p)["all"]}}
                        for kind, p in preds.items() if kind.startswith("baseline_")}
    (run_dir / "results.json").write_text(json.dumps(doc))
    return run_dir


def test_each_seed_against_its_own_floor_then_the_spread(tmp_path):
    runs = [_seed_run(tmp_path / "s0", 0, net_wrong=()), _seed_run(tmp_path / "s1", 1, net_wrong=(3, 9)),
            _seed_run(tmp_path / "s2", 2, net_wrong=range(0, 24, 4), label="ours, reworded")]
    df = seed_summary(runs, n_boot=200)
    assert list(df["seed"]) == [0, 1, 2] and set(df["variant"]) == {"net"}  # a reworded label is the same variant
    assert df["uf1"].iloc[0] == 1.0 and df["uf1"].iloc[0] > df["uf1"].iloc[1] > df["uf1"].iloc[2]
    assert df["difference"].iloc[2] == 0.0  # seed 2 predicts exactly what the floor does
    assert df["difference"].iloc[0] > 0 and (df["floor_uf1"] == df["floor_uf1"].iloc[0]).all()
    text = format_seed_summary(df)
    above = int((df["low"] > 0).sum())
    assert "over 3 seeds" in text and f"interval above 0 in {above} of 3 seeds" in text
    assert f"mean UF1 {df['uf1'].mean():.3f}" in text
    # one interval over seeds and subjects for the mean difference, on every row of the variant
    low, high = df["seeds_low"].iloc[0], df["seeds_high"].iloc[0]
    assert (df["seeds_low"] == low).all() and low <= df["difference"].mean() <= high
    assert f"(two-level bootstrap): {df['difference'].mean():+.3f} [{low:+.3f}, {high:+.3f}]" in text


def test_runs_that_differ_by_more_than_the_seed_are_refused(tmp_path, capsys):
    s0 = _seed_run(tmp_path / "s0", 0, net_wrong=())
    other = _seed_run(tmp_path / "e100", 1, net_wrong=(), settings={**SETTINGS, "finetune": {"epochs": 100}})
    with pytest.raises(InputError, match=r"finetune\.epochs: 100 vs 20"):
        seed_summary([s0, other], n_boot=50)
    twice = _seed_run(tmp_path / "again", 0, net_wrong=(1,))
    with pytest.raises(InputError, match="seed 0 was given twice"):
        seed_summary([s0, twice], n_boot=50)
    with pytest.raises(InputError, match="at least two runs"):
        seed_summary([s0], n_boot=50)
    assert main(["table", str(s0), str(other), "--seeds", "--no-pairs", "--no-published", "--n-boot", "50"]) == 2
    assert "finetune.epochs" in capsys.readouterr().err
    s1 = _seed_run(tmp_path / "s1", 1, net_wrong=(5,))
    assert main(["table", str(s0), str(s1), "--seeds", "--no-pairs", "--no-published", "--n-boot", "50"]) == 0
    assert "Seeds of one setting" in capsys.readouterr().out


def test_another_floor_can_be_named_and_a_run_without_it_is_refused(tmp_path, capsys):
    """``--floor linear_svm_mirrored``: each seed against the floor trained with mirrors, where the runs have it."""
    from mer_keras.evaluation.baselines import KINDS
    from mer_keras.evaluation.commands import FLOOR_CHOICES

    runs = [_seed_run(tmp_path / f"s{k}", k, net_wrong=(3,), mirrored_wrong=()) for k in (0, 1)]
    df = seed_summary(runs, n_boot=50, floor="linear_svm_mirrored")
    assert (df["floor_uf1"] == 1.0).all() and (df["difference"] < 0).all()  # the mirrored floor here is perfect
    assert (seed_summary(runs, n_boot=50)["difference"] > 0).all()  # the plain one is not
    assert "'baseline: linear_svm_mirrored'" in format_seed_summary(df, floor="linear_svm_mirrored")
    plain = _seed_run(tmp_path / "plain", 2, net_wrong=(3,))
    with pytest.raises(InputError, match="no same-fold floor 'linear_svm_mirrored'.*mirrored_floor = true"):
        seed_summary([runs[0], plain], n_boot=50, floor="linear_svm_mirrored")
    assert main(["table", *map(str, runs), "--seeds", "--floor", "linear_svm_mirrored", "--no-pairs",
                 "--no-published", "--n-boot", "50"]) == 0
    assert "linear_svm_mirrored" in capsys.readouterr().out
    with pytest.raises(SystemExit):  # argparse refuses a kind it does not know
        main(["table", str(runs[0]), "--seeds", "--floor", "knn"])
    assert set(FLOOR_CHOICES) == set(KINDS)


def test_a_setting_an_older_run_could_not_record_reads_as_its_default(tmp_path):
    """A run made before ``preprocess.flow_centring`` existed is the same setting as one recording its default
    ("none"), and still differs from one recording "median"."""
    older = _seed_run(tmp_path / "s0", 0, net_wrong=(), settings={**SETTINGS, "preprocess": {"size": 28}})
    newer = _seed_run(tmp_path / "s1", 1, net_wrong=(5,),
                      settings={**SETTINGS, "preprocess": {"size": 28, "flow_centring": "none"}})
    assert list(seed_summary([older, newer], n_boot=50)["seed"]) == [0, 1]
    centred = _seed_run(tmp_path / "s2", 2, net_wrong=(5,),
                        settings={**SETTINGS, "preprocess": {"size": 28, "flow_centring": "median"}})
    with pytest.raises(InputError, match=r"preprocess\.flow_centring: 'median' vs 'none'"):
        seed_summary([older, centred], n_boot=50)


def test_reproduce_seeds_runs_each_seed_into_its_own_folder_and_prints_the_summary(tmp_path, capsys):
    """`reproduce --seeds 0,1` = two runs (`--seed 0`, `--seed 1`) in OUT/seed_0 and OUT/seed_1, then `table --seeds`."""
    from tests.fixtures.precomputed_layouts import three_subject_flow_manifest

    manifest = three_subject_flow_manifest(tmp_path)
    out = tmp_path / "run"
    args = ["reproduce", "merkeras_flow", "--data", str(manifest), "--out", str(out), "--cache",
            str(tmp_path / "cache"), "--set", "finetune.epochs=1", "--set", "finetune.members=1"]
    assert main(args + ["--seeds", "0,1"]) == 0
    printed = capsys.readouterr().out
    for k in (0, 1):
        assert json.loads((out / f"seed_{k}" / "results.json").read_text())["seeds"]["seed"] == k
    assert "Seeds of one setting" in printed and "over 2 seeds" in printed and "seed_1" in printed
    assert not (out / "results.json").exists()
    assert main(args + ["--seeds", "0,1", "--seed", "3"]) == 2  # which seed would it be?
    assert "without --seed" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(args + ["--seeds", "0,0"])
    assert "two different seeds" in capsys.readouterr().err
