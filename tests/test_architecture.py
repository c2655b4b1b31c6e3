"""The layering the README describes, checked on the source: each folder imports only the
floors below it, no module imports itself back through others, and files stay readable."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "ingest", "index", "eval", "app")
# What each layer may import of ours (app.engine is the answer core, app the UIs on top).
ALLOWED = {
    "core": {"core"},
    "ingest": {"core", "ingest"},
    "index": {"core", "ingest", "index"},
    "eval": {"core", "ingest", "index", "eval"},
    "app.engine": {"core", "ingest", "index", "app.engine"},
    "app": {"core", "ingest", "index", "eval", "app.engine", "app"},
}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).with_suffix("")
            name = ".".join(p for p in rel.parts if p != "__init__")
            found[name] = path
    return found


def _layer(module: str) -> str:
    return "app.engine" if module.startswith("app.engine") else module.split(".")[0]


def _imports(path: Path) -> set[str]:
    """Our modules that `path` imports, at any depth of its code."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in PACKAGES}


def test_each_layer_imports_only_the_floors_below_it():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for imported in _imports(path):
            if _layer(imported) not in ALLOWED[_layer(name)]:
                wrong.append(f"{name} imports {imported}")
    assert not wrong, wrong


def test_no_import_cycles_between_modules():
    modules = _modules()
    graph = {
        name: {i for i in _imports(path) if i in modules and i != name}
        for name, path in modules.items()
    }
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_no_source_file_is_longer_than_the_style_limit():
    long = []
    for package in (*PACKAGES, "tests"):
        for path in (REPO / package).rglob("*.py"):
            lines = path.read_text(encoding="utf-8").count("\n")
            if lines > MAX_LINES:
                long.append(f"{path.relative_to(REPO)}: {lines} lines")
    assert not long, long


MAX_FUNCTION_LINES = 60
# Longer functions allowed for now, each with the reason; shorten one and take it off.
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}  # "path::function" -> reason; keep it empty


def _long_functions() -> dict[str, int]:
    found = {}
    for package in (*PACKAGES, "tests", "scripts"):
        for path in (REPO / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_FUNCTION_LINES:
                        found[f"{path.relative_to(REPO).as_posix()}::{node.name}"] = length
    return found


def test_no_function_is_longer_than_the_style_limit():
    long = {name: n for name, n in _long_functions().items() if name not in LONG_FUNCTIONS_ALLOWED}
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_long_function_allow_list_holds_no_stale_entry():
    stale = sorted(set(LONG_FUNCTIONS_ALLOWED) - set(_long_functions()))
    assert not stale, f"no longer long (take them off LONG_FUNCTIONS_ALLOWED): {stale}"


# A DOI pattern or a doi.org / PubMed / PMC link written outside core/ids.py.
OWN_IDENTIFIER_CODE = re.compile(
    r"10\\\.\\d|doi\.org/|pubmed\.ncbi\.nlm\.nih\.gov/|/pmc/articles/|pmc\.ncbi\.nlm\.nih\.gov/art"
)
IDENTIFIER_CODE_ALLOWED: dict[str, str] = {}  # file -> reason; keep it empty


def test_identifiers_and_links_are_written_only_in_core_ids():
    own = []
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel == "core/ids.py" or rel in IDENTIFIER_CODE_ALLOWED:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if OWN_IDENTIFIER_CODE.search(line):
                    own.append(f"{rel}:{n}: {line.strip()}")
    assert not own, own


# Ways Python code can load a pickle (the index is plain files: DEVELOPERS.md). Streamlit's
# cache_data pickles what it caches and unpickles it on every hit.
PICKLE_LOADING = re.compile(
    r"\bimport (?:c?pickle|dill|joblib|shelve|cloudpickle)\b"
    r"|\bfrom (?:c?pickle|dill|joblib|shelve|cloudpickle)\b"
    r"|\bpickle\.loads?\(|\btorch\.load\(|\bread_pickle\(|\bst\.cache_data\b"
    r"|\ballow_pickle=True\b"
)


def _np_loads_without_allow_pickle_false(source: str) -> list[int]:
    """Lines of `np.load(...)` / `numpy.load(...)` calls that do not pass allow_pickle=False."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        f = node.func if isinstance(node, ast.Call) else None
        if not (isinstance(f, ast.Attribute) and f.attr == "load"):
            continue
        if not (isinstance(f.value, ast.Name) and f.value.id in ("np", "numpy")):
            continue
        safe = any(
            k.arg == "allow_pickle" and isinstance(k.value, ast.Constant) and k.value.value is False
            for k in node.keywords
        )
        if not safe:
            lines.append(node.lineno)
    return lines


def test_no_source_loads_a_pickle():
    """Nor do the tests (this file only spells the patterns it looks for)."""
    found = []
    for package in (*PACKAGES, "tests"):
        for path in (REPO / package).rglob("*.py"):
            rel = path.relative_to(REPO).as_posix()
            if rel == "tests/test_architecture.py":
                continue
            text = path.read_text(encoding="utf-8")
            for n, line in enumerate(text.splitlines(), 1):
                if PICKLE_LOADING.search(line):
                    found.append(f"{rel}:{n}: {line.strip()}")
            found += [
                f"{rel}:{n}: np.load without allow_pickle=False"
                for n in _np_loads_without_allow_pickle_false(text)
            ]
    assert not found, found
    # the checks can fail
    assert PICKLE_LOADING.search("rows = st.cache_data(fn)")
    assert PICKLE_LOADING.search("import pickle")
    assert PICKLE_LOADING.search("np.save(path, rows, allow_pickle=True)")
    assert _np_loads_without_allow_pickle_false("x = np.load(\n    path\n)") == [1]
    assert _np_loads_without_allow_pickle_false("x = np.load(p, allow_pickle=False)") == []
