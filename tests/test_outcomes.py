"""outcomes.toml and model.toml's horizon and [[forecasts]]: read, checked with lines, scored."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import FLAGSHIP, run

import bn
from bn.analysis.score import brier
from bn.outcomes import Forecast, Horizon


def copy(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    shutil.copytree(FLAGSHIP, model)
    return model


def test_the_flagship_record_checks_clean() -> None:
    model, problems = bn.check(FLAGSHIP)
    assert model is not None and problems == []


def test_constant_hazard_conversion() -> None:
    year = Horizon("2022-10-15", "2023-10-15")
    swift = Forecast("Swift", "a=yes", "a", "yes", {}, 0.09, "2022-10-17", "2023-04-30")
    assert swift.days == 195
    assert swift.on_horizon(year) == pytest.approx(1 - 0.91 ** (365 / 195))
    stated = Forecast("Tegmark", "a=yes", "a", "yes", {}, 0.3, "2022-10-14")
    assert stated.days is None and stated.on_horizon(year) == 0.3


def test_brier() -> None:
    assert brier(0.3, False) == pytest.approx(0.09) and brier(1.0, True) == 0


def test_a_bad_outcome_is_an_error_with_its_line(tmp_path: Path) -> None:
    model = copy(tmp_path)
    text = (model / "outcomes.toml").read_text()
    (model / "outcomes.toml").write_text(
        text.replace('node = "peace_talks"\nstate = "none"', 'node = "peace_talks"\nstate = "nome"')
    )
    result = run("check", "--model", str(model))
    assert result.exit_code == 2
    assert (
        "outcomes.toml:" in result.stderr
        and "'nome' is not a state of peace_talks" in result.stderr
    )


def test_a_forecast_naming_no_scenario_is_an_error(tmp_path: Path) -> None:
    model = copy(tmp_path)
    text = (model / "model.toml").read_text()
    (model / "model.toml").write_text(
        text.replace('scenario = "swift_centre"', 'scenario = "swift"')
    )
    result = run("check", "--model", str(model))
    assert result.exit_code == 2 and "scenario 'swift' is not in scenarios.toml" in result.stderr


def test_an_unknown_outcome_key_is_a_warning(tmp_path: Path) -> None:
    model = copy(tmp_path)
    with (model / "outcomes.toml").open("a") as handle:
        handle.write(
            '\n[[outcomes]]\nnode = "starlink"\nstate = "degraded"\ndate = "2023-06-01"\nwhen = 1\n'
        )
    result = run("check", "--model", str(model))
    assert result.exit_code == 0 and "unknown key 'when'" in result.stdout
