"""The one way every package of mer-keras exports its public names: a table of name -> defining module, loaded
on first use (PEP 562), so ``import mer_keras`` and the light tools never start TensorFlow, dlib, OpenCV or
matplotlib before a name that needs them is asked for."""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types


class _ExportingPackage(types.ModuleType):
    """A package whose exported names include a submodule's own name (``preprocessing.prepare``, the function in
    ``prepare.py``): importing that submodule would store the module object under the name, hiding the function,
    so the import system's ``setattr(package, name, submodule)`` is skipped for those names."""

    shadowed: frozenset = frozenset()

    def __setattr__(self, name, value):
        if name in self.shadowed and isinstance(value, types.ModuleType) \
                and value.__name__ == f"{self.__name__}.{name}":
            return
        super().__setattr__(name, value)


def lazy_exports(package: str, table: dict[str, str]):
    """``(__getattr__, __dir__, __all__)`` of ``package`` from ``table``: public name -> the module that defines
    it (relative to ``package`` when it starts with '.'), or ``"module:attr"`` where the module's name differs."""
    module = sys.modules[package]
    shadowed = frozenset(name for name in table if importlib.util.find_spec(f"{package}.{name}") is not None)
    if shadowed:
        module.__class__ = type("ExportingPackage", (_ExportingPackage,), {"shadowed": shadowed})

    def __getattr__(name):  # the module-level hook PEP 562 names
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        target, _, attr = table[name].partition(":")
        value = getattr(importlib.import_module(target, package), attr or name)
        module.__dict__[name] = value
        return value

    def __dir__():
        return sorted(table)

    return __getattr__, __dir__, sorted(table)
