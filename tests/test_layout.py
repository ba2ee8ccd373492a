"""The package's layout keeps the pipeline visible: layers import downwards only, modules stay small.

Read from the source with ``ast`` (imports inside functions count too), so a
lazy import cannot hide an arrow that runs back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "renderer"

# what each part may import of the package (besides itself); listed from the bottom up
LAYERS = {
    "base": ("renderer.errors", "renderer.paths", "renderer.context", "renderer"),
    "stages": ("renderer.stages",),
    "pipeline": ("renderer.pipeline",),
    "commands": ("renderer.commands",),
    "argocd": ("renderer.argocd",),
    "cli": ("renderer.cli", "renderer.pytest_plugin"),
    # the executable offers a command line to the worker before it runs the command line itself
    "executable": ("renderer.__main__",),
}
ORDER = list(LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, name: str) -> set:
    """Every module of the package that ``path`` imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    known = modules()
    return {target for target in found if target in known and target != name}


def layer_of(name: str) -> str:
    for layer in reversed(ORDER):
        if any(name == prefix or name.startswith(prefix + ".") for prefix in LAYERS[layer] if prefix != "renderer"):
            return layer
    return "base"


@pytest.mark.parametrize("name", sorted(modules()))
def test_a_module_imports_only_its_own_layer_and_the_layers_below(name):
    path = modules()[name]
    mine = ORDER.index(layer_of(name))
    upward = sorted(t for t in imports_of(path, name) if ORDER.index(layer_of(t)) > mine)
    assert not upward, f"{name} ({layer_of(name)}) imports {upward}"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_is_longer_than_one_sitting(name):
    assert len(modules()[name].read_text().splitlines()) <= 400


def test_the_import_graph_has_no_cycle():
    graph = {name: imports_of(path, name) for name, path in modules().items()}
    # a package's __init__ re-exporting its modules is the package's face, not a cycle
    graph = {name: {t for t in targets if not name.startswith(t + ".")} for name, targets in graph.items()}
    state: dict = {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                raise AssertionError("import cycle: " + " -> ".join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_module_imports_a_private_module_of_the_standard_library(name):
    tree = ast.parse(modules()[name].read_text())
    private = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            private.update(a.name for a in node.names if a.name.split(".")[0].startswith("_"))
        elif isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith("_") \
                and node.module != "__future__":
            private.add(node.module)
    assert not private


def test_the_stages_and_the_pipeline_never_import_click():
    for name, path in modules().items():
        if layer_of(name) in ("base", "stages", "pipeline"):
            text = path.read_text()
            assert "import click" not in text and "from click" not in text, name
