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
from bn.forms import NoisyMax

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
    assert not any(c.node == "response" for c in result.cells)  # ranked: not varied
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


def test_uncertainty_cli_counts_links() -> None:
    from conftest import run_json

    data = run_json("uncertainty", "outage=yes", "-n", "2000", "--model", str(EXAMPLE))
    assert data["uncertain_rows"] == 13  # nine links and leak, four roots
    assert data["interval_90"][0] < data["point"] < data["interval_90"][1]
