"""Transfer pre-trained weights by layer name and shape, and say exactly what transferred.

Keras' own ``load_weights`` either matches ``.weights.h5`` files by position within a layer class
(so a new head or an inserted block shifts everything) or, for legacy ``.h5`` with ``by_name``,
silently skips what it cannot find (keras-team/keras#9683). ``load_pretrained`` instead matches
every top-level layer by *name*, loads it only when all its weight shapes agree, optionally
adapts the first convolution to another number of input channels, and returns a ``LoadReport``.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import zipfile

import numpy as np

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadReport:
    """What ``load_pretrained`` did: ``loaded`` layer names, ``skipped`` (name -> reason) for layers of the
    model that kept their weights, ``unused`` file entries that matched no layer, ``adapted`` layers whose
    input-channel axis was converted."""

    path: str
    loaded: list = dataclasses.field(default_factory=list)
    skipped: dict = dataclasses.field(default_factory=dict)
    unused: list = dataclasses.field(default_factory=list)
    adapted: list = dataclasses.field(default_factory=list)

    def __str__(self):
        lines = [(f"load_pretrained({os.path.basename(self.path)}): {len(self.loaded)} layers loaded, "
                 f"{len(self.skipped)} skipped, {len(self.unused)} unused in the file")]
        lines += [f"  adapted input channels: {name}" for name in self.adapted]
        lines += [f"  skipped {name}: {reason}" for name, reason in self.skipped.items()]
        if self.unused:
            lines.append("  unused in file: " + ", ".join(self.unused[:20]) + (" ..." if len(self.unused) > 20 else ""))
        return "\n".join(lines)


def _decode(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _read_legacy(f):
    """Legacy Keras ``.h5`` (full model or Keras 2 ``save_weights``): name -> weights in ``layer.weights`` order."""
    group = f.get("model_weights", f)
    out = {}
    for name in _decode(group.attrs["layer_names"]):
        weight_names = _decode(group[name].attrs.get("weight_names", []))
        if weight_names:
            out[name] = [np.asarray(group[name][w]) for w in weight_names]
    return out


def _read_keras3(f):
    """Keras 3 ``.weights.h5``: top-level layer name -> (group path, {sub-path: array})."""
    import h5py

    out = {}
    for group_name, group in f["layers"].items():
        name = group["vars"].attrs.get("name", group_name) if "vars" in group else group_name
        arrays = {}

        def collect(key, obj, arrays=arrays):
            if isinstance(obj, h5py.Dataset):
                arrays[key] = np.asarray(obj)

        group.visititems(collect)
        if arrays:
            out[str(name)] = (f"layers/{group_name}", arrays)
    return out


def _adapt_input_kernel(source, target_shape):
    """A conv kernel for another input-channel count: mean over the source's input channels, tiled and
    rescaled so the response to an input equal in every channel is kept (grey = sum of RGB weights)."""
    if source.ndim != 4 or source.shape[:2] + source.shape[3:] != tuple(target_shape[:2]) + tuple(target_shape[3:]):
        return None
    src_in, tgt_in = source.shape[2], target_shape[2]
    mean = source.mean(axis=2, keepdims=True) * (src_in / tgt_in)
    return np.repeat(mean, tgt_in, axis=2).astype(source.dtype)


def _input_layers(model):
    """Layers with weights that see the raw input, also through weightless layers before them
    (ResNet's ``conv1_pad`` before ``conv1_conv``)."""
    raw = {id(t) for t in model.inputs}
    names = set()
    for layer in model.layers:
        try:
            inputs = layer.input if isinstance(layer.input, (list, tuple)) else [layer.input]
            if not inputs or not all(id(t) in raw for t in inputs):
                continue
            if layer.weights:
                names.add(layer.name)
            else:
                raw.add(id(layer.output))
        except (AttributeError, ValueError):
            continue
    return names


def _shapes(arrays):
    return [tuple(a.shape) for a in arrays]


def _match(name, source, target, adaptable, report):
    """Return the arrays to load for one layer (dict or list like ``target``), or None with the reason logged."""
    keys = list(target) if isinstance(target, dict) else range(len(target))
    if isinstance(target, dict) and set(source) != set(target):
        report.skipped[name] = f"different structure: file {sorted(source)} vs model {sorted(target)}"
        return None
    if not isinstance(target, dict) and len(source) != len(target):
        report.skipped[name] = f"file has {len(source)} weights, model {len(target)}"
        return None
    result, adapted = {} if isinstance(target, dict) else [None] * len(target), False
    for key in keys:
        src, tgt_shape = source[key], tuple(target[key].shape)
        if tuple(src.shape) != tgt_shape:
            fixed = _adapt_input_kernel(src, tgt_shape) if adaptable else None
            if fixed is None:
                src_shapes = _shapes(source.values() if isinstance(source, dict) else source)
                tgt_shapes = _shapes(target.values() if isinstance(target, dict) else target)
                report.skipped[name] = f"shape mismatch: file {src_shapes} vs model {tgt_shapes}"
                return None
            src, adapted = fixed, True
        result[key] = src
    if adapted:
        report.adapted.append(name)
    return result


def load_pretrained(model, path, adapt_input_channels=True):
    """Load every layer of ``path`` that matches a layer of ``model`` by name and weight shapes.

    ``path`` may be a legacy full-model ``.h5`` (``model.save("x.h5")``, also Keras 2 files), a Keras 3
    ``.weights.h5`` or a ``.keras`` archive. Layers whose shapes differ (a new head, another input size
    for position embeddings) keep their initial weights and are reported in ``skipped``; with
    ``adapt_input_channels`` the model's input convolution is converted when only its input-channel
    count differs (RGB weights into a grey or two-channel flow model). Raises ``ValueError`` when no
    layer at all matches. The report is also logged at INFO level.
    """
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no weights file at {path}")
    report = LoadReport(path)
    adaptable = _input_layers(model) if adapt_input_channels else set()
    with tempfile.TemporaryDirectory() as tmp:
        h5_path = path
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                if "model.weights.h5" not in archive.namelist():
                    raise ValueError(f"{path} is a zip archive without model.weights.h5 (not a .keras file)")
                h5_path = archive.extract("model.weights.h5", tmp)
        with h5py.File(h5_path, "r") as f:
            legacy = "layer_names" in (f.get("model_weights", f)).attrs
            if not legacy and "layers" not in f:
                raise ValueError(f"{path} is neither a Keras 3 weights file nor a legacy Keras .h5 file")
            source = _read_legacy(f) if legacy else _read_keras3(f)
        if legacy:
            _load_legacy(model, source, adaptable, report)
        else:
            _load_keras3(model, source, adaptable, report, tmp)
    report.unused = [name for name in source if name not in {layer.name for layer in model.layers}]
    if not report.loaded:
        raise ValueError(f"no layer of model {model.name!r} matches {path} by name and shape: nothing was "
                         f"loaded.\n{report}")
    logger.info("%s", report)
    return report


def _load_legacy(model, source, adaptable, report):
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in source:
            report.skipped[layer.name] = "not in file"
            continue
        arrays = _match(layer.name, source[layer.name], layer.weights, layer.name in adaptable, report)
        if arrays is not None:
            layer.set_weights(arrays)
            report.loaded.append(layer.name)


def _load_keras3(model, source, adaptable, report, tmp):
    """Write the matched arrays into a copy of the model's own weights file, then load that copy."""
    import h5py

    own_path = os.path.join(tmp, "target.weights.h5")
    model.save_weights(own_path)
    with h5py.File(own_path, "r+") as f:
        target = _read_keras3(f)
        for layer in model.layers:
            if layer.name not in target:
                continue
            group_path, target_arrays = target[layer.name]
            if layer.name not in source:
                report.skipped[layer.name] = "not in file"
                continue
            arrays = _match(layer.name, source[layer.name][1], target_arrays, layer.name in adaptable, report)
            if arrays is None:
                continue
            for key, value in arrays.items():
                f[group_path][key][...] = value
            report.loaded.append(layer.name)
    model.load_weights(own_path)
