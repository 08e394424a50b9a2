"""Calibration and direction tests for the flagship escalation model in cpts/.

The default tables must reproduce Tegmark's chain (30% x 80% x 70% = 16.8%) after summing over every
upstream node, and each factor must push the way the notes in the tables say it does.
"""

from pathlib import Path

import pytest

import bn

MODEL_DIR = Path(__file__).resolve().parent.parent / "cpts"
INTERMEDIATE = ("libya", "korea", "finland")


@pytest.fixture(scope="module")
def model():
    return bn.load(str(MODEL_DIR))


def p(model, node, state, **kwargs):
    """P(node=state | whatever evidence, do, soft or likelihood is given)."""
    return model.query([node], **kwargs).posteriors[node][state]


# --- calibration: the published headline, no evidence -------------------------------------------


def test_kaboom_is_thirty_percent(model):
    assert p(model, "nuclear_use", "yes") == pytest.approx(0.30, abs=0.005)


def test_nato_strikes_in_eighty_percent_of_kaboom(model):
    strike = p(model, "nato_response", "conventional_strike", evidence={"nuclear_use": "yes"})
    assert strike == pytest.approx(0.80, abs=0.005)


def test_KABOOM_follows_a_strike_seventy_percent_of_the_time(model):
    evidence = {"nuclear_use": "yes", "nato_response": "conventional_strike"}
    assert p(model, "nuclear_war", "yes", evidence=evidence) == pytest.approx(0.70, abs=0.005)


def test_headline_is_one_in_six(model):
    assert p(model, "nuclear_war", "yes") == pytest.approx(0.30 * 0.80 * 0.70, abs=0.002)


def test_no_KABOOM_without_kaboom(model):
    assert p(model, "nuclear_war", "yes", evidence={"nuclear_use": "no"}) <= 0.001
    assert p(model, "nuclear_war", "yes", do={"nuclear_use": "no"}) <= 0.001


def test_KABOOM_needs_kaboom_even_when_a_strike_is_forced(model):
    no_kaboom = {"nuclear_use": "no"}
    strike = {"nato_response": "conventional_strike"}
    assert p(model, "nuclear_war", "yes", evidence=no_kaboom, do=strike) <= 0.001


def test_aliases_reach_the_same_nodes(model):
    r = model.query(["KABOOM", "kaboom"], evidence={"kaboom": "yes"})
    assert r.posteriors["nuclear_use"]["yes"] == pytest.approx(1.0)
    assert r.posteriors["nuclear_war"]["yes"] == pytest.approx(0.56, abs=0.005)


# --- Tegmark's outcome map -----------------------------------------------------------------------


def test_outright_wins_are_each_below_ten_percent(model):
    outcome = model.query(["war_outcome"]).posteriors["war_outcome"]
    assert outcome["vietnam"] < 0.10
    assert outcome["kosovo"] < 0.10


def test_spiral_ends_in_de_escalation_or_kaboom(model):
    outcome = model.query(["war_outcome"]).posteriors["war_outcome"]
    given_kaboom = model.query(["war_outcome"], evidence={"nuclear_use": "yes"})
    after_kaboom = given_kaboom.posteriors["war_outcome"]
    kaboom = p(model, "nuclear_use", "yes")
    intermediate = sum(outcome[s] for s in INTERMEDIATE)
    intermediate_and_kaboom = kaboom * sum(after_kaboom[s] for s in INTERMEDIATE)
    assert intermediate + kaboom - intermediate_and_kaboom >= 0.80


def test_nuclear_war_outcome_is_KABOOM(model):
    outcome = model.query(["war_outcome"]).posteriors["war_outcome"]
    assert outcome["nuclear_war"] == pytest.approx(p(model, "nuclear_war", "yes"), abs=1e-9)


# --- fixed-marginal (soft) evidence on kaboom keeps the rest of the chain ------------------------


@pytest.mark.parametrize("kaboom", [0.05, 0.07, 0.09, 0.16, 0.50])
def test_soft_kaboom_scales_KABOOM_by_0_56(model, kaboom):
    soft = {"kaboom": {"yes": kaboom}}
    assert p(model, "nuclear_war", "yes", soft=soft) == pytest.approx(kaboom * 0.56, abs=1e-6)


# --- direction tests: each factor pushes the way its notes say -----------------------------------


def test_cutting_starlink_lowers_the_chance_of_a_crimea_offensive(model):
    before = p(model, "crimea_offensive", "yes")
    after = p(model, "crimea_offensive", "yes", do={"starlink": "cut"})
    assert after < before


