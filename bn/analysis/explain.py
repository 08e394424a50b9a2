"""Why did the target move? Each piece of evidence on its own, the MPE, and the likeliest paths.

- Leave-one-out: for each piece of evidence, P(target | all evidence) against P(target | all but
  that piece), and the piece's log-likelihood ratio for the target, ln(odds with / odds without).
  For an observation or a likelihood report this is ln P(piece | target, rest) / P(piece | not
  target, rest), Good's weight of evidence (when no soft evidence is present: a soft marginal is
  re-fitted after the other evidence); for do(), soft evidence, and pieces alongside soft evidence
  it is the same change in log-odds, which is what the piece does to the target.
- The most probable explanation (MPE): the likeliest joint state of every node that is neither
  observed nor set, given the evidence, by max-product variable elimination (in log space, so long
  chains of small numbers do not underflow), with its posterior probability.
- Escalation paths: the most probable joint states of the target's unobserved ancestors together
  with target=state, and the share of P(target=state | evidence) that each one carries.

>>> rain = Node("rain", ("no", "yes"), (), np.array([0.8, 0.2]))
>>> wet = Node("wet", ("dry", "wet"), ("rain",), np.array([[0.9, 0.1], [0.2, 0.8]]))
>>> m = Model((rain, wet))
>>> e = m.evidence(hard={"wet": "wet"})
>>> mpe = most_probable_explanation(m, e)
>>> mpe.states, round(mpe.probability, 3)
({'rain': 'yes'}, 0.667)
>>> round(explain(m, "rain", "yes", e).pieces[0].likelihood_ratio, 6)
8.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bn.engine import contract, intervene, joint, posterior, prepare
from bn.errors import EvidenceError, ModelError, param
from bn.evidence import KIND_NAMES, Evidence
from bn.model import Model, Node  # noqa: F401  (Node: doctest)

MAX_FACTOR = 10_000_000  # cells in one intermediate table of the MPE elimination
MAX_PATHS_JOINT = 1_000_000  # cells in the joint of the target's ancestors


@dataclass(frozen=True)
class Piece:
    """One piece of evidence and what it does to P(target=state)."""

    kind: str  # evidence, do, likelihood or soft
    node: str
    value: str | Mapping[str, float]
    with_all: float  # P(target=state | all the evidence)
    without: float | None  # P(target=state | all but this piece); None if the rest is impossible
    llr: float | None  # ln(odds with / odds without); +-inf when it settles the question

    @property
    def likelihood_ratio(self) -> float | None:
        return None if self.llr is None else math.exp(self.llr)

    def describe(self) -> str:
        if isinstance(self.value, str):
            text = f"{self.node} = {self.value}"
            return f"do({text})" if self.kind == "do" else text
        weights = ", ".join(f"{s}:{w:g}" for s, w in self.value.items())
        return f"{self.kind} {self.node}: {weights}"

    def to_dict(self) -> dict[str, Any]:
        finite = self.llr is not None and math.isfinite(self.llr)
        return {
            "kind": self.kind,
            "node": self.node,
            "value": self.value if isinstance(self.value, str) else dict(self.value),
            "with": self.with_all,
            "without": self.without,
            "llr": self.llr if finite else None,
            "likelihood_ratio": self.likelihood_ratio if finite else None,
        }


@dataclass(frozen=True)
class Assignment:
    """A joint state of some nodes and its probability."""

    states: Mapping[str, str]
    probability: float
    share: float | None = None  # for a path: its part of P(target=state | evidence)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"states": dict(self.states), "probability": self.probability}
        if self.share is not None:
            out["share"] = self.share
        return out


@dataclass(frozen=True)
class Explanation:
    """Everything `bn explain` reports."""

    target: str
    state: str
    probability: float  # with all the evidence
    prior: float  # with none
    evidence: Evidence
    pieces: tuple[Piece, ...]
    mpe: Assignment
    ancestors: tuple[str, ...] = ()  # the nodes of each path, in topological order
    paths: tuple[Assignment, ...] = ()
    paths_note: str = ""  # why no paths were computed, when they were asked for by default

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn explain --json`."""
        return {
            "target": self.target,
            "state": self.state,
            **self.evidence.to_dict(),
            "probability": self.probability,
            "prior": self.prior,
            "pieces": [p.to_dict() for p in self.pieces],
            "mpe": self.mpe.to_dict(),
            "ancestors": list(self.ancestors),
            "paths": [p.to_dict() for p in self.paths],
        }


