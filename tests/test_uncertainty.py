"""Parameter uncertainty: Dirichlet draws of rows with an ess, batched posteriors, `bn uncertainty`.

Independent checks: the moments and tails of the Dirichlet/Beta (scipy); on the three-step chain
the exact mean and variance of a product of independent Betas, and the quantiles of the same product
sampled with scipy; every batched answer against the unbatched engine draw by draw, and some draws
against pgmpy's VariableElimination.
"""

from __future__ import annotations

import io
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CHAIN, DATA, FLAGSHIP, run, run_json
from scipy import stats

import bn
from bn.analysis.uncertainty import draw_tables, sample, uncertainty
from bn.cli.common import ProgressBar
from bn.engine import posterior
from bn.evidence import parse_target
from bn.model import Model, Node

CHAIN_ESS = DATA / "chain_ess"  # the chain with an ess on each of its three judgements


@pytest.fixture(scope="module")
def flagship() -> Model:
    return bn.load(FLAGSHIP)


@pytest.fixture(scope="module")
def chain_ess() -> Model:
    return bn.load(CHAIN_ESS)


def two_nodes(
    root: list[float], root_ess: float, child: list[list[float]], child_ess: list[float]
) -> Model:
    a = Node(
        "a", tuple(f"a{i}" for i in range(len(root))), (), np.array(root), ess=np.array(root_ess)
    )
    b = Node("b", ("b0", "b1", "b2"), ("a",), np.array(child), ess=np.array(child_ess))
    return Model((a, b))


# --- the draws ----------------------------------------------------------------------------------


def test_dirichlet_draws_have_the_moments_of_the_row() -> None:
    model = two_nodes(
        [0.6, 0.3, 0.1, 0.0],
        8.0,
        [[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [1.0, 0.0, 0.0]],
        [30.0, math.nan, 2.0, math.nan],
    )
    n = 40_000
    tables = draw_tables(model, n, seed=1)
    for node in model:
        drawn = tables[node.id]
        assert drawn.shape == (n, *node.table.shape)
        assert np.allclose(drawn.sum(axis=-1), 1.0, atol=1e-12)
        for combo in np.ndindex(*node.parent_shape):
            cells = drawn[(slice(None), *combo)]
            row, ess = node.table[combo], float(node.ess[combo])
            if math.isnan(ess):  # exact rows are never drawn
                assert np.array_equal(cells, np.broadcast_to(row, cells.shape))
                continue
            assert np.all(cells[:, row == 0] == 0)  # a zero stays a zero
            variance = row * (1 - row) / (ess + 1)
            se = np.sqrt(variance / n)
            assert np.all(np.abs(cells.mean(axis=0) - row) <= 5 * se + 1e-15)
            assert np.allclose(cells.var(axis=0), variance, rtol=0.05, atol=1e-15)


def test_tiny_ess_is_drawn_in_log_space_without_nan() -> None:
    # Beta(0.005, 0.005): both gamma variates often underflow to 0 in plain sampling.
    model = two_nodes([0.5, 0.5], 0.01, [[1, 0, 0], [0, 1, 0]], [math.nan, math.nan])
    n = 20_000
    first = draw_tables(model, n, seed=2)["a"][:, 0]
    assert np.isfinite(first).all()
    assert abs(first.mean() - 0.5) <= 5 * math.sqrt(0.25 / 1.01 / n)
    chunked = uncertainty(model, "a", "a0", model.evidence(), n=n, seed=2, chunk=333).draws
    assert np.allclose(chunked, first, rtol=0, atol=1e-12)  # same draws whatever the chunks
    expected = 2 * stats.beta(0.005, 0.005).cdf(1e-6)  # mass within 1e-6 of 0 or of 1
    observed = np.mean((first < 1e-6) | (first > 1 - 1e-6))
    assert observed == pytest.approx(expected, abs=0.01)


def test_draws_that_make_the_evidence_impossible_are_dropped() -> None:
    model = two_nodes([0.5, 0.5], 0.001, [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]], [math.nan, math.nan])
    evidence = model.evidence(hard={"a": "a0"})
    result = uncertainty(model, "b", "b2", evidence, n=5000, seed=4, chunk=5000)
    zero = int(np.sum(draw_tables(model, 5000, seed=4)["a"][:, 0] == 0))
    assert zero > 0
    assert result.dropped == zero
    assert result.mean == pytest.approx(0.5) and result.interval_95 == pytest.approx((0.5, 0.5))


