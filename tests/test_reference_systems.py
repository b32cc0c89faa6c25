"""The MEGC 2019 reference systems end to end: a precomputed manifest -> reproduce --also-leaky -> the tables.

The leaky copy of a variant must really read the held-out labels (a trap fires), the default must never
(the runner does not even hand them over), and the comparison table has the shape of STSTNet's Table III.
"""
import numpy as np
import pytest

from mer_keras.cli import main
from mer_keras.evaluation.report import MEGC_COLUMNS, megc_comparison_table
from mer_keras.training.config import load_experiment, with_test_fold_selection
from mer_keras.training.fold import FoldData, run_fold
from mer_keras.training.runner import FoldTask, LosoInputs
from mer_keras.training.stages import TrainSet
from tests.fixtures.precomputed_layouts import SMALL, htnet_csv, write_flat
from tests.test_training_leakage import _trap

FAST = {"finetune": {"epochs": 3, "batch_size": 4}}
pytestmark = pytest.mark.xdist_group("reference_systems")  # one worker builds the module's run, not both


def _variant(leaky: bool):
    v = load_experiment("liong2019_ststnet", overrides=FAST).variants[0]
    return with_test_fold_selection(v) if leaky else v


def _fold(labels):
    rng = np.random.default_rng(0)
    y = np.arange(12) % 3
    x = rng.uniform(-1, 1, (12, 28, 28, 3)).astype("float32")
    x[np.arange(12), :, :, y] += 0.5
    groups = np.repeat(["a", "b", "c"], 4)
    return FoldData(train=TrainSet(x, y, groups, 3), x_test=x[:3] * 0.9, held_out_labels=labels)


