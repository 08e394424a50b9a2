"""`bn sensitivity` and `bn uncertainty` on compact nodes vary the links and the leak (each with
its own ess), not the expanded cells."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import bn
from bn.analysis.fitforms import fit_noisy
from bn.analysis.sensitivity import sensitivity
from bn.analysis.uncertainty import draw_tables, uncertain_rows
from bn.forms import NoisyMax, Ranked

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"


def with_link(model: bn.Model, row: int, yes: float) -> bn.Model:
    node = model["outage"]
    assert isinstance(node.form, NoisyMax)
    rows = node.form.rows.copy()
    rows[row] = [1 - yes, yes]
    form = replace(node.form, rows=rows)
    return model.with_nodes([replace(node, form=form, table=form.expand())])


def test_sensitivity_varies_links_not_expanded_cells() -> None:
    model = bn.load(EXAMPLE)
    result = sensitivity(model, "sla_breach", "yes", model.evidence())
    outage = [c for c in result.cells if c.node == "outage"]
    assert len(outage) == 9  # eight links and the leak, one free cell each (not 81)
    assert {c.link for c in outage} >= {"leak", "power=failed", "software=buggy"}
    assert all(c.parents == {} for c in outage)
    form = model["outage"].form
    assert isinstance(form, NoisyMax)
    for cell in outage:
        row = form.labels.index(
            ("leak", "") if cell.link == "leak" else tuple(cell.link.split("="))
        )
        assert cell.ess == form.ess[row]

        def p(value: float, row: int = row) -> float:
            changed = with_link(model, row, value)
            return changed.query("sla_breach").posteriors["sla_breach"]["yes"]

        h = 1e-6
        slope = (p(cell.value + h) - p(cell.value - h)) / (2 * h)
        assert cell.derivative == pytest.approx(slope, rel=1e-5, abs=1e-9)
        low, high = cell.range
        assert min(p(low), p(high)) == pytest.approx(cell.low, abs=1e-12)
        assert max(p(low), p(high)) == pytest.approx(cell.high, abs=1e-12)


def with_ranked(model: bn.Model, kind: str, value: float, parent: int = 0) -> bn.Model:
    """The model with one weight (or the variance) of `response` set, expanded afresh."""
    node = model["response"]
    assert isinstance(node.form, Ranked)
    if kind == "variance":
        form = replace(node.form, variance=value)
    else:
        weights = node.form.weights.copy()
        weights[parent] = value
        form = replace(node.form, weights=weights)
    return model.with_nodes([replace(node, form=form, table=form.expand())])


@pytest.mark.parametrize("evidence", [{}, {"outage": "yes"}])
def test_sensitivity_varies_ranked_weights_and_variance(
    evidence: dict[str, str],
) -> None:
    model = bn.load(EXAMPLE)
    result = sensitivity(model, "sla_breach", "yes", bn.Evidence(hard=evidence))
    ranked = {c.parameter: c for c in result.cells if c.node == "response"}
    assert set(ranked) == {"weight of staffing", "weight of runbooks", "variance"}
    assert ranked["variance"].label() == "response: variance"
    for parameter, cell in ranked.items():
        kind = "variance" if parameter == "variance" else "weight"
        parent = 0 if parameter.endswith("staffing") else 1

        def p(value: float, kind: str = kind, parent: int = parent) -> float:
            changed = with_ranked(model, kind, value, parent)
            return changed.query("sla_breach", evidence).posteriors["sla_breach"]["yes"]

        h = 1e-5 * cell.value
        slope = (p(cell.value + h) - p(cell.value - h)) / (2 * h)
        assert cell.derivative == pytest.approx(slope, rel=1e-4)
        low, high = cell.range
        assert (low, high) == pytest.approx((cell.value / 2, cell.value * 2))  # no ess
        ends = [p(x) for x in np.linspace(low, high, 33)]
        assert cell.low == pytest.approx(min(ends), abs=1e-12)
        assert cell.high == pytest.approx(max(ends), abs=1e-12)


def test_ranked_threshold_and_ess_range(tmp_path: Path) -> None:
    """With an ess the range is the Gamma / scaled inverse chi-squared 5-95% interval; the
    threshold value reaches the threshold."""
    from scipy import stats

    model = bn.load(ranked_with_ess(tmp_path))
    first = sensitivity(model, "sla_breach", "yes", model.evidence())
    at_range = next(c.at_range for c in first.cells if c.parameter == "variance")
    target = sum(at_range) / 2  # reached by a variance inside its range
    result = sensitivity(model, "sla_breach", "yes", model.evidence(), threshold=target)
    cells = {c.parameter: c for c in result.cells if c.node == "response"}
    weight, variance = cells["weight of staffing"], cells["variance"]
    assert weight.ess == 10 and variance.ess == 20 and cells["weight of runbooks"].ess is None
    assert weight.range == pytest.approx(stats.gamma(10, scale=2 / 10).ppf([0.05, 0.95]))
    assert variance.range == pytest.approx(
        stats.invgamma(10, scale=20 * 0.02 / 2).ppf([0.05, 0.95])
    )
    assert variance.threshold_value is not None
    assert min(variance.range) < variance.threshold_value < max(variance.range)
    for cell in cells.values():
        if cell.threshold_value is not None:
            kind = "variance" if cell.parameter == "variance" else "weight"
            parent = 0 if cell.parameter.endswith("staffing") else 1
            changed = with_ranked(model, kind, cell.threshold_value, parent)
            reached = changed.query("sla_breach").posteriors["sla_breach"]["yes"]
            assert reached == pytest.approx(target, abs=1e-9)


def test_uncertainty_draws_the_links() -> None:
    model = bn.load(EXAMPLE)
    assert uncertain_rows(model, {"outage"}) == 9
    tables = draw_tables(model, 4000, seed=1, nodes={"outage"})["outage"]
    assert tables.shape == (4000, 3, 3, 3, 3, 2)
    # every draw is itself a noisy-MAX table
    node = model["outage"]
    form = node.form
    assert isinstance(form, NoisyMax)
    args = (form.states, form.absent, form.parents, form.parent_states, form.parent_absent)
    for draw in tables[:3]:
        assert fit_noisy(draw, "noisy-max", *args).max_abs_error <= 1e-12
    # the all-absent row is the leak: Beta(50 * 0.01, 50 * 0.99)
    leak = tables[:, 0, 0, 0, 0, 1]
    assert leak.mean() == pytest.approx(0.01, abs=5 * np.sqrt(0.01 * 0.99 / 51 / 4000))
    assert leak.var() == pytest.approx(0.01 * 0.99 / 51, rel=0.15)
    # power=failed alone: 1 - 0.99 * 0.05 on average
    alone = tables[:, 2, 0, 0, 0, 0]
    assert alone.mean() == pytest.approx(0.99 * 0.05, abs=0.003)


def test_uncertainty_draws_ranked_weights_and_variance(tmp_path: Path) -> None:
    """Drawn tables against a direct loop: weights from Gamma(ess, w / ess), the variance from
    the scaled inverse chi-squared (scipy.stats' invgamma(ess / 2, ess * v / 2)), each expanded
    by `Ranked.expand`."""
    from scipy import stats

    model = bn.load(ranked_with_ess(tmp_path))
    form = model["response"].form
    assert isinstance(form, Ranked)
    assert uncertain_rows(model, {"response"}) == 2  # staffing's weight and the variance
    n = 4000
    drawn = draw_tables(model, n, seed=3, nodes={"response"})["response"]
    assert drawn.shape == (n, 3, 3, 3)
    rng = np.random.default_rng(11)
    staffing = stats.gamma(10, scale=2 / 10).rvs(n, random_state=rng)
    variance = stats.invgamma(10, scale=20 * 0.02 / 2).rvs(n, random_state=rng)
    direct = np.array(
        [form.expand(np.array([w, 1.0]), v) for w, v in zip(staffing, variance, strict=True)]
    )
    # each cell's mean and variance over the draws agree with the direct loop's (two samples of
    # n: within six standard errors)
    se = np.sqrt(2 * direct.var(axis=0) / n)
    assert np.all(np.abs(drawn.mean(axis=0) - direct.mean(axis=0)) <= 6 * se + 1e-12)
    big = direct.mean(axis=0) > 0.05  # the spread of the tiny tail cells is itself too noisy
    assert drawn.std(axis=0)[big] == pytest.approx(direct.std(axis=0)[big], rel=0.1)
    assert not np.allclose(drawn[0], drawn[1])  # the parameters do move
    point = model["response"].table
    assert np.abs(drawn.mean(axis=0) - point).max() < 0.05


@pytest.mark.parametrize("function", ["wmean", "wmin", "wmax", "mixminmax"])
def test_expand_draws_is_expand_per_draw(function: str) -> None:
    form = bn.load(EXAMPLE)["response"].form
    assert isinstance(form, Ranked)
    form = replace(form, function=function, mix=(1.0, 3.0))
    weights = np.array([[2.0, 1.0], [3.0, 0.5], [0.2, 7.0]])
    variances = np.array([0.02, 0.3, 1e-4])
    tables = form.expand_draws(weights, variances)
    for table, w, v in zip(tables, weights, variances, strict=True):
        assert np.abs(table - form.expand(w, v)).max() <= 1e-15


def ranked_with_ess(tmp_path: Path) -> Path:
    """The example with ess 10 on staffing's weight and variance_ess = 20."""
    import shutil

    shutil.copytree(EXAMPLE, tmp_path / "m")
    csv = tmp_path / "m" / "response.csv"
    text = csv.read_text().replace("parent,weight,note", "parent,weight,ess,note")
    text = text.replace("staffing,2,", "staffing,2,10,").replace("runbooks,1,", "runbooks,1,,")
    csv.write_text(text)
    toml = tmp_path / "m" / "model.toml"
    toml.write_text(
        toml.read_text().replace("variance = 0.02", "variance = 0.02\nvariance_ess = 20")
    )
    return tmp_path / "m"


def test_uncertainty_cli_counts_links() -> None:
    from conftest import run_json

    data = run_json("uncertainty", "outage=yes", "-n", "2000", "--model", str(EXAMPLE))
    assert data["uncertain_rows"] == 13  # nine links and leak, four roots
    assert data["interval_90"][0] < data["point"] < data["interval_90"][1]


def with_form(model: bn.Model, node_id: str, **changes: object) -> bn.Model:
    node = model[node_id]
    assert node.form is not None
    form = replace(node.form, **changes)  # type: ignore[arg-type]
    return model.with_nodes([replace(node, form=form, table=form.expand())])


def test_questions_with_one_table_but_other_compact_ess_draw_apart() -> None:
    """Questions asked together (scenarios, overlays) share a sampler only when a node's draws
    are the same: two compact nodes with one expanded table but other links' or weights' ess,
    or another variance_ess, are drawn each from its own parameters."""
    from bn.analysis.uncertainty import sample

    model = bn.load(EXAMPLE)
    outage, response = model["outage"].form, model["response"].form
    assert isinstance(outage, NoisyMax) and isinstance(response, Ranked)
    others = [
        with_form(model, "outage", ess=outage.ess * 10),
        with_form(model, "response", ess=np.full(2, 5.0)),
        with_form(model, "response", variance_ess=30.0),
        with_form(model, "outage", form="noisy-or"),  # same parameters: the same draws
    ]
    for other in others:
        np.testing.assert_array_equal(other["outage"].table, model["outage"].table)
        np.testing.assert_array_equal(other["response"].table, model["response"].table)
    evidence = model.evidence()
    together = sample([(m, evidence) for m in [model, *others]], "sla_breach", "yes", n=400, seed=0)
    for k, m in enumerate([model, *others]):
        alone = sample([(m, evidence)], "sla_breach", "yes", n=400, seed=0)[0]
        np.testing.assert_array_equal(together[k], alone)
    for k in range(1, 4):
        assert np.abs(together[k] - together[0]).max() > 1e-3  # the ess matter
    np.testing.assert_array_equal(together[4], together[0])
