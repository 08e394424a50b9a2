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
