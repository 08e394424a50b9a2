"""What changed between two versions of a model: nodes, table cells, metadata and posteriors.

A side is a model directory or a git revision of one (`git archive REV` into a temporary
directory). `compare` lists every cell whose value changed (numbers compared as numbers, so a
reformatted 0.30 -> 0.3 is no change), every changed note and ess, the nodes added and removed, the
changed keys of model.toml and scenarios.toml, and how the default targets' posteriors moved.

>>> import bn
>>> old = bn.load(bn.packaged_model_path())
>>> report = compare(old, old)
>>> report["tables"], {v["change"] for d in report["posteriors"].values() for v in d.values()}
([], {0.0})
"""

from __future__ import annotations

import contextlib
import io
import math
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import scenario_tables
from bn.errors import BNError, ModelError, Problem, param
from bn.evidence import Evidence
from bn.files import MODEL_TOML, SCENARIOS_TOML
from bn.forms import NoisyMax, Ranked
from bn.metadata import read_toml
from bn.model import Model, Node


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, check=False
        )
    except FileNotFoundError:
        raise BNError("git is not installed; compare two model directories instead") from None


def git_snapshot(directory: Path, revision: str, into: Path, origin: str = "") -> Path:
    """Extract `directory` as it was at git `revision` into `into`; the extracted model directory.

    `origin` says where `directory` came from (e.g. "$BN_MODEL"), for the messages: a revision is
    looked up in the repository of the model directory, and an error says which one that was.
    """
    where = f"the model directory {directory}" + (f" ({origin})" if origin else "")
    if not directory.is_dir():
        raise BNError(
            f"no directory '{revision}'; as a git revision it would be read from the history of "
            f"{where}, which does not exist"
        )
    directory = directory.resolve()
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BNError(
            f"no directory '{revision}'; as a git revision it would be read from the history of "
            f"{where}, which is not in a git repository (compare two directories, or give "
            f"{param('model_dir')} DIR inside a repository)"
        )
    prefix = _git(directory, "rev-parse", "--show-prefix").stdout.decode().strip()
    root = Path(top.stdout.decode().strip())
    known = _git(root, "rev-parse", "--verify", "--quiet", f"{revision}^{{tree}}")
    if known.returncode != 0:
        raise BNError(
            f"no directory '{revision}', and no revision '{revision}' in the git repository "
            f"{root} of {where}"
        )
    archive = _git(root, "archive", "--format=tar", revision, "--", prefix or ".")
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip().splitlines()
        raise BNError(
            f"cannot read {prefix or 'the model'} at git revision '{revision}' of the git "
            f"repository {root}: " + (message[-1] if message else "git archive failed")
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / prefix


@contextlib.contextmanager
def side(spec: str | None, default: Path, origin: str = "") -> Iterator[tuple[str, Path]]:
    """A label and a model directory for `spec`: a directory, a git revision of `default`, or
    (None) `default`'s working tree. `origin` says where `default` came from (for messages)."""
    if spec is None:
        yield f"{default} (working tree)", default
    elif Path(spec).is_dir():
        yield spec, Path(spec)
    else:
        with tempfile.TemporaryDirectory(prefix="bn-diff-") as scratch:
            yield f"{spec} ({default})", git_snapshot(default, spec, Path(scratch), origin)


def _float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _form_cells(old: Node, new: Node) -> list[dict[str, Any]] | None:
    """Changed parameters of two compact nodes of one form and layout (`when` names a link as
    {parent: state}, the leak as {"leak": ""}, a ranked weight as {"parent": id}); None when
    the two are not comparable so (then their expanded tables are)."""
    a, b = old.form, new.form
    changes: list[dict[str, Any]] = []

    def cell(when: dict[str, str], column: str, x: Any, y: Any) -> None:
        if x != y and not (
            isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y)
        ):
            changes.append({"when": when, "column": column, "old": x, "new": y})

    if isinstance(a, NoisyMax) and isinstance(b, NoisyMax) and a.labels == b.labels:
        for r, (parent, state) in enumerate(b.labels):
            when = {"leak": ""} if not state else {parent: state}
            for s, x, y in zip(b.states, a.rows[r], b.rows[r], strict=True):
                cell(when, s, float(x), float(y))
            cell(when, "ess", _float(float(a.ess[r])), _float(float(b.ess[r])))
            cell(when, "note", a.notes[r], b.notes[r])
        return changes
    if isinstance(a, Ranked) and isinstance(b, Ranked) and a.parents == b.parents:
        for i, parent in enumerate(b.parents):
            cell({"parent": parent}, "weight", float(a.weights[i]), float(b.weights[i]))
            cell({"parent": parent}, "note", a.notes[i], b.notes[i])
        return changes  # function, variance and mix are model.toml keys: listed as metadata
    return None


