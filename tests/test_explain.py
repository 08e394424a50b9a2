"""`bn explain`: leave-one-out, likelihood ratios, MPE and paths against brute-force enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import CHAIN, FLAGSHIP, run, run_json
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import brute_joint, marginal, prob, random_model

import bn
from bn.analysis.explain import escalation_paths, explain, most_probable_explanation
from bn.evidence import Evidence
from bn.model import Model, Node


def random_evidence(model: Model, rng: np.random.Generator) -> Evidence:
    names = [n.id for n in model.nodes]
    rng.shuffle(names)
    parts: dict[str, dict[str, object]] = {"hard": {}, "do": {}, "likelihood": {}, "soft": {}}
    for name in names[: int(rng.integers(0, 4))]:
        kind = str(rng.choice(list(parts)))
        states = model[name].states
        if kind in ("hard", "do"):
            parts[kind][name] = states[int(rng.integers(len(states)))]
        elif kind == "likelihood":
            parts[kind][name] = list(rng.uniform(0.1, 3, len(states)))
        elif not parts["soft"]:
            parts[kind][name] = list(rng.dirichlet(np.ones(len(states))) * 0.9 + 0.1 / len(states))
    return Evidence(**parts).resolved(model)  # type: ignore[arg-type]


# --- the chain ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> Model:
    return bn.load(CHAIN)


def test_chain_a_strike_explains_kaboom(chain: Model) -> None:
    result = explain(chain, "KABOOM", "yes", chain.evidence(hard={"nato_response": "strike"}))
    assert result.probability == pytest.approx(0.7) and result.prior == pytest.approx(0.168)
    (piece,) = result.pieces
    assert (piece.kind, piece.node, piece.value) == ("evidence", "nato_response", "strike")
    assert piece.without == pytest.approx(0.168)
    assert piece.likelihood_ratio == pytest.approx((0.7 / 0.3) / (0.168 / 0.832))
    # a strike needs kaboom; then KABOOM 70% of the time
    assert result.mpe.states == {"nuclear_use": "yes", "nuclear_war": "yes"}
    assert result.mpe.probability == pytest.approx(0.7)


def test_chain_paths_and_their_shares(chain: Model) -> None:
    result = explain(chain, "KABOOM", "yes", chain.evidence(), top=5)
    assert result.ancestors == ("nuclear_use", "nato_response")
    assert [p.states for p in result.paths] == [{"nuclear_use": "yes", "nato_response": "strike"}]
    assert result.paths[0].share == pytest.approx(1.0)
    assert result.paths[0].probability == pytest.approx(0.168)
    assert result.mpe.states == {
        "nuclear_use": "no",
        "nato_response": "limited",
        "nuclear_war": "no",
    }
    assert result.mpe.probability == pytest.approx(0.7)


def test_evidence_that_settles_the_target_has_an_infinite_ratio(chain: Model) -> None:
    result = explain(chain, "KABOOM", "yes", chain.evidence(hard={"kaboom": "no"}))
    assert result.probability == 0.0
    assert result.pieces[0].llr == -math.inf
    assert result.pieces[0].to_dict()["llr"] is None  # JSON has no infinity
    assert result.paths == ()


# --- random networks against enumeration ------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 5))
def test_mpe_matches_enumeration(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, size)
    evidence = random_evidence(model, rng)
    try:
        joint = brute_joint(model, evidence)
    except ZeroDivisionError:  # the evidence is impossible: not an example
        assume(False)
    mpe = most_probable_explanation(model, evidence)
    assert set(mpe.states) == set(model.ids) - set(evidence.hard) - set(evidence.do)
    assert mpe.probability == pytest.approx(float(joint.max()), rel=1e-9)
    states = {**evidence.hard, **evidence.do, **mpe.states}
    index = tuple(n.states.index(states[n.id]) for n in model.nodes)
    assert joint[index] == pytest.approx(float(joint.max()), rel=1e-9)  # ties allowed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(2, 5))
def test_leave_one_out_and_paths_match_enumeration(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, size)
    evidence = random_evidence(model, rng)
    target = model.nodes[int(rng.integers(size))]
    state = target.states[-1]
    assume(target.id not in evidence.hard and target.id not in evidence.do)
    try:
        joint = brute_joint(model, evidence)
    except ZeroDivisionError:  # the evidence is impossible: not an example
        assume(False)
    result = explain(model, target.id, state, evidence, top=4)
    p = prob(model, target.id, state, evidence)
    assert result.probability == pytest.approx(p, abs=1e-10)
    for piece in result.pieces:
        kind = {"evidence": "hard"}.get(piece.kind, piece.kind)
        parts = {k: dict(getattr(evidence, k)) for k in ("hard", "do", "likelihood", "soft")}
        del parts[kind][piece.node]
        rest = Evidence(**parts)
        try:
            q = prob(model, target.id, state, rest)
        except ZeroDivisionError:
            assert piece.without is None
            continue
        assert piece.without == pytest.approx(q, abs=1e-10)
        if 1e-9 < p < 1 - 1e-9 and 1e-9 < q < 1 - 1e-9:
            expected = math.log(p / (1 - p)) - math.log(q / (1 - q))
            assert piece.llr == pytest.approx(expected, abs=1e-7)
        if kind == "hard" and not evidence.soft and 1e-9 < q < 1 - 1e-9:
            # Bayes: the ratio is P(observation | target, rest) / P(observation | not target, rest)
            # (soft evidence is re-fitted after the others, so it breaks this identity)
            pair = marginal(model, brute_joint(model, rest), [piece.node, target.id])
            x = model[piece.node].states.index(str(piece.value))
            given_t = pair[x, -1] / pair[:, -1].sum()  # the target state is the last
            given_not = pair[x, :-1].sum() / pair[:, :-1].sum()
            if given_t > 0 and given_not > 0:
                assert piece.llr == pytest.approx(math.log(given_t / given_not), abs=1e-7)
    # paths: the joint of the free ancestors (after surgery) with target=state
    parents = {n.id: () if n.id in evidence.do else n.parents for n in model.nodes}
    above, stack = set(), list(parents[target.id])
    while stack:
        name = stack.pop()
        if name not in above:
            above.add(name)
            stack.extend(parents[name])
    free = [n for n in model.ids if n in above and n not in evidence.hard and n not in evidence.do]
    assert list(result.ancestors) == free
    table = marginal(model, joint, [*free, target.id])[..., target.states.index(state)]
    largest = sorted(table.reshape(-1), reverse=True)[:4]
    best_paths = [float(e) for e in largest if e > 0] if free else []
    assert [a.probability for a in result.paths] == pytest.approx(best_paths, abs=1e-12)
    for path in result.paths:
        index = tuple(model[a].states.index(path.states[a]) for a in free)
        assert table[index] == pytest.approx(path.probability, abs=1e-12)
        assert path.share == pytest.approx(path.probability / p)


def test_paths_refuse_a_joint_that_is_too_large() -> None:
    roots = [Node(f"r{i}", ("a", "b"), (), np.array([0.5, 0.5])) for i in range(20)]
    table = np.full((2,) * 20 + (2,), 0.5)
    model = Model((*roots, Node("t", ("no", "yes"), tuple(r.id for r in roots), table)))
    with pytest.raises(bn.EvidenceError, match="20 free ancestors has 2,097,152 cells"):
        escalation_paths(model, "t", "yes", Evidence(), top=3)
    result = explain(model, "t", "yes", Evidence(hard={"r0": "a"}).resolved(model), top=3,
                     strict=False)  # fmt: skip
    assert result.paths == () and "19 free ancestors has 1,048,576 cells" in result.paths_note
    assert "observe some of them" in result.paths_note


# --- the command line ----------------------------------------------------------------------------


def test_cli_json_schema_on_the_flagship() -> None:
    data = run_json(
        "explain", "KABOOM=yes", "--model", str(FLAGSHIP),
        "-e", "kaboom=yes", "--soft", "western_resolve=firm:0.9", "--top", "3",
    )  # fmt: skip
    assert {"target", "state", "probability", "prior", "pieces", "mpe", "paths"} <= set(data)
    assert [p["kind"] for p in data["pieces"]] == ["evidence", "soft"]
    kaboom = data["pieces"][0]
    assert set(kaboom) == {"kind", "node", "value", "with", "without", "llr", "likelihood_ratio"}
    assert kaboom["without"] > 0 and kaboom["with"] > kaboom["without"]
    assert bn.load(FLAGSHIP).resolve("kaboom") not in data["mpe"]["states"]  # observed
    assert len(data["paths"]) == 3
    assert sum(p["share"] for p in data["paths"]) <= 1 + 1e-12


def test_cli_table() -> None:
    result = run("explain", "KABOOM=yes", "--model", str(CHAIN), "-e", "nato_response=strike")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "P(nuclear_war=yes) = 70.0%" in out and "(16.8% with none)" in out
    assert "×11.6 (ln +2.45)" in out
    assert "most probable explanation (probability 70.0%)" in out
    assert "likeliest paths to nuclear_war=yes" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["KABOOM=yes", "-e", "KABOOM=no"], "nothing to explain"),
        (["KABOOM=perhaps"], "states of nuclear_war"),
        (["KABOOM=yes", "--top", "-1"], "-1"),
    ],
)
def test_cli_bad_input(args: list[str], message: str) -> None:
    result = run("explain", *args, "--model", str(CHAIN))
    assert result.exit_code == 2
    assert message in result.stderr
