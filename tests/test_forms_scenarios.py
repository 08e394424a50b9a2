"""Scenario overlays of compact nodes: a file in the form's layout gives the node's parameters in
the scenario (the form's keys stay the model's), a full table replaces the form. Checked against
the same scenario on the model with the overlay written as the expanded table, and by hand."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run

import bn
from bn.csvfiles import table_text
from bn.forms import NoisyMax, Ranked
from bn.scenarios import apply

EXAMPLE = ROOT / "examples" / "compact"
SCENARIOS = """[scenarios.baseline]

[scenarios.bad_day]
overlay = "overlays/bad_day"
evidence = { cooling = "degraded" }

[scenarios.firm]
overlay = "overlays/firm"
"""


def compact_model(tmp_path: Path) -> Path:
    """examples/compact with a scenario whose overlay changes the leak and a weight, and one whose
    overlay only makes the links and the weights firmer (ess x 10)."""
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "compact"))
    (model / "scenarios.toml").write_text(SCENARIOS)
    bad = model / "overlays" / "bad_day"
    bad.mkdir(parents=True)
    outage = (EXAMPLE / "outage.csv").read_text()
    assert "leak,,0.99,0.01,50," in outage
    (bad / "outage.csv").write_text(outage.replace("leak,,0.99,0.01,50,", "leak,,0.9,0.1,50,"))
    response = (EXAMPLE / "response.csv").read_text()
    assert "staffing,2," in response
    (bad / "response.csv").write_text(response.replace("staffing,2,", "staffing,5,"))
    firm = model / "overlays" / "firm"
    firm.mkdir()
    loaded = bn.load(model)
    for node in (loaded["outage"], loaded["response"]):
        assert node.form is not None
        ess = np.where(np.isfinite(node.form.ess), node.form.ess * 10, 40.0)
        (firm / f"{node.id}.csv").write_text(
            table_text(replace(node, form=replace(node.form, ess=ess)))
        )
    return model


def expanded_twin(model: Path, tmp_path: Path) -> Path:
    """The same model with every overlay file and every compact node written as full tables
    (the overlays first: a compact overlay of a node that is a full table is an error)."""
    twin = Path(shutil.copytree(model, tmp_path / "expanded"))
    compact = bn.load(model)
    for name in ("bad_day", "firm"):
        scenario, _ = apply(compact, name)
        for file in (twin / "overlays" / name).glob("*.csv"):
            file.write_text(table_text(replace(scenario[file.stem], form=None)))
    for node in ("outage", "response"):
        result = run("cpt", "expand", node, "--model", str(twin))
        assert result.exit_code == 0, result.output + result.stderr
    return twin


def test_overlay_gives_compact_parameters(tmp_path: Path) -> None:
    model = compact_model(tmp_path)
    result = run("check", "--model", str(model))
    assert result.exit_code == 0, result.output + result.stderr
    base = bn.load(model)
    scenario, _ = apply(base, "bad_day")
    outage, response = scenario["outage"].form, scenario["response"].form
    assert isinstance(outage, NoisyMax) and isinstance(response, Ranked)
    assert outage.rows[outage.labels.index(("leak", ""))].tolist() == [0.9, 0.1]
    assert response.weights.tolist() == [5.0, 1.0]
    assert response.variance == 0.02 and response.function == "wmean"  # model.toml's keys
    assert scenario["outage"].label == "Outage today"
    # by hand: the leak multiplies P(outage = no) in every row by 0.9 / 0.99
    old, new = base["outage"].table[..., 0], scenario["outage"].table[..., 0]
    assert np.abs(new - old * 0.9 / 0.99).max() < 1e-15
    # and the ranked row from its definition: staffing high, runbooks poor
    from scipy.stats import truncnorm

    mu, sd = (5 * 5 / 6 + 1 / 6) / 6, np.sqrt(0.02)
    dist = truncnorm(-mu / sd, (1 - mu) / sd, loc=mu, scale=sd)
    cdf = dist.cdf(np.array([0, 1 / 3, 2 / 3, 1.0]))
    row = scenario["response"].table[2, 0]
    assert np.abs(row - np.diff(cdf)).max() < 1e-12


@pytest.mark.parametrize("scenario", ["bad_day", "firm"])
def test_overlay_answers_equal_the_expanded_overlay(tmp_path: Path, scenario: str) -> None:
    model = compact_model(tmp_path)
    twin = expanded_twin(model, tmp_path)
    assert bn.load(twin)["outage"].form is None
    for args in (
        ["query", "--all", "--scenario", scenario],
        ["query", "--all", "--scenario", scenario, "-e", "sla_breach=yes"],
        ["scenarios", "--target", "outage=yes"],
        ["voi", "sla_breach", "--all", "--scenario", scenario],
    ):
        answers = []
        for directory in (model, twin):
            result = run(*args, "--json", "--model", str(directory))
            assert result.exit_code == 0, result.output + result.stderr
            answers.append(json.loads(result.stdout))
        assert_close(*answers)


def assert_close(a: object, b: object) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_close(a[key], b[key])
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_close(x, y)
    elif isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-12)
    else:
        assert a == b


def test_overlay_ess_move_the_intervals(tmp_path: Path) -> None:
    """An overlay that only changes the links' and weights' ess leaves the answer and narrows its
    interval: `bn scenarios --intervals` draws it from the overlay's own ess, as `bn uncertainty`
    does on a model whose files hold those ess (the draws are the same: same seed, same
    parameters)."""
    model = compact_model(tmp_path)
    data = run("scenarios", "--intervals", "-n", "2000", "--json", "--model", str(model))
    assert data.exit_code == 0, data.stderr
    rows = {s["name"]: s for s in json.loads(data.stdout)["scenarios"]}
    firm, base = rows["firm"], rows["baseline"]
    assert firm["probability"] == pytest.approx(base["probability"], abs=1e-15)
    width = [r["interval_90"][1] - r["interval_90"][0] for r in (base, firm)]
    assert width[1] < width[0] - 1e-3
    alone = Path(shutil.copytree(model, tmp_path / "firm_files"))
    for file in (model / "overlays" / "firm").glob("*.csv"):
        shutil.copy(file, alone / file.name)
    result = run("uncertainty", "sla_breach=yes", "-n", "2000", "--json", "--model", str(alone))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["interval_90"] == pytest.approx(firm["interval_90"], abs=1e-12)


def test_a_full_table_overlay_replaces_the_form(tmp_path: Path) -> None:
    model = compact_model(tmp_path)
    base = bn.load(model)
    table = base["outage"].table.copy()
    table[2, 0, 0, 0] = [0.5, 0.5]  # power failed alone: no longer of the noisy-MAX form
    full = replace(base["outage"], form=None, table=table)
    (model / "overlays" / "bad_day" / "outage.csv").write_text(table_text(full))
    assert run("check", "--model", str(model)).exit_code == 0
    scenario, _ = apply(bn.load(model), "bad_day")
    assert scenario["outage"].form is None
    assert np.abs(scenario["outage"].table - table).max() < 1e-15


@pytest.mark.parametrize(
    ("file", "text", "where", "words"),
    [
        ("outage.csv", "parent,state,outage=no,outage=yes\npower,failed,0.1,1.9\nleak,,1,0\n",
         "overlays/bad_day/outage.csv:2", ["scenario 'bad_day'", "'1.9' is greater than 1"]),
        ("outage.csv", "parent,state,outage=no,outage=yes\npower,failed,0.1,0.9\n",
         "overlays/bad_day/outage.csv:1", ["no leak row"]),
        ("outage.csv", "parent,state,outage=no,outage=yes\npower,flickering,0.1,0.9\nleak,,1,0\n",
         "overlays/bad_day/outage.csv:2", ["'flickering' is not a state of parent power"]),
        ("response.csv", "parent,weight\nstaffing,-1\nrunbooks,1\n",
         "overlays/bad_day/response.csv:2", ["weight '-1' of staffing is not a positive number"]),
        ("response.csv", "parent,state,response=slow\nstaffing,low,1\n",
         "overlays/bad_day/response.csv:1", ["declares response ranked", "parent,weight"]),
        ("sla_breach.csv", "parent,state,sla_breach=no,sla_breach=yes\nleak,,1,0\n",
         "overlays/bad_day/sla_breach.csv:1", ["sla_breach is a full table in the model"]),
    ],
)  # fmt: skip
def test_bad_compact_overlay(
    tmp_path: Path, file: str, text: str, where: str, words: list[str]
) -> None:
    model = compact_model(tmp_path)
    (model / "overlays" / "bad_day" / file).write_text(text)
    before = {p: p.read_bytes() for p in model.rglob("*") if p.is_file()}
    result = run("check", "--model", str(model))
    assert result.exit_code == 2
    lines = [x for x in result.output.splitlines() if x.startswith(where + ": error")]
    assert any(all(word in line for word in words) for line in lines), result.output
    result = run("query", "--scenario", "bad_day", "--model", str(model))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert {p: p.read_bytes() for p in model.rglob("*") if p.is_file()} == before