def _form_text(node: Node) -> str:
    """How a node's file holds its table: 'noisy-max: 9 rows', 'ranked (wmean): 2 weights',
    'full table: 81 rows'."""
    form = node.form
    if isinstance(form, NoisyMax):
        return f"{form.form}: {len(form.labels)} rows"
    if isinstance(form, Ranked):
        return f"ranked: {len(form.parents)} weights"
    return f"full table: {math.prod(node.parent_shape)} rows"


def _cells(old: Node, new: Node) -> list[dict[str, Any]]:
    """Changed probabilities, ess and notes of two tables with the same shape (new names)."""
    compact = _form_cells(old, new)
    if compact is not None:
        return compact
    changes = []
    for flat, (combo, row) in enumerate(new.rows()):
        when = dict(zip(new.parents, new.row_label(combo), strict=True))
        for state, a, b in zip(new.states, old.table[combo], row, strict=True):
            if a != b:
                changes.append({"when": when, "column": state, "old": float(a), "new": float(b)})
        a, b = old.ess[combo], new.ess[combo]
        if a != b and not (math.isnan(a) and math.isnan(b)):
            changes.append({"when": when, "column": "ess", "old": _float(a), "new": _float(b)})
        if old.notes[flat] != new.notes[flat]:
            changes.append(
                {"when": when, "column": "note", "old": old.notes[flat], "new": new.notes[flat]}
            )
    return changes


def _states(model: Model, node: str) -> list[str] | None:
    return list(model[node].states) if node in model.ids else None


def renames(old: Model, new: Model) -> dict[str, str]:
    """Nodes that only changed id: same states, same table, same (renamed) parents."""
    found: dict[str, str] = {}
    removed = [n for n in old.ids if n not in new.ids]
    added = [n for n in new.ids if n not in old.ids]
    changed = True
    while changed:
        changed = False
        for r in removed:
            for a in added:
                if r in found or a in found.values():
                    continue
                x, y = old[r], new[a]
                parents = tuple(found.get(p, p) for p in x.parents)
                if (
                    x.states == y.states
                    and parents == y.parents
                    and x.table.shape == y.table.shape
                    and np.array_equal(x.table, y.table)
                    and np.array_equal(x.ess, y.ess, equal_nan=True)
                    and x.notes == y.notes
                ):
                    found[r] = a
                    changed = True
    return found


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _toml(directory: Path | None, name: str) -> dict[str, Any]:
    """A model's TOML file ({} when it has none); `ModelError` if it cannot be read."""
    if directory is None:
        return {}
    problems: list[Problem] = []
    document = read_toml(directory / name, problems)
    if problems:
        raise ModelError(problems)
    return document


def _tables(document: Mapping[str, Any], group: str) -> dict[str, Any]:
    """The [nodes.<id>] or [scenarios.<name>] tables of a parsed TOML file."""
    if group == "scenarios":
        return scenario_tables(document)
    tables = document.get(group, {})
    return dict(tables) if isinstance(tables, Mapping) else {}


