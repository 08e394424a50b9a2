"""The engine against independent computations: brute-force enumeration and pgmpy.

Enumeration builds the full joint distribution by explicit broadcasting (no einsum), applies each
kind of evidence by its textbook definition, and sums. pgmpy's VariableElimination answers the
reference networks.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bn import engine
from bn import factors as bnfactors
from bn.engine import contract, joint, posterior, query
from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.factors import query_factors
from bn.model import Model, Node
from bn.paths import BATCH
from bn.plan import Part, compile_plan, compile_query

DATA = Path(__file__).parent / "data"

# --- brute force -------------------------------------------------------------------------------


def full_joint(model: Model) -> np.ndarray:
    """P(x) over all nodes, axes in `model.ids` order, by explicit broadcasting."""
    ids = model.ids
    shape = [model[i].card for i in ids]
    joint_p = np.ones(shape)
    for node in model:
        axes = [ids.index(p) for p in node.parents] + [ids.index(node.id)]
        order = np.argsort(axes)
        table = np.transpose(node.table, order)
        view = [1] * len(ids)
        for a in axes:
            view[a] = shape[a]
        joint_p = joint_p * table.reshape(view)
    return joint_p


def enumerate_posterior(model: Model, evidence: Evidence, targets: list[str]) -> dict:
    """Posterior marginals by the definitions: surgery, indicators, weights, Jeffrey's rule (IPF)."""
    ids = model.ids
    surgery = []
    for node in model:
        if node.id in evidence.do:
            point = np.zeros(node.card)
            point[node.states.index(evidence.do[node.id])] = 1
            node = Node(node.id, node.states, (), point)
        surgery.append(node)
    cut = Model(tuple(surgery))
    p = full_joint(cut)
    p = np.transpose(p, [cut.ids.index(i) for i in ids])

    def along(node_id: str, vector: np.ndarray) -> np.ndarray:
        view = [1] * len(ids)
        view[ids.index(node_id)] = len(vector)
        return vector.reshape(view)

    for node_id, state in {**evidence.hard, **evidence.do}.items():
        indicator = np.array([s == state for s in model[node_id].states], dtype=float)
        p = p * along(node_id, indicator)
    for node_id, weights in evidence.likelihood.items():
        p = p * along(node_id, np.array([weights[s] for s in model[node_id].states]))
    mass = p.sum()
    if mass <= 0:
        return {"marginals": {}, "mass": 0.0, "feasible": False}
    p = p / mass
    soft = {k: dict(v) for k, v in evidence.soft.items()}
    for node_id, given_values in soft.items():  # complete partial soft evidence
        axis = ids.index(node_id)
        prior = p.sum(axis=tuple(a for a in range(len(ids)) if a != axis))
        states = model[node_id].states
        rest = 1 - sum(given_values.values())
        free = sum(prior[i] for i, s in enumerate(states) if s not in given_values)
        soft[node_id] = {
            s: given_values.get(s, rest * prior[i] / free if free else 0.0)
            for i, s in enumerate(states)
        }
    feasible = True
    for _ in range(2000 if len(soft) > 1 else 1):
        for node_id, wanted in soft.items():
            axis = ids.index(node_id)
            current = p.sum(axis=tuple(a for a in range(len(ids)) if a != axis))
            r = np.array([wanted[s] for s in model[node_id].states])
            feasible &= not np.any((r > 0) & (current <= 0))
            ratio = np.divide(r, current, out=np.zeros_like(r), where=current > 0)
            p = p * along(node_id, ratio)
    out = {}
    for t in targets:
        axis = ids.index(t)
        out[t] = p.sum(axis=tuple(a for a in range(len(ids)) if a != axis))
    return {"marginals": out, "mass": mass, "feasible": feasible}


