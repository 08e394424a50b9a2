"""Scoring forecasts on what happened: the Brier score of each scenario and each published forecast.

For a yes/no event with forecast probability p and outcome o (1 if it happened, 0 if not) the Brier
score is (p - o)^2: 0 is a perfect forecast, 0.25 what "50%" always earns, 1 the worst. The events
scored are the model's targets at their event state (`yes`) whose node `outcomes.toml` records.

>>> brier(0.3, False), brier(0.3, True)
(0.09, 0.49)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bn.engine import posterior
from bn.errors import BNError
from bn.evidence import Evidence
from bn.model import Model
from bn.outcomes import Forecast, Record, read_record

FORMULA = "Brier score = (p − o)², o = 1 if the event happened and 0 if not (0 is perfect)"


def brier(p: float, happened: bool) -> float:
    return round((p - (1.0 if happened else 0.0)) ** 2, 12)


@dataclass(frozen=True)
class Score:
    """One scenario's or forecast's probabilities for the scored events, and their Brier scores."""

    name: str
    probabilities: dict[str, float | None]  # event label -> p (None: not scored)
    scores: dict[str, float | None]
    why: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "probabilities": self.probabilities, "scores": self.scores}


@dataclass(frozen=True)
class Scoring:
    events: tuple[tuple[str, str, bool], ...]  # (node, event state, happened)
    scenarios: tuple[Score, ...]
    forecasts: tuple[Score, ...]


def events(model: Model, record: Record) -> tuple[tuple[str, str, bool], ...]:
    """The scored events: each model target with a recorded outcome, at its event state."""
    seen = record.observed()
    found = []
    for target in model.default_targets():
        if target in seen:
            state = model[target].event
            found.append((target, state, seen[target] == state))
    return tuple(found)


def label(node: str, state: str) -> str:
    return f"{node}={state}"


def score_scenarios(model: Model, record: Record | None = None) -> Scoring:
    """The Brier score of every scenario (`scenarios.toml`) and every forecast on the outcomes."""
    from bn import scenarios

    record = record if record is not None else read_record(model)[0]
    scored = events(model, record)
    rows = []
    for name in scenarios.load_scenarios(model):
        changed, evidence = scenarios.apply(model, name)
        probs: dict[str, float | None] = {}
        scores: dict[str, float | None] = {}
        try:
            result = posterior(changed, [n for n, _, _ in scored], evidence)
        except BNError as error:  # impossible evidence: nothing to score
            rows.append(Score(name, probs, scores, str(error)))
            continue
        for node, state, happened in scored:
            p = float(result.marginals[node][changed[node].state_index(state)])
            probs[label(node, state)] = p
            scores[label(node, state)] = brier(p, happened)
        rows.append(Score(name, probs, scores))
    return Scoring(
        scored, tuple(rows), tuple(score_forecast(f, record, scored) for f in record.forecasts)
    )


def score_forecast(
    forecast: Forecast, record: Record, scored: tuple[tuple[str, str, bool], ...]
) -> Score:
    """A forecast is scored on its event when its node was observed and every condition it gives
    was observed to hold; otherwise it says why not."""
    seen = record.observed()
    key = label(forecast.node, forecast.state)
    if forecast.node not in seen:
        return Score(forecast.name, {key: None}, {key: None}, "no recorded outcome")
    failed = [f"{n}={s}" for n, s in forecast.given.items() if seen.get(n) != s]
    if failed:
        return Score(
            forecast.name, {key: None}, {key: None}, f"condition {', '.join(failed)} did not occur"
        )
    p = forecast.on_horizon(record.horizon)
    return Score(forecast.name, {key: p}, {key: brier(p, seen[forecast.node] == forecast.state)})


def conditional_probability(model: Model, forecast: Forecast, evidence: Evidence) -> float:
    """P(forecast's event | its conditions, evidence) under `model`."""
    given = Evidence(hard={**evidence.hard, **forecast.given}, do=dict(evidence.do),
                     likelihood=dict(evidence.likelihood), soft=dict(evidence.soft))  # fmt: skip
    result = posterior(model, [forecast.node], given.resolved(model))
    return float(result.marginals[forecast.node][model[forecast.node].state_index(forecast.state)])
