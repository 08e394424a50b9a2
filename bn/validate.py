"""Every check of a model directory, reported all at once, and the construction of the `Model`:
the top of the checking layer (tables: `bn.tablecheck`; model.toml: `bn.metadata`; scenarios and
overlays: `bn.scenarios`).

`check(directory)` returns the model (None when there are errors) and the list of problems, each
naming the file and line, saying what is wrong and how to fix it; once the model itself is valid,
its `scenarios.toml` and overlays are checked too (`bn.scenarios.check_scenarios`). `load` raises
`ModelError` with all of them. `bn check` prints them; every other command loads through here first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bn.calibration import read_targets
from bn.csvfiles import (
    node_files,
    node_metadata,
    read_table,
    read_toml,
    sources_list,
)
from bn.errors import ModelError, Problem
from bn.files import MODEL_TOML
from bn.formcheck import form_of, read_compact
from bn.journal import recover
from bn.metadata import plain_text
from bn.model import Model
from bn.outcomes import check_record
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

    >>> import bn
    >>> model, problems = bn.check(bn.packaged_model_path())
    >>> model is not None, [p for p in problems if p.severity == "error"]
    (True, [])
    """
    directory = Path(directory)
    if not directory.is_dir():
        missing = "no such model directory" if not directory.exists() else "not a directory"
        hint = "give a directory of <node>.csv files with --model DIR (or set $BN_MODEL)"
        return None, [Problem(str(directory), None, missing, hint)]
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
    tables, unreadable = [], []
    for path in files:
        meta_node = node_metadata(meta, path.stem)
        if form_of(meta_node):
            table = read_compact(path, meta_node, problems)  # noisy-OR, noisy-MAX, ranked
        else:
            table = read_table(path, problems)
        if table is None:
            unreadable.append(path.name)
        else:
            tables.append(table)
    nodes = check_tables(
        tables, problems, meta, unreadable=unreadable, toml_text=plain_text(toml_path)
    )
    problems.sort(key=lambda p: (p.file != MODEL_TOML, p.file, p.line or 0))
    if any(p.severity == "error" for p in problems) or nodes is None:
        return None, problems
    head = meta.get("model", {})
    head = head if isinstance(head, Mapping) else {}
    model = Model(
        tuple(nodes),
        title=str(head.get("title", "")),
        description=str(head.get("description", "")),
        sources=tuple(sources_list(meta)),
        targets=tuple(str(t) for t in head.get("targets", [])),
        path=directory,
    )
    problems += check_scenarios(model)
    problems += read_targets(model)[1]
    problems += check_record(model)
    problems.sort(key=lambda p: (p.file != MODEL_TOML, p.file, p.line or 0))
    if any(p.severity == "error" for p in problems):
        return None, problems
    return model, problems


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