def test_a_crimea_offensive_raises_kaboom(model):
    before = p(model, "nuclear_use", "yes")
    after = p(model, "nuclear_use", "yes", do={"crimea_offensive": "yes"})
    held_back = p(model, "nuclear_use", "yes", do={"crimea_offensive": "no"})
    assert after > before > held_back


def test_an_agreement_lowers_kaboom_against_no_talks(model):
    none = p(model, "nuclear_use", "yes", evidence={"peace_talks": "none"})
    agreement = p(model, "nuclear_use", "yes", evidence={"peace_talks": "agreement"})
    assert agreement < none


def test_firm_resolve_deters_nuclear_use_in_every_situation(model):
    """The deterrence link: a wavering West doubles the odds of kaboom, row by row."""
    node = model["nuclear_use"]
    axis = node.parents.index("western_resolve")
    yes = node.state_index("yes")
    firm = node.table.take(0, axis=axis)[..., yes]
    wavering = node.table.take(1, axis=axis)[..., yes]
    odds = (wavering / (1 - wavering)) / (firm / (1 - firm))
    assert odds == pytest.approx(2.0, rel=1e-4)
    assert p(model, "nuclear_use", "yes", evidence={"western_resolve": "firm"}) < p(
        model, "nuclear_use", "yes", evidence={"western_resolve": "wavering"}
    )


def test_firm_west_still_raises_KABOOM_at_the_model_s_deterrence(model):
    """README: at a deterrence factor of 2 a firm West raises KABOOM; at about 4.1 it stops."""
    firm = p(model, "nuclear_war", "yes", evidence={"western_resolve": "firm"})
    wavering = p(model, "nuclear_war", "yes", evidence={"western_resolve": "wavering"})
    assert firm == pytest.approx(0.184, abs=5e-4) and wavering == pytest.approx(0.119, abs=5e-4)


def test_who_backs_down_first_moves_the_outcome(model):
    """After kaboom without KABOOM, a limited answer leans Kosovo, a strike then de-escalation Vietnam."""

    def outcome(response):
        evidence = {"nuclear_use": "yes", "nato_response": response, "nuclear_war": "no"}
        return model.query(["war_outcome"], evidence=evidence).posteriors["war_outcome"]

    limited, strike = outcome("limited"), outcome("conventional_strike")
    assert limited["kosovo"] > strike["kosovo"] and strike["vietnam"] > limited["vietnam"]
    assert "nato_response" in model["war_outcome"].parents


def test_us_intelligence_is_evidence_on_an_encirclement(model):
    given = p(model, "nuclear_use", "yes", evidence={"kherson_encirclement": "yes"})
    assert given == pytest.approx(0.50, abs=0.05)
    assert p(model, "kherson_encirclement", "yes", evidence={"battlefield": "russia_holding"}) == 0


def test_firm_resolve_raises_the_chance_of_a_strike_after_kaboom(model):
    firm = {"nuclear_use": "yes", "western_resolve": "firm"}
    wavering = {"nuclear_use": "yes", "western_resolve": "wavering"}
    strike_if_firm = p(model, "nato_response", "conventional_strike", evidence=firm)
    strike_if_wavering = p(model, "nato_response", "conventional_strike", evidence=wavering)
    assert strike_if_firm > strike_if_wavering


def test_a_report_of_a_crimea_offensive_raises_kaboom(model):
    report = {"crimea_offensive": {"no": 1.0, "yes": 3.0}}
    assert p(model, "nuclear_use", "yes", likelihood=report) > p(model, "nuclear_use", "yes")


def test_KABOOM_brings_deaths_in_the_billions(model):
    assert p(model, "deaths", "billions", evidence={"nuclear_war": "yes"}) > 0.5
    assert p(model, "deaths", "billions", evidence={"nuclear_war": "no"}) < 1e-12


def test_the_flagship_checks_clean_and_is_canonically_formatted() -> None:
    from conftest import FLAGSHIP, run

    checked = run("check", "--model", str(FLAGSHIP))
    assert checked.exit_code == 0 and "0 warning" in checked.stdout
    assert run("fmt", "--check", "--model", str(FLAGSHIP)).exit_code == 0


def test_every_row_has_a_note_and_every_node_a_description(model):
    for node in model:
        assert node.description and node.label != node.id, node.id
        assert set(node.state_descriptions) == set(node.states), node.id
        assert all(note.strip() for note in node.notes), node.id


# --- one horizon, the forecasters, the base rate, what happened -----------------------------------


