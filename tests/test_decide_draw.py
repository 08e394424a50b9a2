"""`bn draw` on a model with decisions: --focus, --depth and --compare."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, run, run_json

OIL = ROOT / "examples" / "oil-wildcatter"


def test_focus_keeps_the_neighbourhood_with_informational_arcs(tmp_path: Path) -> None:
    data = run_json("draw", "--model", str(OIL), "--focus", "drill", "-o", str(tmp_path / "f.svg"))
    spec = data["spec"]
    nodes = {n["id"]: n for n in spec["nodes"]}
    assert set(nodes) == {"drill", "test", "seismic"}  # test -> drill, seismic -> drill
    assert [u["id"] for u in spec["utilities"]] == ["payoff"]  # drill -> payoff
    assert (spec["focus"], spec["depth"]) == ("drill", 1)
    # left out: test -> test_cost, oil -> seismic; oil -> payoff is not a node's link here
    assert nodes["test"]["hidden_links"] == 1 and nodes["seismic"]["hidden_links"] == 1
    assert {(e["source"], e["target"]) for e in spec["edges"]} == {
        ("test", "drill"), ("seismic", "drill"), ("test", "seismic"), ("drill", "payoff"),
    }  # fmt: skip
    assert spec["meu"] == pytest.approx(22.5)  # the whole diagram is solved, not the part drawn


def test_focus_on_a_utility_and_depth(tmp_path: Path) -> None:
    out = str(tmp_path / "f.dot")
    alone = run_json("draw", "--model", str(OIL), "--focus", "payoff", "--depth", "0", "-o", out)
    assert alone["spec"]["nodes"] == [] and [u["id"] for u in alone["spec"]["utilities"]] == [
        "payoff"
    ]
    wide = run_json("draw", "--model", str(OIL), "--focus", "payoff", "--depth", "9", "-o", out)
    assert len(wide["spec"]["nodes"]) == 4 and len(wide["spec"]["utilities"]) == 2
    bad = run("draw", "--model", str(OIL), "--depth", "1", "-o", out)
    assert bad.exit_code == 2 and "--depth needs --focus" in bad.stderr
    unknown = run("draw", "--model", str(OIL), "--focus", "gas", "-o", out)
    assert unknown.exit_code == 2 and "gas" in unknown.stderr


def test_compare_with_the_baseline(tmp_path: Path) -> None:
    """Not testing (do test=no) against the optimal policy (test): Raiffa's 20 against 22.5; the
    payoff of always drilling untested is 0.5 * -70 + 0.3 * 50 + 0.2 * 200 = 20, against 32.5
    (22.5 with the test's cost of 10 added back)."""
    out = tmp_path / "c.dot"
    data = run_json(
        "draw", "--model", str(OIL), "--do", "test=no", "--compare", "baseline", "-o", str(out)
    )
    spec = data["spec"]
    assert spec["meu"] == pytest.approx(20.0) and spec["meu_compare"] == pytest.approx(22.5)
    utilities = {u["id"]: u for u in spec["utilities"]}
    assert utilities["payoff"]["expected"] == pytest.approx(0.5 * -70 + 0.3 * 50 + 0.2 * 200)
    assert utilities["payoff"]["compare"] == pytest.approx(32.5)
    assert utilities["test_cost"]["change"] == pytest.approx(10.0)
    seismic = {
        s["name"]: s for s in next(n for n in spec["nodes"] if n["id"] == "seismic")["states"]
    }
    assert seismic["none"]["change"] == pytest.approx(1.0)  # untested: no result, surely
    assert seismic["closed"]["compare"] == pytest.approx(0.5 * 0.1 + 0.3 * 0.3 + 0.2 * 0.5)
    assert spec["compare"] == "baseline"
    text = out.read_text()
    assert "(-12.5)" in text and "compared with: baseline" in text
