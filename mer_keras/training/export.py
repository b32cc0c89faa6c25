"""Loading an export anywhere: the model, its head and the preprocessing its input needs, from one folder.

``reproduce --export`` (``runner.export_model``) writes, per variant, ``export/<variant>/``:

* ``model.keras``: the whole network (architecture, weights). ``keras.saving.load_model`` reads it in any
  process once ``mer_keras`` is imported (``mer_keras.registration`` registers the package's layers);
* ``model.weights.h5``: the same weights, for a network built again by the same builder (``predict``'s path,
  ``build_exported(config)`` then ``load_weights``);
* ``head.joblib``: the fitted SVM head (a scikit-learn estimator on the pooled embedding), only when the
  variant's head is an SVM;
* ``config.json``: model name, input shape, class names, head kind, network settings and the preprocessing
  (written last: a folder without it is an unfinished export).

``load_export(folder)`` returns all three parts together, the preprocessing spelled out (representation, size,
value scaling) and in the form ``mer_keras.prepare`` takes, so a notebook gets inputs the model expects.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import keras
import numpy as np

from ..errors import InputError
from .identity import check_export_identity

MODEL_FILE = "model.keras"
WEIGHTS_FILE = "model.weights.h5"
HEAD_FILE = "head.joblib"
CONFIG_FILE = "config.json"
PIXEL_REPRESENTATIONS = ("apex", "ars", "rrs", "frame_stack", "evm_stack")


@dataclass(frozen=True)
class Preprocessing:
    """What the exported model's input is: ``mer_keras.prepare(manifest, p.representation, cache, **p.params)``
    makes it from frames, then ``preprocessing.flow.centre_flow(x, p.flow_centring)`` (a no-op for "none")."""

    representation: str
    size: int
    input_shape: tuple
    scaling: str
    params: dict = field(default_factory=dict)
    flow_centring: str = "none"


@dataclass
class LoadedExport:
    """An export folder loaded: the Keras model, the SVM head (None when the head is the network's softmax),
    the preprocessing, the class names and the raw ``config.json``."""

    folder: Path
    model: object
    head: object
    preprocessing: Preprocessing
    classes: list
    config: dict

    @property
    def head_kind(self) -> str:
        return "svm" if self.head is not None else "softmax"


def scaling_of(representation: str, params: dict) -> str:
    """The value scale of ``representation`` under ``params`` (fixed, documented in ``representations``)."""
    size = int(params.get("size", 224))
    if representation in ("flow", "flow_stack", "flow_hsv"):
        bound = params.get("flow_bound") or size / 56.0
        if representation == "flow_hsv":
            return f"HSV flow picture as RGB in [0, 1]; value = flow magnitude / {bound:g} px (at {size} px)"
        third = params.get("third", "strain")
        extra = (f"strain / {params.get('strain_bound', 0.2):g}" if third == "strain"
                 else f"magnitude / {bound:g} px")
        return f"u, v / {bound:g} px (at {size} px) clipped to [-1, 1]; {extra} clipped to [0, 1]"
    if representation in PIXEL_REPRESENTATIONS:
        return "aligned face pixels / 255 in [0, 1]" + (", grayscale" if params.get("grayscale") else ", RGB")
    return "see mer_keras.preprocessing.representations"


def preprocessing_of(config: dict, where: str = CONFIG_FILE) -> Preprocessing:
    """The ``Preprocessing`` an export's ``config.json`` records."""
    pre = dict(config.get("preprocess") or {})
    representation = pre.pop("representation", None)
    if not representation:
        raise InputError(f"{where}: no preprocess.representation; not a config.json written by reproduce --export")
    centring = str(pre.pop("flow_centring", "none"))  # older exports: none; applied after prepare, not one of its params
    params = {k: (tuple(v) if isinstance(v, list) else v) for k, v in pre.items()}
    shape = tuple(int(s) for s in config.get("input_shape") or ())
    size = int(params.get("size", shape[-2] if len(shape) >= 3 else 224))
    scaling = scaling_of(representation, params)
    if config.get("input_source") == "precomputed":  # datasets.schema.input_source
        scaling = ("as the precomputed input files were read (mer_keras.preprocessing.precomputed: e.g. per-image "
                   "min-max flow images), not computed from frames")
    if centring != "none":
        scaling += f"; then each image's own {centring} u and v subtracted (flow_centring)"
    return Preprocessing(representation, size, shape, scaling, params, centring)


def _read_config(folder: Path) -> dict:
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"{folder}: no {CONFIG_FILE}; an export folder (export/<variant>/ of `mer-keras reproduce "
                         "--export`) holds it once the export is complete")
    try:
        config = json.loads(path.read_text())
    except ValueError as e:
        raise InputError(f"{path}: not JSON ({e})") from None
    missing = [k for k in ("model", "classes", "input_shape", "preprocess") if k not in config] \
        if isinstance(config, dict) else ["model"]
    if missing:
        raise InputError(f"{path}: not an export {CONFIG_FILE} (no {', '.join(missing)})")
    return config


def _load_head(path: Path, n_classes: int):
    try:
        head = joblib.load(path)
    except Exception as e:  # noqa: BLE001 - pickle raises many types for a file that is not a head
        raise InputError(f"{path}: cannot be read as a head saved by `reproduce --export` ({type(e).__name__}: "
                         f"{e})") from None
    classes = np.asarray(getattr(head, "classes_", [])).tolist()
    if not hasattr(head, "predict") or not classes or not set(classes) <= set(range(n_classes)):
        raise InputError(f"{path}: not a fitted head of this export's {n_classes} classes (classes_ {classes})")
    return head


def load_export(folder) -> LoadedExport:
    """The model (``model.keras``), head and preprocessing of an export folder (module doc); every problem is an
    ``InputError`` naming the file. The package's layers are registered since ``import mer_keras``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: export folder does not exist (export/<variant>/ of `mer-keras reproduce "
                         "--export`)")
    config = _read_config(folder)
    model_path = folder / MODEL_FILE
    if not model_path.is_file():
        raise InputError(f"{model_path}: missing; this export has only {WEIGHTS_FILE}: use "
                         f"`mer-keras predict --weights {folder / WEIGHTS_FILE}`")
    try:
        model = keras.saving.load_model(model_path)
    except (ValueError, TypeError, OSError, KeyError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise InputError(f"{model_path}: cannot be loaded ({first})") from None
    head = None
    head_path = folder / HEAD_FILE
    if (folder / WEIGHTS_FILE).is_file():  # the weights and head recorded together (a head from elsewhere: refused)
        check_export_identity(config, folder / CONFIG_FILE, folder / WEIGHTS_FILE,
                              head_path if head_path.is_file() else None)
    if config.get("head", "softmax") == "svm":
        if not head_path.is_file():
            raise InputError(f"{head_path}: missing; {CONFIG_FILE} says the head is an SVM")
        head = _load_head(head_path, len(config["classes"]))
    return LoadedExport(folder, model, head, preprocessing_of(config, str(folder / CONFIG_FILE)),
                        list(config["classes"]), config)
