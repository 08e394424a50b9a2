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
import itertools
import math
import subprocess
import tarfile
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from bn.errors import BNError
from bn.evidence import Evidence
from bn.model import Model, Node


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", str(directory), *args], capture_output=True, check=False
        )
    except FileNotFoundError:
        raise BNError("git is not installed; compare two model directories instead") from None


def git_snapshot(directory: Path, revision: str, into: Path) -> Path:
    """Extract `directory` as it was at git `revision` into `into`; the extracted model directory."""
    directory = directory.resolve()
    top = _git(directory, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise BNError(
            f"'{revision}' is neither a directory nor usable as a git revision: {directory} is "
            "not in a git repository"
        )
    prefix = _git(directory, "rev-parse", "--show-prefix").stdout.decode().strip()
    root = Path(top.stdout.decode().strip())
    archive = _git(root, "archive", "--format=tar", revision, "--", prefix or ".")
    if archive.returncode != 0:
        message = archive.stderr.decode(errors="replace").strip().splitlines()
        raise BNError(
            f"cannot read {prefix or 'the model'} at git revision '{revision}': "
            + (message[-1] if message else "git archive failed")
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / prefix


@contextlib.contextmanager
def side(spec: str | None, default: Path) -> Iterator[tuple[str, Path]]:
    """A label and a model directory for `spec`: a directory, a git revision of `default`, or
    (None) `default`'s working tree."""
    if spec is None:
        yield f"{default} (working tree)", default
    elif Path(spec).is_dir():
        yield spec, Path(spec)
    else:
        with tempfile.TemporaryDirectory(prefix="bn-diff-") as scratch:
            yield f"{spec} ({default})", git_snapshot(default, spec, Path(scratch))


def _float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _cells(old: Node, new: Node) -> list[dict[str, Any]]:
    changes = []
    for flat, combo in enumerate(itertools.product(*(range(n) for n in old.parent_shape))):
        when = dict(zip(old.parents, old.row_label(combo), strict=True))
        for state, a, b in zip(old.states, old.table[combo], new.table[combo], strict=True):
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


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, Mapping) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def _toml(directory: Path | None, name: str) -> dict[str, Any]:
    if directory is None or not (directory / name).is_file():
        return {}
    try:
        return tomllib.loads((directory / name).read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def _metadata(old: Model, new: Model) -> list[dict[str, Any]]:
    """Changed keys of model.toml and scenarios.toml; a node or scenario table added or removed
    as a whole is one change."""
    changes = []
    for name, group in (("model.toml", "nodes"), ("scenarios.toml", "scenarios")):
        a, b = _toml(old.path, name), _toml(new.path, name)
        tables_a, tables_b = a.get(group, {}), b.get(group, {})
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
                tables_a.pop(key, None)
                tables_b.pop(key, None)
        flat_a, flat_b = _flatten(a), _flatten(b)
        for key in sorted(set(flat_a) | set(flat_b)):
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

    tables = []
    for node in new:
        if node.id not in old.ids:
            continue
        before = old[node.id]
        entry: dict[str, Any] = {"node": node.id, "structure": None, "cells": []}
        if (
            before.parents != node.parents
            or before.parent_states != node.parent_states
            or (before.states != node.states)
        ):
            entry["structure"] = {
                "parents": [list(before.parents), list(node.parents)],
                "states": [list(before.states), list(node.states)],
                "parent_states": {
                    p: [list(old[p].states) if p in old.ids else None, list(new[p].states)]
                    for p in node.parents
                    if p not in old.ids or old[p].states != new[p].states
                },
            }
        else:
            entry["cells"] = _cells(before, node)
        if entry["structure"] or entry["cells"]:
            tables.append(entry)
    targets = [t for t in new.default_targets() if t in old.ids]
    posteriors: dict[str, dict[str, dict[str, float | None]]] = {}
    if targets:
        a = query(old, targets, old_evidence or Evidence()).posteriors
        b = query(new, targets, new_evidence or Evidence()).posteriors
        for target in targets:
            states = dict.fromkeys([*new[target].states, *old[target].states])
            posteriors[target] = {}
            for state in states:
                p, q = a[target].get(state), b[target].get(state)
                change = None if p is None or q is None else q - p
                posteriors[target][state] = {"old": p, "new": q, "change": change}
    return {
        "nodes_added": [n for n in new.ids if n not in old.ids],
        "nodes_removed": [n for n in old.ids if n not in new.ids],
        "tables": tables,
        "metadata": _metadata(old, new),
        "targets": targets,
        "evidence": (new_evidence or Evidence()).to_dict(),
        "posteriors": posteriors,
    }


def load_side(label: str, directory: Path) -> Model:
    """`bn.load`, with the side's label in front of every problem."""
    from bn.errors import ModelError, Problem
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
    return any(report[k] for k in ("nodes_added", "nodes_removed", "tables", "metadata"))
