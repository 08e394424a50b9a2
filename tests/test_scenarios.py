"""`bn scenarios`: every scenario against the baseline, with and without parameter intervals.

Each scenario's probability is checked against brute-force enumeration of the chain's joint
distribution (Jeffrey's rule written out for soft evidence, an indicator factor for do()) and
against the arithmetic in the issue; intervals against `bn uncertainty --scenario` run alone.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, FLAGSHIP, run, run_json

import bn
from bn.model import Model
from bn.scenarios import load_scenarios, overlay

SCENARIOS = DATA / "chain_scenarios"


def enumerate_probability(
    model: Model,
    target: str,
    state: str,
    hard: Mapping[str, str] | None = None,
    do: Mapping[str, str] | None = None,
    likelihood: Mapping[str, Mapping[str, float]] | None = None,
    soft: Mapping[str, Mapping[str, float]] | None = None,
) -> float:
    """P(target = state) by summing the full joint, one assignment at a time (one soft node)."""
    hard, do, likelihood, soft = hard or {}, do or {}, likelihood or {}, soft or {}
    names = [n.id for n in model]
    weight: dict[tuple[str, ...], float] = {}
    for states in itertools.product(*(model[n].states for n in names)):
        x = dict(zip(names, states, strict=True))
        p = 1.0
        for node in model:
            if node.id in do:
                p *= float(x[node.id] == do[node.id])
                continue
            index = tuple(model[q].states.index(x[q]) for q in node.parents)
            p *= float(node.table[(*index, node.state_index(x[node.id]))])
        for name, observed in hard.items():
            p *= float(x[name] == observed)
        for name, weights in likelihood.items():
            p *= weights[x[name]]
        weight[states] = p
    position = names.index(target)
    if not soft:
        total = sum(weight.values())
        return sum(w for s, w in weight.items() if s[position] == state) / total
    ((name, wanted),) = soft.items()
    at = names.index(name)
    answer = 0.0
    for value in model[name].states:  # Jeffrey: sum over s of r(s) P(target | s, other evidence)
        given = {s: w for s, w in weight.items() if s[at] == value}
        if given:
            answer += (
                wanted.get(value, 0.0)
                * sum(w for s, w in given.items() if s[position] == state)
                / sum(given.values())
            )
    return answer


@pytest.fixture(scope="module")
def chain() -> Model:
    return bn.load(SCENARIOS)


def by_name(data: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {row["name"]: row for row in data["scenarios"]}


def test_json_rows_match_enumeration_and_the_arithmetic(chain: Model) -> None:
    data = run_json("scenarios", "--model", str(SCENARIOS))
    assert data["target"] == "nuclear_war=yes"
    assert data["baseline"] == {"name": "baseline", "probability": pytest.approx(0.168)}
    rows = by_name(data)
    assert list(rows) == list(load_scenarios(chain))  # file order
    for row in rows.values():
        assert set(row) == {"name", "description", "probability", "delta", "ratio"}
        assert row["delta"] == pytest.approx(row["probability"] - 0.168)
        assert row["ratio"] == pytest.approx(row["probability"] / 0.168)
    low_war = overlay(chain, "overlays/low_war")
    expected = {
        "baseline": (0.3 * 0.8 * 0.7, enumerate_probability(chain, "nuclear_war", "yes")),
        "forecast_low": (
            0.05 * 0.8 * 0.7,
            enumerate_probability(chain, "nuclear_war", "yes", soft={"nuclear_use": {"yes": 0.05, "no": 0.95}}),
        ),
        "kaboom_observed": (
            0.8 * 0.7,
            enumerate_probability(chain, "nuclear_war", "yes", hard={"nuclear_use": "yes"}),
        ),
        "strike_forced": (
            0.3 * 0.7,
            enumerate_probability(chain, "nuclear_war", "yes", do={"nato_response": "strike"}),
        ),
        "rumour": (
            0.9 / 1.6 * 0.56,
            enumerate_probability(chain, "nuclear_war", "yes", likelihood={"nuclear_use": {"no": 1, "yes": 3}}),
        ),
        "samotsvety_like": (
            0.16 * 0.8 * 0.12,
            enumerate_probability(low_war, "nuclear_war", "yes", soft={"nuclear_use": {"yes": 0.16, "no": 0.84}}),
        ),
    }  # fmt: skip
    for name, (arithmetic, enumerated) in expected.items():
        assert rows[name]["probability"] == pytest.approx(enumerated, abs=1e-12), name
        assert rows[name]["probability"] == pytest.approx(arithmetic, abs=1e-12), name


def test_human_table(chain: Model) -> None:
    result = run("scenarios", "--model", str(SCENARIOS))
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("P(nuclear_war = yes)")
    table = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert table["baseline"] == ["16.80%", "+0.00", "pts", "1.000"]
    assert table["forecast_low"] == ["2.80%", "-14.00", "pts", "0.167"]
    assert table["samotsvety_like"] == ["1.54%", "-15.26", "pts", "0.091"]
    assert table["kaboom_observed"][0] == "56.00%"


def test_other_target_and_evidence_on_top(chain: Model) -> None:
    data = run_json("scenarios", "--model", str(SCENARIOS), "--target", "kaboom")
    assert data["target"] == "nuclear_use=yes"
    rows = by_name(data)
    assert rows["forecast_low"]["probability"] == pytest.approx(0.05)
    assert rows["rumour"]["probability"] == pytest.approx(0.9 / 1.6)
    on_top = by_name(
        run_json("scenarios", "--model", str(SCENARIOS), "--likelihood", "nato_response=1,2")
    )
    report = {"nato_response": {"limited": 1.0, "strike": 2.0}}
    kaboom_report = {"nuclear_use": {"no": 1.0, "yes": 3.0}}
    cases = {  # what each scenario amounts to with the report on top, written out by hand
        "baseline": {"likelihood": report},
        "forecast_low": {"likelihood": report, "soft": {"nuclear_use": {"yes": 0.05, "no": 0.95}}},
        "kaboom_observed": {"likelihood": report, "hard": {"nuclear_use": "yes"}},
        "strike_forced": {"likelihood": report},  # the flag names nato_response: it replaces do()
        "rumour": {"likelihood": {**report, **kaboom_report}},
    }
    for name, given in cases.items():
        expected = enumerate_probability(chain, "nuclear_war", "yes", **given)  # type: ignore[arg-type]
        assert on_top[name]["probability"] == pytest.approx(expected), name
    assert on_top["baseline"]["probability"] != pytest.approx(0.168)


def test_a_scenario_made_impossible_by_the_evidence_gets_a_reason(chain: Model) -> None:
    data = run_json("scenarios", "--model", str(SCENARIOS), "-e", "nato_response=strike", "--intervals",
                    "-n", "200")  # fmt: skip
    rows = by_name(data)
    assert rows["forecast_low"]["probability"] is None and rows["forecast_low"]["delta"] is None
    assert "impossible" in rows["forecast_low"]["error"]
    assert "interval_90" not in rows["forecast_low"]
    assert rows["rumour"]["probability"] == pytest.approx(0.7) and "error" not in rows["rumour"]
    human = run("scenarios", "--model", str(SCENARIOS), "-e", "nato_response=strike")
    assert "forecast_low" in human.stdout and "impossible:" in human.stdout


def test_without_a_baseline_scenario_the_baseline_is_no_evidence(tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(SCENARIOS, model)
    text = (model / "scenarios.toml").read_text()
    start = text.index("[scenarios.baseline]")
    end = text.index("[scenarios.forecast_low]")
    (model / "scenarios.toml").write_text(text[:start] + text[end:])
    data = run_json("scenarios", "--model", str(model))
    assert data["baseline"] == {"name": None, "probability": pytest.approx(0.168)}
    assert "baseline" not in by_name(data)
    human = run("scenarios", "--model", str(model))
    assert "baseline: no scenario, P = 16.80%" in human.stdout


def test_intervals_equal_bn_uncertainty_per_scenario() -> None:
    data = run_json(
        "scenarios", "--model", str(SCENARIOS), "--intervals", "-n", "3000", "--seed", "4"
    )
    assert data["n"] == 3000 and data["seed"] == 4
    for row in data["scenarios"]:
        alone = run_json("uncertainty", "KABOOM=yes", "--model", str(SCENARIOS), "--scenario", row["name"],
                         "-n", "3000", "--seed", "4")  # fmt: skip
        assert row["interval_90"] == pytest.approx(alone["interval_90"], abs=1e-15), row["name"]
        assert row["interval_90"][0] <= row["probability"] + 1e-12
    rows = by_name(data)
    assert rows["kaboom_observed"]["interval_90"] == pytest.approx(
        [0.56, 0.56]
    )  # no ess downstream
    low, high = rows["baseline"]["interval_90"]
    assert high - low > 0.1
    human = run("scenarios", "--model", str(SCENARIOS), "--intervals", "-n", "1000")
    assert (
        "90% interval" in human.stdout
        and "intervals from 1,000 parameter draws, seed 0" in human.stdout
    )


def test_query_applies_a_scenario_and_more_evidence_on_top(chain: Model) -> None:
    data = run_json("query", "KABOOM", "--model", str(SCENARIOS), "--scenario", "rumour",
                    "-e", "nato_response=strike")  # fmt: skip
    expected = enumerate_probability(
        chain, "nuclear_war", "yes",
        hard={"nato_response": "strike"}, likelihood={"nuclear_use": {"no": 1, "yes": 3}},
    )  # fmt: skip
    assert data["posteriors"]["nuclear_war"]["yes"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda m: (m / "scenarios.toml").unlink(), ["no scenarios", "scenarios.toml"]),
        (
            lambda m: (m / "overlays/low_war/nuclear_war.csv").write_text(
                (m / "overlays/low_war/nuclear_war.csv")
                .read_text()
                .replace("0.88,0.12", "0.88,0.2")
            ),
            ["overlays/low_war/nuclear_war.csv"],
        ),
        (
            lambda m: (m / "scenarios.toml").write_text(
                (m / "scenarios.toml").read_text().replace('kaboom = "yes"', 'kaboom = "perhaps"')
            ),
            ["kaboom_observed", "'perhaps' is not a state"],
        ),
    ],
)
def test_broken_scenarios_are_explained_with_exit_2(tmp_path: Path, edit, words: list[str]) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "m"
    shutil.copytree(SCENARIOS, model)
    edit(model)
    result = run("scenarios", "--model", str(model))
    assert result.exit_code == 2, result.stdout
    for word in words:
        assert word in result.stderr


def test_unknown_target_is_explained() -> None:
    result = run("scenarios", "--model", str(SCENARIOS), "--target", "KABOOM=maybe")
    assert result.exit_code == 2 and "states of nuclear_war: no, yes" in result.stderr


# --- the flagship model: the numbers in the issue -----------------------------------------------


@pytest.fixture(scope="module")
def flagship_rows() -> dict[str, dict]:  # type: ignore[type-arg]
    return by_name(run_json("scenarios", "--model", str(FLAGSHIP)))


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("baseline", 0.30 * 0.80 * 0.70),
        ("metaculus_low", 0.132841 * 0.56),  # 3% over 78 days, on the model's year
        ("metaculus_high", 0.431518 * 0.56),
        ("samotsvety", 0.16 * 0.096),
        ("swift_centre", 0.161827 * 0.56),
        ("consensus", 0.151057 * 0.096),
    ],
)
def test_flagship_reproduces_the_published_numbers(
    flagship_rows, name: str, expected: float
) -> None:  # type: ignore[no-untyped-def]
    assert round(flagship_rows[name]["probability"], 3) == round(expected, 3)
    assert flagship_rows[name]["probability"] == pytest.approx(expected, abs=5e-4)


def test_flagship_interventions_and_observations(flagship_rows) -> None:  # type: ignore[no-untyped-def]
    model = bn.load(FLAGSHIP)
    scenarios = load_scenarios(model)
    for name in (
        "musk_plan_accepted",
        "starlink_cut",
        "crimea_offensive",
        "firm_west",
        "wavering_west",
        "us_intel_kherson",
    ):
        assert name in flagship_rows
        given = scenarios[name].evidence
        direct = model.query(["nuclear_war"], evidence=dict(given.hard), do=dict(given.do))
        assert flagship_rows[name]["probability"] == pytest.approx(
            direct.posteriors["nuclear_war"]["yes"]
        )
    assert scenarios["starlink_cut"].evidence.do and scenarios["crimea_offensive"].evidence.do
    for row in flagship_rows.values():
        assert np.isfinite(row["probability"]) and row["description"]
