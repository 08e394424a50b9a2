"""What should we watch? The value of observing each node for a target.

For each candidate X (by default every node neither observed nor set, other than the target; when
the model's `model.toml` marks nodes `observable = true`, only those, unless `every_node`): the
mutual information I(X; T | e) in bits, from the posterior joint of (X, T), and how far P(T=state)
would move when X is observed: its lowest and highest value across X's possible states. Under
soft (Jeffrey) evidence the joint is the updated one and observing X conditions it; the soft
marginal is not re-fitted after X.

>>> rain = Node("rain", ("no", "yes"), (), np.array([0.5, 0.5]))
>>> wet = Node("wet", ("dry", "wet"), ("rain",), np.array([[1.0, 0.0], [0.0, 1.0]]))
>>> v = value_of_information(Model((rain, wet)), "rain", Evidence(), state="yes")
>>> v.indicators[0].node, v.indicators[0].mutual_information, v.indicators[0].high
('wet', 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bn.engine import Conditioned, condition
from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.metadata import observable_nodes
from bn.model import Model, Node  # noqa: F401  (Node: doctest)


@dataclass(frozen=True)
class Indicator:
    """One node worth (or not worth) watching."""

    node: str
    mutual_information: float  # bits
    low: float  # lowest P(target=state | X=x, e) over the states x that can occur
    high: float
    low_state: str
    high_state: str
    states: Mapping[str, tuple[float, float]]  # x -> (P(X=x | e), P(target=state | X=x, e))

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "mutual_information": self.mutual_information,
            "low": self.low,
            "high": self.high,
            "low_state": self.low_state,
            "high_state": self.high_state,
            "states": {x: {"probability": p, "target": t} for x, (p, t) in self.states.items()},
        }


@dataclass(frozen=True)
class ValueOfInformation:
    """Candidates sorted by mutual information with the target, largest first."""

    target: str
    state: str
    probability: float  # P(target=state | e)
    entropy: float  # H(target | e) in bits: no indicator can tell more
    evidence: Evidence
    indicators: tuple[Indicator, ...]

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn voi --json`."""
        return {
            "target": self.target,
            "state": self.state,
            **self.evidence.to_dict(),
            "probability": self.probability,
            "entropy": self.entropy,
            "candidates": [i.to_dict() for i in self.indicators],
        }


def mutual_information(table: np.ndarray) -> float:
    """I(X; T) in bits of a joint distribution given as a 2-D array (rows X, columns T).

    >>> mutual_information(np.array([[0.25, 0.25], [0.25, 0.25]]))
    0.0
    >>> mutual_information(np.array([[0.5, 0.0], [0.0, 0.5]]))
    1.0
    """
    table = table / table.sum()
    outer = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True)
    mask = table > 0
    value = float(np.sum(table[mask] * np.log2(table[mask] / outer[mask])))
    return max(0.0, value) if value > 1e-15 else 0.0


def entropy(p: np.ndarray) -> float:
    """H(p) in bits.

    >>> entropy(np.array([0.5, 0.5]))
    1.0
    """
    p = p[p > 0]
    return float(-np.sum(p * np.log2(p))) + 0.0


def value_of_information(
    model: Model,
    target: str,
    evidence: Evidence,
    *,
    state: str | None = None,
    candidates: Sequence[str] = (),
    every_node: bool = False,
) -> ValueOfInformation:
    """Mutual information of each candidate with `target` and the range of P(target=state).

    `state` defaults to the target's event state (`yes` if it has one, else its last state).
    Without `candidates`, the nodes model.toml marks `observable = true` (every node if it marks
    none, or with `every_node`), less the target and the nodes the evidence observes or sets.
    """
    evidence = evidence.resolved(model)
    target = model.resolve(target)
    node = model[target]
    index = node.state_index(node.event if state is None else state)
    fixed = {*evidence.hard, *evidence.do}
    if target in fixed:
        raise EvidenceError(f"{target} is already observed or set; there is nothing left to learn")
    if candidates:
        names = list(dict.fromkeys(model.resolve(c) for c in candidates))
        for name in names:
            if name == target:
                raise EvidenceError(f"{name} is the target; name other nodes as candidates")
            if name in fixed:
                raise EvidenceError(
                    f"{name} is already observed or set by the evidence; drop it from the candidates"
                )
    else:
        observable = None if every_node else observable_nodes(model)
        pool = observable if observable is not None else model.ids
        names = [n for n in pool if n not in fixed and n != target]
    given = condition(model, evidence)  # the evidence (soft evidence's fit included) once for all
    marginal = given.joint([target])
    indicators = [_indicator(model, given, name, target, index) for name in names]
    indicators.sort(key=lambda i: (-i.mutual_information, -(i.high - i.low)))
    return ValueOfInformation(
        target,
        node.states[index],
        float(marginal[index]),
        entropy(marginal),
        evidence,
        tuple(indicators),
    )


def _indicator(model: Model, given: Conditioned, name: str, target: str, index: int) -> Indicator:
    table = given.joint([name, target])
    px = table.sum(axis=1)
    states: dict[str, tuple[float, float]] = {}
    for x, p in zip(model[name].states, px, strict=True):
        if p > 0:
            states[x] = (float(p), float(table[model[name].states.index(x), index] / p))
    low_state = min(states, key=lambda x: states[x][1])
    high_state = max(states, key=lambda x: states[x][1])
    return Indicator(
        node=name,
        mutual_information=mutual_information(table),
        low=states[low_state][1],
        high=states[high_state][1],
        low_state=low_state,
        high_state=high_state,
        states=states,
    )
