"""`bn sensitivity`: every number checked against brute-force enumeration of perturbed models."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CHAIN, FLAGSHIP, run, run_json
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from oracle import prob, random_model

import bn
from bn.analysis.sensitivity import Cell, plausible_range, sensitivity
from bn.evidence import Evidence
from bn.model import Model, Node

# --- independent oracles ----------------------------------------------------------------------


def set_cell(model: Model, cell: Cell, theta: float) -> Model:
    """The model with `cell` at theta and the rest of its row rescaled proportionally."""
    node = model[cell.node]
    combo = tuple(model[p].states.index(s) for p, s in cell.parents.items())
    table = node.table.copy()
    row = table[combo]
    column = node.states.index(cell.state)
    rest = row.sum() - row[column]
    for i in range(node.card):
        if i != column:
            row[i] = (1 - theta) * (row[i] / rest if rest > 0 else 1 / (node.card - 1))
    row[column] = theta
    table[combo] = row
    return model.with_nodes([replace(node, table=table)])


def along(model: Model, cell: Cell, target: str, state: str, evidence: Evidence) -> Any:
    return lambda theta: prob(set_cell(model, cell, theta), target, state, evidence)


def random_evidence(model: Model, rng: np.random.Generator, soft: bool) -> Evidence:
    names = [n.id for n in model.nodes]
    rng.shuffle(names)
    hard: dict[str, str] = {}
    likelihood: dict[str, dict[str, float]] = {}
    soft_part: dict[str, dict[str, float]] = {}
    for name in names[: int(rng.integers(0, 3))]:
        kind = rng.choice(["hard", "likelihood", "soft"] if soft else ["hard", "likelihood"])
        states = model[name].states
        if kind == "hard":
            hard[name] = states[int(rng.integers(len(states)))]
        elif kind == "likelihood":
            likelihood[name] = dict(zip(states, rng.uniform(0.1, 3, len(states)), strict=True))
        elif not soft_part:
            soft_part[name] = dict(zip(states, rng.dirichlet(np.ones(len(states))), strict=True))
    return Evidence(hard=hard, likelihood=likelihood, soft=soft_part).resolved(model)


def free_cells(model: Model, node: Node) -> list[tuple[tuple[int, ...], int]]:
    """Every (row, column) the documented convention reports, fixed rows excluded."""
    out = []
    for combo, row in node.rows():
        if math.isnan(node.ess[combo]) and all(v in (0.0, 1.0) for v in row):
            continue
        nonzero = [i for i, v in enumerate(row) if v > 0]
        for column in range(node.card):
            if node.card == 2 and column == 0:
                continue
            if node.card > 2 and len(nonzero) == 2 and column == nonzero[0]:
                continue
            out.append((combo, column))
    return out


# --- the chain: 0.3 x 0.8 x 0.7 ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> Model:
    return bn.load(CHAIN)


def test_chain_tornado_ranks_the_three_cells_with_their_derivatives(chain: Model) -> None:
    result = sensitivity(chain, "KABOOM", "yes", chain.evidence())
    assert result.baseline == pytest.approx(0.168, abs=1e-12)
    assert result.exact and result.held_fixed == 4  # the 0/1 rows: no KABOOM without kaboom
    found = [(c.node, c.state, c.value, c.derivative) for c in result.cells]
    assert [f[:3] for f in found] == [
        ("nuclear_use", "yes", 0.3),
        ("nuclear_war", "yes", 0.7),
        ("nato_response", "strike", 0.8),
    ]
    assert [f[3] for f in found] == pytest.approx([0.8 * 0.7, 0.3 * 0.8, 0.3 * 0.7], abs=1e-12)
    kaboom, war, strike = result.cells
    assert kaboom.ess == 10 and war.ess is None
    assert war.range == pytest.approx((0.6, 0.8)) and strike.range == pytest.approx((0.7, 0.9))
    # P(KABOOM) is linear in each cell here: the ends of the range are the product's ends
    assert (war.low, war.high) == pytest.approx((0.3 * 0.8 * 0.6, 0.3 * 0.8 * 0.8), abs=1e-12)
    assert kaboom.low == pytest.approx(kaboom.range[0] * 0.56, abs=1e-12)
    assert kaboom.high == pytest.approx(kaboom.range[1] * 0.56, abs=1e-12)


def test_chain_threshold_is_the_value_that_reaches_it(chain: Model) -> None:
    result = sensitivity(chain, "KABOOM", "yes", chain.evidence(), threshold=0.2)
    by_node = {c.node: c.threshold_value for c in result.cells}
    assert by_node["nuclear_use"] == pytest.approx(0.2 / 0.56, abs=1e-12)
    assert by_node["nuclear_war"] == pytest.approx(0.2 / 0.24, abs=1e-12)
    assert by_node["nato_response"] == pytest.approx(0.2 / 0.21, abs=1e-12)
    high = sensitivity(chain, "KABOOM", "yes", chain.evidence(), threshold=0.6)
    assert [c.threshold_value for c in high.cells] == [None, None, None]  # 0.56 caps it


def test_do_removes_the_set_node_and_conditions_the_rest(chain: Model) -> None:
    result = sensitivity(chain, "KABOOM", "yes", chain.evidence(do={"nato_response": "strike"}))
    assert {c.node: c.derivative for c in result.cells} == pytest.approx(
        {"nuclear_use": 0.7, "nuclear_war": 0.3}, abs=1e-12
    )


def test_soft_evidence_fixes_kaboom_and_is_evaluated_at_points(chain: Model) -> None:
    evidence = chain.evidence(soft={"kaboom": {"yes": 0.05}})
    result = sensitivity(chain, "KABOOM", "yes", evidence, threshold=0.03)
    assert not result.exact
    assert [c.node for c in result.cells] == ["nuclear_war", "nato_response"]  # kaboom is fixed
    assert [c.derivative for c in result.cells] == pytest.approx([0.05 * 0.8, 0.05 * 0.7], abs=1e-9)
    war = result.cells[0]
    assert (war.low, war.high) == pytest.approx((0.05 * 0.8 * 0.6, 0.05 * 0.8 * 0.8), abs=1e-12)
    assert war.threshold_value == pytest.approx(0.03 / 0.04, abs=1e-9)


def test_definitional_rows_can_be_included(chain: Model) -> None:
    result = sensitivity(chain, "KABOOM", "yes", chain.evidence(), include_fixed=True)
    assert result.held_fixed == 0
    route = [c for c in result.cells if c.node == "nuclear_war" and c.value == 0.0]
    # yes | (no, limited): KABOOM without kaboom; P(no, limited) = 0.7 is its slope
    slopes = sorted(round(c.derivative, 12) for c in route)
    assert slopes == [0.06, 0.7]  # (yes, limited): 0.3 x 0.2; (no, strike) has probability 0


def test_plausible_range_is_the_beta_interval() -> None:
    from scipy.special import betainc

    low, high = plausible_range(0.3, 10)
    assert betainc(3.0, 7.0, low) == pytest.approx(0.05, abs=1e-9)
    assert betainc(3.0, 7.0, high) == pytest.approx(0.95, abs=1e-9)
    assert plausible_range(0.05, None) == (0.0, 0.15)
    assert plausible_range(0.97, None, 0.05) == (0.92, 1.0)
    assert plausible_range(0.0, 15) == (0.0, 0.0)


# --- random networks against enumeration ------------------------------------------------------


def check_against_brute(model: Model, target: str, state: str, evidence: Evidence) -> None:
    result = sensitivity(model, target, state, evidence)
    truth = prob(model, target, state, evidence)
    assert result.baseline == pytest.approx(truth, abs=1e-10)
    reported = {(c.node, tuple(c.parents.values()), c.state): c for c in result.cells}
    allowed = {
        (n.id, n.row_label(combo), n.states[column])
        for n in model.nodes
        for combo, column in free_cells(model, n)
    }
    assert set(reported) <= allowed
    for c in result.cells:
        f = along(model, c, target, state, evidence)
        a, b = c.range
        ends = (f(a), f(b))
        assert c.at_range == pytest.approx(ends, abs=1e-9)
        assert (c.low, c.high) == pytest.approx((min(ends), max(ends)), abs=1e-9)
        h = 1e-6
        if h < c.value < 1 - h:
            slope = (f(c.value + h) - f(c.value - h)) / (2 * h)
        else:
            sign = 1 if c.value < 0.5 else -1
            slope = sign * (f(c.value + sign * h) - f(c.value)) / h
        assert c.derivative == pytest.approx(slope, rel=1e-4, abs=1e-4)
        level = f(0.5 * (c.value + 0.9))
        cut = sensitivity(model, target, state, evidence, threshold=level).cells
        value = next(x for x in cut if x.label() == c.label()).threshold_value
        assert value is not None and f(value) == pytest.approx(level, abs=1e-8)
    # completeness: a cell left out cannot move the target
    for node in model.nodes:
        for combo, column in free_cells(model, node):
            key = (node.id, node.row_label(combo), node.states[column])
            if key in reported:
                continue
            probe = Cell(node.id, dict(zip(node.parents, key[1], strict=True)), key[2],
                         float(node.table[combo][column]), 0, 0, 0, (0, 0), (0, 0))  # fmt: skip
            f = along(model, probe, target, state, evidence)
            for theta in (0.05, 0.5, 0.95):
                assert f(theta) == pytest.approx(truth, rel=1e-9, abs=1e-12), key


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(2, 5))
@example(seed=2906, size=4)  # every cell that could move the target is fixed: no cells, no crash
def test_random_networks_hard_and_likelihood_evidence(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, size, zeros=True, ess=True)
    evidence = random_evidence(model, rng, soft=False)
    target = model.nodes[int(rng.integers(size))]
    if target.id in evidence.hard:
        return
    try:
        prob(model, target.id, target.states[0], evidence)
    except ZeroDivisionError:
        return
    check_against_brute(model, target.id, target.states[-1], evidence)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(2, 4))
def test_random_networks_soft_evidence(seed: int, size: int) -> None:
    rng = np.random.default_rng(seed)
    model = random_model(rng, size, zeros=True, ess=True)
    names = [n.id for n in model.nodes]
    soft_node, target = names[int(rng.integers(size))], names[int(rng.integers(size))]
    if soft_node == target:
        return
    r = rng.dirichlet(np.ones(model[soft_node].card)) * 0.9 + 0.1 / model[soft_node].card
    evidence = Evidence(soft={soft_node: list(r)}).resolved(model)
    state = model[target].states[-1]
    try:
        result = sensitivity(model, target, state, evidence)
    except bn.EvidenceError:  # a state of the soft node is impossible
        return
    assert not result.exact
    assert result.baseline == pytest.approx(prob(model, target, state, evidence), abs=1e-10)
    for c in result.cells:
        f = along(model, c, target, state, evidence)
        a, b = c.range
        # the soft path evaluates 33 points across the range, 1e-9 inside [0, 1]
        grid = [f(t) for t in np.clip(np.linspace(a, b, 33), 1e-9, 1 - 1e-9)]
        assert (c.low, c.high) == pytest.approx((min(grid), max(grid)), abs=1e-9)
        assert c.at_range == pytest.approx((grid[0], grid[-1]), abs=1e-9)
        h = 1e-6
        if 2 * h < c.value < 1 - 2 * h:
            slope = (f(c.value + h) - f(c.value - h)) / (2 * h)
        else:
            sign = 1 if c.value < 0.5 else -1
            start = min(1 - 1e-9, max(1e-9, c.value))
            slope = sign * (f(start + sign * h) - f(start)) / h
        assert c.derivative == pytest.approx(slope, rel=1e-3, abs=1e-4)


def test_soft_threshold_reaches_the_level_on_a_random_network() -> None:
    rng = np.random.default_rng(7)
    model = random_model(rng, 4, zeros=True, ess=True)
    evidence = Evidence(
        soft={"n1": [0.6, *[0.4 / (model["n1"].card - 1)] * (model["n1"].card - 1)]}
    )
    evidence = evidence.resolved(model)
    state = model["n3"].states[-1]
    plain = sensitivity(model, "n3", state, evidence)
    assert plain.cells, "the example network should have cells that move n3"
    c = plain.cells[0]
    f = along(model, c, "n3", state, evidence)
    level = f(0.5 * (c.value + (0.95 if c.value < 0.5 else 0.05)))
    cut = sensitivity(model, "n3", state, evidence, threshold=level)
    value = next(x for x in cut.cells if x.label() == c.label()).threshold_value
    assert value is not None and f(value) == pytest.approx(level, abs=1e-8)


# --- the flagship ------------------------------------------------------------------------------


def test_flagship_tornado_ranks_cells_where_the_arithmetic_says() -> None:
    model = bn.load(FLAGSHIP)
    war = model.resolve("KABOOM")
    result = sensitivity(model, "KABOOM", "yes", model.evidence())
    top = result.cells[0]
    assert (top.node, top.state, top.value) == (war, "yes", 0.7)
    assert model.resolve("kaboom") in top.parents  # the 70% after kaboom and a NATO strike
    # its slope is P(kaboom, strike) = 0.30 x 0.80
    assert top.derivative == pytest.approx(0.30 * 0.80, abs=1e-3)
    swings = []
    for c in result.cells:
        ends = [set_cell(model, c, theta).query([war]).posteriors[war]["yes"] for theta in c.range]
        swings.append(max(ends) - min(ends))
        assert (c.low, c.high) == pytest.approx((min(ends), max(ends)), abs=1e-9)
    assert [c.swing for c in result.cells] == pytest.approx(swings, abs=1e-9)
    assert swings == sorted(swings, reverse=True)
    kaboom, response = model.resolve("kaboom"), model.children(model.resolve("kaboom"))
    assert any(c.node == kaboom for c in result.cells[:10])  # the rows behind 0.30
    assert any(c.node in response and c.node != war for c in result.cells[:10])  # behind 0.80


# --- the command line --------------------------------------------------------------------------


def test_cli_json_schema() -> None:
    data = run_json("sensitivity", "KABOOM=yes", "--model", str(CHAIN), "--threshold", "0.2")
    assert {"target", "state", "baseline", "cells", "threshold", "evidence", "do"} <= set(data)
    assert data["target"] == "nuclear_war" and data["state"] == "yes"
    cell = data["cells"][0]
    assert set(cell) == {
        "node", "parents", "state", "value", "ess", "derivative", "low", "high", "swing",
        "range", "threshold_value",
    }  # fmt: skip
    assert cell["node"] == "nuclear_use" and cell["parents"] == {}
    assert cell["threshold_value"] == pytest.approx(0.2 / 0.56)
    war = data["cells"][1]
    assert war["parents"] == {"nuclear_use": "yes", "nato_response": "strike"}
    assert war["range"] == pytest.approx([0.6, 0.8])


def test_cli_table_threshold_and_range() -> None:
    result = run("sensitivity", "KABOOM=yes", "--model", str(CHAIN), "--threshold", "0.6")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "16.8%" in lines[0]
    body = [line for line in lines if " – " in line]  # the table rows
    assert body[0].endswith("nuclear_use=yes")
    assert len(body) == 3 and all("unreachable" in line for line in body)
    narrow = run_json("sensitivity", "KABOOM=yes", "--model", str(CHAIN), "--range", "0.05")
    assert narrow["cells"][1]["range"] == pytest.approx([0.65, 0.75])


def test_cli_scenario_and_top(tmp_path: Path) -> None:
    result = run(
        "sensitivity",
        "KABOOM",
        "--scenario",
        "metaculus_low",
        "--top",
        "2",
        "--model",
        str(FLAGSHIP),
    )
    assert result.exit_code == 0, result.stderr
    assert "scenario: metaculus_low" in result.stdout
    assert "more (--top 0 shows all)" in result.stdout


@pytest.mark.parametrize("suffix", ["svg", "png", "pdf"])
def test_cli_tornado_chart(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"tornado.{suffix}"
    result = run("sensitivity", "KABOOM=yes", "--model", str(CHAIN), "-o", str(path))
    assert result.exit_code == 0, result.stderr
    data = path.read_bytes()
    magic = {"png": b"\x89PNG", "pdf": b"%PDF", "svg": b"<?xml"}[suffix]
    assert data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    if suffix == "svg":
        for label in ["nuclear_use=yes", "cell at the low end of its range"]:  # tick, legend
            assert label in data.decode()
        again = tmp_path / "again.svg"
        assert (
            run("sensitivity", "KABOOM=yes", "--model", str(CHAIN), "-o", str(again)).exit_code == 0
        )
        assert again.read_bytes() == data  # no date, no random ids


def test_tornado_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """The chart needs no earlier matplotlib import (the legend's patches are imported)."""
    import subprocess
    import sys

    path = tmp_path / "t.png"
    code = (
        "import bn, sys\n"
        "from bn.analysis.sensitivity import sensitivity\n"
        "from bn.charts import tornado\n"
        f"m = bn.load({str(CHAIN)!r})\n"
        "tornado(sensitivity(m, 'KABOOM', 'yes', m.evidence()), sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["KABOOM=maybe"], "states of nuclear_war: no, yes"),
        (["KABOMB=yes"], "unknown node 'KABOMB'"),
        (["KABOOM=yes", "-e", "KABOOM=yes"], "observed"),
        (["KABOOM=yes", "--threshold", "lots"], "'lots' is not a valid float range"),
        (["KABOOM=yes", "--threshold", "1.5"], "1.5 is not in the range 0<=x<=1"),
        (["KABOOM=yes", "--threshold", "nan"], "threshold must be a probability"),
        (["KABOOM=yes", "-o", "chart.nope"], "use one of the extensions"),
        (["KABOOM=yes", "-o", "nowhere/chart.svg"], "directory 'nowhere' does not exist"),
        (["KABOOM=yes", "-e", "kaboom=no", "-e", "nato_response=strike"], "impossible"),
    ],
)
def test_cli_bad_input(args: list[str], message: str) -> None:
    result = run("sensitivity", *args, "--model", str(CHAIN))
    assert result.exit_code == 2
    assert message in result.stderr


def test_every_chart_format_offered_can_be_written(tmp_path: Path) -> None:
    from matplotlib.backend_bases import FigureCanvasBase

    from bn.charts import NEEDS_LATEX

    for extension in sorted(set(FigureCanvasBase.get_supported_filetypes()) - NEEDS_LATEX):
        path = tmp_path / f"tornado.{extension}"
        result = run(
            "sensitivity", "KABOOM=yes", "--top", "2", "-o", str(path), "--model", str(CHAIN)
        )
        assert result.exit_code == 0, (extension, result.stderr)
        assert path.stat().st_size > 0
