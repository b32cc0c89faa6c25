"""`reproduce` end to end on a tiny SynthME corpus: outputs, resume, results that depend only on their settings."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import mer_keras.training.fold as fold_module
from mer_keras.training.config import PreprocessConfig
from mer_keras.training.data import prepared
from mer_keras.training.reproduce import reproduce

# one ShuffleNet unit per stage: these tests are about the run (resume, export, order), not the network's depth,
# and a smoke run's cost is per layer
TINY = {
    "preprocess": {"size": 32},
    "network": {"stage_repeats": [1, 1, 1]},
    "pretrain": {"epochs": 2, "batch_size": 8},
    "finetune": {"epochs": 1, "batch_size": 8},
    "head": {"C": [1.0], "kernels": ["linear"], "inner_splits": 2},
    "synthme": {"subjects": 3, "clips_per_subject": 4},
}
TINY_ARGS = ["--set", "preprocess.size=32", "--set", "network.stage_repeats=[1,1,1]",
             "--set", "pretrain.epochs=2", "--set", "pretrain.batch_size=8",
             "--set", "finetune.epochs=1", "--set", "finetune.batch_size=8", "--set", "head.C=[1.0]",
             "--set", 'head.kernels=["linear"]', "--set", "head.inner_splits=2",
             "--set", "synthme.subjects=3", "--set", "synthme.clips_per_subject=4"]


@pytest.fixture(scope="session")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _cli(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "mer_keras", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=600, check=False)


def test_interrupted_run_resumes_without_redoing_finished_folds(tmp_path, cache, monkeypatch):
    """An interrupted run resumes without redoing its finished folds; then (on the same run, which costs about
    40 s to make) its export predicts a clip and a rerun with other settings is refused."""
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
        reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY)
    finished = sorted((out / "folds" / "shufflenet_ghost_vit").glob("*.csv"))
    assert len(finished) == 1  # the first fold was written as soon as it ended
    first_written = finished[0].stat().st_mtime_ns
    assert oct(finished[0].stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # readable by the lab group

    calls.clear()

    def counting_only(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fold_module, "run_fold", counting_only)
    res = reproduce("liu2022_shufflenet", out=out, cache=cache, overrides=TINY, tsne=True,
                    tensorboard=out / "tb")
    events = list((out / "tb" / "shufflenet_ghost_vit").glob("*/*/events.out.tfevents.*"))
    assert {p.parent.name for p in events} == {"pre-train", "fine-tune"} and len(events) == 4  # 2 folds run now
    assert len(calls) == 3  # 3 subjects, 1 already done, plus the export trained on all subjects
    assert finished[0].stat().st_mtime_ns == first_written  # read back, not rewritten
    assert len(list((out / "folds" / "shufflenet_ghost_vit").glob("*.csv"))) == 3

    scores = res["scores"]["all"]
    assert set(scores) >= {"uf1", "uar", "accuracy"}
    assert 0.0 <= scores["accuracy"] <= 1.0
    assert (out / "megc_log.txt").read_text().strip()
    assert (out / "confusion_shufflenet_ghost_vit.png").stat().st_size > 1000
    saved = json.loads((out / "results.json").read_text())
    variant = saved["variants"]["shufflenet_ghost_vit"]
    assert variant["leaky"] is False and variant["comparable"] is False
    assert "synthetic data" in variant["not_comparable_because"]
    assert variant["provenance"]["overrides"]["finetune"] == {"epochs": 1, "batch_size": 8}
    assert variant["provenance"]["seed"] == 0 and variant["provenance"]["versions"]["python"]
    assert variant["provenance"]["precision"] == "float32" and variant["provenance"]["deterministic"] is True
    assert saved["extra"]["synthetic"] is True and saved["config"]["deviations"]
    export = out / "export" / "shufflenet_ghost_vit"
    assert {"model.weights.h5", "model.keras", "head.joblib", "config.json"} <= {p.name for p in export.iterdir()}
    assert (out / "tsne_shufflenet_ghost_vit.png").stat().st_size > 1000
    _predict_runs_one_clip_through_the_export(out, cache)
    _rerun_with_other_settings_refuses_to_mix_folds(out, cache)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _predict_runs_one_clip_through_the_export(run, cache):
    """`predict` on a SynthME clip folder with the exported weights and SVM head."""
    from mer_keras.datasets import load_manifest
    from mer_keras.training.predict import predict_clip

    export = run / "export" / "shufflenet_ghost_vit"
    root = next(cache.glob("synthme-micro-*"))
    row = load_manifest("synthme", root, protocol="three-class").iloc[0]
    res = predict_clip(row["frames_dir"], export / "model.weights.h5", head=export / "head.joblib",
                       onset=int(row["onset_idx"]), apex=int(row["apex_idx"]))
    assert res["predicted"] in ("negative", "positive", "surprise")
    assert len(res["decision_values"]) == 3


def _rerun_with_other_settings_refuses_to_mix_folds(run, cache):
    """Finished folds of one configuration are never pooled with another's."""
    changed = dict(TINY, finetune={"epochs": 2, "batch_size": 8})
    with pytest.raises(ValueError, match="other settings"):
        reproduce("liu2022_shufflenet", out=run, cache=cache, overrides=changed)


