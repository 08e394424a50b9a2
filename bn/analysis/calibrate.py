"""Checking and meeting a model's calibration targets (`[[calibration]]` in model.toml, see
`bn.calibration`) on the exact engine.

A free cell moves as in `bn sensitivity` and `bn cpt set NODE STATE=p`: the other cells of its row
share the rest in proportion. With one target and one cell, the cell is found by one-dimensional
root finding (Brent's method on [0, 1]); otherwise by Newton steps on every free cell at once
(Gauss-Newton with the pseudo-inverse of the Jacobian, so more cells than targets take the
smallest move, and central differences of exact evaluations for the Jacobian). A target the free
cells cannot reach is refused, naming it.

>>> import bn
>>> model = bn.load(bn.packaged_model_path())
>>> [round(evaluate(model, t), 6) for t in read_targets(model)[0]][:2]
[0.3, 0.8]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bn.analysis.sensitivity import covary
from bn.calibration import Cell, Target, read_targets
from bn.engine import posterior
from bn.errors import BNError, Problem
from bn.evidence import Evidence
from bn.files import MODEL_TOML
from bn.forms import NoisyMax
from bn.model import Model, Node

MAX_STEPS = 50


def evaluate(model: Model, target: Target) -> float:
    """P(target's node = state | its given states) under the model as it is."""
    result = posterior(model, [target.node], Evidence(hard=dict(target.given)).resolved(model))
    node = model[target.node]
    return float(result.marginals[target.node][node.state_index(target.state)])


def check_targets(model: Model) -> list[Problem]:
    """A warning for each target the model no longer meets (an edit moved it)."""
    targets, _ = read_targets(model)
    problems = []
    for target in targets:
        try:
            now = evaluate(model, target)
        except BNError as error:
            message = f"calibration target {target.query} cannot be evaluated: {error}"
            problems.append(Problem(MODEL_TOML, target.line, message, "", "warning"))
            continue
        if abs(now - target.value) > target.tolerance:
            problems.append(
                Problem(
                    MODEL_TOML,
                    target.line,
                    f"calibration target P({target.query}) is {now:.6g}, not the published "
                    f"{target.value:g} (tolerance {target.tolerance:g})",
                    "an edit moved it: `bn calibrate` re-solves the target's free cells",
                    "warning",
                )
            )
    return problems


def _index(model: Model, cell: Cell) -> tuple[tuple[int, ...], int]:
    """The cell's row and column: in the table, or in a noisy node's links and leak."""
    node = model[cell.node]
    if cell.link:
        assert isinstance(node.form, NoisyMax)  # bn.calibration reads links of noisy nodes only
        return (node.form.row_of(*cell.when[0]),), node.state_index(cell.state)
    combo = tuple(model[p].state_index(s) for p, s in cell.when)
    return combo, node.state_index(cell.state)


def _parameters(node: Node, link: bool) -> np.ndarray:
    return node.form.rows if link and isinstance(node.form, NoisyMax) else node.table


def cell_value(model: Model, cell: Cell) -> float:
    combo, column = _index(model, cell)
    return float(_parameters(model[cell.node], cell.link)[combo][column])


def with_cells(model: Model, cells: Sequence[Cell], values: Sequence[float] | np.ndarray) -> Model:
    """The model with each cell set to its value, the rest of its row rescaled in proportion
    (a noisy node's link or leak row, then expanded afresh)."""
    tables: dict[tuple[str, bool], np.ndarray] = {}
    for cell, value in zip(cells, values, strict=True):
        combo, column = _index(model, cell)
        key = (cell.node, cell.link)
        table = tables.get(key, np.array(_parameters(model[cell.node], cell.link)))
        table[combo] = covary(table[combo], column, float(value))
        tables[key] = table
    nodes = []
    for (name, link), table in tables.items():
        node = model[name]
        if link and isinstance(node.form, NoisyMax):
            form = replace(node.form, rows=table)
            nodes.append(replace(node, form=form, table=form.expand()))
        else:
            nodes.append(replace(node, table=table))
    return model.with_nodes(nodes)


@dataclass(frozen=True)
class Outcome:
    """One target before and after calibration."""

    target: Target
    before: float
    after: float

    def to_dict(self, cells: Mapping[Cell, tuple[float, float]]) -> dict[str, Any]:
        return {
            "query": self.target.query,
            "value": self.target.value,
            "before": self.before,
            "after": self.after,
            "cells": [
                {**c.to_dict(), "before": cells[c][0], "after": cells[c][1]}
                for c in self.target.cells
            ],
        }


@dataclass(frozen=True)
class Calibrated:
    """The model with its free cells re-solved, each target before and after, each cell's move."""

    model: Model
    outcomes: tuple[Outcome, ...]
    cells: Mapping[Cell, tuple[float, float]]

    def to_dict(self) -> dict[str, Any]:
        return {"targets": [o.to_dict(self.cells) for o in self.outcomes]}


def calibrate(model: Model, targets: Sequence[Target] | None = None) -> Calibrated:
    """Move every target's free cells so that each target holds (see the module docstring)."""
    targets = list(read_targets(model)[0] if targets is None else targets)
    if not targets:
        return Calibrated(model, (), {})
    before = [evaluate(model, t) for t in targets]
    cells = list(dict.fromkeys(c for t in targets for c in t.cells))
    for target in targets:
        if not target.cells:
            raise BNError(f"calibration target {target.query} names no free cell (solve = [...])")
    start = np.array([cell_value(model, c) for c in cells])
    if len(targets) == 1 and len(cells) == 1:
        values = np.array(_brent(model, targets[0], cells[0]))
    else:
        values = _newton(model, targets, cells, start)
    solved = with_cells(model, cells, values) if cells else model
    after = [evaluate(solved, t) for t in targets]
    for target, value in zip(targets, after, strict=True):
        if abs(value - target.value) > target.tolerance:
            raise BNError(
                f"calibration target {target.query} = {target.value:g} cannot be reached by "
                f"moving its free cells (the closest is {value:.6g}): free more cells, or check "
                "the target"
            )
    moves = {c: (float(a), float(b)) for c, a, b in zip(cells, start, values, strict=True)}
    outcomes = tuple(Outcome(t, b, a) for t, b, a in zip(targets, before, after, strict=True))
    return Calibrated(solved, outcomes, moves)


def _brent(model: Model, target: Target, cell: Cell) -> list[float]:
    from scipy.optimize import brentq

    def gap(theta: float) -> float:
        return evaluate(with_cells(model, [cell], [theta]), target) - target.value

    low, high = gap(0.0), gap(1.0)
    if low == 0:
        return [0.0]
    if high == 0:
        return [1.0]
    if low * high > 0:
        closest = target.value + (low if abs(low) < abs(high) else high)
        raise BNError(
            f"calibration target {target.query} = {target.value:g} cannot be reached by moving "
            f"{cell.label()} (it ranges from {target.value + low:.6g} to {target.value + high:.6g}; "
            f"the closest is {closest:.6g})"
        )
    return [float(brentq(gap, 0.0, 1.0, xtol=1e-15, rtol=4 * np.finfo(float).eps))]


def _newton(
    model: Model, targets: Sequence[Target], cells: Sequence[Cell], start: np.ndarray
) -> np.ndarray:
    wanted = np.array([t.value for t in targets])

    def values(theta: np.ndarray) -> np.ndarray:
        moved = with_cells(model, cells, theta)
        return np.array([evaluate(moved, t) for t in targets])

    theta = start.copy()
    for _ in range(MAX_STEPS):
        residual = values(theta) - wanted
        if np.abs(residual).max() < 1e-13:
            break
        step = 1e-6
        jacobian = np.empty((len(targets), len(cells)))
        for j in range(len(cells)):
            up, down = theta.copy(), theta.copy()
            up[j] = min(1.0, theta[j] + step)
            down[j] = max(0.0, theta[j] - step)
            jacobian[:, j] = (values(up) - values(down)) / (up[j] - down[j])
        move = -np.linalg.pinv(jacobian) @ residual
        scale = 1.0
        while scale > 1e-4:  # damped: never leave [0, 1], never make the residual worse
            trial = np.clip(theta + scale * move, 0.0, 1.0)
            if np.abs(values(trial) - wanted).max() < np.abs(residual).max():
                theta = trial
                break
            scale /= 2
        else:
            break
    return theta


def write(calibrated: Calibrated, directory: Any, dry_run: bool = False) -> dict[str, str | None]:
    """Write each moved cell through the edit path (as `bn cpt set NODE STATE=p`), leaving every
    other byte alone; the files changed."""
    from bn.edit.tables import set_rows
    from bn.edit.workspace import Workspace
    from bn.numbers import computed_number

    with Workspace(directory) as ws:  # the writers' lock, released however the edit ends
        for cell, (old, new) in calibrated.cells.items():
            if old == new:
                continue
            set_rows(ws, cell.node, dict(cell.when), named={cell.state: computed_number(new)})
        return ws.commit(dry_run=dry_run)