def test_the_leaky_copy_reads_the_held_out_labels_and_the_default_never_does():
    leaky, clean = _variant(True), _variant(False)
    assert leaky.leaky and not clean.leaky and leaky.name == "ststnet__test_fold_selection"
    with pytest.raises(LookupError, match="held-out"):
        run_fold(leaky, _fold(_trap(np.array([0, 1, 2]))), seed=1)
    # the default: trained with the trap in place, and with other labels, the same weights and scores
    a = run_fold(clean, _fold(_trap(np.array([0, 1, 2]))), seed=1)
    scores_a, weights_a = a.scores.copy(), [w.copy() for w in a.model.get_weights()]
    b = run_fold(clean, _fold(np.array([2, 2, 2])), seed=1)
    np.testing.assert_array_equal(scores_a, b.scores)
    for wa, wb in zip(weights_a, b.model.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    # the runner hands held-out labels to the leaky copy only
    rows = __import__("pandas").DataFrame({"subject": ["a", "a", "b", "b"]})
    inputs = LosoInputs(np.zeros((4, 28, 28, 3), "float32"), np.array([0, 1, 2, 0]), rows["subject"].to_numpy(),
                        rows, 3)
    task = FoldTask(clean, "b", np.array([0, 1]), np.array([2, 3]), 0, None, None)
    assert inputs.fold(task).held_out_labels is None
    assert inputs.fold(FoldTask(leaky, "b", np.array([0, 1]), np.array([2, 3]), 0, None, None)) \
        .held_out_labels.tolist() == [2, 0]


@pytest.fixture(scope="module")
def ststnet_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ststnet")
    rows = [r for r in SMALL if r[0] != "samm"]
    write_flat(tmp / "flow", rows)
    labels = htnet_csv(tmp / "labels.csv", rows)
    assert main(["manifest", "precomputed", "--labels", str(labels), "--input", f"flow={tmp / 'flow'}",
                 "--out", str(tmp / "m.csv")]) == 0
    args = ["reproduce", "liong2019_ststnet", "--data", str(tmp / "m.csv"), "--out", str(tmp / "run"),
            "--set", "finetune.epochs=3", "--set", "finetune.batch_size=4", "--also-leaky"]
    return tmp / "run", main(args)


def test_reproduce_also_leaky_prints_both_rows_and_never_heads_with_the_leaky_one(ststnet_run, capsys):
    import json

    run, code = ststnet_run
    assert code == 0
    doc = json.loads((run / "results.json").read_text())
    clean, leaky = doc["variants"]["ststnet"], doc["variants"]["ststnet__test_fold_selection"]
    assert not clean["leaky"] and leaky["leaky"] and not leaky["comparable"]
    assert doc["scores"] == clean["scores"] and doc["config"]["variants"] == ["ststnet"]
    assert main(["table", str(run), "--megc", "--n-boot", "50"]) == 0
    out = capsys.readouterr().out
    assert "test-fold epoch selection" in out and "leaky option" in out
    assert "ststnet__test_fold_selection" in out or "test-fold selection" in out  # the paired difference


def test_the_megc_comparison_table_has_the_shape_of_ststnets_table_iii(ststnet_run):
    run, _ = ststnet_run
    table = megc_comparison_table([run])
    assert tuple(table.columns) == MEGC_COLUMNS
    assert [c for c in table.columns if c.endswith("UF1")] == ["Full UF1", "SMIC UF1", "CASME II UF1", "SAMM UF1"]
    ours = table[table["source"] == "ours"]
    assert ours["leak_free"].tolist()[:2] == ["yes", "no (test-fold selection)"]
    assert (ours["leak_free"] == "yes (baseline)").sum() >= 2  # majority and linear SVM on the same folds
    assert ours["SAMM UF1"].isna().all() and ours["Full UF1"].notna().all()  # no SAMM clip in this run
    published = table[table["source"] == "published"].set_index("method")
    assert published.loc["STSTNet", "Full UF1"] == 0.7353 and published.loc["STSTNet", "leak_free"] == "not stated"
    assert published.loc["STSTNet (meb, test-fold selection)", "leak_free"] == "no (test-fold selection)"
    assert published.loc["STSTNet (authors' PyTorch release, last epoch)", "Full UAR"] == 0.725


def test_a_collapsed_network_is_detected_and_reported(ststnet_run, tmp_path):
    """A network built to predict one class (a huge bias on class 2) is a collapse; the run's table says so."""
    import json
    import shutil

    from mer_keras.evaluation.report import COLLAPSE_NOTE, results_table
    from mer_keras.models import build
    from mer_keras.training.fold import collapse_check

    model = build("ststnet")
    dense = model.get_layer("predictions")
    kernel, _ = dense.get_weights()
    dense.set_weights([kernel, np.array([0.0, 0.0, 1e4], "float32")])
    train = _fold(None).train
    assert collapse_check(model, train) == {"train_predicted_classes": [2], "collapsed": True}
    one_class = TrainSet(train.x, np.zeros_like(train.y), train.groups, 3)
    assert collapse_check(model, one_class)["collapsed"] is False  # one class to learn: nothing collapsed

    run, _ = ststnet_run
    sidecars = [json.loads(p.read_text()) for p in (run / "folds" / "ststnet").glob("*.json")
                if not p.name.endswith(".written.json") and p.name != "setup.json"]
    assert sidecars and all("collapsed" in d["history"]["collapse"] for d in sidecars)
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    doc = json.loads((copy / "results.json").read_text())
    doc["variants"]["ststnet"]["collapsed_folds"] = 2
    (copy / "results.json").write_text(json.dumps(doc))
    notes = results_table([copy])["note"]
    assert notes.str.contains(COLLAPSE_NOTE.format(n=2, folds=doc["variants"]["ststnet"]["folds"]),
                              regex=False).any()


def test_table_stages_reports_each_network_variant_and_says_when_nothing_was_held_out(ststnet_run, capsys):
    run, _ = ststnet_run
    assert main(["table", str(run), "--stages", "--no-pairs", "--no-published"]) == 0
    report = capsys.readouterr().out.split("Stage report (training subjects only):")[1]
    assert report.count("no stage trained with an inner split") == 2  # ststnet and its leaky copy, no baseline
    assert "ststnet__test_fold_selection:" in report and "baseline" not in report
