"""Registering the package's Keras objects (layers, the AdamP optimizer) with ``keras.saving``.

An export's ``model.keras`` names its layers ``mer_keras>TorchMaxPool2D`` and so on; Keras finds them only
once the modules that define them have run. ``import mer_keras`` must stay free of TensorFlow (the dataset
tools and the CLI start without it), so it does not import them itself: it calls ``register_when_keras``,
which registers them now when Keras is already loaded and otherwise right after Keras finishes loading.
Either way, ``import mer_keras`` followed by ``keras.saving.load_model("model.keras")`` works, in any order.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import pkgutil
import sys

EXTRA_MODULES = ("mer_keras.models.baselines", "mer_keras.training.adamp")
"""Modules outside ``mer_keras.models.layers`` that define registered objects."""


def register_layers() -> list[str]:
    """Import every module that defines a registered object; returns their names."""
    layers = importlib.import_module("mer_keras.models.layers")
    names = [f"{layers.__name__}.{m.name}" for m in pkgutil.iter_modules(layers.__path__)]
    for name in [*names, *EXTRA_MODULES]:
        importlib.import_module(name)
    return [*names, *EXTRA_MODULES]


class _Loader(importlib.abc.Loader):
    """Keras's own loader, then ``register_layers`` once the ``keras`` module has fully run."""

    def __init__(self, loader, finder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        register_layers()

    def __getattr__(self, name):  # get_resource_reader, is_package...: Keras's loader answers
        return getattr(self.loader, name)


class _AfterKeras(importlib.abc.MetaPathFinder):
    """Finds ``keras`` with the other finders and wraps its loader. It stays until Keras has run: TensorFlow
    asks ``importlib.util.find_spec("keras")`` without importing it."""

    def __init__(self):
        self.busy = False

    def find_spec(self, fullname, path, target=None):
        if fullname != "keras" or self.busy:
            return None
        self.busy = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self.busy = False
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self)
        return spec


def register_when_keras() -> None:
    """Register now if Keras is loaded, else as soon as it is (module doc)."""
    if "keras" in sys.modules:
        register_layers()
    elif not any(isinstance(f, _AfterKeras) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKeras())
