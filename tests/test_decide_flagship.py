"""The analyst's path through decisions, end to end on the command line: copy the flagship, add a
decision and a utility, `bn decide`, `bn voi --decision`, `bn draw`, `bn export` to GeNIe and back;
every number against pyAgrum and a hand computation from `bn query`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FLAGSHIP, run, run_json
from decide_oracle import pyagrum_best, pyagrum_solve

from bn.validate import load_diagram

# Shelters: decided once kaboom is known or not; they cost 1 and cut the loss of a KABOOM
# from 100 to 60 (illustrative units).
DECISION = "# shelter: prepare civil defence\nnuclear_use,shelter=no,shelter=yes\n"
UTILITY = (
    "# shelter_value: what the outcome is worth\n"
    "nuclear_war,shelter,utility\nno,no,0\nno,yes,-1\nyes,no,-100\nyes,yes,-61\n"
)
VALUES = {("no", "no"): 0.0, ("no", "yes"): -1.0, ("yes", "no"): -100.0, ("yes", "yes"): -61.0}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    directory = tmp_path / "flagship-decisions"
    shutil.copytree(FLAGSHIP, directory)
    (directory / "shelter.csv").write_text(DECISION)
    (directory / "shelter_value.csv").write_text(UTILITY)
    with (directory / "model.toml").open("a") as toml:
        toml.write(
            '\n[nodes.shelter]\nkind = "decision"\n\n[nodes.shelter_value]\nkind = "utility"\n'
        )
    return directory


def by_hand(model: Path) -> tuple[float, dict[str, str]]:
    """MEU and policy from P(kaboom) and P(KABOOM | kaboom), each from a plain `bn query`."""
    prior = run_json("query", "--model", str(model), "--do", "shelter=no", "kaboom")
    meu, best = 0.0, {}
    for kaboom, p in prior["posteriors"]["nuclear_use"].items():
        given = run_json(
            "query", "--model", str(model), "--do", "shelter=no", "-e", f"kaboom={kaboom}", "KABOOM"
        )
        war = given["posteriors"]["nuclear_war"]
        eu = {o: sum(war[w] * VALUES[w, o] for w in ("no", "yes")) for o in ("no", "yes")}
        best[kaboom] = max(eu, key=lambda o: eu[o])
        meu += p * eu[best[kaboom]]
    return meu, best


def test_decide_voi_draw_export_agree_with_pyagrum(model: Path, tmp_path: Path) -> None:
    assert run("check", "--model", str(model)).exit_code == 0
    decided = run_json("decide", "--model", str(model))
    meu, best = by_hand(model)
    assert decided["meu"] == pytest.approx(meu, abs=1e-12)
    (policy,) = decided["decisions"]
    assert {row["given"]["nuclear_use"]: row["best"] for row in policy["policy"]} == best
    assert best == {"no": "no", "yes": "yes"}  # shelters pay only once kaboom is known

    diagram = load_diagram(model)
    ie = pyagrum_solve(diagram)
    assert abs(ie.MEU()["mean"] - decided["meu"]) < 1e-9
    for kaboom, option in best.items():
        assert pyagrum_best(ie, "shelter", {"nuclear_use": kaboom}, ("no", "yes")) == option

    voi = run_json("voi", "--model", str(model), "--decision", "shelter")
    assert voi["meu"] == pytest.approx(decided["meu"], abs=1e-12)
    assert voi["evpi"]["nuclear_war"] > 0  # knowing KABOOM itself is worth most
    for node, value in voi["evpi"].items():
        informed = pyagrum_solve(diagram, extra_arcs=((node, "shelter"),))
        assert abs(informed.MEU()["mean"] - decided["meu"] - value) < 1e-9, node

    svg = tmp_path / "decisions.svg"
    assert run("draw", "--model", str(model), "-o", str(svg)).exit_code == 0
    assert "shelter" in svg.read_text() and "shelter_value" in svg.read_text()

    xdsl = tmp_path / "flagship-decisions.xdsl"
    assert run("export", "--model", str(model), "--to", str(xdsl)).exit_code == 0
    run_json("import", str(xdsl), "--out", str(tmp_path / "back"))
    again = run_json("decide", "--model", str(tmp_path / "back"))
    assert again["meu"] == pytest.approx(decided["meu"], abs=1e-12)
    assert again["decisions"][0]["policy"] == policy["policy"]
