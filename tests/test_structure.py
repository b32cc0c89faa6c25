"""Structure checks over the library package (issue 23), read with ``ast``: nothing is imported.

1. No import cycle among ``mer_keras`` modules, counting imports inside functions too.
2. No import inside a library function, except in the CLI modules, of an optional heavy dependency, or a
   listed (module, function) pair with its reason.
3. No library function longer than ``MAX_LINES`` lines, except the listed ones.

Each allow-list entry names why it is there; shrinking a list is always welcome, growing one needs a reason.
"""
from __future__ import annotations

import ast
import itertools
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "mer_keras"
MAX_LINES = 80

CYCLE_EDGES: dict = {}
"""Import edges (importer, imported) allowed to close a cycle; every other cycle fails."""

CLI_MODULES = ("mer_keras.cli", "mer_keras.__main__", "mer_keras.datasets.synthme_commands")
"""Lazy on purpose (also every ``mer_keras.<sub>.commands``): ``mer-keras --help`` and bad-input errors never
start TensorFlow."""

OPTIONAL_HEAVY = ("ray", "dlib", "h5py", "skimage", "sklearn.manifold", "tensorflow", "keras", "matplotlib",
                  "openpyxl", "joblib", "absl")
"""Top-level modules a function may import: optional extras (ray, dlib), or heavy ones a light module must not
load at import time (``import mer_keras`` and ``mer_keras.evaluation`` stay free of TensorFlow)."""

FUNCTION_IMPORTS = {
    ("mer_keras.models.registry", "resolve"): "the builders' modules load Keras; the registry lists models without",
    ("mer_keras.training.predict", "load_export"): "networks and models load TensorFlow; predict's manifest "
                                                   "helpers stay light",
    ("mer_keras.training.predict", "write_curves"): "evaluation.plots loads matplotlib, only when curves are drawn",
    ("mer_keras.training.predict", "write_figures"): "evaluation.plots loads matplotlib, only for --figures",
}
"""(module, function) pairs allowed to import inside the function, with the reason."""

