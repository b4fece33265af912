"""The layers stay true: core knows no upper layer, no domain reaches into the CLI or the jobs, no import cycles.

Reads every module's imports with ``ast`` (function-level imports included, ``if TYPE_CHECKING:`` blocks left out),
so a lazy import cannot hide a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"core": "core", "registry": "registry", "pipeline": "pipeline", "cli": "cli", "domains": "domains"}
# Each layer may import only the layers listed for it (and itself); domains sit between core and registry.
ALLOWED = {
    "core": {"core"},
    "domains": {"core", "domains"},
    "registry": {"core", "registry"},
    "pipeline": {"core", "registry", "pipeline"},
    "cli": {"core", "registry", "pipeline", "cli"},
}
ACYCLIC = ("core", "domains", "registry", "pipeline", "cli")  # every package


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(["clipzoo", *parts])


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of the clipzoo modules ``path`` imports."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for orelse in child.orelse:
                    visit(orelse)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("clipzoo."))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")[: len(module.split(".")) - child.level + (1 if is_package else 0)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.startswith("clipzoo."):
                    found.add(target)
                    found.update(f"{target}.{a.name}" for a in child.names)
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for folder in PACKAGES.values() for p in (REPO / folder).rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        # "from .x import y" names either a module x.y or an attribute y of x: keep the names that are modules
        graph[name] = {t for t in _imports(path, name) if t in modules and t != name}
    return graph


def _layer(module: str) -> str:
    return module.split(".")[1]


def test_every_layer_imports_only_the_layers_below_it():
    wrong = [
        f"{module} imports {target}"
        for module, targets in _graph().items()
        for target in sorted(targets)
        if _layer(target) not in ALLOWED[_layer(module)]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_anywhere():
    graph = {m: {t for t in ts if _layer(t) in ACYCLIC} for m, ts in _graph().items() if _layer(m) in ACYCLIC}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[str] = []

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                walk(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            walk(start, [start])
    assert not cycles, "\n".join(cycles)


@pytest.mark.parametrize("layer", sorted(PACKAGES))
def test_the_scan_sees_each_layer(layer):
    """The checks above would pass vacuously on an empty graph."""
    assert any(_layer(m) == layer for m in _graph()), f"no module found under {layer}/"
