"""The one way every package of mer-keras exports its public names: a table of name -> defining module, loaded
on first use (PEP 562), so ``import mer_keras`` and the light tools never start TensorFlow, dlib or matplotlib
before a name that needs them is asked for."""
from __future__ import annotations

import importlib
import importlib.util


def lazy_exports(package: str, table: dict[str, str]):
    """``(__getattr__, __dir__, __all__)`` of ``package`` from ``table``: public name -> the module that defines
    it (relative to ``package`` when it starts with '.'), or ``"module:attr"`` where the module's name differs.

    A public name that is also a submodule's name (``preprocessing.prepare``, the function in ``prepare.py``)
    is bound now: importing that submodule later would otherwise leave the module object under the name."""
    namespace = importlib.import_module(package).__dict__

    def resolve(name):
        module, _, attr = table[name].partition(":")
        namespace[name] = getattr(importlib.import_module(module, package), attr or name)
        return namespace[name]

    def __getattr__(name):  # the module-level hook PEP 562 names
        if name not in table:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return resolve(name)

    def __dir__():
        return sorted(table)

    for name in table:
        if importlib.util.find_spec(f"{package}.{name}") is not None:
            resolve(name)
    return __getattr__, __dir__, sorted(table)
