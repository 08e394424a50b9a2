"""Every check of a model directory, reported all at once, and the construction of the `Model`:
the top of the checking layer (tables: `bn.tablecheck`; model.toml: `bn.metadata`; scenarios and
overlays: `bn.scenarios`).

`check(directory)` returns the model (None when there are errors) and the list of problems, each
naming the file and line, saying what is wrong and how to fix it; once the model itself is valid,
its `scenarios.toml` and overlays are checked too (`bn.scenarios.check_scenarios`), and its
calibration targets, forecasts and outcomes when it has them. `load` raises `ModelError` with all
of them. `bn check` prints them; every other command loads through here first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bn.csvfiles import (
    RawTable,
    node_files,
    node_metadata,
    parse_table,
    read_text,
    sources_list,
)
from bn.decisioncheck import check_influence, kind_of, utility_stub
from bn.errors import ModelError, Problem, param
from bn.files import JOURNAL, MODEL_TOML, OUTCOMES_TOML
from bn.formcheck import form_of, read_compact
from bn.influence import Diagram, RawUtility, parse_utility, utility_header
from bn.metadata import plain_text, read_toml
from bn.model import Model
from bn.scenarios import check_scenarios
from bn.tablecheck import check_tables


def load(directory: str | Path) -> Model:
    """Read and validate a model directory; `ModelError` lists every problem if it is invalid.

    >>> import bn
    >>> bn.load(bn.packaged_model_path()).resolve("kaboom")
    'nuclear_use'
    """
    model, problems = check(directory)
    if model is None:
        raise ModelError(problems)
    return model


def check(directory: str | Path) -> tuple[Model | None, list[Problem]]:
    """All problems of a model directory, and the model when there are no errors.

    A valid influence diagram (decisions or utilities) is an error here, so that no command treats
    a decision as a chance node; `check_diagram` reads one.

    >>> import bn
    >>> model, problems = bn.check(bn.packaged_model_path())
    >>> model is not None, [p for p in problems if p.severity == "error"]
    (True, [])
    """
    diagram, problems = check_diagram(directory)
    if diagram is None:
        return None, problems
    if diagram.decisions or diagram.utilities:
        return None, [*problems, refusal(diagram)]
    return diagram.network, problems


def refusal(diagram: Diagram) -> Problem:
    """The error of a command that does not handle decisions, given an influence diagram."""
    parts = [f"decisions {', '.join(diagram.order)}" if diagram.decisions else "no decisions"]
    parts.append(f"utilities {', '.join(u.id for u in diagram.utilities)}")
    return Problem(
        diagram.title,
        None,
        f"this model is an influence diagram ({'; '.join(parts)}), and this command "
        "answers questions about a network of chance nodes only",
        "bn decide finds the best options; bn query needs --do DECISION=OPTION for each "
        "decision or --policy optimal; bn voi --decision D, bn draw, bn export (XDSL) and bn "
        "check handle decisions too",
    )


def load_diagram(directory: str | Path) -> Diagram:
    """Read and validate a model directory that may hold decisions and utilities."""
    diagram, problems = check_diagram(directory)
    if diagram is None:
        raise ModelError(problems)
    return diagram


def check_diagram(directory: str | Path) -> tuple[Diagram | None, list[Problem]]:
    """All problems of a model directory, and the model as an influence diagram (a network
    without decisions or utilities is one too) when there are no errors."""
    directory = Path(directory)
    if not directory.is_dir():
        missing = "no such model directory" if not directory.exists() else "not a directory"
        hint = (
            f"give a directory of <node>.csv files with {param('model_dir')} DIR (or set $BN_MODEL)"
        )
        return None, [Problem(str(directory), None, missing, hint)]
    if os.path.lexists(directory / JOURNAL):
        from bn.journal import recover  # imported only then, like the checks of `_optional`

        recover(directory)  # an edit interrupted by a crash is finished or undone before reading
    problems: list[Problem] = []
    toml_path = directory / MODEL_TOML
    meta = read_toml(toml_path, problems)
    files = node_files(directory)
    _check_stray_files(directory, problems)
    if not files:
        problems.append(
            Problem(
                directory.name or str(directory),
                None,
                "no node files (*.csv) in the model directory",
                "each node is a file <node_id>.csv, e.g. rain.csv with the header rain=no,rain=yes",
            )
        )
    tables, unreadable, utilities = [], [], []
    for path in files:
        meta_node = node_metadata(meta, path.stem)
        raw: RawTable | RawUtility | None
        if form_of(meta_node):
            raw = read_compact(path, meta_node, problems)  # noisy-OR, noisy-MAX, ranked
        else:
            text = read_text(path, problems)
            raw = None if text is None else _parse(text, path.name, problems)
        if raw is None:
            unreadable.append(path.name)
        elif isinstance(raw, RawUtility):
            utilities.append(raw)
        else:
            tables.append(raw)
    decisions = [t for t in tables if kind_of(meta, t.node) == "decision"]
    chance = [t for t in tables if kind_of(meta, t.node) != "decision"]
    nodes = check_tables(
        chance,
        problems,
        meta,
        known=[*decisions, *map(utility_stub, utilities)],
        unreadable=unreadable,
        toml_text=plain_text(toml_path),
    )
    ordered, values = check_influence(
        chance, decisions, utilities, meta, problems, plain_text(toml_path)
    )
    problems.sort(key=lambda p: (p.file != MODEL_TOML, p.file, p.line or 0))
    if any(p.severity == "error" for p in problems) or nodes is None:
        return None, problems
    head = meta.get("model", {})
    head = head if isinstance(head, Mapping) else {}
    diagram = Diagram.build(
        nodes,
        ordered,
        values,
        title=str(head.get("title", "")),
        description=str(head.get("description", "")),
        sources=tuple(sources_list(meta)),
        targets=tuple(str(t) for t in head.get("targets", [])),
        path=directory,
    )
    problems += check_scenarios(diagram.network)
    problems += _optional(diagram.network, meta, directory)
    problems.sort(key=lambda p: (p.file != MODEL_TOML, p.file, p.line or 0))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return diagram, problems


def _optional(model: Model, meta: Mapping[str, Any], directory: Path) -> list[Problem]:
    """The problems of the parts a model may leave out: calibration targets, forecasts and
    outcomes. Each check is imported only when its part is there, so that a cold command on a
    model without them does not pay for modules it never runs."""
    problems: list[Problem] = []
    if "calibration" in meta:
        from bn.calibration import read_targets

        problems += read_targets(model)[1]
    head = meta.get("model")
    horizon = isinstance(head, Mapping) and "horizon" in head
    if "forecasts" in meta or horizon or (directory / OUTCOMES_TOML).exists():
        from bn.outcomes import check_record

        problems += check_record(model)
    return problems


def _parse(text: str, name: str, problems: list[Problem]) -> RawTable | RawUtility | None:
    """A node file's table, or a utility's when its header has a `utility` column."""
    if utility_header(text):
        return parse_utility(text, name, problems)
    return parse_table(text, name, problems)


def _check_stray_files(directory: Path, problems: list[Problem]) -> None:
    for path in sorted(directory.iterdir()):
        if path.suffix == ".csv" and path.is_symlink() and not path.exists():
            problems.append(
                Problem(
                    path.name,
                    None,
                    f"{path.name} is a link to {os.readlink(path)}, which does not exist",
                    "point the link at the node's file, or replace it with the file",
                )
            )
        if path.is_file() and path.suffix.lower() == ".csv" and path.suffix != ".csv":
            problems.append(
                Problem(
                    path.name,
                    None,
                    f"{path.name} is not read: node files end in .csv (lower case)",
                    f"rename it to {path.stem}.csv",
                    "warning",
                )
            )
