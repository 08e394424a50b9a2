"""The engine on the public reference networks, end to end.

Each network is imported with `bn import`; then `bn query --all --json` runs under 20 seeded random
hard-evidence sets (sets of probability zero are skipped, and must be refused by bn) and every
posterior and P(evidence) is compared with pyAgrum's LazyPropagation, to 1e-9. pyAgrum cannot parse
child.bif, so there the oracle is pgmpy's VariableElimination.

Like is compared with like: pyAgrum reads BIF numbers at single precision, so its tables are
refilled from the double-precision arrays pgmpy read; and since bn import divides each row by its
sum when a file's rounding leaves it off 1 (alarm, sachs: by up to 1e-7), the oracle's rows are
divided by their sums too.
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bnlearn import load_bnlearn, pyagrum_net
from conftest import DATA, run, run_json

from bn.engine import intervene, posterior
from bn.evidence import Evidence
from bn.model import Model

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # SWIG's, at import
    import pyagrum as gum

NETWORKS = ["asia", "cancer", "sachs", "child", "alarm"]
SETS = 20
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every network through `bn import`, once per module."""
    base = tmp_path_factory.mktemp("reference")
    for name in NETWORKS:
        run_json("import", str(DATA / f"{name}.bif"), "--out", str(base / name))
    return {name: base / name for name in NETWORKS}


@pytest.fixture(scope="module")
def pgmpy_models() -> dict[str, Any]:
    """Each network as pgmpy reads it (double precision), rows divided by their sums."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.readwrite import BIFReader

    models = {}
    for name in NETWORKS:
        model = BIFReader(str(DATA / f"{name}.bif")).get_model()
        for cpd in model.get_cpds():
            values = cpd.values / cpd.values.sum(axis=0, keepdims=True)
            model.add_cpds(
                TabularCPD(
                    cpd.variable,
                    cpd.variable_card,
                    values.reshape(cpd.variable_card, -1),
                    evidence=cpd.variables[1:] or None,
                    evidence_card=list(cpd.cardinality[1:]) or None,
                    state_names=cpd.state_names,
                )
            )
        models[name] = model
    return models


class PyAgrumOracle:
    """LazyPropagation on pyAgrum's structure, with the tables pgmpy read."""

    def __init__(self, path: Path, model: Any) -> None:
        self.net = gum.loadBN(str(path))
        for cpd in model.get_cpds():
            parents = cpd.variables[1:]
            table = np.moveaxis(cpd.values, 0, -1)
            for combo in itertools.product(*(range(n) for n in cpd.cardinality[1:])):
                given = {p: cpd.state_names[p][i] for p, i in zip(parents, combo, strict=True)}
                if given:
                    self.net.cpt(cpd.variable)[given] = table[combo].tolist()
                else:
                    self.net.cpt(cpd.variable)[:] = table.tolist()

    def states(self, node: str) -> list[str]:
        return list(self.net.variable(node).labels())

    def answer(self, evidence: dict[str, str]) -> tuple[float, dict[str, dict[str, float]]]:
        engine = gum.LazyPropagation(self.net)
        engine.setEvidence(evidence)
        engine.makeInference()
        mass = engine.evidenceProbability()
        if mass <= 0:
            return 0.0, {}
        posteriors = {}
        for node in self.net.names():
            if node not in evidence:
                values = engine.posterior(node).tolist()
                posteriors[node] = dict(zip(self.states(node), values, strict=True))
        return mass, posteriors


class PgmpyOracle:
    """pgmpy's VariableElimination, one query per node (for files pyAgrum cannot parse)."""

    def __init__(self, model: Any) -> None:
        from pgmpy.inference import VariableElimination

        self.model = model
        self.engine = VariableElimination(model)

    def states(self, node: str) -> list[str]:
        return list(self.model.get_cpds(node).state_names[node])

    def answer(self, evidence: dict[str, str]) -> tuple[float, dict[str, dict[str, float]]]:
        joint = self.engine.query(variables=list(evidence), joint=True, show_progress=False)
        mass = float(joint.get_value(**evidence))
        if mass <= 0:
            return 0.0, {}
        posteriors = {}
        for node in self.model.nodes():
            if node not in evidence:
                factor = self.engine.query([node], evidence=evidence, show_progress=False)
                posteriors[node] = dict(
                    zip(factor.state_names[node], factor.values.tolist(), strict=True)
                )
        return mass, posteriors


def oracle_for(name: str, model: Any) -> PyAgrumOracle | PgmpyOracle:
    path = DATA / f"{name}.bif"
    try:
        return PyAgrumOracle(path, model)
    except gum.GumException:  # child.bif: pyAgrum's BIF parser rejects 'Asy/Patch', '<5', ...
        return PgmpyOracle(model)


