"""`bn state add|rename|remove` (bn/edit/states.py): every dependent file kept consistent, and
posteriors unchanged or moved as each edit says."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import pytest
from editing import (
    answers,
    edit,
    marginal,
    refused,
    same_answers,
)

import bn

# --- states --------------------------------------------------------------------------------------


def test_state_add_changes_no_posterior_and_gives_children_rows(model: Path) -> None:
    before = answers(model)
    edit(
        model,
        "state",
        "add",
        "nato_response",
        "sanctions",
        "--after",
        "limited",
        "--like",
        "limited",
        "--description",
        "economic only",
    )
    new = bn.load(model)
    assert new["nato_response"].states == ("limited", "sanctions", "strike")
    assert new["nato_response"].state_descriptions == {"sanctions": "economic only"}
    assert new["nuclear_war"].row(("yes", "sanctions")) == (1.0, 0.0)
    lines = (model / "nuclear_war.csv").read_text().splitlines()
    assert lines[1:4] == [
        "no,limited,1,0,no route to KABOOM without kaboom",
        "no,sanctions,1,0,no route to KABOOM without kaboom",
        'no,strike,1,0,"impossible combination, kept for completeness"',
    ]
    after = answers(model)
    assert all(after[(s, "nato_response", "sanctions")] == 0 for s, _, _ in before)
    same_answers(before, after)
    # A likelihood must weigh every state: the edit would break scenario 'rumour', so it is refused.
    stderr = refused(model, "state", "add", "kaboom", "maybe")
    assert "scenario 'rumour' in scenarios.toml: likelihood evidence on nuclear_use must weigh" in (
        stderr
    )
    (model / "scenarios.toml").write_text("")
    edit(model, "state", "add", "kaboom", "maybe")
    assert bn.load(model)["nato_response"].row(("maybe",)) == pytest.approx((1 / 3,) * 3)
    assert "already has a state 'maybe'" in refused(model, "state", "add", "kaboom", "Maybe")


def test_state_rename_everywhere(model: Path) -> None:
    before = answers(model)
    edit(model, "state", "rename", "kaboom", "yes", "detonation")
    scenarios = tomllib.loads((model / "scenarios.toml").read_text())["scenarios"]
    assert scenarios["observed"]["evidence"] == {"kaboom": "detonation"}
    assert scenarios["rumour"]["likelihood"] == {"nuclear_use": {"no": 1.0, "detonation": 3.0}}
    assert "yes,limited" not in (model / "overlays/alt/nuclear_war.csv").read_text()
    same_answers(before, answers(model), {("nuclear_use", "yes"): ("nuclear_use", "detonation")})
    assert "'maybe' is not a state" in refused(model, "state", "rename", "kaboom", "maybe", "x")


def test_state_remove_into_moves_the_probability(model: Path) -> None:
    (model / "scenarios.toml").write_text("[scenarios.s]\ndo = { nato_response = 'strike' }\n")
    old = bn.load(model)
    expected = marginal(old, ["nato_response"])
    assert "use --into" in refused(model, "state", "remove", "nato_response", "strike")
    edit(model, "state", "remove", "nato_response", "strike", "--into", "limited")
    new = bn.load(model)
    assert new["nato_response"].states == ("limited",)
    assert marginal(new, ["nato_response"]) == pytest.approx([expected.sum()])
    assert tomllib.loads((model / "scenarios.toml").read_text())["scenarios"]["s"]["do"] == {
        "nato_response": "limited"
    }
    assert len(new["nuclear_war"].notes) == 2


def test_state_remove_rescales_rows(model: Path) -> None:
    (model / "scenarios.toml").unlink()
    shutil.rmtree(model / "overlays")
    edit(model, "state", "add", "nato_response", "talks")
    edit(model, "cpt", "set", "nato_response", "--when", "kaboom=yes", "--probs", "0.1,0.4,0.5")
    edit(model, "state", "remove", "nato_response", "talks")
    assert bn.load(model)["nato_response"].row(("yes",)) == pytest.approx((0.2, 0.8))
    (model / "nato_response.csv").write_text(
        "nuclear_use,nato_response=limited,nato_response=strike\nno,1,0\nyes,0,1\n"
    )
    assert "use --into" in refused(model, "state", "remove", "nato_response", "strike")
