"""The public API is exported one way (issue 23): every package's ``__init__`` is a table handed to
``mer_keras.lazy.lazy_exports``; every name in a table resolves; nothing heavy starts at import."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mer_keras"
PACKAGES = sorted(p.parent for p in PACKAGE.rglob("__init__.py"))


def _dotted(folder: Path) -> str:
    return ".".join(folder.relative_to(PACKAGE.parent).parts)


@pytest.mark.parametrize("folder", PACKAGES, ids=_dotted)
def test_each_package_exports_through_one_table(folder):
    tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "lazy_exports"]
    tables = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "_EXPORTS"]
    assert len(calls) == 1 and len(tables) == 1, f"{_dotted(folder)}: one _EXPORTS table and one lazy_exports call"
    allowed = {"lazy", "registration"}  # the exporter itself, and the top level's Keras registrations
    named = [n.module or alias.name for n in imports for alias in n.names] if all(
        isinstance(n, ast.ImportFrom) for n in imports) else ["import"]
    assert set(named) <= allowed, \
        f"{_dotted(folder)} imports more than the exporter"


def test_every_exported_name_resolves_and_dir_lists_them():
    import importlib

    for folder in PACKAGES:
        module = importlib.import_module(_dotted(folder))
        table = getattr(module, "_EXPORTS", None)
        if table is None:
            continue
        assert set(table) <= set(dir(module))
        for name in table:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"
            assert not isinstance(getattr(module, name), type(sys)), f"{module.__name__}.{name} is a module"


def test_a_name_shared_with_its_module_is_the_function_even_after_the_module_is_imported():
    """``preprocessing.prepare`` is both a submodule and the function it defines."""
    code = ("import mer_keras.preprocessing.prepare, mer_keras.preprocessing.magnify\n"
            "from mer_keras.preprocessing import magnify, prepare\n"
            "assert callable(prepare) and callable(magnify), (prepare, magnify)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_importing_the_packages_starts_no_tensorflow_and_the_config_no_opencv():
    code = ("import sys, mer_keras, mer_keras.models, mer_keras.training, mer_keras.evaluation, mer_keras.datasets\n"
            "import mer_keras.preprocessing, mer_keras.training.config\n"
            "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
            "assert 'cv2' not in sys.modules, 'the configuration loads OpenCV'\n"
            "mer_keras.paired_bootstrap\n"
            "assert 'tensorflow' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_unknown_name_is_an_attribute_error_that_names_it():
    import mer_keras.models

    with pytest.raises(AttributeError, match="'mer_keras.models' has no attribute 'Nope'"):
        mer_keras.models.Nope  # noqa: B018
