"""The import graph: no module imports one of a higher layer, and no package takes part in a circle.

Layers, lowest first (a module may import its own layer and lower ones): the domains; errors, config
and events; the backends; the step format and the driver (`evolve.reasoner`); the PRM; inference
and search; training; evaluation; the `Reasoner` face (`evolve.api`); its workers (`evolve.scale`); the rounds; chatting (`evolve.chat`) and
its servers (`evolve.serve`); the command line;
the agents. Imports under `if TYPE_CHECKING:` are type hints and do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [
    ["domains"],
    ["evolve", "evolve.errors", "evolve.config", "evolve.events"],
    ["evolve.backends"],
    ["evolve.reasoner"],
    ["evolve.prm"],
    ["evolve.infer", "evolve.search"],
    ["evolve.train"],
    ["evolve.eval"],
    ["evolve.api"],
    ["evolve.scale"],
    ["evolve.rounds"],
    ["evolve.chat"],
    ["evolve.serve"],
    ["evolve.cli"],
    ["agents"],
]


def layer_of(module: str) -> int | None:
    best = None
    for rank, names in enumerate(LAYERS):
        for name in names:
            inside = module == name or module.startswith(name + ".")
            if inside and (best is None or len(name) > best[1]):
                best = (rank, len(name))
    return None if best is None else best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return [name for name in found if name.split(".")[0] in ("evolve", "domains", "agents")]


def graph() -> dict[str, set[str]]:
    edges = {}
    for package in ("domains", "evolve", "agents"):
        for path in (ROOT / package).rglob("*.py"):
            edges[module_name(path)] = set(imports(path))
    return edges


def test_no_module_imports_a_higher_layer():
    upward = []
    for module, targets in graph().items():
        mine = layer_of(module)
        for target in targets:
            theirs = layer_of(target)
            if mine is not None and theirs is not None and theirs > mine:
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_no_package_takes_part_in_an_import_circle():
    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "evolve" else parts[0]

    edges: dict[str, set[str]] = {}
    for module, targets in graph().items():
        edges.setdefault(package(module), set()).update(package(t) for t in targets if package(t) != package(module))
    circles = []

    def visit(node, path):
        for nxt in edges.get(node, ()):
            if nxt in path:
                circles.append(" -> ".join([*path[path.index(nxt):], nxt]))
            elif len(path) < 12:
                visit(nxt, [*path, nxt])

    for start in edges:
        visit(start, [start])
    assert circles == []


def test_the_layer_table_covers_every_package():
    assert all(layer_of(module) is not None for module in graph())


def test_only_front_ends_draw_on_the_terminal():
    """Library code emits events (`evolve.events`); rich is for the command lines that render them."""
    drawing = sorted(module_name(path) for package in ("domains", "evolve", "agents")
                     for path in (ROOT / package).rglob("*.py") if "rich" in {
                         name.split(".")[0] for name in _all_imports(path)})
    assert all(name.startswith(("evolve.cli", "agents.cli")) for name in drawing), drawing


def _all_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
    return found
