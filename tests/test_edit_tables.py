"""`bn cpt show|template|set|normalize` and `bn node add` (bn/edit/tables.py): tables edited exactly,
comments, notes and ess kept, bad input refused with nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from editing import (
    edit,
    refused,
)

import bn

# --- cpt show, template, set, normalize ----------------------------------------------------------


def test_show_aligns_rows_with_notes_and_ess(model: Path) -> None:
    out = edit(model, "cpt", "show", "KABOOM").stdout.splitlines()
    assert out[0] == "nuclear_war: US-Russia nuclear war (alias KABOOM)"
    assert out[1].split() == ["nuclear_use", "nato_response", "|", "no", "yes", "|", "ess", "note"]
    assert out[-1].split()[:6] == ["yes", "strike", "|", "0.3", "0.7", "|"]
    assert out[-1].endswith("Tegmark (2022): 70%")
    assert len({line.index("|") for line in out[1:]}) == 1  # aligned
    root = edit(model, "cpt", "show", "kaboom").stdout
    assert "# kaboom: Russia uses a nuclear weapon in Ukraine" in root
    assert "10  Tegmark (2022): 30%" in root


def test_show_names_the_alias_once(model: Path) -> None:
    meta = model / "model.toml"
    meta.write_text(meta.read_text().replace('"US-Russia nuclear war"', '"Nuclear war (KABOOM)"'))
    assert edit(model, "cpt", "show", "KABOOM").stdout.splitlines()[0] == (
        "nuclear_war: Nuclear war (KABOOM)"
    )
    first = edit(model, "cpt", "show", "kaboom").stdout.splitlines()[0]
    assert first == "nuclear_use: Russian nuclear use in Ukraine (alias kaboom)"
    # On an invalid model the label and aliases come from model.toml as written.
    path = model / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.2,0.9"))
    assert edit(model, "cpt", "show", "kaboom").stdout.splitlines()[0] == first


def test_show_json(model: Path) -> None:
    data = json.loads(edit(model, "cpt", "show", "kaboom", "--json").stdout)
    assert data["node"] == "nuclear_use" and data["aliases"] == ["kaboom"]
    assert data["rows"] == [
        {
            "when": {},
            "probabilities": {"no": 0.7, "yes": 0.3},
            "ess": 10.0,
            "note": "Tegmark (2022): 30%",
            "line": 3,
        }
    ]
    assert data["comments"] == ["# kaboom: Russia uses a nuclear weapon in Ukraine"]


def test_show_works_on_an_invalid_model(model: Path) -> None:
    path = model / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.2,0.9"))
    data = json.loads(edit(model, "cpt", "show", "nato_response", "--json").stdout)
    assert data["valid"] is False and data["rows"][1]["probabilities"] == {
        "limited": 0.2,
        "strike": 0.9,
    }


def test_template_writes_every_parent_combination(model: Path) -> None:
    edit(
        model,
        "cpt",
        "template",
        "sanctions",
        "--states",
        "none,partial,full",
        "--parents",
        "kaboom,nato_response",
    )
    text = (model / "sanctions.csv").read_text()
    assert text.splitlines() == [
        "nuclear_use,nato_response,sanctions=none,sanctions=partial,sanctions=full",
        *(
            f"{a},{b},0.333333333333333,0.333333333333333,0.333333333333333"
            for a in ("no", "yes")
            for b in ("limited", "strike")
        ),
    ]
    node = bn.load(model)["sanctions"]
    assert node.parents == ("nuclear_use", "nato_response")
    assert np.allclose(node.table, 1 / 3)
    stderr = refused(model, "cpt", "template", "sanctions", "--states", "a,b")
    assert "already exists" in stderr and "--force" in stderr


def test_template_force_keeps_comments_and_fill(model: Path) -> None:
    edit(model, "cpt", "template", "kaboom", "--states", "no,yes", "--fill", "0.9,0.1", "--force")
    lines = (model / "nuclear_use.csv").read_text().splitlines()
    assert lines == [
        "# kaboom: Russia uses a nuclear weapon in Ukraine",
        "nuclear_use=no,nuclear_use=yes",
        "0.9,0.1",
    ]
    assert "sum to 1.6" in refused(
        model, "cpt", "template", "x", "--states", "a,b", "--fill", "0.8"
    )
    assert "one per state" in refused(
        model, "cpt", "template", "x", "--states", "a,b", "--fill", "0.2,0.3,0.5"
    )
    # New states for a node whose children use the old ones: the model would be invalid.
    stderr = refused(model, "cpt", "template", "kaboom", "--states", "a,b", "--force")
    assert "not a state of parent nuclear_use" in stderr and "nothing was changed" in stderr


def test_set_with_partial_when_edits_every_matching_row(model: Path) -> None:
    out = edit(
        model, "cpt", "set", "KABOOM", "--when", "kaboom=yes", "yes=0.5", "--note", "what if"
    ).stdout
    assert "nuclear_use=yes, nato_response=limited: no 1 -> 0.5, yes 0 -> 0.5" in out
    node = bn.load(model)["nuclear_war"]
    assert node.row(("yes", "limited")) == node.row(("yes", "strike")) == (0.5, 0.5)
    assert node.row(("no", "limited")) == (1.0, 0.0)
    assert node.notes == (
        "no route to KABOOM without kaboom",
        "impossible combination, kept for completeness",
        "what if",
        "what if",
    )


def test_set_named_states_share_the_rest_in_proportion(model: Path) -> None:
    edit(
        model,
        "cpt",
        "template",
        "starlink",
        "--states",
        "available,degraded,cut",
        "--fill",
        "0.6,0.3,0.1",
    )
    edit(model, "cpt", "set", "starlink", "cut=0.2")
    assert bn.load(model)["starlink"].row(()) == pytest.approx((0.8 * 2 / 3, 0.8 / 3, 0.2))
    edit(model, "cpt", "set", "starlink", "--probs", "0.5,0.25,0.25", "--ess", "12")
    text = (model / "starlink.csv").read_text()
    assert text == "starlink=available,starlink=degraded,starlink=cut,ess\n0.5,0.25,0.25,12\n"
    edit(model, "cpt", "set", "starlink", "--ess", "exact")
    assert np.isnan(bn.load(model)["starlink"].ess).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--probs", "0.5,0.6"), "sum to 1.1"),
        (("--probs", "0.5"), "gives 1 numbers"),
        (("yes=1.2",), "not a probability"),
        (("yes=0_6",), "not a probability"),  # float() reads it, `bn check` does not
        (("--probs", "0.4,6e-1_0"), "not a probability"),
        (("--probs", "nan,1"), "not a probability"),
        (("maybe=0.2",), "'maybe' is not a state of nuclear_war"),
        (("--when", "kaboom=perhaps", "yes=0.1"), "'perhaps' is not a state of kaboom"),
        (("--when", "starlink=cut", "yes=0.1"), "unknown node 'starlink'"),
        (("--when", "kaboom", "yes=0.1"), "PARENT=STATE"),
        (("--ess", "-3"), "not a positive number"),
        ((), "nothing to set"),
    ],
)
def test_set_refuses_bad_input_and_changes_nothing(
    model: Path, args: tuple[str, ...], message: str
) -> None:
    assert message in refused(model, "cpt", "set", "KABOOM", *args)


def test_fill_and_show_read_numbers_as_check_does(model: Path) -> None:
    stderr = refused(model, "node", "add", "x", "--states", "a,b", "--fill", "0_5")
    assert "'0_5' is not a probability" in stderr
    path = model / "nuclear_use.csv"
    path.write_text(path.read_text().replace("0.7,0.3,10", "0.7,0.3,1_0"))
    assert any("ess '1_0' is not a number" in p.message for p in bn.check(model)[1])
    row = json.loads(edit(model, "cpt", "show", "kaboom", "--json").stdout)["rows"][0]
    assert row["probabilities"] == {"no": 0.7, "yes": 0.3} and row["ess"] is None


def test_normalize_repairs_an_invalid_model_and_touches_only_bad_rows(model: Path) -> None:
    path = model / "nuclear_war.csv"
    path.write_text(
        path.read_text()
        .replace("0.3,0.7", "0.6,1.4")
        .replace("no,limited,1,0", "no,limited,  1 ,0")
    )
    assert bn.check(model)[0] is None
    before = path.read_text().splitlines()
    edit(model, "cpt", "normalize", "KABOOM")
    after = path.read_text().splitlines()
    assert [a for a, b in zip(before, after, strict=True) if a != b] == [
        "yes,strike,0.6,1.4,Tegmark (2022): 70%"
    ]
    assert after[-1] == "yes,strike,0.3,0.7,Tegmark (2022): 70%"
    assert bn.check(model)[0] is not None
    assert "nothing to change" in edit(model, "cpt", "normalize", "--all").stdout


def test_normalize_refuses_a_zero_row(model: Path) -> None:
    path = model / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0,0"))
    assert "sums to 0" in refused(model, "cpt", "normalize", "--all")


# --- nodes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nato_response", "node nato_response already exists"),
        ("NATO_Response", "'NATO_Response' clashes with node nato_response (ids and aliases are"),
        ("KABOOM", "'KABOOM' is already an alias of node nuclear_war"),
        ("kaboom", "'kaboom' is already an alias of node nuclear_use"),
        ("Kaboom", "'Kaboom' clashes with kaboom, an alias of node nuclear_use"),
    ],
)
def test_node_add_names_the_node_it_collides_with(model: Path, name: str, message: str) -> None:
    stderr = refused(model, "node", "add", name, "--states", "a,b")
    assert message in stderr
    owner = message.split("node ")[-1].split(" ")[0]
    assert f"`bn cpt template {owner} --states ... --force`" in stderr
    assert f"`bn node remove {owner}`" in stderr
    assert "use --force" not in stderr  # bn node add has no --force
    assert "--force" not in run("node", "add", "--help").stdout


def test_node_add_with_label_keeps_model_toml_comments(model: Path) -> None:
    meta = model / "model.toml"
    meta.write_text("# keep me\n" + meta.read_text())
    edit(
        model,
        "node",
        "add",
        "sanctions",
        "--states",
        "no,yes",
        "--parents",
        "kaboom",
        "--fill",
        "0.4,0.6",
        "--label",
        "Sanctions",
        "--description",
        "New sanctions",
    )
    text = meta.read_text()
    assert text.startswith("# keep me\n")
    assert text.endswith('[nodes.sanctions]\nlabel = "Sanctions"\ndescription = "New sanctions"\n')
    node = bn.load(model)["sanctions"]
    assert node.label == "Sanctions" and node.row(("yes",)) == (0.4, 0.6)
    stderr = refused(model, "node", "add", "kaboom", "--states", "a,b")
    assert "'kaboom' is already an alias of node nuclear_use" in stderr
    assert "not a valid node id" in refused(model, "node", "add", "2x", "--states", "a,b")
    assert "unknown node 'nope'" in refused(
        model, "node", "add", "y", "--states", "a,b", "--parents", "nope"
    )
