"""One-way parameter sensitivity: how P(target=state | evidence) moves with each CPT cell.

When one cell theta of a row changes and the other cells of the row are rescaled proportionally so
the row still sums to 1 (proportional co-variation), every term of the joint distribution holds at
most one cell of that row, so P(target, e) and P(e) are both linear in theta and

    P(target | e)(theta) = (a + b*theta) / (c + d*theta)

(Castillo, Gutierrez and Hadi 1997; Coupe and van der Gaag 2002). Two exact evaluations per cell
give a, b, c and d; every cell of the model is evaluated in one batched contraction of the engine
(`bn.engine.contract` with a leading batch axis on the tables). From the four numbers come the exact
derivative at the current value, the target's range over the cell's plausible interval (the function
is monotone, so the range is reached at the interval's ends) and the value the cell would need for
the target to reach a threshold.

Soft (Jeffrey) evidence fixes a marginal whose likelihood vector itself depends on the tables, so the
function is no longer a ratio of two linear functions. Then every number comes from exact evaluations
of the engine at chosen points (still batched, never sampled): the derivative from a five-point
central difference, the range as the extremes of 33 points spread over the interval, the threshold by
bisection between grid points that bracket it. `Sensitivity.exact` says which method was used.

Conventions:
- a binary row has one free parameter, so only the cell of its second state (`yes`, `strike`: the
  event) is reported; longer rows report every cell, except that when only two cells of the row
  are non-zero they are one parameter and only the second is reported;
- a row without an `ess` whose cells are all 0 or 1 is definitional (a logical relation, such as
  "no KABOOM without kaboom") and is held fixed unless `include_fixed=True`;
- when a row's other cells are all 0, they share 1 - theta equally;
- the plausible interval is the 5-95% interval of Beta(ess*p, ess*(1-p)) when the row has an ess,
  otherwise p +/- `width` clipped to [0, 1].

Tegmark's chain, 0.3 x 0.8 x 0.7 (the first row has an ess of 10, the others +/- 0.1):

>>> use = Node("use", ("no", "yes"), (), np.array([0.7, 0.3]), ess=10)
>>> strike = Node("strike", ("no", "yes"), ("use",), np.array([[1, 0], [0.2, 0.8]]))
>>> war = Node("war", ("no", "yes"), ("use", "strike"),
...            np.array([[[1, 0], [1, 0]], [[1, 0], [0.3, 0.7]]]))
>>> s = sensitivity(Model((use, strike, war)), "war", "yes", Evidence())
>>> [(c.node, c.value, round(c.derivative, 2), round(c.swing, 3)) for c in s.cells]
[('use', 0.3, 0.56, 0.253), ('war', 0.7, 0.24, 0.048), ('strike', 0.8, 0.21, 0.042)]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bn.engine import contract, intervene, posterior, prepare
from bn.errors import EvidenceError, param
from bn.evidence import Evidence
from bn.forms import NoisyMax, Ranked, ranked_range
from bn.model import Model, Node

BATCH_CELLS = 4_000_000  # table cells per batched contraction, to bound memory
GRID = 33  # evaluation points across a plausible interval under soft evidence
SOFT_EDGE = 1e-9  # soft evidence is evaluated inside [SOFT_EDGE, 1 - SOFT_EDGE]


@dataclass(frozen=True)
class Cell:
    """One CPT cell and what it does to P(target=state | evidence).

    `low`/`high` are the lowest and highest P(target) while the cell moves over `range`; `at_range`
    holds P(target) at the two ends of `range`, in order (for the tornado's colours).
    """

    node: str
    parents: Mapping[str, str]
    state: str
    value: float
    derivative: float
    low: float
    high: float
    range: tuple[float, float]
    at_range: tuple[float, float]
    threshold_value: float | None = None
    ess: float | None = None
    link: str | None = None  # a noisy node's link ("parent=state") or "leak", not a table row
    parameter: str | None = None  # a ranked node's "weight of <parent>" or "variance"

    @property
    def swing(self) -> float:
        return self.high - self.low

    def label(self) -> str:
        """`node=state | parent=state, ...`; `node: weight of parent` for a ranked node."""
        if self.parameter is not None:
            return f"{self.node}: {self.parameter}"
        given = ", ".join(f"{p}={s}" for p, s in self.parents.items())
        if self.link is not None:
            given = "leak" if self.link == "leak" else f"link {self.link}"
        return f"{self.node}={self.state}" + (f" | {given}" if given else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "parents": dict(self.parents),
            "state": self.state,
            "value": self.value,
            "ess": self.ess,
            "derivative": self.derivative,
            "low": self.low,
            "high": self.high,
            "swing": self.swing,
            "range": list(self.range),
            "threshold_value": self.threshold_value,
            **({"link": self.link} if self.link is not None else {}),
            **({"parameter": self.parameter} if self.parameter is not None else {}),
        }


@dataclass(frozen=True)
class Sensitivity:
    """Every cell that can move P(target=state | evidence), sorted by swing (largest first)."""

    target: str
    state: str
    baseline: float
    cells: tuple[Cell, ...]
    evidence: Evidence
    threshold: float | None = None
    exact: bool = True  # False: soft evidence, evaluated at points (see the module docstring)
    held_fixed: int = 0  # definitional rows left out (no ess, every cell 0 or 1)

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn sensitivity --json`."""
        return {
            "target": self.target,
            "state": self.state,
            **self.evidence.to_dict(),
            "baseline": self.baseline,
            "threshold": self.threshold,
            "method": "exact" if self.exact else "exact evaluation at points (soft evidence)",
            "held_fixed_rows": self.held_fixed,
            "cells": [c.to_dict() for c in self.cells],
        }


def covary(row: np.ndarray, column: int, values: float | np.ndarray) -> np.ndarray:
    """`row` with `row[column]` set to each of `values`, the other cells rescaled to keep the sum 1.

    >>> covary(np.array([0.2, 0.3, 0.5]), 1, 0.65).round(6).tolist()
    [0.1, 0.65, 0.25]
    >>> covary(np.array([0.0, 1.0, 0.0]), 1, np.array([0.8, 1.0])).round(6).tolist()
    [[0.1, 0.8, 0.1], [0.0, 1.0, 0.0]]
    """
    row = np.asarray(row, dtype=float)
    theta = np.asarray(values, dtype=float)[..., None]
    others = row.copy()
    others[column] = 0.0
    total = others.sum()
    share = others / total if total > 0 else np.full(row.shape, 1.0 / (row.size - 1))
    share[column] = 0.0
    out = (1.0 - theta) * share
    out[..., column] = theta[..., 0]
    return np.asarray(out)


def plausible_range(value: float, ess: float | None, width: float = 0.1) -> tuple[float, float]:
    """The 5-95% interval of Beta(ess*p, ess*(1-p)), or p +/- width clipped to [0, 1] without ess.

    >>> plausible_range(0.3, None)
    (0.2, 0.4)
    >>> [round(x, 3) for x in plausible_range(0.3, 10)]
    [0.098, 0.55]
    """
    if ess is None or not math.isfinite(ess) or ess <= 0:
        return (round(max(0.0, value - width), 12), round(min(1.0, value + width), 12))
    if value <= 0 or value >= 1:  # the Beta distribution collapses onto the boundary
        return (float(value), float(value))
    from scipy.special import betaincinv  # the Beta quantile; scipy.stats costs 0.6 s to import

    low, high = betaincinv(ess * value, ess * (1 - value), [0.05, 0.95])
    return (float(low), float(high))


@dataclass(frozen=True)
class _Spec:
    node: Node
    combo: tuple[int, ...]
    column: int
    value: float
    ess: float | None
    link: bool = False  # combo is (r,): row r of a noisy node's links and leak
    ranked: str = ""  # "weight" (combo is (i,): parent i) or "variance" of a ranked node


def _cells(
    model: Model, target: str, evidence: Evidence, include_fixed: bool
) -> tuple[list[_Spec], int]:
    """The free cells of every table that can take part in the query, and how many rows were fixed."""
    surgery = intervene(model, evidence.do)
    involved = surgery.ancestors(
        [target, *evidence.hard, *evidence.likelihood, *evidence.soft]
    ) - set(evidence.do)
    specs: list[_Spec] = []
    fixed = 0
    for node in model.nodes:
        if node.id not in involved or node.card < 2:
            continue
        if isinstance(node.form, Ranked):
            specs += _ranked_specs(node, node.form)
            continue
        if isinstance(node.form, NoisyMax):
            fixed += _link_cells(node, node.form, include_fixed, specs)
            continue
        for combo, row in node.rows():
            ess = float(node.ess[combo])
            known = math.isfinite(ess)
            if not known and not include_fixed and np.all((row == 0) | (row == 1)):
                fixed += 1
                continue
            columns = _free_columns(row)
            for column in columns:
                specs.append(_Spec(node, combo, column, float(row[column]), ess if known else None))
    return specs, fixed


def _link_cells(node: Node, form: NoisyMax, include_fixed: bool, specs: list[_Spec]) -> int:
    """The free cells of a noisy node's links and leak (each with its own ess), added to `specs`;
    how many definitional rows (no ess, every cell 0 or 1) were held fixed."""
    fixed = 0
    for r, row in enumerate(form.rows):
        ess = float(form.ess[r])
        known = math.isfinite(ess)
        if not known and not include_fixed and np.all((row == 0) | (row == 1)):
            fixed += 1
            continue
        for column in _free_columns(row):
            specs.append(
                _Spec(node, (r,), column, float(row[column]), ess if known else None, True)
            )
    return fixed


def _ranked_specs(node: Node, form: Ranked) -> list[_Spec]:
    """A ranked node's parameters: each weight (not under mixminmax, whose weights are unused)
    and the variance."""
    specs = (
        []
        if form.function == "mixminmax"
        else [
            _Spec(node, (i,), -1, float(w), _known(float(e)), ranked="weight")
            for i, (w, e) in enumerate(zip(form.weights, form.ess, strict=True))
        ]
    )
    return [
        *specs,
        _Spec(node, (), -1, form.variance, _known(form.variance_ess), ranked="variance"),
    ]


def _known(ess: float) -> float | None:
    return ess if math.isfinite(ess) else None


def _free_columns(row: np.ndarray) -> list[int]:
    """The cells reported for a row: one per free parameter.

    A binary row has one parameter (its second cell). In a longer row every cell is one, except that
    when exactly two cells are non-zero, moving the first is moving the second the other way, so only
    the second is kept.

    >>> _free_columns(np.array([0.7, 0.3])), _free_columns(np.array([0.0, 0.12, 0.88]))
    ([1], [0, 2])
    """
    if row.size == 2:
        return [1]
    nonzero = np.flatnonzero(row)
    return [c for c in range(row.size) if not (nonzero.size == 2 and c == nonzero[0])]


def _evaluator(model: Model, target: str, state: int, evidence: Evidence) -> Any:
    """A function (specs, thetas) -> values, one per batch element.

    Without soft evidence the values are pairs (P(target=state, e), P(e)); with it, the posterior.
    """
    if evidence.soft:

        def soft(specs: Sequence[_Spec], thetas: np.ndarray) -> np.ndarray:
            tables = _tables(specs, thetas)
            marginal = posterior(model, [target], evidence, tables=tables).marginals[target]
            return np.asarray(marginal[:, state])

        return soft
    surgery, hard, weights, _ = prepare(model, evidence)

    def linear(specs: Sequence[_Spec], thetas: np.ndarray) -> np.ndarray:
        joint = contract(
            surgery, [target], hard=hard, weights=weights, tables=_tables(specs, thetas)
        )
        return np.stack([joint[:, state], joint.sum(axis=-1)], axis=-1)

    return linear


def _tables(specs: Sequence[_Spec], thetas: np.ndarray) -> dict[str, np.ndarray]:
    """Batched tables: element i has spec i's cell set to thetas[i] (its row co-varied)."""
    tables: dict[str, np.ndarray] = {}
    for i, (spec, theta) in enumerate(zip(specs, thetas, strict=True)):
        node = spec.node
        if node.id not in tables:
            tables[node.id] = np.broadcast_to(node.table, (len(specs), *node.table.shape)).copy()
        if spec.ranked and isinstance(node.form, Ranked):
            if spec.ranked == "weight":
                weights = node.form.weights.copy()
                weights[spec.combo] = theta
                tables[node.id][i] = node.form.expand(weights=weights)
            else:
                tables[node.id][i] = node.form.expand(variance=float(theta))
            continue
        if spec.link and isinstance(node.form, NoisyMax):
            rows = node.form.rows.copy()
            rows[spec.combo] = covary(rows[spec.combo], spec.column, theta)
            tables[node.id][i] = node.form.expand(rows)
            continue
        tables[node.id][(i, *spec.combo)] = covary(node.table[spec.combo], spec.column, theta)
    return tables


def _batched(function: Any, specs: Sequence[_Spec], thetas: np.ndarray) -> np.ndarray:
    """`function` over (spec, theta) pairs, in chunks small enough to bound memory."""
    sizes = {s.node.id: s.node.table.size for s in specs}
    chunk = max(1, BATCH_CELLS // max(1, sum(sizes.values())))
    parts = [
        function(specs[i : i + chunk], thetas[i : i + chunk]) for i in range(0, len(specs), chunk)
    ]
    return np.concatenate(parts)


def sensitivity(
    model: Model,
    target: str,
    state: str,
    evidence: Evidence,
    *,
    width: float = 0.1,
    threshold: float | None = None,
    include_fixed: bool = False,
) -> Sensitivity:
    """One-way sensitivity of P(target=state | evidence) to every cell that can move it.

    `evidence` must be resolved (`Evidence.resolved`). `width` is the half-width of the plausible
    interval of rows without an ess; `threshold` asks for the value each cell would need for the
    target to reach it (None where no value in [0, 1] does).
    """
    target = model.resolve(target)
    index = model[target].state_index(state)
    state = model[target].states[index]
    for kind, given in (
        (f"observed ({param('hard')})", evidence.hard),
        ("set by do()", evidence.do),
    ):
        if target in given:
            raise EvidenceError(f"{target} is {kind}, so its probability cannot move; drop it")
    if not 0 < width <= 1:
        raise EvidenceError(f"the range half-width must be in (0, 1]; got {width:g}")
    if threshold is not None and not 0 <= threshold <= 1:
        raise EvidenceError(f"the threshold must be a probability in [0, 1]; got {threshold:g}")
    result = posterior(model, [target], evidence)  # raises if the evidence is impossible
    baseline = float(result.marginals[target][index])
    specs, fixed = _cells(model, target, evidence, include_fixed)
    function = _evaluator(model, target, index, evidence)
    ranked = [s for s in specs if s.ranked]
    cells: list[Cell] = []
    if evidence.soft:
        cells = _soft_cells(function, specs, width, threshold)
    else:
        cells = _linear_cells(function, [s for s in specs if not s.ranked], width, threshold)
        if ranked:  # not linear in a weight or the variance: evaluated at points

            def ratio(specs: Sequence[_Spec], thetas: np.ndarray) -> np.ndarray:
                pairs = function(specs, thetas)
                return np.asarray(pairs[:, 0] / pairs[:, 1])

            cells += _soft_cells(ratio, ranked, width, threshold)
    cells.sort(key=lambda c: (-c.swing, -abs(c.derivative)))
    return Sensitivity(
        target, state, baseline, tuple(cells), evidence, threshold, not evidence.soft, fixed
    )


def _cell(spec: _Spec, **numbers: Any) -> Cell:
    link = parameter = None
    parents: dict[str, str]
    if spec.ranked and isinstance(spec.node.form, Ranked):
        parameter, parents = "variance", {}
        if spec.ranked == "weight":
            parameter = f"weight of {spec.node.form.parents[spec.combo[0]]}"
    elif spec.link and isinstance(spec.node.form, NoisyMax):
        parent, state = spec.node.form.labels[spec.combo[0]]
        link, parents = ("leak" if not state else f"{parent}={state}"), {}
    else:
        parents = dict(zip(spec.node.parents, spec.node.row_label(spec.combo), strict=True))
    return Cell(
        link=link,
        parameter=parameter,
        node=spec.node.id,
        parents=parents,
        state="" if spec.ranked else spec.node.states[spec.column],
        value=spec.value,
        ess=spec.ess,
        **numbers,
    )


@dataclass(frozen=True)
class _Ratio:
    """(n0 + sn*(theta - t0)) / (d0 + sd*(theta - t0)): P(target=state, e) / P(e) along one cell."""

    t0: float
    n0: float
    d0: float
    sn: float
    sd: float

    def __call__(self, theta: float) -> float:
        numerator = self.n0 + self.sn * (theta - self.t0)
        denominator = self.d0 + self.sd * (theta - self.t0)
        if denominator > 1e-15 * self.d0:
            return float(numerator / denominator)
        # P(e) vanishes at this end (so does P(target, e)): the limit of the ratio
        return float(self.sn / self.sd)

    def derivative(self) -> float:
        return float((self.sn * self.d0 - self.n0 * self.sd) / self.d0**2)

    def solve(self, target: float) -> float | None:
        """The theta in [0, 1] at which the ratio equals `target` (None if there is none)."""
        slope = self.sn - target * self.sd
        if slope == 0:
            return None
        theta = self.t0 + (target * self.d0 - self.n0) / slope
        if not -1e-12 <= theta <= 1 + 1e-12:
            return None
        theta = min(1.0, max(0.0, theta))
        return float(theta) if self.d0 + self.sd * (theta - self.t0) > 1e-15 * self.d0 else None


def _linear_cells(
    function: Any, specs: list[_Spec], width: float, threshold: float | None
) -> list[Cell]:
    """Exact: two evaluations per cell (one batch for all cells) give the ratio of linear functions."""
    if not specs:  # nothing can move the target (every cell is fixed or d-separated from it)
        return []
    theta0 = np.array([s.value for s in specs])
    theta1 = np.where(theta0 <= 0.5, 1.0, 0.0)
    values = _batched(function, [*specs, *specs], np.concatenate([theta0, theta1]))
    n = len(specs)
    cells = []
    for i, spec in enumerate(specs):
        (n0, d0), (n1, d1) = values[i], values[n + i]
        run = theta1[i] - theta0[i]
        f = _Ratio(theta0[i], n0, d0, (n1 - n0) / run, (d1 - d0) / run)
        base, middle = n0 / d0, (n0 + n1) / (d0 + d1)
        if abs(middle - base) <= 1e-10 * max(abs(base), abs(middle)):
            continue  # a ratio of linear functions that is equal at two points is constant
        a, b = plausible_range(spec.value, spec.ess, width)
        ends = (f(a), f(b))
        cells.append(
            _cell(
                spec,
                derivative=f.derivative(),
                low=min(ends),
                high=max(ends),
                range=(a, b),
                at_range=ends,
                threshold_value=None if threshold is None else f.solve(threshold),
            )
        )
    return cells


def _soft_cells(
    function: Any, specs: list[_Spec], width: float, threshold: float | None
) -> list[Cell]:
    """Soft evidence: exact evaluations at points give the derivative, range and threshold."""
    if not specs:
        return []
    ranges, grids, points, central = [], [], [], []
    for spec in specs:
        if spec.ranked:  # a positive number: steps relative to it, thresholds within x/÷ 100
            a, b = ranked_range(spec.ranked, spec.value, spec.ess)
            lo, hi, scale = spec.value / 100, spec.value * 100, spec.value
            grid = np.geomspace(lo, hi, GRID)
        else:
            a, b = plausible_range(spec.value, spec.ess, width)
            lo, hi, scale = SOFT_EDGE, 1 - SOFT_EDGE, 1.0
            grid = np.linspace(lo, hi, GRID)
        ranges.append((a, b))
        grids.append(grid)
        t0 = min(hi, max(lo, spec.value))
        step = min(1e-4 * scale, (t0 - lo) / 2, (hi - t0) / 2)
        central.append(step >= 1e-6 * scale)
        if central[-1]:  # five-point central difference
            stencil = t0 + step * np.array([-2.0, -1.0, 1.0, 2.0])
        else:  # second-order one-sided difference at an edge
            step = 1e-5 if t0 - lo < hi - t0 else -1e-5
            stencil = t0 + step * np.array([0.0, 1.0, 2.0, 3.0])
        span = np.clip(np.linspace(a, b, GRID), lo, hi)
        points.append(np.concatenate([stencil, span, grid]))
    thetas = np.array(points)
    per = thetas.shape[1]
    flat = [s for s in specs for _ in range(per)]
    values = _batched(function, flat, thetas.reshape(-1)).reshape(len(specs), per)
    cells: list[Cell] = []
    kept: list[int] = []
    for i, spec in enumerate(specs):
        row, theta = values[i], thetas[i]
        span, whole = row[4 : 4 + GRID], row[4 + GRID :]
        finite = whole[np.isfinite(whole)]
        if finite.size == 0 or np.ptp(finite) <= 1e-10 * max(1e-300, np.max(np.abs(finite))):
            continue
        step = theta[1] - theta[0]
        if central[i]:
            derivative = (row[0] - 8 * row[1] + 8 * row[2] - row[3]) / (12 * step)
        else:
            derivative = (-3 * row[0] + 4 * row[1] - row[2]) / (2 * step)
        kept.append(i)
        cells.append(
            _cell(
                spec,
                derivative=float(derivative),
                low=float(np.nanmin(span)),
                high=float(np.nanmax(span)),
                range=ranges[i],
                at_range=(float(span[0]), float(span[-1])),
            )
        )
    if threshold is not None:
        cuts = _soft_thresholds(
            function,
            [specs[i] for i in kept],
            np.array([grids[i] for i in kept]).reshape(len(kept), GRID),
            values[kept, 4 + GRID :],
            threshold,
        )
        cells = [replace(c, threshold_value=cut) for c, cut in zip(cells, cuts, strict=True)]
    return cells


def _soft_thresholds(
    function: Any, specs: list[_Spec], grids: np.ndarray, values: np.ndarray, threshold: float
) -> list[float | None]:
    """Per cell (with its grid of points), the crossing of `threshold` nearest its value: bisection between bracketing points.

    The bisection steps of all cells share one batched evaluation each.
    """
    cuts: list[float | None] = [None] * len(specs)
    brackets: list[tuple[int, float, float]] = []
    for k, spec in enumerate(specs):
        grid, gap = grids[k], values[k] - threshold
        best: tuple[float, int] | None = None
        for j in range(len(grid) - 1):
            if np.isfinite(gap[j]) and np.isfinite(gap[j + 1]) and gap[j] * gap[j + 1] <= 0:
                distance = abs((grid[j] + grid[j + 1]) / 2 - spec.value)
                if best is None or distance < best[0]:
                    best = (distance, j)
        if best is not None:
            j = best[1]
            if gap[j] == 0 or gap[j + 1] == 0:
                cuts[k] = float(grid[j] if gap[j] == 0 else grid[j + 1])
            else:
                brackets.append((k, grid[j], grid[j + 1]))
    if brackets:
        chosen = [specs[k] for k, _, _ in brackets]
        left = np.array([b[1] for b in brackets])
        right = np.array([b[2] for b in brackets])
        sign_left = np.sign(_batched(function, chosen, left) - threshold)
        for _ in range(40):
            middle = (left + right) / 2
            same = np.sign(_batched(function, chosen, middle) - threshold) == sign_left
            left, right = np.where(same, middle, left), np.where(same, right, middle)
        for (k, _, _), value in zip(brackets, (left + right) / 2, strict=True):
            cuts[k] = float(value)
    return cuts
