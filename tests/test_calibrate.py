"""Calibration targets as data: `bn check` verifies them, `bn calibrate` re-solves their cells."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import CHAIN, FLAGSHIP, run

import bn
from bn.analysis.calibrate import calibrate, evaluate
from bn.calibration import read_targets

TARGETS = """
[[calibration]]
query = "nuclear_use=yes"
value = 0.30
source = "Tegmark (2022)"
solve = [{ node = "nuclear_use", state = "yes" }]

[[calibration]]
query = "nuclear_war=yes | nuclear_use=yes"
value = 0.56
solve = [{ node = "nato_response", when = { nuclear_use = "yes" }, state = "strike" }]
"""


@pytest.fixture
def chain(tmp_path: Path) -> Path:
    model = tmp_path / "chain"
    shutil.copytree(CHAIN, model)
    with (model / "model.toml").open("a") as handle:
        handle.write(TARGETS)
    return model


def test_the_flagship_meets_every_published_target() -> None:
    model = bn.load(FLAGSHIP)
    targets, problems = read_targets(model)
    assert not problems and len(targets) >= 3
    for target in targets:
        assert evaluate(model, target) == pytest.approx(target.value, abs=target.tolerance)
    result = run("check", "--model", str(FLAGSHIP), "--json")
    assert json.loads(result.stdout)["problems"] == []


def test_an_edit_that_moves_a_target_is_a_warning_and_calibrate_restores_it(chain: Path) -> None:
    assert run("check", "--model", str(chain)).exit_code == 0
    edit = run("cpt", "set", "nuclear_use", "yes=0.4", "--model", str(chain))
    assert edit.exit_code == 0, edit.output
    checked = run("check", "--model", str(chain), "--json")
    assert checked.exit_code == 0  # a warning, not an error
    warnings = [p for p in json.loads(checked.stdout)["problems"] if p["severity"] == "warning"]
    assert len(warnings) == 1
    assert "P(nuclear_use=yes) is 0.4, not the published 0.3" in warnings[0]["message"]
    assert warnings[0]["line"] is not None
    before = {p.name: p.read_bytes() for p in chain.iterdir()}
    solved = run("calibrate", "--model", str(chain), "--json")
    assert solved.exit_code == 0, solved.output
    report = json.loads(solved.stdout)
    assert report["written"] == ["nuclear_use.csv"]
    first = report["targets"][0]
    assert first["before"] == pytest.approx(0.4) and first["after"] == pytest.approx(0.3, abs=1e-12)
    after = {p.name: p.read_bytes() for p in chain.iterdir()}
    assert {n for n in after if after[n] != before[n]} == {"nuclear_use.csv"}
    old, new = before["nuclear_use.csv"].splitlines(), after["nuclear_use.csv"].splitlines()
    assert [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b] == [2]
    assert old[:2] == new[:2]  # the comment and the header are kept
    model = bn.load(chain)
    assert model.query("KABOOM").posteriors["nuclear_war"]["yes"] == pytest.approx(0.168)


def test_several_targets_are_solved_together(chain: Path) -> None:
    model = bn.load(chain)
    targets, _ = read_targets(model)
    moved = [
        t.__class__(**{**t.__dict__, "value": v}) for t, v in zip(targets, (0.2, 0.5), strict=True)
    ]
    result = calibrate(model, moved)
    assert [o.after for o in result.outcomes] == [
        pytest.approx(0.2, abs=1e-10),
        pytest.approx(0.5, abs=1e-10),
    ]
    use = result.model["nuclear_use"].table[1]
    strike = result.model["nato_response"].table[1][1]
    assert use == pytest.approx(0.2) and strike * 0.7 == pytest.approx(0.5)


def test_an_unreachable_target_is_refused_and_nothing_is_written(chain: Path) -> None:
    text = (chain / "model.toml").read_text().replace("value = 0.56", "value = 0.9")
    (chain / "model.toml").write_text(text)
    before = {p.name: p.read_bytes() for p in chain.iterdir()}
    result = run("calibrate", "--model", str(chain))
    assert result.exit_code == 2
    assert "nuclear_war=yes | nuclear_use=yes = 0.9 cannot be reached" in result.stderr
    assert {p.name: p.read_bytes() for p in chain.iterdir()} == before


def test_bad_targets_are_errors_with_their_lines(chain: Path) -> None:
    text = (chain / "model.toml").read_text()
    text = text.replace('query = "nuclear_use=yes"', 'query = "nuclear_us=yes"')
    text = text.replace('state = "strike"', 'state = "strik"')
    (chain / "model.toml").write_text(text)
    result = run("check", "--model", str(chain))
    assert result.exit_code == 2
    lines = text.splitlines()
    query_line = next(i for i, t in enumerate(lines, 1) if "nuclear_us=yes" in t)
    assert f"model.toml:{query_line}: error: calibration target 1: unknown node 'nuclear_us'" in (
        result.stderr
    )
    assert "'strik' is not a state of nato_response; did you mean 'strike'?" in result.stderr


def test_calibrate_without_targets_says_so(tmp_path: Path) -> None:
    model = tmp_path / "chain"
    shutil.copytree(CHAIN, model)
    result = run("calibrate", "--model", str(model))
    assert result.exit_code == 0 and "no [[calibration]] targets" in result.stdout
