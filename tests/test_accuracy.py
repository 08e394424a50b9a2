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
from conftest import DATA, run, run_json

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
