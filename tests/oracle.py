"""Independent oracles for the tests: random networks and brute-force enumeration of the joint.

Enumeration multiplies table entries for every joint state in a Python loop (no einsum, no engine
code) and applies each kind of evidence by its definition: graph surgery for do(), indicators for
hard evidence, weights for likelihoods, and Jeffrey's rule for soft evidence (one node).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from bn.evidence import Evidence
from bn.model import Model, Node


def random_model(
    rng: np.random.Generator, size: int, *, zeros: bool = False, ess: bool = False
) -> Model:
    """A random network `n0 ... n{size-1}` with up to two parents per node and 2-3 states.

    `zeros` puts exact zeros into some tables; `ess` gives rows random equivalent sample sizes.
    """
    nodes: list[Node] = []
    for i in range(size):
        parents = tuple(f"n{j}" for j in range(i) if rng.random() < 0.5)[-2:]
        card = int(rng.integers(2, 4))
        shape = (*(nodes[int(p[1:])].card for p in parents), card)
        table = rng.dirichlet(np.ones(card), size=math.prod(shape[:-1])).reshape(shape)
        if zeros and rng.random() < 0.3:
            table = np.where(table < 0.15, 0.0, table)
            table[table.sum(axis=-1) == 0] = 1.0 / card
            table = table / table.sum(axis=-1, keepdims=True)
        weights = rng.choice([math.nan, 5.0, 20.0], size=shape[:-1]) if ess else math.nan
        states = tuple(f"s{k}" for k in range(card))
        nodes.append(Node(f"n{i}", states, parents, table, ess=np.asarray(weights)))
    return Model(tuple(nodes))


def brute_joint(model: Model, evidence: Evidence) -> np.ndarray:
    """P(all nodes | evidence), one axis per node in `model.nodes` order.

    Raises ZeroDivisionError when the evidence is impossible.
    """
    nodes = model.nodes
    axis = {n.id: i for i, n in enumerate(nodes)}
    joint = np.zeros([n.card for n in nodes])
    for combo in itertools.product(*(range(n.card) for n in nodes)):
        p = 1.0
        for n in nodes:
            x = combo[axis[n.id]]
            if n.id in evidence.do:  # graph surgery
                p *= float(n.states[x] == evidence.do[n.id])
            else:
                p *= n.table[(*(combo[axis[q]] for q in n.parents), x)]
            if n.id in evidence.hard:
                p *= float(n.states[x] == evidence.hard[n.id])
            if n.id in evidence.likelihood:
                p *= evidence.likelihood[n.id][n.states[x]]  # type: ignore[call-overload]
        joint[combo] = p
    if joint.sum() <= 0:
        raise ZeroDivisionError("the evidence is impossible")
    joint /= joint.sum()
    for name, wanted in evidence.soft.items():  # Jeffrey's rule, one fully given node
        assert isinstance(wanted, Mapping)
        others = tuple(i for i in range(len(nodes)) if i != axis[name])
        current = joint.sum(axis=others)
        r = np.array([wanted[s] for s in model[name].states])
        shape = [-1 if i == axis[name] else 1 for i in range(len(nodes))]
        ratio = np.divide(r, current, out=np.zeros_like(r), where=current > 0)
        joint = joint * ratio.reshape(shape)
    return joint


def marginal(model: Model, joint: np.ndarray, names: list[str]) -> np.ndarray:
    """The joint of `names` (in that order) from a full joint."""
    axes = [model.ids.index(n) for n in names]
    rest = tuple(i for i in range(joint.ndim) if i not in axes)
    table = joint.sum(axis=rest)
    return np.transpose(table, np.argsort(np.argsort(axes)))


def prob(model: Model, target: str, state: str, evidence: Evidence) -> float:
    """P(target=state | evidence) by enumeration."""
    table = marginal(model, brute_joint(model, evidence), [target])
    return float(table[model[target].states.index(state)] / table.sum())