# --- random networks ---------------------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn, max_nodes: int = 12, max_cells: int = 50_000) -> Model:
    n = draw(st.integers(1, max_nodes))
    cards = [draw(st.integers(2, 4)) for _ in range(n)]
    while int(np.prod(cards)) > max_cells:
        cards[int(np.argmax(cards))] -= 1
    nodes = []
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for i in range(n):
        parents = tuple(f"n{j}" for j in range(i) if draw(st.booleans()) and rng.random() < 0.6)
        parents = parents[:3]
        shape = [cards[int(p[1:])] for p in parents] + [cards[i]]
        table = rng.dirichlet(np.full(cards[i], 0.7), size=shape[:-1] or None).reshape(shape)
        if draw(st.booleans()):  # some exact zeros, as real tables have
            table = np.where(table < 0.05, 0.0, table)
            table[..., 0] += 1e-3
            table = table / table.sum(axis=-1, keepdims=True)
        states = tuple(f"s{k}" for k in range(cards[i]))
        nodes.append(Node(f"n{i}", states, parents, table))
    order = draw(st.permutations(nodes))  # the model must sort them itself
    return Model(tuple(order))


@st.composite
def questions(draw: st.DrawFn) -> tuple[Model, Evidence, list[str]]:
    model = draw(networks())
    ids = list(model.ids)
    kinds: dict[str, dict] = {"hard": {}, "do": {}, "likelihood": {}, "soft": {}}
    for node_id in draw(st.lists(st.sampled_from(ids), unique=True, max_size=min(4, len(ids)))):
        kind = draw(st.sampled_from(["hard", "do", "likelihood", "soft"]))
        if kind == "soft" and kinds["soft"]:
            kind = "likelihood"  # one soft node here; several are tested on their own below
        states = model[node_id].states
        if kind in ("hard", "do"):
            kinds[kind][node_id] = draw(st.sampled_from(states))
        else:
            raw = [draw(st.floats(0.05, 1.0)) for _ in states]
            values = [v / sum(raw) for v in raw] if kind == "soft" else raw
            kinds[kind][node_id] = dict(zip(states, values, strict=True))
    targets = draw(st.lists(st.sampled_from(ids), unique=True, min_size=1))
    return model, Evidence(**kinds), targets


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questions())
def test_posteriors_match_enumeration(case: tuple[Model, Evidence, list[str]]) -> None:
    model, evidence, targets = case
    evidence = evidence.resolved(model)
    expected = enumerate_posterior(model, evidence, targets)
    if expected["mass"] <= 1e-300 or not expected["feasible"]:
        with pytest.raises(EvidenceError):
            posterior(model, targets, evidence)
        return
    result = posterior(model, targets, evidence)
    for t in targets:
        np.testing.assert_allclose(result.marginals[t], expected["marginals"][t], atol=1e-9)
        assert result.marginals[t].sum() == pytest.approx(1, abs=1e-12)
    # P(evidence) covers hard evidence, interventions' point masses and likelihood weights.
    assert float(result.probability_of_evidence) == pytest.approx(expected["mass"], rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(questions())
def test_joint_matches_enumeration(case: tuple[Model, Evidence, list[str]]) -> None:
    model, evidence, targets = case
    evidence = evidence.resolved(model)
    targets = targets[:3]
    expected = enumerate_posterior(model, evidence, [])
    assume(expected["mass"] > 1e-300 and expected["feasible"])
    table = joint(model, targets, evidence)
    assert table.shape == tuple(model[t].card for t in targets)
    for i, t in enumerate(targets):
        marginal = table.sum(axis=tuple(a for a in range(len(targets)) if a != i))
        np.testing.assert_allclose(
            marginal, posterior(model, [t], evidence).marginals[t], atol=1e-9
        )


@settings(max_examples=30, deadline=None)
@given(networks(max_nodes=6), st.integers(0, 2**32 - 1))
def test_several_soft_findings_all_hold(model: Model, seed: int) -> None:
    rng = np.random.default_rng(seed)
    chosen = [n for n in model.ids if rng.random() < 0.5][:2]
    # Marginals reached by some random likelihood findings are jointly feasible by construction.
    weights = {n: rng.uniform(0.1, 1.0, model[n].card) for n in chosen}
    reached = posterior(model, chosen, Evidence(likelihood=weights).resolved(model))
    soft = {n: dict(zip(model[n].states, reached.marginals[n], strict=True)) for n in chosen}
    evidence = Evidence(soft=soft).resolved(model)
    result = posterior(model, list(model.ids), evidence)
    # The distribution closest to the prior with those marginals is the one the likelihoods made
    # (it is unique in the exponential family P(x) * lambda_1(x_1) * lambda_2(x_2)).
    expected = enumerate_posterior(
        model, Evidence(likelihood=weights).resolved(model), list(model.ids)
    )
    for node_id, wanted in soft.items():
        np.testing.assert_allclose(result.marginals[node_id], list(wanted.values()), atol=1e-9)
    for node_id in model.ids:
        np.testing.assert_allclose(
            result.marginals[node_id], expected["marginals"][node_id], atol=1e-9
        )


@settings(max_examples=40, deadline=None)
@given(questions(), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_batch_equals_one_by_one(case: tuple, size: int, seed: int) -> None:
    model, evidence, targets = case
    evidence = evidence.resolved(model)
    rng = np.random.default_rng(seed)
    node = model.nodes[int(rng.integers(len(model)))]
    batch = rng.dirichlet(np.ones(node.card), size=(size, *node.parent_shape))
    try:
        batched = posterior(model, targets, evidence, tables={node.id: batch})
    except EvidenceError:
        return  # the unperturbed parts already make the evidence impossible
    for b in range(size):
        one = model.with_nodes([Node(node.id, node.states, node.parents, batch[b])])
        try:
            single = posterior(one, targets, evidence)
        except EvidenceError:
            assert np.all(np.isnan(batched.marginals[targets[0]][b]))
            continue
        for t in targets:
            np.testing.assert_allclose(batched.marginals[t][b], single.marginals[t], atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(networks(), st.integers(0, 2**32 - 1))
def test_random_networks_match_pgmpy(model: Model, seed: int) -> None:
    """Hard evidence on random DAGs of up to 12 nodes, against pgmpy's VariableElimination."""
    from pgmpy.inference import VariableElimination

    network = to_pgmpy(model)
    rng = np.random.default_rng(seed)
    observed = [n for n in model.ids if rng.random() < 0.3]
    hard = {n: str(rng.choice(model[n].states)) for n in observed}
    free = [n for n in model.ids if n not in hard]
    try:
        ours = query(model, free, Evidence(hard=hard))
    except EvidenceError:  # impossible evidence (or nothing left to ask)
        return
    oracle = VariableElimination(network)
    for target in free:
        theirs = oracle.query([target], evidence=hard, show_progress=False)
        for state, p in ours.posteriors[target].items():
            assert p == pytest.approx(theirs.get_value(**{target: state}), abs=1e-9)


def _whole(factors: tuple, targets: tuple) -> tuple[Part, ...]:
    """The query as one part (no factor pruned as d-separated), as the engine planned it before."""
    keep = (targets[0][1],) if len(targets) == 1 else ()
    return (Part(tuple(range(len(factors))), targets, compile_plan(factors, keep)),)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(questions(), st.integers(0, 5), st.integers(0, 2**32 - 1))
def test_pruned_plans_answer_as_the_whole_network(case: tuple, size: int, seed: int) -> None:
    """Parts d-separated from the targets only scale P(evidence): every kind of evidence, one
    target or several, with and without a batch axis, the same answer as one contraction."""
    model, evidence, targets = case
    evidence = evidence.resolved(model)
    rng = np.random.default_rng(seed)
    tables = {}
    if size:  # a batch of tables for one node
        node = model.nodes[int(rng.integers(len(model)))]
        tables[node.id] = rng.dirichlet(np.ones(node.card), size=(size, *node.parent_shape))
    for chosen in (targets, targets[:1]):
        try:
            pruned = posterior(model, chosen, evidence, tables=tables)
        except EvidenceError as error:
            with pytest.MonkeyPatch.context() as patch, pytest.raises(EvidenceError) as whole:
                patch.setattr(engine, "compile_query", _whole)
                posterior(model, chosen, evidence, tables=tables)
            assert str(whole.value) == str(error)
            continue
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(engine, "compile_query", _whole)
            unpruned = posterior(model, chosen, evidence, tables=tables)
        np.testing.assert_allclose(
            pruned.log_probability_of_evidence,
            unpruned.log_probability_of_evidence,
            rtol=1e-12,
            atol=1e-12,
        )
        for t in chosen:
            np.testing.assert_allclose(pruned.marginals[t], unpruned.marginals[t], atol=1e-12)


def test_a_kept_layout_answers_every_state_of_its_observed_nodes() -> None:
    """The layout of a hard-evidence pattern is built once per model and reused for other
    observed states; each answer equals enumeration, and the layouts go with their model."""
    import gc

    from oracle import random_model

    model = random_model(np.random.default_rng(7), 9, zeros=True)
    observed, target = ["n2", "n5", "n7"], "n4"
    for states in itertools.product(*(model[n].states for n in observed)):
        evidence = Evidence(hard=dict(zip(observed, states, strict=True)))
        expected = enumerate_posterior(model, evidence, [target])
        if not expected["feasible"]:
            with pytest.raises(EvidenceError):
                posterior(model, [target], evidence)
            continue
        result = posterior(model, [target], evidence)
        np.testing.assert_allclose(
            result.marginals[target], expected["marginals"][target], atol=1e-12
        )
        assert float(result.probability_of_evidence) == pytest.approx(expected["mass"], rel=1e-12)
    assert len(bnfactors._LAYOUTS[model]) == 1
    kept = len(bnfactors._LAYOUTS)
    del model
    gc.collect()
    assert len(bnfactors._LAYOUTS) == kept - 1


def test_the_constants_of_d_separated_parts_are_kept_per_evidence_state() -> None:
    """A part without a target only scales P(evidence); its log total is kept per model and per
    observed states. Asked twice, each state's answer still equals enumeration (a constant kept
    per pattern alone would give the first state's P(evidence) to the other), and an impossible
    state still raises."""
    import gc

    a = Node("a", ("0", "1"), (), np.array([0.3, 0.7]))
    b = Node("b", ("0", "1", "2"), ("a",), np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0]]))
    t = Node("t", ("0", "1"), (), np.array([0.6, 0.4]))
    model = Model((a, b, t))
    parts = compile_query(*_query_shapes(model, ["t"], {"b": 0}))
    assert sum(not part.targets for part in parts) == 1  # a and b: d-separated from t
    for _ in range(2):
        for state in b.states:
            evidence = Evidence(hard={"b": state})
            expected = enumerate_posterior(model, evidence, ["t"])
            if not expected["feasible"]:
                with pytest.raises(EvidenceError):
                    posterior(model, ["t"], evidence)
                continue
            result = posterior(model, ["t"], evidence)
            np.testing.assert_allclose(result.marginals["t"], expected["marginals"]["t"])
            mass = float(result.probability_of_evidence)
            assert mass == pytest.approx(expected["mass"], rel=1e-12)
    assert len(bnfactors._CONSTANTS[model]) == 3
    kept = len(bnfactors._CONSTANTS)
    del model
    gc.collect()
    assert len(bnfactors._CONSTANTS) == kept - 1


