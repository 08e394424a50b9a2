"""Named scenarios (`scenarios.toml` in the model directory): evidence, interventions and overlays.

```toml
[scenarios.metaculus_low]
description = "Metaculus community forecast for kaboom (Oct 2022)"
source = "metaculus2022"
soft = { kaboom = { yes = 0.05 } }          # also: evidence, do, likelihood (same shapes)
overlay = "overlays/samotsvety"             # CSVs replacing some nodes' tables
```

`apply(model, name)` returns the model with the overlay's tables in place and the scenario's evidence;
further evidence given on the command line goes on top (`Evidence.combine`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bn.csvfiles import RawTable, node_files, read_table, read_toml
from bn.errors import EvidenceError, ModelError, Problem
from bn.evidence import Evidence
from bn.model import Model, Node, suggest
from bn.validate import check_tables

KINDS = {"evidence": "hard", "do": "do", "likelihood": "likelihood", "soft": "soft"}


@dataclass(frozen=True)
class Scenario:
    """One named scenario as written in `scenarios.toml`."""

    name: str
    description: str = ""
    source: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    overlay: str = ""


def load_scenarios(model: Model) -> dict[str, Scenario]:
    """The model's scenarios in file order ({} when it has no `scenarios.toml`)."""
    if model.path is None:
        return {}
    problems: list[Problem] = []
    document = read_toml(model.path / "scenarios.toml", problems)
    if problems:
        raise ModelError(problems)
    table = document.get("scenarios", {})
    if not isinstance(table, Mapping):
        raise ModelError([Problem("scenarios.toml", None, "[scenarios] must be a table")])
    scenarios = {}
    for name, entry in table.items():
        if not isinstance(entry, Mapping):
            raise ModelError(
                [Problem("scenarios.toml", None, f"[scenarios.{name}] is not a table")]
            )
        unknown = set(entry) - {*KINDS, "description", "source", "overlay"}
        if unknown:
            raise ModelError(
                [
                    Problem(
                        "scenarios.toml",
                        None,
                        f"[scenarios.{name}] has unknown key(s): {', '.join(sorted(unknown))}",
                        "keys: description, source, evidence, do, likelihood, soft, overlay",
                    )
                ]
            )
        kinds: dict[str, Any] = {KINDS[k]: dict(entry[k]) for k in KINDS if k in entry}
        scenarios[name] = Scenario(
            name=name,
            description=str(entry.get("description", "")),
            source=str(entry.get("source", "")),
            evidence=Evidence(**kinds),
            overlay=str(entry.get("overlay", "")),
        )
    return scenarios


def get_scenario(model: Model, name: str) -> Scenario:
    scenarios = load_scenarios(model)
    if name not in scenarios:
        choices = ", ".join(scenarios) or "(the model has no scenarios.toml)"
        raise EvidenceError(
            f"unknown scenario '{name}'; {suggest(name, scenarios)}scenarios: {choices}"
        )
    return scenarios[name]


def apply(model: Model, name: str) -> tuple[Model, Evidence]:
    """The model with the scenario's overlay applied, and the scenario's (resolved) evidence."""
    scenario = get_scenario(model, name)
    if scenario.overlay:
        model = overlay(model, scenario.overlay)
    try:
        evidence = scenario.evidence.resolved(model)
    except EvidenceError as error:
        raise EvidenceError(f"scenario '{name}' in scenarios.toml: {error}") from None
    return model, evidence


def overlay(model: Model, directory: str | Path) -> Model:
    """Replace the tables of the nodes that `directory` has CSVs for, validated like the model."""
    path = (model.path or Path(".")) / directory
    if not path.is_dir():
        raise ModelError(
            [Problem("scenarios.toml", None, f"overlay directory '{directory}' not found")]
        )
    problems: list[Problem] = []
    tables = [t for t in (read_table(p, problems) for p in node_files(path)) if t is not None]
    for table in tables:
        if table.node not in model:
            problems.append(
                Problem(f"{directory}/{table.file}", None, f"{table.node} is not a node")
            )
    tables = [t for t in tables if t.node in model]
    names = {t.node for t in tables}
    known = [RawTable(f"{n.id}.csv", n.id, n.parents, n.states) for n in model if n.id not in names]
    nodes = check_tables(tables, problems, known=known) if not problems else None
    errors = [p for p in problems if p.severity == "error"]
    if errors or nodes is None:
        raise ModelError(
            [Problem(f"{directory}/{p.file}", p.line, p.message, p.hint) for p in errors]
        )
    return model.with_nodes([_keep_metadata(model[n.id], n) for n in nodes])


def _keep_metadata(old: Node, new: Node) -> Node:
    return replace(
        new,
        label=old.label,
        description=old.description,
        aliases=old.aliases,
        state_descriptions=old.state_descriptions,
    )
