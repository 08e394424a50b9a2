"""`bn learn` and `bn sample`: tables against pgmpy's estimators, EM against pgmpy's EM, sampling
against exact marginals, and the CLI's handling of bad data and of the model's files."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import CHAIN, DATA, FLAGSHIP, run

import bn
from bn.learn import fit, log_likelihood
from bn.learndata import cases
from bn.model import Model
from bn.sampling import sample

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgmpy.estimators import (
        BayesianEstimator,
        ExpectationMaximization,
        MaximumLikelihoodEstimator,
    )
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork


@pytest.fixture(scope="module")
def asia(tmp_path_factory: pytest.TempPathFactory) -> Model:
    out = tmp_path_factory.mktemp("asia") / "asia"
    assert run("import", str(DATA / "asia.bif"), "--out", str(out)).exit_code == 0
    return bn.load(out)


def pgmpy_network(model: Model, latent: frozenset[str] = frozenset()) -> Any:
    edges = [(p, n.id) for n in model for p in n.parents]
    network = DiscreteBayesianNetwork(edges, latents=set(latent))
    network.add_nodes_from(model.ids)
    for node in model:
        network.add_cpds(pgmpy_cpd(model, node.id, node.table, latent))
    return network


def names(model: Model, var: str, latent: frozenset[str] = frozenset()) -> list[Any]:
    """pgmpy's state names: a latent node's states are 0, 1, ... there."""
    return list(range(model[var].card)) if var in latent else list(model[var].states)


def pgmpy_cpd(
    model: Model, name: str, table: np.ndarray, latent: frozenset[str] = frozenset()
) -> Any:
    node = model[name]
    return TabularCPD(
        node.id,
        node.card,
        table.reshape(-1, node.card).T,
        evidence=list(node.parents) or None,
        evidence_card=[model[p].card for p in node.parents] or None,
        state_names={n: names(model, n, latent) for n in [node.id, *node.parents]},
    )


def states(model: Model) -> dict[str, list[str]]:
    return {n.id: list(n.states) for n in model}


def as_table(model: Model, cpd: Any, latent: frozenset[str] = frozenset()) -> np.ndarray:
    """A pgmpy CPD as bn's (*parents, states) array, in bn's state orders."""
    node = model[cpd.variable]
    cpd = cpd.copy()
    order = [cpd.variable, *node.parents]
    values = cpd.get_values().reshape([len(cpd.state_names[v]) for v in order])
    for axis, var in enumerate(order):
        index = [cpd.state_names[var].index(s) for s in names(model, var, latent)]
        values = np.take(values, index, axis=axis)
    return np.moveaxis(values, 0, -1)


@pytest.fixture(scope="module")
def data(asia: Model) -> pd.DataFrame:
    frame, _ = sample(asia, 3000, seed=3)
    return frame.astype(str)


@pytest.mark.parametrize("prior", ["k2", "bdeu", "model", "none"])
def test_complete_data_tables_equal_pgmpys_estimators(
    asia: Model, data: pd.DataFrame, prior: str
) -> None:
    # The model prior needs rows with an ess: give every row ess 7.
    expert = asia.with_nodes(
        [n.__class__(**{**_fields(n), "ess": np.full(n.parent_shape, 7.0)}) for n in asia]
    )
    learnt = fit(expert, data, prior=prior, ess=4.0 if prior == "bdeu" else None).model
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        network = pgmpy_network(expert)
        if prior == "none":
            estimator: Any = MaximumLikelihoodEstimator(network, data, state_names=states(asia))
        else:
            estimator = BayesianEstimator(network, data, state_names=states(asia))
        for node in expert:
            if prior == "none":
                cpd = estimator.estimate_cpd(node.id)
            elif prior == "model":
                pseudo = (node.table * 7.0).reshape(-1, node.card).T
                cpd = estimator.estimate_cpd(node.id, prior_type="dirichlet", pseudo_counts=pseudo)
            else:
                cpd = estimator.estimate_cpd(
                    node.id,
                    prior_type="BDeu" if prior == "bdeu" else "K2",
                    equivalent_sample_size=4,
                )
            expected = as_table(asia, cpd)
            got = learnt[node.id].table
            seen = ~np.isnan(expected).any(axis=-1)  # pgmpy's ML leaves rows without data NaN
            assert np.abs(got[seen] - expected[seen]).max() <= 1e-12, node.id


def _fields(node: Any) -> dict[str, Any]:
    keys = ("id", "states", "parents", "table", "ess", "notes", "label", "description", "aliases")
    return {k: getattr(node, k) for k in keys}


def test_expert_rows_move_by_their_ess() -> None:
    model = bn.load(CHAIN)
    firm = model.with_nodes(
        [
            model["nuclear_use"].__class__(
                **{**_fields(model["nuclear_use"]), "ess": np.array(100.0)}
            )
        ]
    )
    data = pd.DataFrame({"nuclear_use": ["yes"] * 10})
    loose = fit(model, data, prior="model").model["nuclear_use"]  # ess 10 in the file
    strong = fit(firm, data, prior="model").model["nuclear_use"]
    assert loose.table[1] == pytest.approx((3 + 10) / 20)
    assert strong.table[1] == pytest.approx((30 + 10) / 110)
    assert float(loose.ess) == 20


def test_em_climbs_and_is_not_below_pgmpys_em(asia: Model) -> None:
    rng = np.random.default_rng(5)
    frame, _ = sample(asia, 400, seed=11)
    frame = frame.astype(str).drop(columns=["either"])  # a latent node
    start = asia.with_nodes(
        [
            n.__class__(
                **{
                    **_fields(n),
                    "table": rng.dirichlet(np.ones(n.card), size=math.prod(n.parent_shape)).reshape(
                        n.table.shape
                    ),
                }
            )
            for n in asia
        ]
    )
    learnt = fit(start, frame, prior="none", em=True, max_iterations=60, tolerance=1e-10)
    history = learnt.em["history"] if learnt.em else []
    assert all(b >= a - 1e-9 for a, b in itertools.pairwise(history))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        latent = frozenset({"either"})
        network = pgmpy_network(start, latent)
        known = {k: v for k, v in states(asia).items() if k not in latent}
        cpds = ExpectationMaximization(network, frame, state_names=known).get_parameters(
            latent_card={"either": 2},
            max_iter=60,
            atol=1e-10,
            init_cpds={n.id: pgmpy_cpd(start, n.id, n.table, latent) for n in start},
            show_progress=False,
            seed=0,
        )
    theirs = start.with_nodes(
        [
            n.__class__(**{**_fields(n), "table": as_table(asia, c, latent)})
            for c in cpds
            for n in [start[c.variable]]
        ]
    )
    observed = cases(asia, frame)
    assert log_likelihood(learnt.model, observed) >= log_likelihood(theirs, observed) - 1e-6


def test_missing_values_without_em_are_left_out_and_counted() -> None:
    model = bn.load(CHAIN)
    data = pd.DataFrame(
        {
            "nuclear_use": ["yes", "yes", "", "no"],
            "nato_response": ["strike", "", "limited", "limited"],
        }
    )
    learnt = fit(model, data, prior="k2", nodes=["nato_response"])
    assert learnt.incomplete == {"nato_response": 2}
    table = learnt.model["nato_response"].table
    assert table[1].tolist() == [pytest.approx(1 / 3), pytest.approx(2 / 3)]  # one strike + K2
    assert table[0].tolist() == [pytest.approx(2 / 3), pytest.approx(1 / 3)]


def test_sample_frequencies_match_exact_marginals_and_learning_recovers_tables() -> None:
    model = bn.load(FLAGSHIP)
    frame, method = sample(model, 200_000, seed=1)
    assert method == "forward"
    exact = model.query(list(model.ids)).posteriors
    for node in model:
        freq = frame[node.id].value_counts(normalize=True)
        for state, p in exact[node.id].items():
            se = math.sqrt(p * (1 - p) / len(frame))
            assert abs(freq.get(state, 0.0) - p) <= 5 * se + 1e-12, (node.id, state)
    learnt = fit(model, frame.astype(str), prior="none").model
    for node in model:
        counts = frame.groupby(list(node.parents), observed=False).size() if node.parents else None
        for combo, row in node.rows():
            n = (
                len(frame)
                if counts is None
                else int(counts.iloc[int(np.ravel_multi_index(combo, node.parent_shape))])
            )
            if n < 200:
                continue
            se = np.sqrt(row * (1 - row) / n)
            assert np.all(np.abs(learnt[node.id].table[combo] - row) <= 5 * se + 1e-12), node.id


def test_likelihood_weighting_and_rejection_agree_with_the_posterior() -> None:
    model = bn.load(FLAGSHIP)
    evidence = bn.Evidence(hard={"kaboom": "yes"})
    exact = model.query("KABOOM", {"kaboom": "yes"}).posteriors["nuclear_war"]["yes"]
    weighted, method = sample(model, 100_000, seed=2, evidence=evidence)
    assert method == "likelihood weighting"
    w = weighted["weight"].to_numpy()
    estimate = float(np.sum(w * (weighted["nuclear_war"] == "yes")) / w.sum())
    assert abs(estimate - exact) < 0.01
    rejected, method = sample(model, 20_000, seed=2, evidence=evidence, method="rejection")
    assert method == "rejection" and (rejected["nuclear_use"] == "yes").all()
    assert abs((rejected["nuclear_war"] == "yes").mean() - exact) < 0.02
    again, _ = sample(model, 100_000, seed=2, evidence=evidence)
    assert again.equals(weighted)  # the seed makes it reproducible


def test_cli_learn_updates_in_place_through_the_edit_path(tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(CHAIN, model)
    before = (model / "nuclear_use.csv").read_text()
    data = tmp_path / "cases.csv"
    data.write_text("kaboom,KABOOM\nyes,yes\nno,no\nno,no\n")
    dry = run("learn", str(data), "--model", str(model), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "nuclear_use.csv" in dry.stdout and "nothing written" in dry.stdout
    assert (model / "nuclear_use.csv").read_text() == before
    result = run("learn", str(data), "--model", str(model), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["prior"] == "model" and report["rows"] == 3
    assert "nuclear_use.csv" in report["written"]
    text = (model / "nuclear_use.csv").read_text()
    assert text.startswith("# kaboom")  # the comment above the header is kept
    learnt = bn.load(model)["nuclear_use"]
    assert learnt.table[1] == pytest.approx((3 + 1) / 13)  # ess 10 x 0.3 plus one case in 3
    assert "learnt from cases.csv: 3 case(s), prior model" in learnt.notes[0]
    assert "Tegmark" in learnt.notes[0]


def test_cli_learn_to_a_new_directory(tmp_path: Path) -> None:
    data = tmp_path / "cases.csv"
    data.write_text("nuclear_use\nyes\n")
    out = tmp_path / "new"
    result = run("learn", str(data), "--model", str(CHAIN), "-o", str(out), "--prior", "k2")
    assert result.exit_code == 0, result.output
    assert bn.load(out)["nuclear_use"].table.tolist() == [
        pytest.approx(1 / 3),
        pytest.approx(2 / 3),
    ]
    assert bn.load(CHAIN)["nuclear_use"].table.tolist() == [0.7, 0.3]
    again = run("learn", str(data), "--model", str(CHAIN), "-o", str(out))
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_bad_data_is_reported_all_at_once_with_row_and_column(tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(CHAIN, model)
    before = {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()}
    data = tmp_path / "bad.csv"
    data.write_text("kaboom,nato_respons,KABOOM\nyes,strike,maybe\nperhaps,limited,no\n")
    result = run("learn", str(data), "--model", str(model))
    assert result.exit_code == 2
    assert "bad.csv:1: error: column 'nato_respons' names no node" in result.stderr
    assert "did you mean 'nato_response'?" in result.stderr
    assert "bad.csv:2: error: column KABOOM: 'maybe' is not a state of nuclear_war" in result.stderr
    assert (
        "bad.csv:3: error: column kaboom: 'perhaps' is not a state of nuclear_use" in result.stderr
    )
    assert {p.name: p.read_bytes() for p in model.iterdir() if p.is_file()} == before
    missing = run("learn", str(tmp_path / "none.csv"), "--model", str(model))
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_cli_sample_writes_csv_and_parquet(tmp_path: Path) -> None:
    out = tmp_path / "cases.csv"
    result = run("sample", "-n", "500", "--seed", "4", "--model", str(CHAIN), "-o", str(out))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(frame.columns) == ["nuclear_use", "nato_response", "nuclear_war"]
    assert len(frame) == 500
    assert set(frame["nuclear_war"]) <= {"no", "yes"}
    parquet = tmp_path / "cases.parquet"
    run("sample", "-n", "500", "--seed", "4", "--model", str(CHAIN), "-o", str(parquet))
    assert pd.read_parquet(parquet).astype(str).equals(frame)
    shown = run("sample", "-n", "3", "-e", "kaboom=yes", "--model", str(CHAIN))
    assert shown.stdout.splitlines()[0] == "nuclear_use,nato_response,nuclear_war,weight"
    assert "likelihood weighting" in shown.stderr
    soft = run("sample", "-n", "3", "--soft", "kaboom=yes:0.5", "--model", str(CHAIN))
    assert soft.exit_code == 2 and "only hard evidence" in soft.stderr
