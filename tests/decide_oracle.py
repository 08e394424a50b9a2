"""Oracles for influence diagrams: pyAgrum's ShaferShenoyLIMIDInference, brute-force policy
enumeration, and random diagrams with totally ordered decisions."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from bn.engine import condition
from bn.evidence import Evidence
from bn.influence import Decision, Diagram, Utility
from bn.model import Node


def random_diagram(rng: np.random.Generator, chance: int, decisions: int) -> Diagram:
    """Chance nodes c*, decisions d0 < d1 < ... (each an informational parent of the next), and
    one or two utilities; every node has at most two parents besides the previous decision."""
    kinds = ["c"] * chance + ["d"] * decisions
    rng.shuffle(kinds)
    cards: dict[str, int] = {}
    chance_nodes: list[Node] = []
    made: list[Decision] = []
    names: list[str] = []
    for kind in kinds:
        name = f"{kind}{sum(1 for n in names if n[0] == kind)}"
        earlier = [n for n in names if rng.random() < 0.4][-2:]
        card = int(rng.integers(2, 4))
        states = tuple(f"s{k}" for k in range(card))
        if kind == "d":
            if made and made[-1].id not in earlier:
                earlier = [made[-1].id, *earlier]
            made.append(Decision(name, states, tuple(earlier)))
        else:
            shape = (*(cards[p] for p in earlier), card)
            table = rng.dirichlet(np.ones(card), size=math.prod(shape[:-1])).reshape(shape)
            chance_nodes.append(Node(name, states, tuple(earlier), table))
        cards[name] = card
        names.append(name)
    utilities = []
    for u in range(int(rng.integers(1, 3))):
        parents = tuple(n for n in names if rng.random() < 0.35)[:3] or (names[-1],)
        values = rng.normal(0, 10, size=tuple(cards[p] for p in parents)).round(3)
        utilities.append(Utility(f"u{u}", parents, values))
    return Diagram.build(chance_nodes, made, utilities)


def to_pyagrum(diagram: Diagram, extra_arcs: tuple[tuple[str, str], ...] = ()) -> Any:
    """The diagram as a pyAgrum InfluenceDiagram, tables copied in double precision."""
    import pyagrum as gum

    net = diagram.network
    diag = gum.InfluenceDiagram()
    for node in net:
        var = gum.LabelizedVariable(node.id, node.id, list(node.states))
        if diagram.is_decision(node.id):
            diag.addDecisionNode(var)
        else:
            diag.addChanceNode(var)
    for u in diagram.utilities:
        diag.addUtilityNode(gum.LabelizedVariable(u.id, u.id, 1))
    for node in net:
        parents = (
            diagram.decision(node.id).parents if diagram.is_decision(node.id) else node.parents
        )
        for p in parents:
            diag.addArc(p, node.id)
    for u in diagram.utilities:
        for p in u.parents:
            diag.addArc(p, u.id)
    for source, target in extra_arcs:
        diag.addArc(source, target)
    for node in net:
        if diagram.is_decision(node.id):
            continue
        cpt = diag.cpt(node.id)
        for combo in itertools.product(*(range(n) for n in node.parent_shape)):
            cpt[dict(zip(node.parents, combo, strict=True))] = node.table[combo].tolist()
    for u in diagram.utilities:
        table = diag.utility(u.id)
        for combo in itertools.product(*(range(n) for n in u.values.shape)):
            table[dict(zip(u.parents, combo, strict=True))] = [float(u.values[combo])]
    return diag


def pyagrum_solve(
    diagram: Diagram,
    evidence: Mapping[str, str] | None = None,
    extra_arcs: tuple[tuple[str, str], ...] = (),
) -> Any:
    import pyagrum as gum

    diag = to_pyagrum(diagram, extra_arcs)
    ie = gum.ShaferShenoyLIMIDInference(diag)
    ie.addNoForgettingAssumption(list(diagram.order))
    for node, state in (evidence or {}).items():
        ie.addEvidence(node, state)
    ie.makeInference()
    return ie


def pyagrum_best(ie: Any, decision: str, given: Mapping[str, str], options: tuple[str, ...]) -> str:
    """pyAgrum's optimal option of `decision` where the nodes in `given` have those states."""
    pot = ie.optimalDecision(decision)
    names = [n for n in pot.names if n != decision]
    var = {pot.variable(i).name(): pot.variable(i) for i in range(pot.nbrDim())}
    at = {n: var[n].index(given[n]) for n in names}
    row = np.asarray(pot.extract(at).toarray()).reshape(-1)
    return options[int(np.argmax(row))]


def brute_force(
    diagram: Diagram, evidence: Evidence | None = None, limit: int = 20_000
) -> float | None:
    """The MEU by trying every deterministic policy (each decision a function of everything known
    at it, under no-forgetting) and computing its expected utility with the engine; None when
    there are more than `limit` policies."""
    evidence = (evidence or Evidence()).resolved(diagram.network)
    net = diagram.network
    histories, known = [], []
    for d in diagram.decisions:
        known += [p for p in d.parents if p not in known and p not in evidence.hard]
        histories.append(tuple(known))
        known.append(d.id)
    spaces = []
    count = 1
    for d, h in zip(diagram.decisions, histories, strict=True):
        rows = math.prod(net[p].card for p in h)
        count *= len(d.options) ** rows
        if count > limit:
            return None  # too many policies to try
        spaces.append(list(itertools.product(range(len(d.options)), repeat=rows)))
    best = -math.inf
    for choice in itertools.product(*spaces):
        tables = {}
        for d, h, picks in zip(diagram.decisions, histories, choice, strict=True):
            table = np.zeros((*(net[p].card for p in h), len(d.options)))
            for combo, pick in zip(
                itertools.product(*(range(net[p].card) for p in h)), picks, strict=True
            ):
                table[(*combo, pick)] = 1.0
            tables[d.id] = (h, table)
        fixed = diagram.fixed(tables)
        conditioned = condition(fixed, evidence)
        total = 0.0
        for u in diagram.utilities:
            joint = conditioned.joint(list(u.parents)) if u.parents else np.array(1.0)
            total += float((joint * u.values).sum())
        best = max(best, total)
    return best