def test_every_scenario_is_on_the_model_s_one_horizon(model):
    """Each forecast with a scenario: the scenario's soft value is the forecast on the horizon."""
    from bn.outcomes import read_record
    from bn.scenarios import load_scenarios

    record, problems = read_record(model)
    assert problems == [] and record.horizon is not None and record.horizon.days == 365
    scenarios = load_scenarios(model)
    for forecast in record.forecasts:
        scenario = scenarios.get(forecast.scenario)
        soft = scenario.evidence.resolved(model).soft if scenario else {}
        if forecast.node in soft and not forecast.given:
            value = soft[forecast.node]["yes"]
            assert value == pytest.approx(forecast.on_horizon(record.horizon), abs=1e-6)
    consensus = scenarios["consensus"].evidence.resolved(model).soft["nuclear_use"]["yes"]
    assert consensus == pytest.approx(record.pooled("consensus"), abs=1e-6)
    members = [f.name for f in record.forecasts if f.pool == "consensus"]
    assert members == ["Metaculus (15 Oct)", "Samotsvety", "Swift Centre"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("consensus", 0.151057 * 0.096),
        ("base_rate", 0.168 + 0.70 * 0.0038),
        ("swift_centre", 0.161827 * 0.56),
    ],
)
def test_forecaster_scenarios(model, name, expected):
    from bn.engine import posterior
    from bn.scenarios import apply

    changed, evidence = apply(model, name)
    value = float(posterior(changed, ["nuclear_war"], evidence).marginals["nuclear_war"][1])
    assert value == pytest.approx(expected, abs=1e-6)


def test_the_base_rate_gives_KABOOM_without_kaboom(model):
    from bn.engine import posterior
    from bn.evidence import Evidence
    from bn.scenarios import apply

    changed, _ = apply(model, "base_rate")
    value = posterior(changed, ["nuclear_war"], Evidence(hard={"nuclear_use": "no"})).marginals
    assert float(value["nuclear_war"][1]) == pytest.approx(0.0038)


def test_what_happened_is_recorded_and_scored(model):
    from bn.analysis.score import score_scenarios

    scoring = score_scenarios(model)
    assert [(n, h) for n, _, h in scoring.events] == [
        ("nuclear_war", False),
        ("nuclear_use", False),
    ]
    baseline = next(s for s in scoring.scenarios if s.name == "baseline")
    assert baseline.scores == {"nuclear_war=yes": pytest.approx(0.168**2), "nuclear_use=yes": 0.09}
    assert {s.name for s in scoring.scenarios} >= {"consensus", "base_rate", "us_intel_kherson"}
    intel = next(s for s in scoring.forecasts if s.name == "US intelligence")
    assert intel.scores == {"nuclear_use=yes": None} and "did not occur" in intel.why


def test_voi_ranks_only_what_an_analyst_can_observe(model):
    from bn.analysis.voi import value_of_information
    from bn.evidence import Evidence

    ranked = [i.node for i in value_of_information(model, "KABOOM", Evidence()).indicators]
    assert "war_outcome" not in ranked and "deaths" not in ranked
    assert set(ranked) >= {"battlefield", "kherson_encirclement", "crimea_offensive"}


def _with_deterrence(model, factor):
    """The flagship with another deterrence factor: each nuclear_use judgement (its resolve-average,
    recovered from the firm row) split again, then the calibration targets re-solved."""
    from dataclasses import replace

    import numpy as np

    from bn.analysis.calibrate import calibrate

    node = model["nuclear_use"]
    axis = node.parents.index("western_resolve")
    firm = np.take(node.table, 0, axis=axis)[..., 1]
    judgement = firm / (1 - firm) * 2**0.25
    table = np.array(node.table)
    for index, power in ((0, -0.25), (1, 0.75)):
        odds = judgement * factor**power
        yes = odds / (1 + odds)
        where = [slice(None)] * table.ndim
        where[axis] = index
        table[tuple(where)] = np.stack([1 - yes, yes], axis=-1)
    changed = model.with_nodes([replace(node, table=table)])
    return calibrate(changed).model


def test_the_deterrence_at_which_a_firm_west_stops_raising_KABOOM(model):
    """README: about 4.1. Below it a firm West raises KABOOM, above it lowers it."""

    def gap(factor):
        m = _with_deterrence(model, factor)
        assert p(m, "nuclear_use", "yes") == pytest.approx(0.30, abs=5e-4)
        firm = p(m, "nuclear_war", "yes", evidence={"western_resolve": "firm"})
        return firm - p(m, "nuclear_war", "yes", evidence={"western_resolve": "wavering"})

    assert gap(2.0) == pytest.approx(0.0659, abs=1e-3)
    assert gap(3.9) > 0 > gap(4.4)
