"""The best options of an influence diagram, exactly: `solve`, `evpi` and the optimal-policy network.

Decisions are made in one order, each knowing everything known at the earlier ones (the
no-forgetting assumption of Howard and Matheson 1981; Jensen and Nielsen 2007, ch. 9). The
expected utility is then

    MEU = sum_{I0} max_{D1} sum_{I1} max_{D2} ... sum_{I(n-1)} max_{Dn} sum_{rest} P(x | d) U(x, d)

where I(k-1) are the chance nodes first known at Dk. With every decision an unweighted root of the
chance network, the engine's posterior joint of the known nodes, the decisions and each utility's
parents gives P(x | d, evidence) exactly (`bn.engine.condition`); the sums and maxima above then
run backwards over that table, and the maximising option of each row is the policy.

Evidence must be known before the decisions: a chance node that a decision still to be made can
influence cannot be observed (set that decision with `do` first).

>>> import numpy as np
>>> from bn.influence import Decision, Diagram, Utility
>>> from bn.model import Node
>>> rain = Node("rain", ("no", "yes"), (), np.array([0.7, 0.3]))
>>> d = Diagram.build(
...     (rain,),
...     (Decision("umbrella", ("leave", "take"), ()),),
...     (Utility("comfort", ("rain", "umbrella"), np.array([[100.0, 80.0], [0.0, 70.0]])),),
... )
>>> s = solve(d)
>>> round(s.meu, 6), s.decisions[0].rows[0].best
(77.0, 'take')
>>> round(evpi(d, "umbrella")[0].evpi, 6)  # knowing the weather first is worth 14 units
14.0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bn.engine import condition
from bn.errors import EvidenceError, param
from bn.evidence import Evidence
from bn.influence import Diagram, combinations
from bn.model import Model

METHOD = (
    "exact: variable elimination under the no-forgetting assumption "
    "(each decision knows everything known at the earlier ones)"
)
MAX_CELLS = 4_000_000  # the table of known nodes, decisions and utility parents


@dataclass(frozen=True)
class PolicyRow:
    """One combination of what is known at a decision: the best option and each option's EU.

    `expected_utility` holds None for every option when the combination is impossible.
    """

    given: dict[str, str]
    best: str
    expected_utility: dict[str, float | None]
    probability: float


@dataclass(frozen=True)
class DecisionPolicy:
    """The optimal policy of one decision: a row per combination of the nodes in `given`."""

    node: str
    order: int
    given: tuple[str, ...]
    rows: tuple[PolicyRow, ...]
    table: np.ndarray  # one-hot: an axis per node in `given`, then the options

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "order": self.order,
            "given": list(self.given),
            "policy": [
                {
                    "given": r.given,
                    "best": r.best,
                    "expected_utility": r.expected_utility,
                    "probability": r.probability,
                }
                for r in self.rows
            ],
        }


@dataclass(frozen=True)
class Solution:
    """The maximum expected utility and the optimal policy of every decision not set by `do`."""

    model: str
    meu: float
    decisions: tuple[DecisionPolicy, ...]
    evidence: Evidence
    method: str = METHOD

    def policy(self, node: str) -> DecisionPolicy:
        for p in self.decisions:
            if p.node == node:
                return p
        raise EvidenceError(f"{node} is set by do(), so it has no policy")

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "method": self.method,
            "meu": self.meu,
            "decisions": [d.to_dict() for d in self.decisions],
            **self.evidence.to_dict(),
        }


def check_evidence(diagram: Diagram, evidence: Evidence) -> Evidence:
    """The evidence resolved, with a clear error where it observes a decision or its effects."""
    evidence = evidence.resolved(diagram.network)
    for kind, node, _ in evidence.items():
        if kind != "do" and diagram.is_decision(node):
            raise EvidenceError(
                f"{node} is a decision: it is chosen, not observed; set it with "
                f"{param('do')} {node}=OPTION"
            )
    free = [d.id for d in diagram.decisions if d.id not in evidence.do]
    for kind, node, _ in evidence.items():
        if kind == "do":
            continue
        for decision in free:
            if node in diagram.descendants(decision):
                raise EvidenceError(
                    f"{node} is observed, but decision {decision} can still influence it: "
                    f"evidence must be known before the decisions; set {decision} with "
                    f"{param('do')} {decision}=OPTION to ask what follows it"
                )
    return evidence


def solve(diagram: Diagram, evidence: Evidence | None = None) -> Solution:
    """The maximum expected utility given `evidence`, and the optimal policy of each decision."""
    evidence = check_evidence(diagram, evidence or Evidence())
    if not diagram.utilities:
        raise EvidenceError("the model has no utility node: there is nothing to maximise")
    net = diagram.network
    free = [d for d in diagram.decisions if d.id not in evidence.do]
    constant = set(evidence.hard) | set(evidence.do)
    histories: list[tuple[str, ...]] = []  # what is known at each free decision
    known: list[str] = []
    for d in free:
        known += [p for p in d.parents if p not in constant and p not in known]
        histories.append(tuple(known))
        known.append(d.id)
    axes = list(dict.fromkeys(known))
    conditioned = condition(net, evidence)
    scale = math.prod(net[d.id].card for d in free)
    mass = _joint(conditioned, net, axes) * scale
    work = np.zeros(mass.shape)
    for utility in diagram.utilities:
        extra = [p for p in utility.parents if p not in axes]
        table = _joint(conditioned, net, [*axes, *extra]) * scale
        letters = {n: chr(97 + i) for i, n in enumerate([*axes, *extra])}
        spec = (
            f"{''.join(letters[n] for n in [*axes, *extra])},"
            f"{''.join(letters[n] for n in utility.parents)}->"
            f"{''.join(letters[n] for n in axes)}"
        )
        work = work + np.einsum(spec, table, utility.values)
    policies = []
    current = axes
    for k in range(len(free) - 1, -1, -1):
        d = free[k]
        keep = [*histories[k], d.id]
        drop = tuple(i for i, n in enumerate(current) if n not in keep)
        work, mass = work.sum(axis=drop), mass.sum(axis=drop)
        current = [n for n in current if n in keep]
        at = current.index(d.id)
        work, mass = np.moveaxis(work, at, -1), np.moveaxis(mass, at, -1)[..., 0]
        current = [n for n in current if n != d.id]
        policies.append(_policy(net, d.id, k + 1, current, work, mass))
        work = work.max(axis=-1)
    meu = float(work.sum())
    return Solution(diagram.title, meu, tuple(reversed(policies)), evidence)


def _joint(conditioned: Any, net: Model, names: Sequence[str]) -> np.ndarray:
    cells = math.prod(net[n].card for n in names)
    if cells > MAX_CELLS:
        raise EvidenceError(
            f"what the decisions know and the utilities depend on spans {cells:,} combinations "
            f"(at most {MAX_CELLS:,}): give the decisions fewer informational parents"
        )
    table: np.ndarray = conditioned.joint(list(names)) if names else np.array(1.0)
    return table


def _policy(
    net: Model, node: str, order: int, given: list[str], work: np.ndarray, mass: np.ndarray
) -> DecisionPolicy:
    options = net[node].states
    best = np.argmax(work, axis=-1)
    table = np.zeros(work.shape)
    rows = []
    for combo in combinations(net, given):
        table[(*combo, int(best[combo]))] = 1.0
        p = float(mass[combo])
        eu: dict[str, float | None] = {
            o: (float(work[combo][i]) / p if p > 0 else None) for i, o in enumerate(options)
        }
        rows.append(
            PolicyRow(
                {n: net[n].states[i] for n, i in zip(given, combo, strict=True)},
                options[int(best[combo])],
                eu,
                p,
            )
        )
    return DecisionPolicy(node, order, tuple(given), tuple(rows), table)


def policy_network(diagram: Diagram, solution: Solution) -> Model:
    """The chance network with every decision following its optimal policy (or its `do`)."""
    choices: dict[str, Any] = {d: o for d, o in solution.evidence.do.items()}
    for p in solution.decisions:
        choices[p.node] = (p.given, p.table)
    return diagram.fixed(choices)


@dataclass(frozen=True)
class Information:
    """The expected value of perfect information of one chance node for one decision."""

    node: str
    evpi: float
    meu: float


def evpi(
    diagram: Diagram,
    decision: str,
    evidence: Evidence | None = None,
    candidates: Sequence[str] | None = None,
) -> list[Information]:
    """EVPI of each chance node for `decision`: the MEU if it were known when deciding, less the
    MEU without it (in utility units, never negative), largest first.

    Nodes the decision can influence, nodes already known and observed nodes are not candidates.
    """
    d = diagram.decision(decision)
    evidence = check_evidence(diagram, evidence or Evidence())
    if d.id in evidence.do:
        raise EvidenceError(f"{d.id} is set by do(), so there is no decision to inform")
    base = solve(diagram, evidence)
    later = diagram.descendants(d.id)
    known = set(base.policy(d.id).given) | evidence.nodes()
    pool = (
        diagram.chance_ids()
        if candidates is None
        else [diagram.network.resolve(c) for c in candidates]
    )
    found = []
    for node in pool:
        if diagram.is_decision(node):
            raise EvidenceError(f"{node} is a decision; {param('candidates')} are chance nodes")
        if node in later:
            if candidates is not None:
                raise EvidenceError(
                    f"{d.id} influences {node}, so {node} cannot be known when deciding {d.id}"
                )
            continue
        if node in known:
            continue
        informed = solve(diagram.with_information(d.id, [node]), evidence)
        gain = informed.meu - base.meu
        # Rounding in the two sums is no information: below 1e-9 relative, the value is 0.
        gain = 0.0 if gain < 1e-9 * max(1.0, abs(base.meu)) else gain
        found.append(Information(node, gain, informed.meu))
    found.sort(key=lambda i: -i.evpi)
    return found


def decided(diagram: Diagram, evidence: Evidence, policy: str | None = None) -> Model:
    """The chance network a probability question about a diagram is asked of: every decision set
    by `do` in `evidence`, or (`policy="optimal"`) following its optimal policy where not set."""
    evidence = evidence.resolved(diagram.network)
    if policy not in (None, "optimal"):
        raise EvidenceError(f"{param('policy')} is {policy!r}: the one policy is 'optimal'")
    open_ = [d for d in diagram.order if d not in evidence.do]
    if policy is None and open_:
        raise EvidenceError(
            f"this model has decisions ({', '.join(diagram.order)}): a probability depends on "
            f"what is decided, so set {', '.join(open_)} with {param('do')} DECISION=OPTION, or "
            f"follow the optimal policy with {param('policy')} optimal"
        )
    if policy is None:
        return diagram.fixed(dict(evidence.do))
    return policy_network(diagram, solve(diagram, evidence))
