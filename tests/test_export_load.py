"""Exports that load anywhere: ``model.keras`` in a fresh process after ``import mer_keras``, the ``.h5`` weights in
a freshly built model, ``mer_keras.load_export``'s three parts, and every Keras object of the package registered
where ``import mer_keras`` finds it."""
import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys

import joblib
import keras
import numpy as np
import pytest
from sklearn.svm import LinearSVC

import mer_keras
from mer_keras.errors import InputError
from mer_keras.models import embedding_model
from mer_keras.preprocessing import normalize_params
from mer_keras.registration import register_layers
from mer_keras.training.adamp import AdamP
from mer_keras.training.export import load_export
from mer_keras.training.networks import build_exported

CONFIG = {"model": "ststnet", "classes": ["negative", "positive", "surprise"], "head": "svm",
          "preprocess": {"representation": "flow", "size": 28, "flow_method": "tvl1", "third": "strain",
                         "masks": []},
          "input_shape": [28, 28, 3], "network": {}}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """An export laid out as ``runner.export_model`` writes it, from a compiled (AdamP) model whose weights are not
    a fresh build's."""
    out = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    model = build_exported(CONFIG)
    for v in model.trainable_variables:  # not the BatchNormalization statistics: a variance must stay positive
        v.assign(keras.ops.convert_to_numpy(v) + rng.normal(0, 0.05, v.shape).astype("float32"))
    model.compile(optimizer=AdamP(1e-3), loss="categorical_crossentropy")
    model.optimizer.build(model.trainable_variables)
    model.save_weights(str(out / "model.weights.h5"))
    model.save(str(out / "model.keras"))
    x = rng.uniform(-1, 1, size=(10, 28, 28, 3)).astype("float32")
    feats = np.asarray(embedding_model(model)(x, training=False))
    joblib.dump(LinearSVC().fit(feats, np.arange(10) % 3), out / "head.joblib")
    (out / "config.json").write_text(json.dumps(CONFIG))
    np.save(out / "x.npy", x)
    np.save(out / "expected.npy", outputs(model, x))
    return out


def outputs(model, x) -> np.ndarray:
    """Class scores and the pooled features beside them (scores alone can saturate and hide a difference)."""
    return np.concatenate([np.asarray(model(x, training=False)), np.asarray(embedding_model(model)(x, training=False))],
                          axis=1)


def test_model_keras_loads_in_a_fresh_process_after_import_mer_keras(export, tmp_path):
    code = ("import sys, numpy as np, mer_keras, keras\n"  # mer_keras first, Keras loaded after it
            "from mer_keras.models import embedding_model\n"
            "m = keras.saving.load_model(sys.argv[1] + '/model.keras')\n"
            "x = np.load(sys.argv[1] + '/x.npy')\n"
            "np.save(sys.argv[2], np.concatenate([np.asarray(m(x, training=False)),\n"
            "                                     np.asarray(embedding_model(m)(x, training=False))], axis=1))\n"
            "print(type(m.optimizer).__name__)\n")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code, str(export), str(tmp_path / "got.npy")], check=False,
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "AdamP"
    np.testing.assert_allclose(np.load(tmp_path / "got.npy"), np.load(export / "expected.npy"), rtol=1e-5, atol=1e-5)


def test_h5_weights_in_a_freshly_built_model_give_the_same_predictions(export):
    x, expected = np.load(export / "x.npy"), np.load(export / "expected.npy")
    fresh = build_exported(CONFIG)
    assert np.abs(outputs(fresh, x) - expected).max() > 1e-2  # a fresh build differs
    fresh.load_weights(str(export / "model.weights.h5"))
    np.testing.assert_allclose(outputs(fresh, x), expected, rtol=1e-5, atol=1e-5)
    assert (fresh.predict(x, verbose=0).argmax(axis=1) == expected[:, :3].argmax(axis=1)).all()


def test_load_export_returns_the_model_its_head_and_its_preprocessing(export):
    loaded = mer_keras.load_export(export)
    x, expected = np.load(export / "x.npy"), np.load(export / "expected.npy")
    np.testing.assert_allclose(outputs(loaded.model, x), expected, rtol=1e-5, atol=1e-5)
    assert loaded.head_kind == "svm" and loaded.classes == CONFIG["classes"]
    feats = np.asarray(embedding_model(loaded.model)(x, training=False))
    assert (loaded.head.predict(feats) == joblib.load(export / "head.joblib").predict(feats)).all()
    pre = loaded.preprocessing
    assert (pre.representation, pre.size, pre.input_shape) == ("flow", 28, (28, 28, 3))
    assert pre.scaling == "u, v / 0.5 px (at 28 px) clipped to [-1, 1]; strain / 0.2 clipped to [0, 1]"
    assert normalize_params(pre.representation, pre.params)["flow_method"] == "tvl1"  # prepare() takes them


def test_load_export_names_what_is_missing(export, tmp_path):
    with pytest.raises(InputError, match="export folder does not exist"):
        load_export(tmp_path / "nowhere")
    with pytest.raises(InputError, match="no config.json"):
        load_export(tmp_path)
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "config.json").write_text((export / "config.json").read_text())
    (partial / "model.keras").write_bytes((export / "model.keras").read_bytes())
    with pytest.raises(InputError, match="head.joblib: missing; config.json says the head is an SVM"):
        load_export(partial)
    (partial / "model.keras").write_bytes(b"not a keras file")
    with pytest.raises(InputError, match="model.keras: cannot be loaded"):
        load_export(partial)


def test_every_keras_object_of_the_package_is_registered_where_import_mer_keras_finds_it():
    imported = set(register_layers())
    seen = []
    for package in ("mer_keras.models", "mer_keras.training"):
        for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if not (inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_")
                        and issubclass(obj, (keras.layers.Layer, keras.optimizers.Optimizer, keras.losses.Loss,
                                             keras.metrics.Metric))):
                    continue
                seen.append(name)
                registered = keras.saving.get_registered_name(obj)
                assert registered == f"mer_keras>{name}", f"{module.__name__}.{name} is not registered"
                assert module.__name__ in imported, f"{module.__name__} defines {name} but registration skips it"
    assert {"TorchMaxPool2D", "PositionEmbedding", "AdamP"} <= set(seen)


def test_load_export_refuses_a_head_that_is_not_its_own(export, tmp_path):
    import shutil

    from mer_keras.training.identity import export_identity

    other = tmp_path / "other"
    shutil.copytree(export, other)
    config = dict(CONFIG, identity=export_identity(other / "model.weights.h5", other / "head.joblib"))
    (other / "config.json").write_text(json.dumps(config))
    assert load_export(other).head is not None  # its own head: accepted
    rng = np.random.default_rng(1)
    joblib.dump(LinearSVC().fit(rng.normal(size=(6, 400)), np.arange(6) % 3), other / "head.joblib")
    with pytest.raises(InputError, match="not fitted on the embeddings"):
        load_export(other)