def _probability(model: Model, target: str, index: int, evidence: Evidence) -> float:
    return float(posterior(model, [target], evidence).marginals[target][index])


def _log_odds(p: float) -> float:
    if p <= 0:
        return -math.inf
    if p >= 1:
        return math.inf
    return math.log(p / (1 - p))


def explain(
    model: Model,
    target: str,
    state: str,
    evidence: Evidence,
    *,
    top: int = 0,
    strict: bool = True,
) -> Explanation:
    """Leave-one-out effects, the MPE, and the `top` likeliest paths to target=state.

    With `strict=False`, paths whose joint would be too large are skipped with a note instead of
    raising.

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> e = explain(m, "KABOOM", "yes", Evidence(hard={"crimea_offensive": "yes"}), top=1)
    >>> round(e.probability, 3), e.pieces[0].node
    (0.388, 'crimea_offensive')
    """
    evidence = evidence.resolved(model)
    target = model.resolve(target)
    index = model[target].state_index(state)
    state = model[target].states[index]
    for kind, given in (
        (f"observed ({param('hard')})", evidence.hard),
        ("set by do()", evidence.do),
    ):
        if target in given:
            raise EvidenceError(f"{target} is {kind}; there is nothing to explain: drop it")
    probability = _probability(model, target, index, evidence)
    prior = _probability(model, target, index, Evidence())
    pieces = []
    for kind, node, value in evidence.items():
        try:
            rest = _probability(model, target, index, evidence.without(node))
        except EvidenceError:  # the remaining evidence alone is impossible
            rest = None
        llr = None if rest is None else _llr(probability, rest)
        pieces.append(Piece(KIND_NAMES[kind], node, value, probability, rest, llr))
    mpe = most_probable_explanation(model, evidence)
    ancestors: tuple[str, ...] = ()
    paths: tuple[Assignment, ...] = ()
    note = ""
    if top > 0:
        try:
            ancestors, paths = escalation_paths(model, target, state, evidence, top)
        except EvidenceError as error:
            if strict:
                raise
            note = str(error)
    return Explanation(
        target, state, probability, prior, evidence, tuple(pieces), mpe, ancestors, paths, note
    )


def _llr(with_all: float, rest: float) -> float | None:
    a, b = _log_odds(with_all), _log_odds(rest)
    if math.isinf(a) and math.isinf(b):
        return 0.0 if a == b else a
    return a - b


def most_probable_explanation(model: Model, evidence: Evidence) -> Assignment:
    """The likeliest joint state of all nodes not observed or set, and its posterior probability.

    Likelihood and soft evidence weigh the nodes they concern (those nodes stay free).
    """
    mass = posterior(model, [], evidence)  # raises if the evidence is impossible
    surgery, fixed, weights, _ = prepare(model, evidence)
    weights.update(mass.soft_weights)
    factors: list[tuple[tuple[str, ...], np.ndarray]] = []
    with np.errstate(divide="ignore"):
        for node in surgery.nodes:
            axes = (*node.parents, node.id)
            index = tuple(fixed.get(a, slice(None)) for a in axes)
            factors.append((tuple(a for a in axes if a not in fixed), np.log(node.table[index])))
        for name, vector in weights.items():
            factors.append(((name,), np.log(vector)))
    free = [n.id for n in surgery.nodes if n.id not in fixed]
    best, chosen = max_product(factors, free, {n.id: n.card for n in surgery.nodes})
    total = float(contract(surgery, [], hard=fixed, weights=weights))
    states = {name: surgery[name].states[chosen[name]] for name in free}
    return Assignment(states, float(math.exp(best) / total))


