"""`bn cpt show`, `bn cpt expand` and `bn cpt fit` on compact nodes, and the round trip
compact -> expand -> fit -> compact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from editing import refused

import bn
from bn.analysis.fitforms import fit_noisy, fit_ranked
from bn.forms import NoisyMax, Ranked

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"


@pytest.fixture
def compact(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "compact"))


def test_show_compact_and_expanded(compact: Path) -> None:
    out = run("cpt", "show", "outage", "--model", str(compact)).stdout
    assert "noisy-max: 8 link(s) and a leak instead of 81 rows" in out
    assert "leak                |  0.99  0.01  |   50  other causes: about 1% of days" in out
    out = run("cpt", "show", "outage", "--expanded", "--model", str(compact)).stdout
    assert len(out.strip().split("\n")) == 2 + 81
    data = json.loads(run("cpt", "show", "response", "--json", "--model", str(compact)).stdout)
    assert data["form"] == "ranked"
    assert data["parameters"]["weights"] == {"staffing": 2.0, "runbooks": 1.0}
    assert data["parameters"]["variance"] == 0.02


def test_show_full_table_unchanged(compact: Path) -> None:
    out = run("cpt", "show", "sla_breach", "--model", str(compact)).stdout
    assert "outage  response  |   no  yes  |  ess  note" in out.replace("   ess", "  ess")
    expanded = run("cpt", "show", "sla_breach", "--expanded", "--model", str(compact)).stdout
    assert "yes     fast      |  0.9  0.1" in expanded


def test_expand_keeps_every_answer(compact: Path) -> None:
    before = bn.load(compact)
    result = run("cpt", "expand", "outage", "--model", str(compact))
    assert result.exit_code == 0, result.stderr
    assert "expanded into 81 row(s)" in result.stdout
    after = bn.load(compact)
    assert after["outage"].form is None
    assert 'form = "noisy-max"' not in (compact / "model.toml").read_text()
    assert np.abs(after["outage"].table - before["outage"].table).max() <= 1e-15
    got = after.query(["sla_breach"], evidence={"power": "failed"}).posteriors
    want = before.query(["sla_breach"], evidence={"power": "failed"}).posteriors
    assert got["sla_breach"]["yes"] == pytest.approx(want["sla_breach"]["yes"], abs=1e-15)


def test_expand_refuses_a_full_table(compact: Path) -> None:
    assert "is a full table already" in refused(compact, "cpt", "expand", "sla_breach")


@pytest.mark.parametrize("node,form", [("outage", "noisy-max"), ("response", "ranked")])
def test_round_trip_compact_expand_fit(compact: Path, node: str, form: str) -> None:
    original = bn.load(compact)[node]
    assert run("cpt", "expand", node, "--model", str(compact)).exit_code == 0
    dry = run("cpt", "fit", node, "--form", form, "--dry-run", "--json", "--model", str(compact))
    report = json.loads(dry.stdout)
    assert set(report) >= {"node", "form", "parameters", "max_abs_error", "kl"}
    assert report["max_abs_error"] <= 1e-12 and report["kl"] <= 1e-12
    assert bn.load(compact)[node].form is None  # dry run: nothing written
    result = run("cpt", "fit", node, "--form", form, "--model", str(compact))
    assert result.exit_code == 0, result.stderr
    fitted = bn.load(compact)[node]
    assert fitted.form is not None
    assert np.abs(fitted.table - original.table).max() <= 1e-12
    if isinstance(original.form, NoisyMax):
        assert isinstance(fitted.form, NoisyMax)
        assert np.abs(fitted.form.rows - original.form.rows).max() <= 1e-12
    else:
        assert isinstance(fitted.form, Ranked) and isinstance(original.form, Ranked)
        assert fitted.form.function == original.form.function
        assert fitted.form.variance == pytest.approx(original.form.variance, abs=1e-12)
        ratio = fitted.form.weights / original.form.weights
        assert np.ptp(ratio) <= 1e-9


def test_fit_noisy_or_on_the_chain(tmp_path: Path) -> None:
    """A table that is not of the form gets its closest fit and an honest error."""
    chain = Path(shutil.copytree(Path(__file__).parent / "data" / "chain", tmp_path / "c"))
    out = run("cpt", "fit", "nuclear_war", "--form", "noisy-or", "--json", "--model", str(chain))
    report = json.loads(out.stdout)
    assert report["criterion"] == "least squares"
    assert report["max_abs_error"] > 0.01
    assert bn.load(chain)["nuclear_war"].form is not None


@pytest.mark.parametrize("function", ["wmean", "wmin", "wmax", "mixminmax"])
def test_ranked_fit_recovers_each_function(function: str) -> None:
    form = Ranked(
        function,
        ("a", "b", "c", "d"),
        ("p", "q", "r"),
        (("x", "y", "z"), ("u", "v"), ("s", "t", "w")),
        np.array([3.0, 1.5, 2.0]),
        0.015,
        (1.0, 2.5),
    )
    fit = fit_ranked(form.expand(), form.states, form.parents, form.parent_states, [function])
    assert fit.max_abs_error <= 1e-12


def test_noisy_fit_recovers_graded_links() -> None:
    rng = np.random.default_rng(3)
    rows = rng.dirichlet(np.ones(3), size=4)
    form = NoisyMax(
        "noisy-max",
        ("none", "mild", "severe"),
        "none",
        ("a", "b"),
        (("off", "on"), ("off", "low", "high")),
        ("off", "off"),
        (("a", "on"), ("b", "low"), ("b", "high"), ("leak", "")),
        rows,
    )
    fit = fit_noisy(
        form.expand(),
        "noisy-max",
        form.states,
        "none",
        form.parents,
        form.parent_states,
        form.parent_absent,
    )
    assert fit.max_abs_error <= 1e-12
    assert np.abs(fit.form.rows - rows).max() <= 1e-12


def test_compact_text() -> None:
    from bn.csvfiles import compact_text

    form = NoisyMax(
        "noisy-or",
        ("no", "yes"),
        "no",
        ("a",),
        (("off", "on"),),
        ("off",),
        (("a", "on"), ("leak", "")),
        np.array([[0.3, 0.7], [0.9, 0.1]]),
    )
    assert compact_text("c", form) == "parent,state,c=no,c=yes\na,on,0.3,0.7\nleak,,0.9,0.1\n"


def test_row_edits_refuse_compact_nodes_and_keep_the_others(compact: Path) -> None:
    # summing a parent out of a noisy child gives no noisy form (tests/test_compact_graph.py
    # has the edits that keep a compact node compact)
    assert "run bn cpt expand outage first" in refused(
        compact, "node", "remove", "power", "--marginalize"
    )
    before = (compact / "outage.csv").read_bytes()
    assert run("fmt", "--check", "--model", str(compact)).exit_code == 0
    assert run("cpt", "normalize", "--all", "--model", str(compact)).exit_code == 0
    result = run(
        "cpt",
        "set",
        "sla_breach",
        "--when",
        "outage=yes,response=slow",
        "yes=0.7",
        "--model",
        str(compact),
    )
    assert result.exit_code == 0, result.stderr
    assert (compact / "outage.csv").read_bytes() == before


def test_fit_keeps_comments_carries_ess_and_writes_plain_numbers(tmp_path: Path) -> None:
    """The flagship's crimea_offensive (18 rows, ess 5 each) fitted as noisy-OR: its comments stay,
    each link and the leak get the rows' ess (so uncertainty still varies them), the fit is
    said in a comment, and a fitted 3e-20 is written 0, not as 35 digits."""
    flagship = Path(shutil.copytree(Path(__file__).parent.parent / "cpts", tmp_path / "f"))
    before = (flagship / "crimea_offensive.csv").read_text()
    result = run("cpt", "fit", "crimea_offensive", "--form", "noisy-or", "--model", str(flagship))
    assert result.exit_code == 0, result.stderr
    assert "the 18 rows' notes are not carried over" in result.stdout
    after = (flagship / "crimea_offensive.csv").read_text()
    comments = [line for line in before.splitlines() if line.startswith("#")]
    assert after.splitlines()[: len(comments)] == comments
    assert "# Fitted by bn cpt fit to the 18-row table (least squares" in after
    node = bn.load(flagship)["crimea_offensive"]
    assert isinstance(node.form, NoisyMax)
    assert node.form.ess.tolist() == [5.0] * len(node.form.labels)
    numbers = [cell for line in after.splitlines()[len(comments) + 2 :] for cell in line.split(",")]
    assert all(len(cell) <= 17 for cell in numbers), numbers
    assert np.abs(node.form.rows.sum(axis=1) - 1).max() <= 1e-12
