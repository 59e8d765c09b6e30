"""No import cycle anywhere in textrnn/, lazy imports included, and the layering docs/layout.md states.

The graph is built from the source with `ast`: an edge for every ``import`` and ``from ... import``
statement in a module, at its top or inside a function (a lazy import hides a cycle from Python, not from
this test). Importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``, so those are edges too,
except for the packages that contain the importing module (Python has started them before it).
"""

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "textrnn"


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported_names(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    names = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known)
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the textrnn modules importing it runs."""
    known = modules()
    graph = {}
    for module, path in known.items():
        edges = set()
        for name in imported_names(module, path, known):
            parts = name.split(".")
            for i in range(1, len(parts) + 1):
                target = ".".join(parts[:i])
                if target in known and target != module and not module.startswith(target + "."):
                    edges.add(target)
        graph[module] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle as a path [a, b, ..., a], or [] if the graph is acyclic."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 40 and "textrnn.inference.checkpoints" in graph  # the walk found the package
    assert find_cycle(graph) == [], " -> ".join(find_cycle(graph))


def test_the_finder_sees_a_cycle_hidden_by_a_lazy_import():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_the_layers_point_down():
    graph = import_graph()
    for module in graph:  # plain torch, no Lightning and nothing else of textrnn's
        if module.startswith("textrnn.nn"):
            assert reachable(graph, module) <= {m for m in graph if m.startswith("textrnn.nn")}, module
    for module in ("textrnn.inference.fits", "textrnn.files", "textrnn.models.registry"):
        assert not any(m.startswith("textrnn.cli") for m in reachable(graph, module)), module
    assert not any(m.startswith(("textrnn.cli", "textrnn.callbacks")) for m in reachable(graph, "textrnn.models"))
    assert not any(m.startswith(("textrnn.cli", "textrnn.models", "textrnn.data"))
                   for m in reachable(graph, "textrnn.inference.fits"))
    assert not any(m.startswith(("textrnn.models", "textrnn.inference", "textrnn.callbacks", "textrnn.cli"))
                   for m in reachable(graph, "textrnn.data"))
    assert not [(m, e) for m, edges in graph.items() for e in edges
                if e.startswith("textrnn.cli") and not m.startswith("textrnn.cli")]  # nothing imports the CLI
    # The models check a checkpoint through inference/fits.py alone: the allow-list's module is not theirs.
    assert "textrnn.inference.checkpoints" not in reachable(graph, "textrnn.models")


def test_the_checkpoint_record_imports_only_the_standard_library():
    """textrnn/artifact.py, the one reader and writer of the checkpoint record, needs no Lightning, torch,
    CLI or data module: anything can read a record through it."""
    assert reachable(import_graph(), "textrnn.artifact") == set()
    imported = {name.split(".")[0] for name in imported_names("textrnn.artifact", PACKAGE / "artifact.py", modules())}
    assert imported and imported <= set(sys.stdlib_module_names), imported
