"""Every scenario side by side: P(target) under each, its change against the baseline and its ratio.

The baseline is the scenario named `baseline` if the model has one, else the model with no scenario
(`bn.scenarios.baseline`); evidence given on top goes into every scenario (`bn.scenarios.pose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bn.analysis.uncertainty import sample
from bn.engine import posterior
from bn.errors import BNError, EvidenceError, param
from bn.evidence import Evidence, parse_target
from bn.files import SCENARIOS_TOML
from bn.model import Model
from bn.scenarios import baseline, load_scenarios, pose


@dataclass(frozen=True)
class Row:
    """One scenario's answer: P(target = state), its change against the baseline, and its ratio."""

    name: str
    description: str
    probability: float | None  # None when the scenario's evidence is impossible (see `error`)
    delta: float | None  # probability minus the baseline's (a fraction; shown in percentage points)
    ratio: float | None  # probability / baseline (None when the baseline is 0)
    interval_90: tuple[float, float] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "probability": self.probability,
            "delta": self.delta,
            "ratio": self.ratio,
        }
        if self.interval_90 is not None:
            data["interval_90"] = list(self.interval_90)
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class Comparison:
    """The scenario table: target, baseline and one row per scenario in file order."""

    target: str
    state: str
    baseline: str | None  # the scenario named `baseline`, or None for "no evidence"
    baseline_probability: float
    rows: tuple[Row, ...]
    draws: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn scenarios --json`."""
        data: dict[str, Any] = {
            "target": f"{self.target}={self.state}",
            "baseline": {"name": self.baseline, "probability": self.baseline_probability},
            "scenarios": [r.to_dict() for r in self.rows],
        }
        if self.draws is not None:
            data["n"] = self.draws
            data["seed"] = self.seed
        return data


def compare(
    model: Model,
    target: str | None = None,
    *,
    extra: Evidence | None = None,
    intervals: bool = False,
    draws: int = 100_000,
    seed: int = 0,
) -> Comparison:
    """P(target) under each scenario of `model` (with the `extra` evidence on top of each).

    `target` is `NODE=STATE` or `NODE` (default: the model's first target, state `yes` if it has
    one). The baseline is the scenario named `baseline`, else the model with no scenario.
    With `intervals`, every scenario also gets the 90% interval from parameter uncertainty (one
    seed for all, so the scenarios share their parameter draws).

    >>> import bn
    >>> table = compare(bn.load(bn.packaged_model_path()))
    >>> [(r.name, round(r.probability, 4)) for r in table.rows[:2]]
    [('baseline', 0.168), ('metaculus_low', 0.0744)]
    """
    extra = extra or Evidence()
    scenarios = load_scenarios(model)
    if not scenarios:
        where = model.path / SCENARIOS_TOML if model.path else SCENARIOS_TOML
        raise BNError(f"the model has no scenarios: {where} is missing or has no [scenarios.NAME]")
    if target is not None and not target.strip():
        raise BNError("the target is empty: give NODE=STATE, or leave it out for the model's first")
    node, state = parse_target(model, target or model.default_targets()[0])
    index = model[node].state_index(state)
    questions = [pose(model, name, extra) for name in scenarios]
    values: list[float | None] = []
    errors: list[str | None] = []
    for q in questions:
        try:
            values.append(float(posterior(q[0], [node], q[1]).marginals[node][index]))
            errors.append(None)
        except EvidenceError as error:  # this scenario cannot hold with the given evidence
            values.append(None)
            errors.append(str(error))
    names = list(scenarios)
    base_model, base_evidence, base_name = baseline(model, extra)
    try:
        base = float(posterior(base_model, [node], base_evidence).marginals[node][index])
    except EvidenceError as error:
        raise EvidenceError(f"the baseline: {error.render(param)}") from None
    spans: list[tuple[float, float] | None] = [None] * len(values)
    if intervals:
        possible = [i for i, v in enumerate(values) if v is not None]
        pairs = [questions[i] for i in possible]
        for i, row in zip(possible, sample(pairs, node, state, n=draws, seed=seed), strict=True):
            spans[i] = _interval(row)
    rows = tuple(
        Row(
            name=name,
            description=scenarios[name].description,
            probability=p,
            delta=None if p is None else p - base,
            ratio=p / base if p is not None and base > 0 else None,
            interval_90=span,
            error=error,
        )
        for name, p, span, error in zip(names, values, spans, errors, strict=True)
    )
    return Comparison(
        node,
        state,
        base_name,
        base,
        rows,
        draws if intervals else None,
        seed if intervals else None,
    )


def _interval(draws: Any) -> tuple[float, float] | None:
    valid = draws[np.isfinite(draws)]
    if not valid.size:
        return None
    low, high = np.quantile(valid, [0.05, 0.95])
    return float(low), float(high)
