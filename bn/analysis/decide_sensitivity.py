"""How the maximum expected utility and the optimal policy move with each chance table's cells.

Each cell moves alone over its plausible interval (as in `bn.analysis.sensitivity`: the 5-95% interval
of Beta(ess*p, ess*(1-p)) when its row has an ess, else p +/- width), the rest of its row rescaled to
keep the sum 1; the diagram is solved exactly at both ends. A cell whose move changes the best option
of some possible row of some policy is flagged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bn.analysis.decide import Solution, solve
from bn.analysis.sensitivity import covary, plausible_range
from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.influence import Diagram


@dataclass(frozen=True)
class MeuCell:
    node: str
    parents: dict[str, str]
    state: str
    value: float
    low: float
    high: float
    meu_low: float
    meu_high: float
    policy_changes: bool

    @property
    def swing(self) -> float:
        return abs(self.meu_high - self.meu_low)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "parents": self.parents,
            "state": self.state,
            "value": self.value,
            "range": [self.low, self.high],
            "meu_low": self.meu_low,
            "meu_high": self.meu_high,
            "swing": self.swing,
            "policy_changes": self.policy_changes,
        }


def _bests(solution: Solution) -> dict[tuple[str, int], str]:
    return {
        (p.node, i): r.best
        for p in solution.decisions
        for i, r in enumerate(p.rows)
        if r.probability > 1e-12
    }


def meu_sensitivity(
    diagram: Diagram,
    evidence: Evidence | None = None,
    width: float = 0.1,
    include_fixed: bool = False,
) -> tuple[Solution, list[MeuCell]]:
    """The solution as the tables are, and every free chance cell's effect, largest swing first."""
    evidence = evidence or Evidence()
    base = solve(diagram, evidence)
    best = _bests(base)
    cells = []
    for node in diagram.network:
        if diagram.is_decision(node.id) or node.card < 2 or node.id in evidence.do:
            continue
        for combo, row in node.rows():
            ess = float(node.ess[combo])
            if not math.isfinite(ess) and not include_fixed and np.all((row == 0) | (row == 1)):
                continue
            nonzero = np.flatnonzero(row)
            columns = (
                [1]
                if row.size == 2
                else [c for c in range(row.size) if not (nonzero.size == 2 and c == nonzero[0])]
            )
            for column in columns:
                value = float(row[column])
                low, high = plausible_range(value, ess if math.isfinite(ess) else None, width)
                meus, changes = [], False
                for theta in (low, high):
                    table = node.table.copy()
                    table[combo] = covary(row, column, theta)
                    moved = diagram.with_network(
                        diagram.network.with_nodes([replace(node, table=table)])
                    )
                    try:
                        solution = solve(moved, evidence)
                    except EvidenceError:
                        meus.append(math.nan)
                        continue
                    meus.append(solution.meu)
                    after = _bests(solution)
                    changes |= any(after.get(k, v) != v for k, v in best.items())
                cells.append(
                    MeuCell(
                        node.id,
                        dict(zip(node.parents, node.row_label(combo), strict=True)),
                        node.states[column],
                        value,
                        low,
                        high,
                        meus[0],
                        meus[1],
                        changes,
                    )
                )
    cells.sort(key=lambda c: -c.swing if math.isfinite(c.swing) else 0.0)
    return base, cells


@dataclass(frozen=True)
class MeuUncertainty:
    """The MEU under draws of every row with an ess (Dirichlet(ess x row), zeros kept)."""

    point: float
    draws: np.ndarray
    seed: int
    uncertain_rows: int
    first_best: dict[
        str, float
    ]  # share of draws in which each option of the first decision is best

    def to_dict(self) -> dict[str, Any]:
        d = self.draws
        return {
            "target": "meu",
            "n": int(d.size),
            "seed": self.seed,
            "point": self.point,
            "mean": float(d.mean()),
            "median": float(np.median(d)),
            "interval_90": [float(x) for x in np.quantile(d, [0.05, 0.95])],
            "interval_95": [float(x) for x in np.quantile(d, [0.025, 0.975])],
            "std": float(d.std(ddof=1)) if d.size > 1 else 0.0,
            "uncertain_rows": self.uncertain_rows,
            "first_decision_best": self.first_best,
        }


def meu_uncertainty(
    diagram: Diagram, evidence: Evidence | None = None, n: int = 1000, seed: int = 0
) -> MeuUncertainty:
    """The spread of the MEU over `n` parameter draws, each solved exactly."""
    evidence = evidence or Evidence()
    base = solve(diagram, evidence)
    rng = np.random.default_rng(seed)
    uncertain = [
        (node, combo)
        for node in diagram.network
        if not diagram.is_decision(node.id) and node.id not in evidence.do
        for combo, _ in node.rows()
        if math.isfinite(float(node.ess[combo]))
    ]
    first = base.decisions[0] if base.decisions and len(base.decisions[0].rows) == 1 else None
    counts = dict.fromkeys(diagram.network[first.node].states, 0) if first else {}
    values = []
    for _ in range(n):
        tables = {node.id: node.table.copy() for node, _ in uncertain}
        for node, combo in uncertain:
            row = node.table[combo]
            live = row > 0
            drawn = np.zeros(row.size)
            drawn[live] = rng.dirichlet(float(node.ess[combo]) * row[live])
            tables[node.id][combo] = drawn
        nodes = [replace(diagram.network[k], table=t) for k, t in tables.items()]
        moved = diagram.with_network(diagram.network.with_nodes(nodes))
        try:
            solution = solve(moved, evidence)
        except EvidenceError:
            continue  # the evidence is impossible under this draw
        values.append(solution.meu)
        if first is not None:
            counts[solution.decisions[0].rows[0].best] += 1
    total = max(len(values), 1)
    return MeuUncertainty(
        base.meu,
        np.array(values),
        seed,
        len(uncertain),
        {k: v / total for k, v in counts.items()},
    )
