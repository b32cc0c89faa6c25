"""Write constraints.txt: the exact versions, installed here, of mer-keras's dependencies and theirs.

`make` installs with ``pip install -c constraints.txt -e '.[dev]'``, so a fresh clone gets the versions the
README's figures were made with; ``setup.cfg`` keeps its ranges for people who embed the library. Run it in a
virtual environment whose test suite passes: ``.venv/bin/python scripts/pin_constraints.py``.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("dev",)
TOOLING = ("mer-keras", "pip", "setuptools", "wheel")
"""Not pinned: the project itself and the installer's own tools (pinning them would fight the venv's)."""


def _name(requirement: str) -> str:
    return re.split(r"[\s;\[<>=!~(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _applies(requirement: str, extras=()) -> bool:
    """Whether a requirement's environment marker holds here (``extra == ...`` only for ``extras``)."""
    from packaging.requirements import Requirement

    marker = Requirement(requirement).marker
    if marker is None:
        return True
    return any(marker.evaluate({"extra": e}) for e in (extras or ("",)))


def closure(root: str, extras=EXTRAS) -> dict[str, str]:
    """{distribution: installed version} of ``root``'s requirements (with ``extras``), transitively."""
    found: dict[str, str] = {}
    todo = [r for r in metadata.requires(root) or () if _applies(r, extras)]
    while todo:
        req = todo.pop()
        name = _name(req)
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # a requirement whose marker excludes this platform
        found[name] = dist.version
        todo += [r for r in dist.requires or () if _applies(r)]
    return found


def main() -> int:
    pins = {k: v for k, v in closure("mer-keras").items() if k not in TOOLING}
    lines = [f"# Exact versions `make` installs (pip install -c constraints.txt -e '.[dev]'): {len(pins)} packages,",
             f"# written by scripts/pin_constraints.py with Python {sys.version.split()[0]} from the venv whose tests passed.",
             *(f"{name}=={version}" for name, version in sorted(pins.items()))]
    (ROOT / "constraints.txt").write_text("\n".join(lines) + "\n")
    print(f"constraints.txt: {len(pins)} packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
