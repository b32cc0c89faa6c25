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


def test_interrupted_run_resumes_without_redoing_finished_folds(tmp_path, cache, monkeypatch):
    calls = []
    real = fold_module.run_fold

    def counting(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the user presses Ctrl-C during the second fold
        return real(*args, **kwargs)

    monkeypatch.setattr(fold_module, "run_fold", counting)
    out = tmp_path / "run"
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
    res = reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY, progress=False)
    assert len(calls) == 2  # 3 subjects, 1 already done
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