def max_product(
    factors: Iterable[tuple[tuple[str, ...], np.ndarray]],
    variables: Sequence[str],
    cards: Mapping[str, int],
) -> tuple[float, dict[str, int]]:
    """Max over `variables` of the sum of log-factors, and the maximising state indices.

    Variable elimination with max in place of sum, greedy smallest-table order, then a traceback.

    >>> f = [(("a",), np.log([0.4, 0.6])), (("a", "b"), np.log([[0.9, 0.1], [0.5, 0.5]]))]
    >>> best, states = max_product(f, ["a", "b"], {"a": 2, "b": 2})
    >>> round(math.exp(best), 2), states
    (0.36, {'a': 0, 'b': 0})
    """
    pool = list(factors)
    order = {v: i for i, v in enumerate(variables)}
    remaining = set(variables)
    trace: list[tuple[str, tuple[str, ...], np.ndarray]] = []

    def scope_of(variable: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for scope, _ in pool if variable in scope for a in scope))

    while remaining:
        variable = min(
            remaining, key=lambda v: (math.prod(cards[a] for a in scope_of(v)), order[v])
        )
        remaining.remove(variable)
        scope = scope_of(variable) or (variable,)
        size = math.prod(cards[a] for a in scope)
        if size > MAX_FACTOR:
            raise ModelError(
                f"the most probable explanation needs a table of {size:,} cells (limit "
                f"{MAX_FACTOR:,}); the model is too densely connected for an exact MPE"
            )
        total = np.zeros([cards[a] for a in scope])
        for factor_scope, array in pool:
            if variable in factor_scope:
                total = total + _expand(array, factor_scope, scope, cards)
        axis = scope.index(variable)
        rest = scope[:axis] + scope[axis + 1 :]
        trace.append((variable, rest, np.argmax(total, axis=axis)))
        pool = [(s, a) for s, a in pool if variable not in s] + [(rest, np.max(total, axis=axis))]
    best = float(sum(float(np.sum(array)) for _, array in pool))
    chosen: dict[str, int] = {}
    for variable, rest, argmax in reversed(trace):
        chosen[variable] = int(argmax[tuple(chosen[a] for a in rest)])
    return best, {v: chosen[v] for v in variables}


def _expand(
    array: np.ndarray, scope: tuple[str, ...], target: tuple[str, ...], cards: Mapping[str, int]
) -> np.ndarray:
    """`array` (axes `scope`) transposed and reshaped to broadcast against the axes `target`."""
    order = sorted(range(len(scope)), key=lambda i: target.index(scope[i]))
    shape = [cards[a] if a in scope else 1 for a in target]
    return np.transpose(array, order).reshape(shape)


def escalation_paths(
    model: Model, target: str, state: str, evidence: Evidence, top: int
) -> tuple[tuple[str, ...], tuple[Assignment, ...]]:
    """The `top` likeliest joint states of the target's free ancestors together with target=state.

    Each path's `probability` is P(path, target=state | evidence) and its `share` is
    P(path | target=state, evidence): its part of P(target=state | evidence). No paths when the
    target has no free ancestor.
    """
    target = model.resolve(target)
    index = model[target].state_index(state)
    surgery = intervene(model, evidence.do)
    fixed = {*evidence.hard, *evidence.do}
    above = surgery.ancestors([target]) - fixed - {target}
    ancestors = tuple(n.id for n in surgery.nodes if n.id in above)
    if not ancestors:  # nothing upstream is uncertain: no path to tell apart
        return ancestors, ()
    size = math.prod(surgery[a].card for a in ancestors) * surgery[target].card
    if size > MAX_PATHS_JOINT:
        raise EvidenceError(
            f"the joint of {target}'s {len(ancestors)} free ancestors has {size:,} cells (limit "
            f"{MAX_PATHS_JOINT:,}); observe some of them ({param('hard')}) or leave out {param('top')}"
        )
    table = joint(model, [*ancestors, target], evidence)[..., index]
    total = float(table.sum())
    if total <= 0:
        return ancestors, ()
    flat = table.reshape(-1)
    best = np.argsort(-flat, kind="stable")[:top]
    paths = []
    for position in best:
        p = float(flat[position])
        if p <= 0:
            break
        combo = np.unravel_index(position, table.shape)
        states = {a: surgery[a].states[int(i)] for a, i in zip(ancestors, combo, strict=True)}
        paths.append(Assignment(states, p, p / total))
    return ancestors, tuple(paths)
