"""The package is layered: a module imports only its own layer or lower ones (README, Development).

The one exception: `Model`'s convenience methods (`query`, `query_cases`, `fit`, `sample`) import what
they call.
"""

from __future__ import annotations

import ast
from pathlib import Path

import bn

PACKAGE = Path(bn.__file__).parent

# Lowest first. A module is placed by its dotted name, or by its package's name.
LAYERS = [
    {
        "bn.errors",
        "bn.numbers",
        "bn.names",
        "bn.files",
        "bn.journal",
        "bn.escape",
        "bn.__version__",
    },
    {"bn.model", "bn.csvfiles", "bn.forms", "bn.influence"},
    {
        "bn.tablecheck",
        "bn.formcheck",
        "bn.metadata",
        "bn.evidence",
        "bn.scenarios",
        "bn.calibration",
        "bn.outcomes",
        "bn.decisioncheck",
        "bn.validate",
        "bn.learndata",
    },
    {"bn.paths", "bn.plan", "bn.factors", "bn.engine", "bn.cases"},
    {
        "bn.analysis",
        "bn.edit",
        "bn.learn",
        "bn.sampling",
        "bn.diagram",
        "bn.decision_draw",
        "bn.charts",
        "bn.report",
        "bn.report_render",
        "bn.diff",
        "bn.interop",
    },
    {"bn", "bn.cli", "bn.serve", "bn.__main__"},
]
# Model's convenience methods (query, query_cases, fit, sample) call the functions they stand for.
ALLOWED = {
    ("bn.model", m) for m in ("bn.engine", "bn.cases", "bn.evidence", "bn.learn", "bn.sampling")
}


def layer(module: str) -> int:
    """The layer of a module of bn (`bn.edit.sheet` is in the layer of `bn.edit`)."""
    parts = module.split(".")
    for end in range(len(parts), 1 if len(parts) > 1 else 0, -1):
        name = ".".join(parts[:end])
        for index, members in enumerate(LAYERS):
            if name in members:
                return index
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and to the README")


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every module of bn that `name` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                member = f"{base}.{alias.name}"
                found.add(member if member in modules() or member == "bn.__version__" else base)
    return {m for m in found if m == "bn" or m.startswith("bn.")}


def test_every_module_is_in_a_layer() -> None:
    for name in modules():
        layer(name)


def test_imports_point_down() -> None:
    upward = []
    for name, path in modules().items():
        for target in imports(name, path):
            if (name, target) not in ALLOWED and layer(target) > layer(name):
                upward.append(f"{name} imports {target}")
    assert not upward, "imports that run up a layer:\n" + "\n".join(sorted(upward))


def test_modules_stay_small() -> None:
    large = {n: len(p.read_text(encoding="utf-8").splitlines()) for n, p in modules().items()}
    assert not {n: lines for n, lines in large.items() if lines > 600}