def test_results_depend_only_on_settings_not_on_variant_order_or_fold_history(tmp_path, cache):
    """A variant run after another in this process, and one of its folds recomputed alone in a fresh
    process (its other folds copied in as finished), give byte-identical predictions."""
    exp, variant = "liu2022_shufflenet_ablation", "shufflenet_plain_no_pretrain"
    after = tmp_path / "after"
    reproduce(exp, out=after, cache=cache, overrides=TINY, variants=["shufflenet_plain_softmax", variant])
    folds = after / "folds" / variant
    files = sorted(folds.glob("*.csv"))
    assert len(files) == 3
    alone = tmp_path / "alone"
    (alone / "folds" / variant).mkdir(parents=True)
    shutil.copy(folds / "setup.json", alone / "folds" / variant)
    for f in (files[0], files[2]):  # folds A and C finished; fold B is recomputed first, alone
        shutil.copy(f, alone / "folds" / variant)
        shutil.copy(f.with_suffix(".json"), alone / "folds" / variant)
    done = _cli("reproduce", exp, "--variant", variant, "--out", str(alone), "--cache", str(cache), *TINY_ARGS)
    assert done.returncode == 0, done.stderr[-3000:]
    recomputed = alone / "folds" / variant / files[1].name
    assert recomputed.stat().st_mtime_ns != files[1].stat().st_mtime_ns
    assert recomputed.read_bytes() == files[1].read_bytes()


def test_a_wrong_setting_exits_2_before_any_work(tmp_path):
    for args, named in ((["--set", "finetune.epoch=3"], "did you mean 'epochs'"),
                        (["--set", "finetune.epochs=abc"], "finetune.epochs"),
                        (["--variant", "nope"], "unknown variant 'nope'")):
        done = _cli("reproduce", "liu2022_shufflenet", "--out", str(tmp_path / "r"), *args)
        assert done.returncode == 2, done.stderr
        assert named in done.stderr and "Traceback" not in done.stderr
        assert not (tmp_path / "r").exists() and not (tmp_path / "cache").exists()


def test_print_config_shows_the_resolved_settings():
    done = _cli("reproduce", "liu2022_shufflenet", "--set", "finetune.epochs=3", "--print-config")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["variants"][0]["finetune"]["epochs"] == 3 and doc["variants"][0]["preprocess"]["size"] == 64


@pytest.mark.slow
def test_wheel_installed_outside_the_checkout_ships_its_experiments(tmp_path, cache):
    """`pip install .` (a wheel, not editable): the experiments load from the package and a tiny run works."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    shutil.copytree(root, src, ignore=shutil.ignore_patterns(".git", ".venv", "runs", "build", "*.egg-info",
                                                             "__pycache__", ".keras_home", "dist"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp_path / "dist").glob("mer_keras-*.whl"))
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                                str(target), str(wheel)], capture_output=True, text=True, timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]
    env = dict(os.environ, PYTHONPATH=str(target))
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = subprocess.run([sys.executable, "-c", "import mer_keras; print(mer_keras.__file__)"], cwd=work,
                           env=env, capture_output=True, text=True, check=False)
    assert where.stdout.startswith(str(target)), where.stdout + where.stderr
    listed = _cli("experiments", cwd=work, env=env)
    assert listed.returncode == 0 and "liu2022_shufflenet_ablation" in listed.stdout
    assert "liu2022_mobilevit" in listed.stdout
    run = _cli("reproduce", "liu2022_shufflenet", "--out", str(work / "run"), "--cache", str(cache),
               *TINY_ARGS, "--set", 'pretrain.kind="none"', "--set", 'head.kind="softmax"', cwd=work, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((work / "run" / "results.json").read_text())["scores"]["all"]["n"] == 11


def test_reproduce_runs_on_precomputed_flow_and_face_files(tmp_path, cache):
    """A researcher's shared derived images: flow pre-training reads the flow files, fine-tuning the face files."""
    from mer_keras.cli import main
    from tests.fixtures.precomputed_layouts import SMALL, htnet_csv, write_flat

    rows = [r for r in SMALL if r[1] in ("sub01", "s01", "7")]  # three subjects, one of each database: 3 folds
    write_flat(tmp_path / "flow", rows)
    write_flat(tmp_path / "apex", rows, seed=50)
    labels = htnet_csv(tmp_path / "labels.csv", rows)
    assert main(["manifest", "precomputed", "--labels", str(labels), "--input", f"flow={tmp_path / 'flow'}",
                 "--input", f"apex={tmp_path / 'apex'}", "--out", str(tmp_path / "m.csv")]) == 0
    res = reproduce("liu2022_shufflenet", data=str(tmp_path / "m.csv"), out=tmp_path / "run", cache=cache,
                    overrides={k: v for k, v in TINY.items() if k != "synthme"}, export=True)
    assert res["scores"]["all"]["n"] == len(rows) == 6
    variant = res["variants"]["shufflenet_ghost_vit"]
    assert variant["config"]["preprocess"]["representation"] == "apex"
    assert variant["config"]["pretrain"]["representation"] == "flow"
    assert "linear_svm_flow" in res["baselines"]  # the flow files fed pre-training and its own floor
    _an_export_of_precomputed_files_refuses_frames(tmp_path / "run" / "export" / "shufflenet_ghost_vit",
                                                   tmp_path / "m.csv")


