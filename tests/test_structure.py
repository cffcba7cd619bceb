"""The shape of the code: no module too long, no import circle, no module using another's private names.

The exceptions below are those there are today, each with its size: the test only lets them shrink (an
entry larger than what it stands for must be lowered, or removed once it is within the rule).
"""

from __future__ import annotations

import ast
from pathlib import Path

KG = Path(__file__).resolve().parents[1] / "kg"
MAX_LINES = 500

#: Python files over MAX_LINES today, with their length in lines (only ever lower these): none
LONG_FILES: dict[str, int] = {}

#: import circles there are today, each as the sorted tuple of its modules (only ever remove these)
KNOWN_CIRCLES: set[tuple[str, ...]] = set()

#: files that import other modules' private names today, with how many (only ever lower these): none (the
#: helpers kg/extract's modules share are public names of the module that defines them)
PRIVATE_IMPORTS: dict[str, int] = {}


def _modules() -> dict[str, Path]:
    """Module name → file, for every Python file under kg/."""
    out = {}
    for path in sorted(KG.rglob("*.py")):
        parts = path.relative_to(KG.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, str | None, int]]:
    """What a module imports from kg, wherever the import stands (top level or in a function):
    ``(module, name imported from it or None, line)``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend((a.name, None, node.lineno) for a in node.names if a.name.split(".")[0] == "kg")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            if base.split(".")[0] != "kg":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                found.append((sub, None, node.lineno) if sub in modules else (base, a.name, node.lineno))
    return found


def test_no_file_is_too_long():
    too_long, stale = [], []
    for path in sorted(KG.rglob("*.py")):
        rel = path.relative_to(KG).as_posix()
        n = len(path.read_text(encoding="utf-8").splitlines())
        allowed = LONG_FILES.get(rel, MAX_LINES)
        if n > allowed:
            too_long.append(f"kg/{rel}: {n} lines (at most {allowed})")
        elif rel in LONG_FILES and n < LONG_FILES[rel]:
            stale.append(f"kg/{rel}: {n} lines now; lower its entry in LONG_FILES (or remove it under {MAX_LINES})")
    missing = [f"kg/{rel}: gone; remove its entry in LONG_FILES" for rel in LONG_FILES if not (KG / rel).exists()]
    assert not too_long, "split these (a module owns one thing):\n" + "\n".join(too_long)
    assert not stale + missing, "\n".join(stale + missing)


def _circles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The strongly connected components of more than one module (Tarjan), each as a sorted tuple."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.add(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circle():
    modules = _modules()
    graph = {name: {m for m, _, _ in _imports(name, path, modules) if m in modules and m != name}
             for name, path in modules.items()}
    circles = _circles(graph)
    new = sorted(circles - KNOWN_CIRCLES)
    assert not new, "modules that import each other (directly or round about):\n" + "\n".join(map(" ↔ ".join, new))
    gone = sorted(KNOWN_CIRCLES - circles)
    assert not gone, "these circles are gone; remove them from KNOWN_CIRCLES:\n" + "\n".join(map(" ↔ ".join, gone))


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    found, counts = [], {}
    for name, path in modules.items():
        rel = path.relative_to(KG).as_posix()
        names = [f"kg/{rel}:{line}: {imported} from {module}" for module, imported, line in _imports(name, path, modules)
                 if imported and imported.startswith("_") and not imported.startswith("__") and module != name]
        counts[rel] = len(names)
        if len(names) > PRIVATE_IMPORTS.get(rel, 0):
            found.extend(names)
    assert not found, "a private name is its module's own; make it public or move the code:\n" + "\n".join(found)
    stale = [f"kg/{rel}: {counts.get(rel, 0)} now; lower (or remove) its entry in PRIVATE_IMPORTS"
             for rel, n in PRIVATE_IMPORTS.items() if counts.get(rel, 0) < n]
    assert not stale, "\n".join(stale)


def test_the_remote_store_imports_only_the_stores_base():
    modules = _modules()
    for name, allowed in (("kg.store.remote", {"kg.store.base"}),
                          ("kg.store.remote_writer", {"kg.store.base", "kg.store.remote"})):
        used = {m for m, _, _ in _imports(name, modules[name], modules) if m.startswith("kg.store")}
        assert used <= allowed, (name, sorted(used - allowed))
