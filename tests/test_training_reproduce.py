"""`reproduce` end to end on a tiny SynthME corpus: outputs, interruption and resume without redoing folds."""
import json

import pytest

import mer_keras.training.fold as fold_module
from mer_keras.training.reproduce import reproduce

TINY = {
    "preprocess": {"size": 32},
    "pretrain": {"epochs": 1, "batch_size": 8},
    "finetune": {"epochs": 1, "batch_size": 8},
    "head": {"C": [1.0], "kernels": ["linear"], "inner_splits": 2},
    "synthme_reductions": {"subjects": 3, "clips_per_subject": 4},
}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("runs") / "run"


def test_interrupted_run_resumes_without_redoing_finished_folds(run_dir, cache, monkeypatch):
    calls = []
    real = fold_module.run_fold

    def counting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the second fold
        return real(*args, **kwargs)

    monkeypatch.setattr(fold_module, "run_fold", counting)
    out = run_dir
    with pytest.raises(KeyboardInterrupt):
        reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY, progress=False)
    finished = sorted((out / "folds" / "shufflenet_ghost_vit").glob("*.csv"))
    assert len(finished) == 1  # the first fold was written as soon as it ended
    first_written = finished[0].stat().st_mtime_ns

    calls.clear()

    def counting_only(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fold_module, "run_fold", counting_only)
    res = reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY, progress=False, tsne=True)
    assert len(calls) == 3  # 3 subjects, 1 already done, plus the export trained on all subjects
    assert finished[0].stat().st_mtime_ns == first_written  # read back, not rewritten
    assert len(list((out / "folds" / "shufflenet_ghost_vit").glob("*.csv"))) == 3

    scores = res["scores"]["all"]
    assert set(scores) >= {"uf1", "uar", "accuracy"}
    assert 0.0 <= scores["accuracy"] <= 1.0
    assert (out / "megc_log.txt").read_text().strip()
    assert (out / "confusion_shufflenet_ghost_vit.png").stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    assert saved["variants"]["shufflenet_ghost_vit"]["leaky"] is False
    assert saved["extra"]["synthetic"] is True
    export = out / "export" / "shufflenet_ghost_vit"
    assert {"model.weights.h5", "model.keras", "head.joblib", "config.json"} <= {p.name for p in export.iterdir()}
    assert (out / "tsne_shufflenet_ghost_vit.png").stat().st_size > 1000


def test_predict_runs_one_clip_through_the_export(run_dir, cache):
    """`predict` on a SynthME clip folder with the exported weights and SVM head."""
    from mer_keras.datasets import load_manifest
    from mer_keras.training.predict import predict_clip

    export = run_dir / "export" / "shufflenet_ghost_vit"  # written by the test above
    assert export.is_dir()
    root = next(cache.glob("synthme-micro-*"))
    row = load_manifest("synthme", root, protocol="three-class").iloc[0]
    res = predict_clip(row["frames_dir"], export / "model.weights.h5", head=export / "head.joblib",
                       onset=int(row["onset_idx"]), apex=int(row["apex_idx"]))
    assert res["predicted"] in ("negative", "positive", "surprise")
    assert len(res["decision_values"]) == 3
    assert set(res["times"]) >= {"preprocess_s", "network_and_head_s"}
    with pytest.raises(ValueError, match="onset"):
        predict_clip(row["frames_dir"], export / "model.weights.h5", head=export / "head.joblib",
                     onset=5, apex=2)


def test_rerun_with_other_settings_refuses_to_mix_folds(run_dir, cache):
    """Finished folds of one configuration are never pooled with another's."""
    changed = dict(TINY, finetune={"epochs": 2, "batch_size": 8})
    with pytest.raises(ValueError, match="other settings"):
        reproduce("liu2022_shufflenet", out=run_dir, cache=cache, overrides=changed, progress=False)