def _an_export_of_precomputed_files_refuses_frames(export_dir, manifest_csv):
    """The export records that it was trained on precomputed files; frames would reach it scaled otherwise."""
    from mer_keras.datasets import read_manifest
    from mer_keras.errors import InputError
    from mer_keras.training.export import load_export as load_folder
    from mer_keras.training.predict import load_export, predict_rows

    assert json.loads((export_dir / "config.json").read_text())["input_source"] == "precomputed"
    assert "precomputed input files" in load_folder(export_dir).preprocessing.scaling
    export = load_export(export_dir / "model.weights.h5")
    rows = read_manifest(manifest_csv)
    assert len(predict_rows(rows, export)) == len(rows)  # the same kind of files: predicted
    frames = rows.drop(columns=[c for c in rows if c.startswith("input_")])
    with pytest.raises(InputError, match="trained on precomputed input files"):
        predict_rows(frames, export)


def test_an_export_trained_on_centred_flow_centres_what_it_predicts(tmp_path, cache):
    """``flow_centring`` travels with the export: predict feeds the network the same centred flow it trained on."""
    from mer_keras.datasets import read_manifest
    from mer_keras.preprocessing.flow import centre_flow
    from mer_keras.training.export import load_export as load_folder
    from mer_keras.training.predict import load_export, predict_rows
    from tests.fixtures.precomputed_layouts import three_subject_flow_manifest

    three_subject_flow_manifest(tmp_path)
    reproduce("merkeras_flow", data=str(tmp_path / "m.csv"), out=tmp_path / "run", cache=cache, export=True,
              overrides={"finetune": {"epochs": 1, "members": 1}, "baselines": False})
    export_dir = tmp_path / "run" / "export" / "merkeras_flow"
    assert json.loads((export_dir / "config.json").read_text())["preprocess"]["flow_centring"] == "median"
    described = load_folder(export_dir).preprocessing
    assert described.flow_centring == "median" and "flow_centring" not in described.params  # params go to prepare
    assert "median u and v subtracted" in described.scaling
    export = load_export(export_dir / "model.weights.h5")
    manifest = read_manifest(tmp_path / "m.csv")
    got = predict_rows(manifest, export)[[f"score_{c}" for c in export.classes]].to_numpy()
    raw, _ = prepared(manifest, PreprocessConfig(size=28), tmp_path / "cache_raw", n_jobs=1, progress=False)
    centred = np.asarray(export.model.predict(centre_flow(raw), verbose=0))
    uncentred = np.asarray(export.model.predict(raw, verbose=0))
    np.testing.assert_allclose(got, centred, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got, uncentred, atol=1e-4)  # the write_flat images have a median to remove


def test_mirrored_floor_adds_the_linear_svm_trained_with_mirrors(tmp_path, cache):
    """``mirrored_floor = true`` (merkeras_flow sets it): a third floor, stored per fold like the others and named
    as trained on mirrors; ``--set mirrored_floor=false`` leaves the usual two."""
    from tests.fixtures.precomputed_layouts import three_subject_flow_manifest

    three_subject_flow_manifest(tmp_path)
    short = {"finetune": {"epochs": 1, "members": 1}}
    reproduce("merkeras_flow", data=str(tmp_path / "m.csv"), out=tmp_path / "run", cache=cache, overrides=short)
    floors = json.loads((tmp_path / "run" / "results.json").read_text())["baselines"]
    assert set(floors) == {"majority", "linear_svm", "linear_svm_mirrored"}
    assert "mirrors" in floors["linear_svm_mirrored"]["label"] and "mirrors" not in floors["linear_svm"]["label"]
    assert len(list((tmp_path / "run" / "folds" / "baseline_linear_svm_mirrored").glob("*.csv"))) == 3
    reproduce("merkeras_flow", data=str(tmp_path / "m.csv"), out=tmp_path / "plain", cache=cache,
              overrides={**short, "mirrored_floor": False})
    assert set(json.loads((tmp_path / "plain" / "results.json").read_text())["baselines"]) == {"majority", "linear_svm"}