def _query_shapes(
    model: Model, targets: list[str], hard: dict[str, int]
) -> tuple[tuple[Any, ...], tuple[tuple[int, str], ...]]:
    shapes, _, position = query_factors(model, targets, hard, {}, {})
    return shapes, tuple((position[n], n) for n in targets)


def test_nodes_d_separated_by_hard_evidence_are_pruned() -> None:
    """a -> b -> c -> d with b seen: c's marginal needs only c's table and b's state; a and b's
    tables go into P(evidence) alone; d is barren (not an ancestor of target or evidence)."""
    a = Node("a", ("0", "1"), (), np.array([0.3, 0.7]))
    b = Node("b", ("0", "1"), ("a",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    c = Node("c", ("0", "1"), ("b",), np.array([[0.6, 0.4], [0.1, 0.9]]))
    d = Node("d", ("0", "1"), ("c",), np.array([[0.5, 0.5], [0.4, 0.6]]))
    model = Model((a, b, c, d))
    factors, _, position = query_factors(model, ["c"], {"b": 1}, {}, {})
    assert [names for names, _ in factors] == [("a",), ("a",), ("c",)]
    parts = compile_query(factors, ((position["c"], "c"),))
    assert [(part.positions, part.targets) for part in parts] == [((0, 1), ()), ((2,), ((0, "c"),))]
    result = posterior(model, ["c"], Evidence(hard={"b": "1"}))
    np.testing.assert_allclose(result.marginals["c"], [0.1, 0.9])
    assert float(result.probability_of_evidence) == pytest.approx(0.3 * 0.1 + 0.7 * 0.8)


def test_tiny_parts_near_underflow_are_redone_with_scaling() -> None:
    """Small parts run as one unscaled einsum; where that would underflow (here every term is
    about 1e-360) the scaled steps answer, exactly as with likelihoods scaled up by 1e120."""
    a = Node("a", ("0", "1"), (), np.array([0.3, 0.7]))
    b = Node("b", ("0", "1"), ("a",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    c = Node("c", ("0", "1"), ("b",), np.array([[0.6, 0.4], [0.1, 0.9]]))
    model = Model((a, b, c))
    weights = {"a": [1.0, 2.0], "b": [3.0, 1.0], "c": [1.0, 5.0]}
    scaled = posterior(model, ["c"], Evidence(likelihood=weights))
    tiny = {k: [w * 1e-120 for w in v] for k, v in weights.items()}
    result = posterior(model, ["c"], Evidence(likelihood=tiny))
    expected = enumerate_posterior(model, Evidence(likelihood=weights).resolved(model), ["c"])
    np.testing.assert_allclose(result.marginals["c"], expected["marginals"]["c"], atol=1e-12)
    np.testing.assert_allclose(scaled.marginals["c"], expected["marginals"]["c"], atol=1e-12)
    assert float(result.log_probability_of_evidence) == pytest.approx(
        math.log(expected["mass"]) + 3 * math.log(1e-120), rel=1e-12
    )


def _observed_chain(length: int, rare: float) -> tuple[Model, Evidence, np.ndarray]:
    """A binary chain x0 -> x1 -> ..., each x_i with a child y_i seen in a state of probability
    `rare` whatever x_i; with the last link's marginal (the findings tell nothing about x)."""
    step = np.array([[0.3, 0.7], [0.8, 0.2]])
    nodes = [Node("x0", ("0", "1"), (), np.array([0.4, 0.6]))]
    marginal = np.array([0.4, 0.6])
    for i in range(length):
        if i:
            nodes.append(Node(f"x{i}", ("0", "1"), (f"x{i - 1}",), step))
            marginal = marginal @ step
        seen = np.array([[1 - rare, rare], [1 - rare, rare]])
        nodes.append(Node(f"y{i}", ("0", "1"), (f"x{i}",), seen))
    return Model(tuple(nodes)), Evidence(hard={f"y{i}": "1" for i in range(length)}), marginal


def test_unbatched_sweeps_run_unscaled_when_the_total_is_safe() -> None:
    """Without a batch axis a plan first runs without rescaling, and keeps that answer when its
    total is far above what underflow could lose (`Plan.floor`); it equals the scaled sweep."""
    # P(evidence) is 1e-120: below FLOOR, so the scaled steps do rescale
    model, evidence, marginal = _observed_chain(10, 1e-12)
    hard = {k: 1 for k in evidence.hard}
    factors, arrays, _ = query_factors(model, ["x9"], hard, {}, {})
    plan = compile_plan(factors, ("x9",))
    assert len(plan.steps) > 5 and 0 < plan.floor < 1e-200
    fast, scaled = plan._forward(arrays), plan._sweep(arrays, scaled=True)
    assert float(fast.log_scale) == 0.0 and float(scaled.log_scale) != 0.0
    np.testing.assert_allclose(
        fast.table, scaled.table * np.exp(scaled.log_scale), rtol=1e-12, atol=0
    )
    result = posterior(model, ["x9"], evidence)
    assert float(result.probability_of_evidence) == pytest.approx(1e-120, rel=1e-12)
    np.testing.assert_allclose(result.marginals["x9"], marginal, rtol=1e-12)


def test_unbatched_sweeps_below_the_floor_are_redone_with_scaling() -> None:
    """Forty findings of probability 1e-10: P(evidence) is 1e-400, which an unscaled sweep
    rounds to 0; the plan sees its total under the floor and answers from the scaled steps."""
    model, evidence, marginal = _observed_chain(40, 1e-10)
    result = posterior(model, ["x39"], evidence)
    assert float(result.log_probability_of_evidence) == pytest.approx(
        40 * math.log(1e-10), rel=1e-12
    )
    np.testing.assert_allclose(result.marginals["x39"], marginal, rtol=1e-12)


def to_pgmpy(model: Model):  # type: ignore[no-untyped-def]
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    network = DiscreteBayesianNetwork()
    network.add_nodes_from(model.ids)
    network.add_edges_from([(p, n.id) for n in model for p in n.parents])
    for n in model:
        names = {n.id: list(n.states), **{p: list(model[p].states) for p in n.parents}}
        network.add_cpds(
            TabularCPD(
                n.id,
                n.card,
                n.table.reshape(-1, n.card).T,
                evidence=list(n.parents) or None,
                evidence_card=[model[p].card for p in n.parents] or None,
                state_names=names,
            )
        )
    return network


# --- the chain and the reference networks -----------------------------------------------------


def test_chain_headline_and_kinds_of_evidence() -> None:
    import bn

    model = bn.load(DATA / "chain")
    assert model.query("KABOOM").posteriors["nuclear_war"]["yes"] == pytest.approx(0.168)
    # Jeffrey's rule keeps P(KABOOM | kaboom) and moves kaboom's marginal to the given value.
    soft = model.query(["KABOOM", "kaboom"], soft={"kaboom": {"yes": 0.07}})
    assert soft.posteriors["nuclear_war"]["yes"] == pytest.approx(0.07 * 0.56)
    assert soft.posteriors["nuclear_use"]["yes"] == pytest.approx(0.07)
    # A report twice as likely if kaboom happened: odds 3/7 -> 6/7.
    lik = model.query("kaboom", likelihood={"kaboom": [1, 2]})
    assert lik.posteriors["nuclear_use"]["yes"] == pytest.approx(6 / 13)
    assert lik.probability_of_evidence == pytest.approx(0.7 + 0.6)
    # Seeing a strike implies kaboom; forcing one does not.
    seen = model.query("kaboom", {"nato_response": "strike"})
    done = model.query("kaboom", do={"nato_response": "strike"})
    assert seen.posteriors["nuclear_use"]["yes"] == pytest.approx(1.0)
    assert done.posteriors["nuclear_use"]["yes"] == pytest.approx(0.3)


def test_impossible_evidence_is_named() -> None:
    import bn

    model = bn.load(DATA / "chain")
    with pytest.raises(EvidenceError, match=r"impossible.*nuclear_use = no.*nuclear_war = yes"):
        model.query("nato_response", {"kaboom": "no", "KABOOM": "yes"})
    with pytest.raises(EvidenceError, match="soft evidence puts probability on nuclear_use=no"):
        model.query("KABOOM", {"nato_response": "strike"}, soft={"kaboom": {"no": 0.5}})


def test_contract_prunes_barren_nodes() -> None:
    import bn

    model = bn.load(DATA / "chain")
    # nuclear_war is barren for a question about kaboom alone: the answer is a 2-vector.
    assert contract(model, ["nuclear_use"]).shape == (2,)
    np.testing.assert_allclose(contract(model, []), 1.0)


def pgmpy_model(name: str):  # type: ignore[no-untyped-def]
    from pgmpy.readwrite import BIFReader

    return BIFReader(str(DATA / f"{name}.bif")).get_model()


def from_pgmpy(network) -> Model:  # type: ignore[no-untyped-def]
    nodes = []
    for cpd in network.get_cpds():
        names = cpd.state_names
        parents = tuple(cpd.variables[1:])
        shape = [len(names[p]) for p in parents]
        values = cpd.get_values().reshape(len(names[cpd.variable]), *shape)
        table = np.moveaxis(values, 0, -1)
        table = table / table.sum(axis=-1, keepdims=True)
        nodes.append(Node(cpd.variable, tuple(names[cpd.variable]), parents, table))
    return Model(tuple(nodes))


def normalised_pgmpy(network):  # type: ignore[no-untyped-def]
    """The same network with rows renormalised as bn does, so both answer the same question."""
    for cpd in network.get_cpds():
        values = cpd.get_values()
        cpd.values = (values / values.sum(axis=0, keepdims=True)).reshape(cpd.values.shape)
    return network


@pytest.mark.parametrize("name", ["asia", "cancer", "sachs", "child", "alarm"])
def test_reference_networks_match_pgmpy(name: str) -> None:
    from pgmpy.inference import VariableElimination

    network = normalised_pgmpy(pgmpy_model(name))
    model = from_pgmpy(network)
    oracle = VariableElimination(network)
    rng = np.random.default_rng(len(name))
    checked = 0
    for _ in range(6):
        observed = rng.choice(model.ids, size=min(4, len(model) - 2), replace=False)
        hard = {n: str(rng.choice(model[n].states)) for n in observed}
        free = [n for n in model.ids if n not in hard]
        targets = [str(t) for t in rng.choice(free, size=min(5, len(free)), replace=False)]
        try:
            ours = query(model, targets, Evidence(hard=hard))
        except EvidenceError:
            continue
        for t in targets:
            theirs = oracle.query([t], evidence=hard, show_progress=False)
            for state, p in ours.posteriors[t].items():
                assert p == pytest.approx(theirs.get_value(**{t: state}), abs=1e-9)
        checked += 1
    assert checked >= 3


def test_alarm_all_marginals_without_evidence_match_pgmpy() -> None:
    from pgmpy.inference import VariableElimination

    network = normalised_pgmpy(pgmpy_model("alarm"))
    model = from_pgmpy(network)
    ours = posterior(model, list(model.ids), Evidence())
    oracle = VariableElimination(network)
    for node_id in model.ids[::4]:
        theirs = oracle.query([node_id], show_progress=False)
        for i, state in enumerate(model[node_id].states):
            assert ours.marginals[node_id][i] == pytest.approx(
                theirs.get_value(**{node_id: state}), abs=1e-9
            )


def test_brute_force_helper_is_itself_right() -> None:
    """The oracle on a case done by hand: rain -> wet grass."""
    rain = Node("rain", ("no", "yes"), (), np.array([0.8, 0.2]))
    wet = Node("wet", ("dry", "wet"), ("rain",), np.array([[0.9, 0.1], [0.2, 0.8]]))
    model = Model((wet, rain))
    out = enumerate_posterior(model, Evidence(hard={"wet": "wet"}), ["rain"])
    p_wet = 0.8 * 0.1 + 0.2 * 0.8
    assert out["mass"] == pytest.approx(p_wet)
    assert out["marginals"]["rain"][1] == pytest.approx(0.2 * 0.8 / p_wet)
    assert list(itertools.chain(model.ids)) == ["rain", "wet"]


def test_unresolved_evidence_is_resolved_and_impossible_joints_refused() -> None:
    import bn

    model = bn.load(DATA / "chain")
    # Aliases, any-case states and positional weights are accepted by every entry point.
    given = Evidence(hard={"kaboom": "YES"}, soft={"nato_response": [0.5, 0.5]})
    assert posterior(model, ["KABOOM"], given).marginals["nuclear_war"][1] == pytest.approx(0.35)
    assert joint(model, ["KABOOM"], given)[1] == pytest.approx(0.35)
    with pytest.raises(EvidenceError, match="impossible"):
        joint(model, ["nato_response"], Evidence(hard={"kaboom": "no", "KABOOM": "yes"}))


def test_a_joint_too_large_to_read_is_refused() -> None:
    nodes = tuple(Node(f"n{i}", tuple("abcd"), (), np.full(4, 0.25)) for i in range(11))
    model = Model(nodes)
    with pytest.raises(EvidenceError, match=r"4,194,304 cells \(at most 1,000,000\)"):
        joint(model, list(model.ids), Evidence())
    assert joint(model, list(model.ids)[:9], Evidence()).shape == (4,) * 9


def test_batched_soft_evidence_on_parts_that_share_no_variable() -> None:
    """Soft findings on two independent roots, one of them with a batch of tables: every
    marginal has the batch axis (the unbatched part answers for each element), and element i
    equals the query with table i alone."""
    import bn

    model = bn.load(bn.packaged_model_path())
    soft = {"starlink": [0.5, 0.3, 0.2], "western_resolve": [0.6, 0.4]}
    evidence = Evidence(soft=soft).resolved(model)
    variants = np.array([[[0.75, 0.25]], [[0.5, 0.5]], [[0.9, 0.1]], [[0.2, 0.8]]])[:, 0]
    batched = posterior(
        model, ["starlink", "nuclear_war"], evidence, tables={"western_resolve": variants}
    )
    for i, table in enumerate(variants):
        one = posterior(
            model, ["starlink", "nuclear_war"], evidence, tables={"western_resolve": table}
        )
        for name in ("starlink", "nuclear_war"):
            assert batched.marginals[name].shape == (len(variants), model[name].card)
            np.testing.assert_allclose(batched.marginals[name][i], one.marginals[name], atol=1e-12)


def test_blas_threads_are_set_only_around_calls_openblas_would_thread() -> None:
    """A plan switches BLAS to one thread only when one of its BLAS calls is over `SINGLE`
    multiply-adds: OpenBLAS runs smaller calls on one thread by itself. A matmul over a shared
    index makes one call per index value, and einsum makes none, so a large batch of small batched
    tables never pays the switch (nor, in a cold command, the 10 to 20 ms threadpoolctl takes to
    start)."""
    batch = ((BATCH, "a", "b"), (100_000, 4, 4))
    assert compile_plan((batch, ((BATCH, "b", "c"), (100_000, 4, 4))), ("c",)).small
    # an unbatched table: the batch folds into one call of 100,000 x 4 x 4
    assert not compile_plan((batch, (("b", "c"), (4, 4))), ("c",)).small
    wide = compile_plan(((("a", "b"), (64, 64)), (("b", "c"), (64, 64))), ("a", "c"))
    assert not wide.small  # one call of 64^3 multiply-adds
    lean = compile_plan(((("a", "b"), (8, 8)), (("b", "c"), (8, 8))), ("a", "c"))
    assert lean.small