# --- accuracy -----------------------------------------------------------------------------------


def beta_factors(model: Model) -> list[Any]:
    """The three judgements of the chain as scipy Betas over the 'yes'/'strike' probability."""
    rows = [("nuclear_use", (), 1), ("nato_response", (1,), 1), ("nuclear_war", (1, 1), 1)]
    factors = []
    for name, combo, state in rows:
        node = model[name]
        p, ess = float(node.table[(*combo, state)]), float(node.ess[combo])
        factors.append(stats.beta(ess * p, ess * (1 - p)))
    return factors


def test_monte_carlo_mean_matches_the_product_of_beta_means(chain_ess: Model) -> None:
    n = 200_000
    result = uncertainty(chain_ess, "KABOOM", "yes", chain_ess.evidence(), n=n, seed=3)
    factors = beta_factors(chain_ess)
    exact_mean = math.prod(f.mean() for f in factors)
    exact_var = math.prod(f.moment(2) for f in factors) - exact_mean**2
    assert exact_mean == pytest.approx(0.3 * 0.8 * 0.7)
    assert result.point == pytest.approx(exact_mean)
    assert abs(result.mean - exact_mean) < 4 * result.standard_error
    assert result.std == pytest.approx(math.sqrt(exact_var), rel=0.02)
    rng = np.random.default_rng(99)
    product = np.prod([f.rvs(size=n, random_state=rng) for f in factors], axis=0)
    assert result.interval_90 == pytest.approx(tuple(np.quantile(product, [0.05, 0.95])), abs=0.004)
    assert result.median == pytest.approx(float(np.median(product)), abs=0.003)


def test_interval_collapses_onto_the_point_as_ess_grows(chain_ess: Model) -> None:
    widths, means = [], []
    for scale in (1, 100, 10_000, 1_000_000):
        model = chain_ess.with_nodes([replace(n, ess=n.ess * scale) for n in chain_ess])
        result = uncertainty(model, "KABOOM", "yes", model.evidence(), n=20_000, seed=5)
        low, high = result.interval_90
        assert low <= result.point <= high
        widths.append(high - low)
        means.append(result.mean)
    assert widths == sorted(widths, reverse=True) and widths[-1] < 1e-3
    assert widths[2] / widths[3] == pytest.approx(10, rel=0.15)  # width ~ 1 / sqrt(ess)
    assert means[-1] == pytest.approx(0.168, abs=1e-4)


EVIDENCE = {
    "none": {},
    "hard": {"hard": {"western_resolve": "firm", "kaboom": "yes"}},
    "soft": {"soft": {"kaboom": {"yes": 0.05}}},
    "do": {"do": {"starlink": "cut"}},
    "likelihood": {"likelihood": {"crimea_offensive": {"no": 1.0, "yes": 3.0}}},
    "mixed": {"hard": {"peace_talks": "talks"}, "soft": {"battlefield": [0.3, 0.7]}, "do": {"western_resolve": "wavering"}},
}  # fmt: skip


@pytest.mark.parametrize("kind", EVIDENCE)
def test_batched_draws_equal_draw_by_draw(flagship: Model, kind: str) -> None:
    n, seed = 20, 6
    evidence = bn.Evidence(**EVIDENCE[kind])
    batched = sample(
        [(flagship, evidence.resolved(flagship))], "nuclear_war", "yes", n=n, seed=seed
    )
    tables = draw_tables(flagship, n, seed)
    one_by_one = []
    for i in range(n):
        model = flagship.with_nodes([replace(flagship[k], table=t[i]) for k, t in tables.items()])
        marginal = posterior(model, ["nuclear_war"], evidence.resolved(model)).marginals[
            "nuclear_war"
        ]
        one_by_one.append(marginal[1])
    assert batched.shape == (1, n)
    assert np.allclose(batched[0], one_by_one, rtol=1e-10, atol=1e-14)
    assert np.ptp(batched) > 0.01  # the draws really differ


