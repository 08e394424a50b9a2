"""`bn voi`: mutual information and ranges checked by an explicit loop over each node's states."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import CHAIN, FLAGSHIP, run, run_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import random_model

import bn
from bn.analysis.voi import value_of_information
from bn.engine import query
from bn.evidence import Evidence
from bn.model import Model


def loop(
    model: Model, target: str, candidate: str, evidence: Evidence
) -> tuple[float, dict[str, tuple[float, dict[str, float]]]]:
    """I(X; T | e) in bits and P(T | X=x, e) per state x, one query per state of X."""
    prior = query(model, [target, candidate], evidence).posteriors
    rest = {k: v for k, v in evidence.hard.items() if k != candidate}
    rest_l = {k: v for k, v in evidence.likelihood.items() if k != candidate}
    bits = 0.0
    given: dict[str, tuple[float, dict[str, float]]] = {}
    for x, px in prior[candidate].items():
        if px <= 0:
            continue
        observed = Evidence(hard={**rest, candidate: x}, do=evidence.do, likelihood=rest_l)
        post = query(model, [target], observed).posteriors[target]
        given[x] = (px, post)
        bits += px * sum(p * math.log2(p / prior[target][t]) for t, p in post.items() if p > 0)
    return bits, given


def test_chain() -> None:
    model = bn.load(CHAIN)
    result = value_of_information(model, "KABOOM", model.evidence())
    assert result.state == "yes" and result.probability == pytest.approx(0.168)
    h = -(0.168 * math.log2(0.168) + 0.832 * math.log2(0.832))
    assert result.entropy == pytest.approx(h)
    by_node = {i.node: i for i in result.indicators}
    assert set(by_node) == {"nuclear_use", "nato_response"}
    kaboom = by_node["nuclear_use"]
    assert (kaboom.low_state, kaboom.high_state) == ("no", "yes")
    assert (kaboom.low, kaboom.high) == pytest.approx((0.0, 0.56))
    strike = by_node["nato_response"]
    assert (strike.low, strike.high) == pytest.approx((0.0, 0.7))
    for name, indicator in by_node.items():
        bits, given = loop(model, "nuclear_war", name, model.evidence())
        assert indicator.mutual_information == pytest.approx(bits, abs=1e-12)
        assert list(indicator.states) == list(given)
        for x, (px, post) in given.items():
            assert indicator.states[x] == pytest.approx((px, post["yes"]), abs=1e-12)
    # knowing the response tells more than knowing kaboom: it also says whether NATO struck
    assert [i.node for i in result.indicators] == ["nato_response", "nuclear_use"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(2, 5))
def test_random_networks_match_a_loop_over_states(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, size)
    names = list(model.ids)
    target = names[int(rng.integers(size))]
    others = [n for n in names if n != target]
    rng.shuffle(others)
    hard = {n: model[n].states[0] for n in others[:1] if rng.random() < 0.5}
    do = {n: model[n].states[-1] for n in others[1:2] if rng.random() < 0.5}
    likelihood = {n: list(rng.uniform(0.2, 2, model[n].card)) for n in others[2:3]}
    evidence = Evidence(hard=hard, do=do, likelihood=likelihood).resolved(model)
    result = value_of_information(model, target, evidence)
    assert {i.node for i in result.indicators} == set(names) - {target, *hard, *do}
    state = model[target].states[-1]
    for indicator in result.indicators:
        bits, given = loop(model, target, indicator.node, evidence)
        assert indicator.mutual_information == pytest.approx(bits, abs=1e-10)
        values = {x: post[state] for x, (_, post) in given.items()}
        assert indicator.low == pytest.approx(min(values.values()), abs=1e-12)
        assert indicator.high == pytest.approx(max(values.values()), abs=1e-12)
        assert values[indicator.low_state] == pytest.approx(indicator.low, abs=1e-12)
    mis = [i.mutual_information for i in result.indicators]
    assert mis == sorted(mis, reverse=True)


def test_soft_evidence_conditions_the_updated_distribution() -> None:
    """With soft evidence, observing X conditions the Jeffrey-updated joint (enumerated here)."""
    model = random_model(np.random.default_rng(3), 4)
    r = [0.2] + [0.8 / (model["n0"].card - 1)] * (model["n0"].card - 1)
    evidence = Evidence(soft={"n0": r}).resolved(model)
    result = value_of_information(model, "n3", evidence, candidates=["n1", "n2", "n0"])
    nodes = model.nodes
    joint = np.zeros([n.card for n in nodes])
    for combo in itertools.product(*(range(n.card) for n in nodes)):
        joint[combo] = math.prod(
            n.table[(*(combo[model.ids.index(p)] for p in n.parents), combo[i])]
            for i, n in enumerate(nodes)
        )
    prior0 = joint.sum(axis=(1, 2, 3))
    joint *= (np.array(r) / prior0).reshape(-1, 1, 1, 1)  # Jeffrey's rule on n0
    for indicator in result.indicators:
        axis = model.ids.index(indicator.node)
        pair = joint.sum(axis=tuple(i for i in range(4) if i not in (axis, 3)))
        pair = pair if axis < 3 else pair.T
        outer = pair.sum(axis=1, keepdims=True) * pair.sum(axis=0, keepdims=True)
        bits = float(np.sum(pair * np.log2(pair / outer)))
        assert indicator.mutual_information == pytest.approx(bits, abs=1e-12)
        high = max(pair[x, -1] / pair[x].sum() for x in range(pair.shape[0]))
        assert indicator.high == pytest.approx(high, abs=1e-12)


def test_flagship_loop_and_json() -> None:
    model = bn.load(FLAGSHIP)
    data = run_json("voi", "KABOOM", "--model", str(FLAGSHIP), "-e", "western_resolve=firm")
    assert {"target", "state", "probability", "entropy", "candidates"} <= set(data)
    war = model.resolve("KABOOM")
    assert data["target"] == war and data["state"] == "yes"
    names = [c["node"] for c in data["candidates"]]
    assert "western_resolve" not in names and war not in names
    evidence = model.evidence(hard={"western_resolve": "firm"})
    for candidate in data["candidates"]:
        bits, given = loop(model, war, candidate["node"], evidence)
        assert candidate["mutual_information"] == pytest.approx(bits, abs=1e-10)
        assert set(candidate) == {
            "node", "mutual_information", "low", "high", "low_state", "high_state", "states",
        }  # fmt: skip
        for x, entry in candidate["states"].items():
            assert entry["probability"] == pytest.approx(given[x][0], abs=1e-12)
            assert entry["target"] == pytest.approx(given[x][1]["yes"], abs=1e-12)


def test_cli_candidates_and_table() -> None:
    result = run(
        "voi", "KABOOM=yes", "--model", str(CHAIN), "--candidates", "kaboom", "--candidates",
        "nato_response",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.rstrip().endswith(("use", "se"))]
    assert rows[0].endswith("nato_response") and rows[1].endswith("nuclear_use")
    assert "70.0% (strike)" in result.stdout and "56.0% (yes)" in result.stdout
    data = run_json("voi", "kaboom", "--model", str(CHAIN), "--candidates", "KABOOM,nato_response")
    assert data["target"] == "nuclear_use" and data["state"] == "yes"
    assert [c["node"] for c in data["candidates"]] == ["nato_response", "nuclear_war"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["KABOOM", "--candidates", "KABOOM"], "is the target"),
        (["KABOOM", "--candidates", "kaboom", "-e", "kaboom=yes"], "already observed"),
        (["KABOOM", "--candidates", "kabom"], "unknown node 'kabom'"),
        (["KABOOM", "-e", "KABOOM=yes"], "nothing left to learn"),
    ],
)
def test_cli_bad_input(args: list[str], message: str) -> None:
    result = run("voi", *args, "--model", str(CHAIN))
    assert result.exit_code == 2
    assert message in result.stderr


def test_voi_defaults_to_the_observable_nodes() -> None:
    from conftest import FLAGSHIP, run_json

    default = run_json("voi", "KABOOM", "--model", str(FLAGSHIP))
    every = run_json("voi", "KABOOM", "--all", "--model", str(FLAGSHIP))
    ranked = [c["node"] for c in default["candidates"]]
    assert "war_outcome" not in ranked and "deaths" not in ranked
    assert [c["node"] for c in every["candidates"]][:2] == ["war_outcome", "deaths"]


def test_voi_without_observable_flags_weighs_every_node() -> None:
    from conftest import CHAIN, run_json

    result = run_json("voi", "KABOOM", "--model", str(CHAIN))
    assert {c["node"] for c in result["candidates"]} == {"nuclear_use", "nato_response"}


def test_voi_refuses_candidates_with_all() -> None:
    from conftest import FLAGSHIP, run

    result = run("voi", "KABOOM", "--all", "--candidates", "starlink", "--model", str(FLAGSHIP))
    assert result.exit_code == 2 and "not both" in result.stderr