@pytest.mark.parametrize("name", NETWORKS)
def test_posteriors_agree_with_exact_oracle(
    name: str, imported: dict[str, Path], pgmpy_models: dict[str, Any]
) -> None:
    oracle = oracle_for(name, pgmpy_models[name])
    if name == "child":
        assert isinstance(oracle, PgmpyOracle)
    nodes = sorted(pgmpy_models[name].nodes())
    rng = np.random.default_rng(sum(map(ord, name)))
    accepted, refused = 0, 0
    for _ in range(20 * SETS):
        if accepted == SETS:
            break
        chosen = rng.choice(nodes, size=int(rng.integers(1, 4)), replace=False)
        evidence = {str(n): str(rng.choice(oracle.states(str(n)))) for n in chosen}
        flags = [f"-e{node}={state}" for node, state in evidence.items()]
        mass, expected = oracle.answer(evidence)
        if mass <= 0:  # a set of probability zero: bn must refuse it, not answer
            result = run("query", "--all", "--json", "--model", str(imported[name]), *flags)
            assert result.exit_code == 2 and "impossible" in result.stderr
            refused += 1
            continue
        got = run_json("query", "--all", "--model", str(imported[name]), *flags)
        assert got["probability_of_evidence"] == pytest.approx(mass, rel=TOLERANCE, abs=0)
        assert set(got["posteriors"]) == set(expected)
        for node, distribution in expected.items():
            answer = got["posteriors"][node]
            assert list(answer) == list(distribution), node  # states in the file's order
            for state, p in distribution.items():
                assert abs(answer[state] - p) <= TOLERANCE, (node, state, evidence)
        accepted += 1
    assert accepted == SETS, f"only {accepted} evidence sets of positive probability"


# --- the bnlearn networks that pgmpy ships, under every kind of evidence ------------------------

# name -> (evidence sets, targets per set: None for every node). Big networks get few sets and a
# few targets each, so pyAgrum (the oracle) stays quick.
BNLEARN = {
    "insurance": (3, None),
    "hepar2": (3, None),
    "win95pts": (3, None),
    "hailfinder": (2, None),
    "water": (2, None),
    "andes": (2, None),
    "pathfinder": (2, None),
    "mildew": (1, 6),
    "barley": (1, 6),
    "diabetes": (1, 4),
    "pigs": (1, 6),
    "munin1": (1, 3),
    "link": (1, 3),
}


def _sample(model: Model, rng: np.random.Generator) -> dict[str, int]:
    """One forward sample: evidence drawn from it is possible."""
    drawn: dict[str, int] = {}
    for node in model.nodes:
        row = node.table[tuple(drawn[p] for p in node.parents)]
        drawn[node.id] = int(rng.choice(node.card, p=row))
    return drawn


def _mixed_evidence(model: Model, rng: np.random.Generator) -> Evidence:
    """Three hard findings, one likelihood, one do() and one soft finding, on distinct nodes."""
    drawn = _sample(model, rng)
    ids = list(rng.permutation(model.ids))
    hard = {n: model[n].states[drawn[n]] for n in ids[:3]}
    lik_node, do_node, soft_node = ids[3], ids[4], ids[5]
    likelihood = {lik_node: list(rng.uniform(0.1, 1.0, model[lik_node].card))}
    do = {do_node: model[do_node].states[drawn[do_node]]}
    others = Evidence(hard=hard, do=do, likelihood=likelihood).resolved(model)
    current = posterior(model, [soft_node], others).marginals[soft_node]
    # Half the current posterior, half a random distribution on the states still possible.
    noise = rng.dirichlet(np.ones(model[soft_node].card) * 3) * (current > 0)
    soft = {soft_node: list(0.5 * current + 0.5 * noise / noise.sum())}
    return Evidence(hard=hard, do=do, likelihood=likelihood, soft=soft).resolved(model)


@pytest.mark.parametrize("name", list(BNLEARN))
def test_bnlearn_networks_under_every_kind_of_evidence(name: str) -> None:
    """bn's marginals and P(evidence) against pyAgrum's LazyPropagation (tables in double precision).

    do() is graph surgery on both sides; soft evidence is checked as what it is: the node gets the
    required marginal, and every other marginal is the one the fitted likelihood gives in pyAgrum.
    """
    sets, count = BNLEARN[name]
    model = load_bnlearn(name)
    rng = np.random.default_rng(sum(map(ord, name)))
    for _ in range(sets):
        evidence = _mixed_evidence(model, rng)
        fixed = {*evidence.hard, *evidence.do}
        free = [n for n in model.ids if n not in fixed]
        targets = free if count is None else [str(t) for t in rng.choice(free, count, False)]
        soft_node = next(iter(evidence.soft))
        result = posterior(model, [*targets, soft_node], evidence)
        wanted = list(evidence.soft[soft_node].values())  # type: ignore[union-attr]
        np.testing.assert_allclose(result.marginals[soft_node], wanted, atol=TOLERANCE)
        net = pyagrum_net(intervene(model, evidence.do))
        inference = gum.LazyPropagation(net)
        findings: dict[str, Any] = {**evidence.hard, **evidence.do}
        for node, weights in {**evidence.likelihood, **result.soft_weights}.items():
            vector = np.asarray(list(weights.values()) if isinstance(weights, dict) else weights)
            findings[node] = (vector / vector.max()).tolist()
        inference.setEvidence(findings)
        inference.setTargets(set(targets))
        inference.makeInference()
        for node in targets:
            expected = np.array(inference.posterior(node).tolist())
            np.testing.assert_allclose(result.marginals[node], expected, atol=TOLERANCE)
        hard_only = gum.LazyPropagation(net)
        hard_only.setEvidence({**evidence.hard, **evidence.do})
        hard_only.makeInference()
        likelihood_node, weights = next(iter(evidence.likelihood.items()))
        marginal = np.array(hard_only.posterior(likelihood_node).tolist())
        vector = np.array(list(weights.values()))  # type: ignore[union-attr]
        mass = hard_only.evidenceProbability() * float(marginal @ vector)
        assert float(result.probability_of_evidence) == pytest.approx(mass, rel=TOLERANCE)