def to_pgmpy(model: Model, tables: dict[str, np.ndarray], i: int) -> Any:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    network = DiscreteBayesianNetwork([(p, n.id) for n in model for p in n.parents])
    for node in model:
        table = tables[node.id][i] if node.id in tables else node.table
        values = table.reshape(-1, node.card).T
        names = {node.id: list(node.states), **{p: list(model[p].states) for p in node.parents}}
        network.add_cpds(
            TabularCPD(
                node.id,
                node.card,
                values,
                evidence=list(node.parents) or None,
                evidence_card=[model[p].card for p in node.parents] or None,
                state_names=names,
            )
        )
    return network


def test_draws_agree_with_pgmpy_variable_elimination(flagship: Model) -> None:
    from pgmpy.inference import VariableElimination

    n, seed = 4, 7
    given = {"western_resolve": "firm", "peace_talks": "talks"}
    evidence = flagship.evidence(hard=given)
    batched = sample([(flagship, evidence)], "nuclear_war", "yes", n=n, seed=seed)[0]
    tables = draw_tables(flagship, n, seed)
    for i in range(n):
        engine = VariableElimination(to_pgmpy(flagship, tables, i))
        answer = engine.query(["nuclear_war"], evidence=given, show_progress=False)
        assert batched[i] == pytest.approx(answer.get_value(nuclear_war="yes"), abs=1e-12)


# --- reproducibility and bookkeeping ------------------------------------------------------------


def test_same_seed_same_numbers_whatever_the_chunks(flagship: Model) -> None:
    evidence = flagship.evidence(soft={"kaboom": {"yes": 0.09}})
    first = uncertainty(flagship, "KABOOM", "yes", evidence, n=5000, seed=11)
    again = uncertainty(flagship, "KABOOM", "yes", evidence, n=5000, seed=11, chunk=333)
    other = uncertainty(flagship, "KABOOM", "yes", evidence, n=5000, seed=12)
    assert np.array_equal(first.draws, again.draws)
    assert not np.array_equal(first.draws, other.draws)
    assert first.to_dict() == again.to_dict()