LONG_FUNCTIONS: dict = {}
"""(module, function) pairs allowed over ``MAX_LINES`` lines, with the reason."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8"), str(p)) for p in sorted(PACKAGE.rglob("*.py"))}


def imported_names(module: str, node, is_package: bool, known) -> list[str]:
    """The modules an import statement names (``from . import x`` names ``pkg.x`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[:len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]


def imports(modules=None):
    """(importer, imported name, line, enclosing function or None) for every import statement."""
    modules = library_modules() if modules is None else modules
    packages = {m.rpartition(".")[0] for m in modules}
    out = []
    for name, tree in modules.items():
        is_package = name in packages
        stack = [(tree, None)]
        while stack:
            node, function = stack.pop()
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    out += [(name, t, child.lineno, function) for t in imported_names(name, child, is_package, modules)]
                inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
                stack.append((child, inner))
    return out


def import_graph(modules=None) -> dict[str, dict[str, int]]:
    """importer -> {library module imported: first line}; a name below a module counts as that module."""
    modules = library_modules() if modules is None else modules
    graph: dict[str, dict[str, int]] = {m: {} for m in modules}
    for importer, target, line, _ in imports(modules):
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != importer:
            graph[importer].setdefault(target, line)
    return graph


def find_cycle(graph, allowed=()) -> list[str] | None:
    """One import cycle as a chain of modules (first == last), ignoring the ``allowed`` edges; None when none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node):
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if (node, nxt) in allowed:
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def chain(cycle, graph) -> str:
    return "\n  ".join(f"{a} -> {b} (line {graph[a][b]})" for a, b in itertools.pairwise(cycle))


def is_cli(module: str) -> bool:
    return module in CLI_MODULES or module.endswith(".commands")


def is_heavy(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in OPTIONAL_HEAVY)


def function_imports(modules=None) -> list[tuple[str, str, int, str]]:
    """Imports inside library functions not allowed by the lists above: (module, function, line, name)."""
    return [(m, f, line, t) for m, t, line, f in imports(modules)
            if f is not None and not is_cli(m) and not is_heavy(t) and (m, f) not in FUNCTION_IMPORTS]


def long_functions(modules=None) -> list[tuple[str, str, int]]:
    modules = library_modules() if modules is None else modules
    return sorted((m, n.name, n.end_lineno - n.lineno + 1) for m, tree in modules.items() for n in ast.walk(tree)
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_LINES)


# --- the checks ---------------------------------------------------------------------------------------------


def test_no_import_cycle():
    graph = import_graph()
    cycle = find_cycle(graph, allowed=CYCLE_EDGES)
    assert cycle is None, "import cycle among mer_keras modules:\n  " + chain(cycle, graph)


def test_allowed_cycle_edges_still_exist():
    graph = import_graph()
    gone = [edge for edge in CYCLE_EDGES if edge[1] not in graph.get(edge[0], {})]
    assert not gone, f"remove these from CYCLE_EDGES, the import is gone: {gone}"


def test_no_import_inside_library_functions():
    found = function_imports()
    assert not found, ("imports inside library functions (move them to the module's top, or list the pair in "
                       "FUNCTION_IMPORTS with its reason):\n  " + "\n  ".join(f"{m}.{f} line {line}: {t}"
                                                                             for m, f, line, t in found))


def test_allowed_function_imports_still_used():
    used = {(m, f) for m, _, _, f in imports() if f is not None}
    stale = sorted(set(FUNCTION_IMPORTS) - used)
    assert not stale, f"remove these from FUNCTION_IMPORTS, they import nothing any more: {stale}"


def test_functions_under_max_lines():
    found = [(m, f, n) for m, f, n in long_functions() if (m, f) not in LONG_FUNCTIONS]
    assert not found, (f"functions over {MAX_LINES} lines (split them, or list them in LONG_FUNCTIONS with why):\n  "
                       + "\n  ".join(f"{m}.{f}: {n} lines" for m, f, n in found))


def test_allowed_long_functions_still_long():
    long = {(m, f) for m, f, _ in long_functions()}
    assert not set(LONG_FUNCTIONS) - long, f"remove from LONG_FUNCTIONS: {sorted(set(LONG_FUNCTIONS) - long)}"


# --- the checks can fail ------------------------------------------------------------------------------------


def _parse(**sources) -> dict[str, ast.Module]:
    return {name.replace("__", "."): ast.parse(text) for name, text in sources.items()}


def test_a_new_cycle_is_found_and_named_hidden_or_not():
    modules = _parse(mer_keras__a="from . import b\n", mer_keras__b="def f():\n    from .c import x\n",
                     mer_keras__c="import mer_keras.a\n")
    graph = import_graph(modules)
    cycle = find_cycle(graph)
    assert cycle == ["mer_keras.a", "mer_keras.b", "mer_keras.c", "mer_keras.a"]
    assert "mer_keras.b -> mer_keras.c (line 2)" in chain(cycle, graph)
    assert find_cycle(graph, allowed={("mer_keras.b", "mer_keras.c")}) is None


def test_a_function_import_is_found_unless_allowed():
    modules = _parse(mer_keras__a="import re\n\ndef f():\n    import json\n    import dlib\n    from sklearn import manifold\n",
                     mer_keras__commands="def f():\n    import json\n")
    assert function_imports(modules) == [("mer_keras.a", "f", 4, "json"), ("mer_keras.a", "f", 6, "sklearn")]


def test_a_long_function_is_found():
    body = "\n".join(["def f():"] + ["    x = 1"] * MAX_LINES)
    assert long_functions(_parse(mer_keras__a=body)) == [("mer_keras.a", "f", MAX_LINES + 1)]
    assert long_functions(_parse(mer_keras__a="\n".join(body.splitlines()[:-1]))) == []