def _metadata(old: Model, new: Model, renamed: Mapping[str, str]) -> list[dict[str, Any]]:
    """Changed keys of model.toml and scenarios.toml; a node or scenario table added or removed
    as a whole is one change (a renamed node's table is compared under its new id)."""
    changes = []
    for name, group in ((MODEL_TOML, "nodes"), (SCENARIOS_TOML, "scenarios")):
        a, b = _toml(old.path, name), _toml(new.path, name)
        if group == "nodes" and isinstance(a.get("nodes"), dict):
            a["nodes"] = {renamed.get(k, k): v for k, v in a["nodes"].items()}
        tables_a, tables_b = _tables(a, group), _tables(b, group)
        whole = []  # tables added or removed: one change each, not one per key
        for key in [*tables_a, *(k for k in tables_b if k not in tables_a)]:
            if (key in tables_a) != (key in tables_b):
                changes.append(
                    {
                        "file": name,
                        "key": f"{group}.{key}",
                        "old": tables_a.get(key),
                        "new": tables_b.get(key),
                    }
                )
                whole.append(f"{group}.{key}")
        flat_a, flat_b = _flatten(a), _flatten(b)
        for key in sorted(set(flat_a) | set(flat_b)):
            if any(key == w or key.startswith(f"{w}.") for w in whole):
                continue
            if flat_a.get(key) != flat_b.get(key):
                changes.append(
                    {"file": name, "key": key, "old": flat_a.get(key), "new": flat_b.get(key)}
                )
    return changes


def compare(
    old: Model,
    new: Model,
    old_evidence: Evidence | None = None,
    new_evidence: Evidence | None = None,
) -> dict[str, Any]:
    """The differences between two models, and the default targets' posteriors in each.

    The evidence (resolved against each model, scenario applied) defaults to none.
    """
    from bn.engine import query

    renamed = renames(old, new)
    old_id = {v: k for k, v in renamed.items()}
    tables = []
    for node in new:
        before_id = old_id.get(node.id, node.id)
        if before_id not in old.ids:
            continue
        before = old[before_id]
        entry: dict[str, Any] = {"node": node.id, "structure": None, "form": None, "cells": []}
        if _form_text(before) != _form_text(node):
            entry["form"] = [_form_text(before), _form_text(node)]
        parents = [renamed.get(p, p) for p in before.parents]
        if (
            parents != list(node.parents)
            or before.parent_states != node.parent_states
            or before.states != node.states
        ):
            entry["structure"] = {
                "parents": [parents, list(node.parents)],
                "states": [list(before.states), list(node.states)],
                "parent_states": {
                    p: [_states(old, old_id.get(p, p)), list(new[p].states)]
                    for p in node.parents
                    if _states(old, old_id.get(p, p)) != list(new[p].states)
                },
            }
        else:
            entry["cells"] = _cells(before, node)
        if entry["structure"] or entry["form"] or entry["cells"]:
            tables.append(entry)
    targets = [t for t in new.default_targets() if old_id.get(t, t) in old.ids]
    posteriors: dict[str, dict[str, dict[str, float | None]]] = {}
    if targets:
        a = query(old, [old_id.get(t, t) for t in targets], old_evidence or Evidence()).posteriors
        b = query(new, targets, new_evidence or Evidence()).posteriors
        for target in targets:
            was = a[old_id.get(target, target)]
            states = dict.fromkeys([*new[target].states, *was])
            posteriors[target] = {}
            for state in states:
                p, q = was.get(state), b[target].get(state)
                change = None if p is None or q is None else q - p
                posteriors[target][state] = {"old": p, "new": q, "change": change}
    return {
        "nodes_added": [n for n in new.ids if n not in old.ids and n not in old_id],
        "nodes_removed": [n for n in old.ids if n not in new.ids and n not in renamed],
        "nodes_renamed": [[k, v] for k, v in renamed.items()],
        "tables": tables,
        "metadata": _metadata(old, new, renamed),
        "targets": targets,
        "evidence": (new_evidence or Evidence()).to_dict(),
        "posteriors": posteriors,
    }


def load_side(label: str, directory: Path) -> Model:
    """`bn.load`, with the side's label in front of every problem."""
    from bn.validate import load

    try:
        return load(directory)
    except ModelError as error:
        raise ModelError(
            [
                Problem(f"{label}: {p.file}", p.line, p.message, p.hint, p.severity)
                for p in error.problems
            ]
        ) from None


def has_changes(report: Mapping[str, Any]) -> bool:
    keys = ("nodes_added", "nodes_removed", "nodes_renamed", "tables", "metadata")
    return any(report[k] for k in keys)