def test_progress_is_reported_once_per_chunk(chain_ess: Model) -> None:
    calls: list[tuple[int, int]] = []
    sample(
        [(chain_ess, chain_ess.evidence())], "KABOOM", "yes",
        n=3500, seed=0, chunk=1000, progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert calls == [(1000, 3500), (2000, 3500), (3000, 3500), (3500, 3500)]


def test_the_second_chunk_sizes_the_rest_and_the_first_is_not_traced(
    chain_ess: Model, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first chunk compiles the plans (a path search is several times slower under
    tracemalloc); the second, of the same size, is traced; a run of one or two chunks is not."""
    import tracemalloc

    import bn.analysis.uncertainty as module

    traced: list[bool] = []

    def watched(*args: Any, **kwargs: Any) -> Any:
        traced.append(tracemalloc.is_tracing())
        return posterior(*args, **kwargs)

    monkeypatch.setattr(module, "posterior", watched)
    calls: list[int] = []
    question = [(chain_ess, chain_ess.evidence())]
    sample(question, "KABOOM", "yes", n=20_000, seed=0, progress=lambda d, _: calls.append(d))
    assert calls == [2048, 4096, 20_000]  # the rest in one chunk: a small model's peak is small
    assert traced == [False, True, False]
    traced.clear()
    sample(question, "KABOOM", "yes", n=4000, seed=0)
    assert traced == [False, False]


def test_sampling_leaves_tracemalloc_as_it_found_it(chain_ess: Model) -> None:
    import tracemalloc

    question = [(chain_ess, chain_ess.evidence())]
    assert not tracemalloc.is_tracing()
    plain = sample(question, "KABOOM", "yes", n=3000, seed=5)
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        held = bytearray(20_000_000)  # the caller's own allocations stay traced
        traced = sample(question, "KABOOM", "yes", n=3000, seed=5)
        assert tracemalloc.is_tracing()
        assert tracemalloc.get_traced_memory()[0] >= len(held)
    finally:
        tracemalloc.stop()
    assert np.array_equal(plain, traced)


def test_progress_bar_waits_a_second_then_draws_and_erases() -> None:
    ticks = iter([0.0, 0.2, 0.4])
    quiet = io.StringIO()
    bar = ProgressBar(quiet, clock=lambda: next(ticks))
    bar(50, 100)
    bar(100, 100)
    bar.close()
    assert quiet.getvalue() == ""
    ticks = iter([0.0, 1.5, 2.0])
    slow = io.StringIO()
    bar = ProgressBar(slow, clock=lambda: next(ticks))
    bar(50, 100)
    bar(100, 100)
    bar.close()
    frames = slow.getvalue().split("\r")
    assert "50%" in frames[1] and "100%" in frames[2] and frames[-1] == ""
    assert frames[-2].strip() == ""  # the last frame is erased


def test_tables_without_ess_give_the_point_value() -> None:
    exact = bn.load(CHAIN)
    exact = exact.with_nodes([replace(n, ess=np.array(math.nan)) for n in exact])
    result = uncertainty(exact, "KABOOM", "yes", exact.evidence(), n=1000, seed=0)
    assert result.rows == 0
    assert np.all(result.draws == result.point)
    assert result.interval_95 == pytest.approx((0.168, 0.168))


def test_threshold_gives_the_share_of_draws_above_it(chain_ess: Model) -> None:
    result = uncertainty(
        chain_ess, "KABOOM", "yes", chain_ess.evidence(), n=4000, seed=8, threshold=0.2
    )
    assert result.share_above == pytest.approx(float(np.mean(result.draws > 0.2)))
    assert 0 < result.share_above < 1
    assert (
        uncertainty(chain_ess, "KABOOM", "yes", chain_ess.evidence(), n=10, seed=8).share_above
        is None
    )


def test_parse_target_defaults_to_yes_else_the_last_state() -> None:
    chain = bn.load(CHAIN)
    assert parse_target(chain, "KABOOM") == ("nuclear_war", "yes")
    assert parse_target(chain, "nato_response") == ("nato_response", "strike")
    assert parse_target(chain, "nato_response=LIMITED") == ("nato_response", "limited")


# --- the command --------------------------------------------------------------------------------


def test_json_schema_and_values(chain_ess: Model) -> None:
    data = run_json("uncertainty", "KABOOM=yes", "--model", str(CHAIN_ESS), "-n", "3000", "--seed", "9",
                    "--threshold", "0.25")  # fmt: skip
    assert set(data) == {
        "target", "n", "seed", "point", "mean", "median", "interval_90", "interval_95",
        "share_above", "threshold", "std", "uncertain_rows", "dropped", "scenario",
    }  # fmt: skip
    direct = uncertainty(
        chain_ess, "KABOOM", "yes", chain_ess.evidence(), n=3000, seed=9, threshold=0.25
    )
    assert data == {**direct.to_dict(), "scenario": None}
    assert data["target"] == "nuclear_war=yes" and data["uncertain_rows"] == 3
    low, high = data["interval_95"]
    assert low <= data["interval_90"][0] <= data["median"] <= data["interval_90"][1] <= high


def test_scenario_and_evidence_on_top() -> None:
    model = str(DATA / "chain_scenarios")
    data = run_json("uncertainty", "KABOOM=yes", "--model", model, "--scenario", "strike_forced",
                    "-e", "kaboom=yes", "-n", "500")  # fmt: skip
    assert data["scenario"] == "strike_forced"
    assert data["point"] == pytest.approx(0.7)  # do(strike) and kaboom observed: the last step only


def test_human_output_and_no_progress_bar_off_a_terminal() -> None:
    result = run(
        "uncertainty", "KABOOM=yes", "--model", str(CHAIN_ESS), "-n", "2000", "--threshold", "0.1"
    )
    assert result.exit_code == 0, result.stderr
    for word in (
        "P(nuclear_war = yes)",
        "point",
        "16.8%",
        "mean",
        "median",
        "90%",
        "95%",
        "> 10.0%",
    ):
        assert word in result.stdout
    assert "2,000 draws, seed 0, 3 uncertain row(s)" in result.stdout
    assert result.stderr == ""


def test_exact_answer_is_said_to_be_exact() -> None:
    result = run(
        "uncertainty",
        "nato_response=strike",
        "--do",
        "kaboom=yes",
        "--model",
        str(CHAIN),
        "-n",
        "100",
    )
    assert result.exit_code == 0
    assert "the answer is exact" in result.stdout and "80.0%" in result.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["KABOOM=maybe"], ["'maybe' is not a state of nuclear_war", "no, yes"]),
        (["KABOM=yes"], ["unknown node 'KABOM'", "did you mean"]),
        (["KABOOM="], ["NODE=STATE"]),
        (["KABOOM=yes", "-n", "0"], ["not in the range 100<=x<=10000000"]),
        (["KABOOM=yes", "--seed", "-1"], ["non-negative"]),
        (["KABOOM=yes", "--threshold", "1.5"], ["1.5 is not in the range 0<=x<=1"]),
        (["KABOOM=yes", "--threshold", "lots"], ["'lots' is not a valid float range"]),
        (["KABOOM=yes", "--threshold", "nan"], ["between 0 and 1"]),
        (["KABOOM=yes", "--hist", "out.nope"], ["use one of the extensions", ".png", ".svg"]),
        (["KABOOM=yes", "--hist", "nowhere/h.png"], ["directory 'nowhere' does not exist"]),
        (["KABOOM=yes", "--scenario", "nope"], ["unknown scenario 'nope'"]),
        (["KABOOM=yes", "-e", "kaboom=no", "-e", "nato_response=strike"], ["impossible"]),
    ],
)
def test_bad_input_is_explained_with_exit_2(args: list[str], words: list[str]) -> None:
    result = run("uncertainty", "-n", "100", *args, "--model", str(CHAIN))
    assert result.exit_code == 2, result.stdout
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize(
    ("name", "magic"), [("h.png", b"\x89PNG"), ("h.svg", b"<?xml"), ("h.pdf", b"%PDF")]
)
def test_histogram_file(tmp_path: Path, name: str, magic: bytes) -> None:
    path = tmp_path / name
    result = run(
        "uncertainty", "KABOOM=yes", "--model", str(CHAIN_ESS), "-n", "2000", "--hist", str(path)
    )
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left behind
    assert f"histogram written to {path}" in result.stdout


@pytest.mark.parametrize("name", ["chart.nope", "chart.pgf", "nowhere/chart.png"])
def test_histogram_and_tornado_check_a_path_alike(name: str) -> None:
    histogram = run("uncertainty", "KABOOM=yes", "-n", "100", "--hist", name, "--model", str(CHAIN))
    tornado = run("sensitivity", "KABOOM=yes", "-o", name, "--model", str(CHAIN))
    assert histogram.exit_code == tornado.exit_code == 2
    assert histogram.stderr == tornado.stderr


def test_flagship_headline_interval(flagship: Model) -> None:
    data = run_json("uncertainty", "KABOOM=yes", "--model", str(FLAGSHIP), "-n", "20000")
    assert data["point"] == pytest.approx(0.168, abs=5e-4)
    low, high = data["interval_90"]
    assert low < data["point"] < high and high - low > 0.05
    assert data["uncertain_rows"] == sum(
        int(np.isfinite(n.ess).sum())
        for n in flagship
        if n.id in flagship.ancestors(["nuclear_war"])
    )


def test_rows_sliced_away_by_evidence_are_not_counted(flagship: Model) -> None:
    given = {"western_resolve": "firm", "peace_talks": "talks"}
    evidence = flagship.evidence(hard=given)
    result = uncertainty(flagship, "KABOOM", "yes", evidence, n=10, seed=0)
    upstream = flagship.ancestors(["nuclear_war", *given])
    total = sum(int(np.isfinite(n.ess).sum()) for n in flagship if n.id in upstream)
    point = result.point
    matter = 0  # rows whose change moves the answer, found by changing each one
    for node in flagship:
        for combo in np.ndindex(*node.parent_shape):
            if np.isnan(node.ess[combo]):
                continue
            table = node.table.copy()
            table[combo] = 0.5 * table[combo] + 0.5 / node.card
            changed = flagship.with_nodes([replace(node, table=table)])
            moved = posterior(changed, ["nuclear_war"], evidence).marginals["nuclear_war"][1]
            matter += abs(moved - point) > 1e-12
    assert 0 < matter <= result.rows < total
