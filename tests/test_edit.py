"""`bn cpt`, `bn node`, `bn state`: edits are exact, keep comments/notes/ess, and never half-write.

Every numerical claim is checked against a brute-force enumeration of the joint distribution
(`brute_joint`), written here independently of bn's engine; scenario answers are compared before
and after an edit with the engine (the claim there is "unchanged", not a value).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CHAIN, run
from hypothesis import given, settings
from hypothesis import strategies as st

import bn
from bn.csvfiles import write_model
from bn.edit import Workspace
from bn.errors import BNError, ModelError
from bn.model import Model, Node
from bn.tomledit import TomlDoc

SCENARIOS = """\
# Scenarios used by the edit tests: every kind of evidence, ids and aliases, and an overlay.
[scenarios.observed]  # hard evidence through an alias
evidence = { kaboom = "yes" }

[scenarios.forced]
do = { nato_response = "strike" }

[scenarios.rumour]
likelihood = { nuclear_use = { no = 1.0, yes = 3.0 } }

[scenarios.forecast]
soft = { KABOOM = [0.9, 0.1] }

[scenarios.alt]
description = "another expert's table for nuclear_war"
overlay = "overlays/alt"
evidence = { nato_response = "limited" }
"""

OVERLAY = """\
# alt: a more pessimistic expert
nuclear_use,nato_response,nuclear_war=no,nuclear_war=yes,note
no,limited,1,0,none
no,strike,0.9,0.1,"background risk, even without kaboom"
yes,limited,0.8,0.2,some risk after a weak answer
yes,strike,0.1,0.9,the spiral
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """The chain with scenarios and an overlay, in a scratch directory."""
    target = tmp_path / "chain"
    shutil.copytree(CHAIN, target)
    (target / "scenarios.toml").write_text(SCENARIOS)
    (target / "overlays" / "alt").mkdir(parents=True)
    (target / "overlays" / "alt" / "nuclear_war.csv").write_text(OVERLAY)
    assert bn.check(target)[0] is not None
    return target


def edit(directory: Path, *args: str) -> Any:
    result = run(*args, "--model", str(directory))
    assert result.exit_code == 0, result.output + result.stderr
    return result


def refused(directory: Path, *args: str) -> str:
    """Run a command that must fail, and check that no file changed by a single byte."""
    before = snapshot(directory)
    result = run(*args, "--model", str(directory))
    assert result.exit_code == 2, result.output
    assert snapshot(directory) == before
    return result.stderr


def snapshot(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def brute_joint(model: Model) -> tuple[tuple[str, ...], np.ndarray]:
    """P(all nodes) as the product of every table broadcast over all axes: the oracle here."""
    ids = model.ids
    joint = np.ones([model[i].card for i in ids])
    for node in model:
        axes = [ids.index(a) for a in (*node.parents, node.id)]
        table = np.transpose(node.table, np.argsort(axes))
        shape = [joint.shape[a] if a in axes else 1 for a in range(len(ids))]
        joint = joint * table.reshape(shape)
    return ids, joint


def marginal(model: Model, names: list[str], joint: Any = None) -> np.ndarray:
    """The joint of `names` (axes in that order) summed from the full joint."""
    ids, full = joint or brute_joint(model)
    keep = [ids.index(n) for n in names]
    summed = full.sum(axis=tuple(i for i in range(len(ids)) if i not in keep))
    order = sorted(keep)
    return np.transpose(summed, [order.index(k) for k in keep])


def test_the_oracle_by_explicit_enumeration() -> None:
    chain = bn.load(CHAIN)
    total = 0.0
    for use, response in itertools.product(range(2), range(2)):
        total += (
            chain["nuclear_use"].table[use]
            * chain["nato_response"].table[use, response]
            * chain["nuclear_war"].table[use, response, 1]
        )
    assert marginal(chain, ["nuclear_war"])[1] == pytest.approx(total) == pytest.approx(0.168)
    _, joint = brute_joint(chain)
    assert joint.sum() == pytest.approx(1) and joint.shape == (2, 2, 2)


def answers(directory: Path) -> dict[tuple[str, str, str], float]:
    """Every node's posterior with no evidence and under every scenario."""
    from bn.engine import query
    from bn.scenarios import apply, load_scenarios

    model = bn.load(directory)
    out = {}
    for name in ["", *load_scenarios(model)]:
        view, evidence = (model, bn.Evidence()) if not name else apply(model, name)
        result = query(view, list(view.ids), evidence)
        for node, dist in result.posteriors.items():
            for state, p in dist.items():
                out[(name, node, state)] = p
    return out


def same_answers(
    before: dict[tuple[str, str, str], float],
    after: dict[tuple[str, str, str], float],
    rename: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> None:
    rename = rename or {}
    moved = {}
    for (scenario, node, state), p in before.items():
        node2, state2 = rename.get((node, state), (node, state))
        moved[(scenario, node2, state2)] = p
    assert moved.keys() <= after.keys()
    for key, p in moved.items():
        assert after[key] == pytest.approx(p, abs=1e-12), key


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


def test_an_edit_of_an_invalid_model_may_not_add_problems(model: Path) -> None:
    path = model / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.2,0.9"))
    result = edit(model, "cpt", "set", "kaboom", "yes=0.4")  # an unrelated edit: allowed
    assert result.stderr == "warning: the model still has 1 error(s); run bn check\n"
    ws = Workspace(model)
    ws.write("nuclear_use.csv", "nuclear_use=no,nuclear_use=yes\n0.5,0.6\n")
    with pytest.raises(ModelError, match=r"nuclear_use\.csv:2: error: the row sums to 1\.1"):
        ws.commit()
    edit(model, "cpt", "normalize", "nato_response")
    assert bn.check(model)[0] is not None


def bad_numbers(model: Path) -> None:
    """Three errors in numbers only (a sum, a cell, an ess), a root node `drought` to add as a
    parent, and no scenarios: the graph stays readable."""
    (model / "scenarios.toml").write_text("")
    (model / "drought.csv").write_text("drought=no,drought=yes\n0.9,0.1\n")
    for name, old, new in [
        ("nato_response.csv", "0.2,0.8", "0.2,0.9"),
        ("nuclear_war.csv", "yes,limited,1,0", "yes,limited,1,zero"),
        ("nuclear_use.csv", ",10,", ",ten,"),
    ]:
        path = model / name
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))


SUM = ("nato_response.csv", "the row sums to 1.1, not 1")
CELL = ("nuclear_war.csv", "nuclear_war=yes: 'zero' is not a number")
ESS = ("nuclear_use.csv", "ess 'ten' is not a number")

EDITS_OF_AN_INVALID_MODEL = [  # an edit, and the errors (file, message) left after it
    (["cpt", "set", "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6"], None),
    (["cpt", "template", "sanctions", "--states", "no,yes"], None),
    (["node", "add", "sanctions", "--states", "no,yes", "--parents", "kaboom"], None),
    (["node", "rename", "nato_response", "nato"], [("nato.csv", SUM[1]), CELL, ESS]),
    (
        ["node", "rename", "KABOOM", "war"],
        [SUM, ("war.csv", "war=yes: 'zero' is not a number"), ESS],
    ),
    (["node", "rename", "kaboom", "russian_use"], [SUM, CELL, ("russian_use.csv", ESS[1])]),
    (["node", "add-parent", "KABOOM", "drought"], None),  # the bad row is copied, not a new error
    (["node", "remove", "KABOOM"], [SUM, ESS]),
    (["state", "add", "KABOOM", "maybe"], None),
    (["state", "add", "nato_response", "none", "--like", "strike"], None),
    (
        ["state", "rename", "KABOOM", "yes", "war"],
        [SUM, (CELL[0], "nuclear_war=war: 'zero' is not a number"), ESS],
    ),
    (["state", "rename", "nato_response", "strike", "hit"], None),
    (["state", "remove", "kaboom", "yes", "--into", "no"], [ESS]),  # children lose their yes rows
    (["fmt"], None),
]


@pytest.mark.parametrize(
    ("args", "left"),
    EDITS_OF_AN_INVALID_MODEL,
    ids=[" ".join(a) for a, _ in EDITS_OF_AN_INVALID_MODEL],
)
def test_every_edit_of_an_invalid_model_follows_one_rule(
    model: Path, args: list[str], left: list[tuple[str, str]] | None
) -> None:
    """On a model whose only errors are in numbers, every edit that computes with no bad row is
    made; the errors stay (a rename moves them with its file or state) and bn says how many."""
    bad_numbers(model)
    errors = [(p.file, p.message) for p in bn.check(model)[1]]
    assert sorted(errors) == sorted([SUM, CELL, ESS])
    dry = run(*args, "--dry-run", "--model", str(model)) if args != ["fmt"] else None
    if dry is not None:
        assert (
            dry.exit_code == 0 and "dry run: the edit adds no error; nothing written" in dry.stdout
        )
    result = edit(model, *args, "--json")
    after = [(p.file, p.message) for p in bn.check(model)[1] if p.severity == "error"]
    assert sorted(set(after)) == sorted(left or errors)
    assert json.loads(result.stdout)["remaining_errors"] == len(after)
    assert result.stderr == f"warning: the model still has {len(after)} error(s); run bn check\n"


def test_edits_that_compute_with_bad_rows_are_refused(model: Path) -> None:
    bad_numbers(model)
    stderr = refused(model, "node", "remove", "nato_response", "--marginalize")
    assert "nato_response.csv:3: the row sums to 1.1, not 1; this edit computes with" in stderr
    stderr = refused(model, "node", "remove-parent", "KABOOM", "nato_response")
    assert "default weights P(nato_response | ...) are computed from the whole model" in stderr
    assert "which has 3 error(s)" in stderr
    stderr = refused(model, "node", "remove-parent", "KABOOM", "nato_response", "--weights", "1,1")
    assert "nuclear_war.csv:4: a cell is not a probability" in stderr
    stderr = refused(model, "state", "remove", "nato_response", "strike", "--into", "limited")
    assert "nato_response.csv:3: the row sums to 1.1" in stderr
    # A merged row's ess is the smallest of its sources': an unreadable one is refused too.
    (model / "nato_response.csv").write_text(
        "nuclear_use,nato_response=limited,nato_response=strike,ess\nno,1,0,\nyes,0.2,0.8,ten\n"
    )
    stderr = refused(model, "node", "remove-parent", "nato_response", "kaboom", "--weights", "1,1")
    assert "nato_response.csv:3: ess 'ten' is not a number; this edit computes" in stderr


def test_structural_errors_must_be_fixed_before_a_structural_edit(model: Path) -> None:
    path = model / "nuclear_war.csv"
    path.write_text(path.read_text().replace("yes,limited,1,0,", "# yes,limited,1,0,"))
    for args in [
        ("node", "rename", "kaboom", "k"),
        ("state", "add", "kaboom", "maybe"),
        ("node", "add-parent", "nato_response", "KABOOM"),
    ]:
        stderr = refused(model, *args)
        assert "this edit finds the files to change through the model's graph" in stderr
        assert "nuclear_war.csv:1: error: 1 missing row(s): nuclear_use=yes" in stderr
    # A table edit reads only its own file and its parents' headers: it repairs the model.
    result = edit(model, "cpt", "template", "KABOOM", "--force", "--states", "no,yes")
    assert "warning" not in result.stderr and bn.check(model)[0] is not None


def test_an_edit_of_an_invalid_model_may_not_break_scenarios_or_overlays(model: Path) -> None:
    """`bn check` looks at scenarios and overlays only in a valid model; an edit looks anyway."""
    path = model / "nuclear_use.csv"
    path.write_text(path.read_text().replace(",10,", ",ten,"))
    assert bn.check(model)[0] is None
    stderr = refused(model, "state", "add", "kaboom", "maybe")  # breaks scenario 'rumour'
    assert "scenario 'rumour' in scenarios.toml: likelihood evidence on nuclear_use" in stderr
    # An overlay's error hidden behind the model's own is no new error when the model is fixed.
    overlay = model / "overlays/alt/nuclear_war.csv"
    overlay.write_text(overlay.read_text().replace("0.1,0.9", "0.1,0.95"))
    result = edit(model, "cpt", "set", "kaboom", "--ess", "10")
    assert "still has 1 error(s)" in result.stderr
    assert [p.file for p in bn.check(model)[1]] == ["overlays/alt/nuclear_war.csv"]


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


def test_rename_updates_every_file_and_preserves_every_posterior(model: Path) -> None:
    before, files = answers(model), snapshot(model)
    edit(model, "node", "rename", "nato_response", "nato")
    after = snapshot(model)
    assert "nato_response.csv" not in after and "nato.csv" in after
    assert after["nato.csv"] == files["nato_response.csv"].replace(b"nato_response=", b"nato=")
    assert after["overlays/alt/nuclear_war.csv"].splitlines()[1].startswith(b"nuclear_use,nato,")
    scenarios = tomllib.loads(after["scenarios.toml"].decode())["scenarios"]
    assert scenarios["forced"]["do"] == {"nato": "strike"}
    assert after["scenarios.toml"].startswith(b"# Scenarios used by the edit tests")
    same_answers(
        before, answers(model), {("nato_response", s): ("nato", s) for s in ("limited", "strike")}
    )


def test_rename_through_an_alias_keeps_alias_keys_and_moves_metadata(model: Path) -> None:
    before = answers(model)
    edit(model, "node", "rename", "kaboom", "russian_use", "--keep-alias")
    meta = tomllib.loads((model / "model.toml").read_text())
    assert "nuclear_use" not in meta["nodes"]
    assert meta["nodes"]["russian_use"]["aliases"] == ["kaboom", "nuclear_use"]
    assert meta["model"]["targets"] == ["nuclear_war", "russian_use"]
    scenarios = tomllib.loads((model / "scenarios.toml").read_text())["scenarios"]
    assert scenarios["observed"]["evidence"] == {"kaboom": "yes"}  # an alias: still valid
    assert scenarios["rumour"]["likelihood"] == {"russian_use": {"no": 1.0, "yes": 3.0}}
    same_answers(
        before, answers(model), {("nuclear_use", s): ("russian_use", s) for s in ("no", "yes")}
    )
    # Renaming to one's own alias drops that alias.
    edit(model, "node", "rename", "russian_use", "kaboom")
    meta = tomllib.loads((model / "model.toml").read_text())
    assert meta["nodes"]["kaboom"]["aliases"] == ["nuclear_use"]


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("nuclear_war", "already names node nuclear_war"),
        ("KABOOM", "already names node nuclear_war"),
        ("Nuclear_War", "already names node nuclear_war"),
        ("2pac", "not a valid node id"),
        ("note", "not a valid node id"),
    ],
)
def test_rename_refuses_clashes(model: Path, new: str, message: str) -> None:
    assert message in refused(model, "node", "rename", "nato_response", new)


def test_add_parent_copies_rows_and_preserves_every_posterior(model: Path) -> None:
    before = answers(model)
    joint_before = brute_joint(bn.load(model))
    assert "cycle" in refused(model, "node", "add-parent", "kaboom", "KABOOM")
    assert "already a parent" in refused(model, "node", "add-parent", "KABOOM", "kaboom")
    edit(model, "cpt", "template", "weather", "--states", "calm,storm", "--fill", "0.8,0.2")
    edit(model, "node", "add-parent", "KABOOM", "weather")
    new = bn.load(model)
    assert new["nuclear_war"].parents == ("nuclear_use", "nato_response", "weather")
    lines = (model / "nuclear_war.csv").read_text().splitlines()
    assert lines[-2:] == [
        "yes,strike,calm,0.3,0.7,Tegmark (2022): 70%",
        "yes,strike,storm,0.3,0.7,Tegmark (2022): 70%",
    ]
    assert (model / "overlays/alt/nuclear_war.csv").read_text().splitlines()[-1] == (
        "yes,strike,storm,0.1,0.9,the spiral"
    )
    assert np.allclose(marginal(new, list(joint_before[0])), joint_before[1], atol=1e-15)
    after = answers(model)
    same_answers(before, {k: v for k, v in after.items() if k[1] != "weather"})


def test_remove_parent_default_weights_keep_the_node_marginal(model: Path) -> None:
    old = bn.load(model)
    expected = marginal(old, ["nuclear_use", "nuclear_war"])
    edit(model, "node", "remove-parent", "KABOOM", "nato_response")
    new = bn.load(model)
    assert new["nuclear_war"].parents == ("nuclear_use",)
    assert np.allclose(marginal(new, ["nuclear_use", "nuclear_war"]), expected, atol=1e-14)
    # P(war | kaboom=yes) = 0.2 * 0 + 0.8 * 0.7; notes of both rows are kept.
    assert new["nuclear_war"].row(("yes",)) == pytest.approx((0.44, 0.56))
    assert new["nuclear_war"].notes[1] == (
        "Tegmark gives no chance after a weak answer / Tegmark (2022): 70%"
    )


def test_remove_parent_with_weights_is_the_weighted_average(model: Path) -> None:
    old = bn.load(model)["nuclear_war"]
    edit(
        model, "node", "remove-parent", "KABOOM", "nato_response", "--weights", "strike=3,limited=1"
    )
    new = bn.load(model)["nuclear_war"]
    for i in range(2):
        expected = 0.25 * old.table[i, 0] + 0.75 * old.table[i, 1]
        assert np.allclose(new.table[i], expected, atol=1e-15)
    assert "needs 2 numbers" in refused(
        model, "node", "remove-parent", "nato_response", "kaboom", "--weights", "1,2,3"
    )
    assert "not a parent" in refused(model, "node", "remove-parent", "kaboom", "KABOOM")


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ("strike:3,limited:1", (0.25, 0.75)),  # as evidence flags write weights
        ("strike=3,limited=1", (0.25, 0.75)),
        ("Strike:3, limited=1", (0.25, 0.75)),
        ("1,3", (0.25, 0.75)),
        ("strike:1", (0, 1)),  # an unnamed state weighs 0
    ],
)
def test_remove_parent_weights_name_states_as_evidence_does(
    model: Path, weights: str, expected: tuple[float, float]
) -> None:
    old = bn.load(model)["nuclear_war"]
    edit(model, "node", "remove-parent", "KABOOM", "nato_response", "--weights", weights)
    new = bn.load(model)["nuclear_war"]
    for i in range(2):
        average = expected[0] * old.table[i, 0] + expected[1] * old.table[i, 1]
        assert np.allclose(new.table[i], average, atol=1e-15)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ("storm:1", "'storm' is not a state of nato_response; choices: limited, strike"),
        ("limited:1,2", "cannot be read"),
        ("-1,2", "'-1' is not a non-negative number"),
        ("inf,1", "'inf,1' cannot be read"),
        ("0,0", "all zero"),
    ],
)
def test_remove_parent_refuses_bad_weights(model: Path, weights: str, message: str) -> None:
    args = ("node", "remove-parent", "KABOOM", "nato_response", "--weights", weights)
    assert message in refused(model, *args)


def test_remove_refuses_while_children_depend_on_the_node(model: Path) -> None:
    stderr = refused(model, "node", "remove", "nato_response")
    assert "has children (nuclear_war)" in stderr and "--marginalize" in stderr
    stderr = refused(model, "node", "remove", "kaboom", "--marginalize")
    assert "scenario(s) observed, rumour in scenarios.toml use nuclear_use" in stderr


def test_remove_a_leaf_cleans_targets_and_metadata(model: Path) -> None:
    (model / "scenarios.toml").write_text('[scenarios.alt]\noverlay = "overlays/alt"\n')
    edit(model, "node", "remove", "KABOOM")
    files = snapshot(model)
    assert "nuclear_war.csv" not in files and "overlays/alt/nuclear_war.csv" not in files
    meta = tomllib.loads(files["model.toml"].decode())
    assert meta["model"]["targets"] == ["nuclear_use"]
    assert "nuclear_war" not in meta["nodes"]
    assert bn.load(model).ids == ("nuclear_use", "nato_response")


def test_remove_with_marginalize_keeps_the_other_nodes_joint(model: Path) -> None:
    (model / "scenarios.toml").write_text(
        '[scenarios.alt]\noverlay = "overlays/alt"\nevidence = { kaboom = "yes" }\n'
        "[scenarios.forecast]\nsoft = { KABOOM = [0.5, 0.5] }\n"
    )
    old = bn.load(model)
    rest = ["nuclear_use", "nuclear_war"]
    expected = marginal(old, rest)
    before = answers(model)
    edit(model, "node", "remove", "nato_response", "--marginalize")
    new = bn.load(model)
    assert new.ids == ("nuclear_use", "nuclear_war")
    assert np.allclose(marginal(new, rest), expected, atol=1e-15)
    assert new["nuclear_war"].notes[1] == (
        "Tegmark gives no chance after a weak answer / Tegmark (2022): 70%"
    )
    # The overlay's copy of nuclear_war was summed over nato_response too: every scenario agrees.
    assert (model / "overlays/alt/nuclear_war.csv").read_text().startswith("# alt:")
    same_answers({k: v for k, v in before.items() if k[1] != "nato_response"}, answers(model))


def merged_notes(rows: list[tuple[str, float]]) -> str:
    """The note a merged row should have: the distinct notes of its sources with weight > 0."""
    kept: list[str] = []
    for note, weight in rows:
        if weight > 0 and note and note not in kept:
            kept.append(note)
    return " / ".join(kept)


def test_merged_rows_keep_only_the_notes_and_ess_of_rows_with_weight(model: Path) -> None:
    """Given kaboom=no, NATO never strikes: that row of KABOOM weighs 0 when nato_response is summed
    out, so its note ("impossible combination") must not reach the merged row."""
    (model / "scenarios.toml").unlink()
    shutil.rmtree(model / "overlays")
    (model / "nuclear_war.csv").write_text(
        "nuclear_use,nato_response,nuclear_war=no,nuclear_war=yes,ess,note\n"
        "no,limited,1,0,20,no route to KABOOM without kaboom\n"
        'no,strike,1,0,3,"impossible combination, kept for completeness"\n'
        "yes,limited,1,0,,Tegmark gives no chance after a weak answer\n"
        "yes,strike,0.3,0.7,,Tegmark (2022): 70%\n"
    )
    old = bn.load(model)
    notes = {
        old["KABOOM"].row_label(c): n
        for (c, _), n in zip(old["KABOOM"].rows(), old["KABOOM"].notes, strict=True)
    }
    response = old["nato_response"]
    edit(model, "node", "remove", "nato_response", "--marginalize")
    new = bn.load(model)["KABOOM"]
    for k, use in enumerate(("no", "yes")):
        weights = dict(zip(response.states, response.table[k], strict=True))
        assert new.notes[k] == merged_notes([(notes[(use, s)], weights[s]) for s in weights])
    assert new.notes[0] == "no route to KABOOM without kaboom"
    assert new.ess[0] == 20  # not 3: the impossible row's ess does not count either
    assert np.isnan(new.ess[1])


def test_remove_parent_keeps_only_the_notes_of_rows_with_weight(model: Path) -> None:
    old = bn.load(model)["KABOOM"]
    notes = {old.row_label(c): n for (c, _), n in zip(old.rows(), old.notes, strict=True)}
    edit(model, "node", "remove-parent", "KABOOM", "nato_response", "--weights", "strike:1")
    new = bn.load(model)["KABOOM"]
    for k, use in enumerate(("no", "yes")):
        expected = merged_notes([(notes[(use, "limited")], 0.0), (notes[(use, "strike")], 1.0)])
        assert new.notes[k] == expected
        assert new.row((use,)) == old.row((use, "strike"))
    assert new.notes == ("impossible combination, kept for completeness", "Tegmark (2022): 70%")


def test_marginalize_adds_the_removed_nodes_parents_to_children(tmp_path: Path) -> None:
    # a -> x -> c, b -> c: c gains parent a; the joint of a, b, c is unchanged.
    rng = np.random.default_rng(1)

    def table(*shape: int) -> np.ndarray:
        t = rng.random(shape) + 0.1
        return t / t.sum(-1, keepdims=True)

    nodes = [
        Node("a", ("a0", "a1", "a2"), (), table(3)),
        Node("x", ("x0", "x1"), ("a",), table(3, 2), ess=np.array([5.0, np.nan, 2.0])),
        Node("b", ("b0", "b1"), (), table(2)),
        Node("c", ("c0", "c1"), ("x", "b"), table(2, 2, 2), notes=("n1", "n2", "n3", "n4")),
    ]
    old = Model(tuple(nodes))
    write_model(old, tmp_path)
    expected = marginal(old, ["a", "b", "c"])
    edit(tmp_path, "node", "remove", "x", "--marginalize")
    new = bn.load(tmp_path)
    assert new["c"].parents == ("b", "a")
    assert np.allclose(marginal(new, ["a", "b", "c"]), expected, atol=1e-14)
    assert new["c"].notes[0] == "n1 / n3"


def test_marginalize_a_common_cause_links_its_children(tmp_path: Path) -> None:
    # p -> x, x -> c1, x -> c2, p -> c2: c1 and c2 depend on each other only through x, so removing
    # x must make c2 depend on c1. An overlay replaces c1 only: its scenario's joint is kept too.
    rng = np.random.default_rng(7)

    def table(*shape: int) -> np.ndarray:
        t = rng.random(shape) + 0.1
        return t / t.sum(-1, keepdims=True)

    nodes = [
        Node("p", ("p0", "p1"), (), table(2)),
        Node("x", ("x0", "x1", "x2"), ("p",), table(2, 3)),
        Node("c1", ("a", "b"), ("x",), table(3, 2), notes=("one", "two", "three")),
        Node("c2", ("a", "b", "c"), ("x", "p"), table(3, 2, 3)),
    ]
    write_model(Model(tuple(nodes)), tmp_path)
    (tmp_path / "overlays" / "o").mkdir(parents=True)
    (tmp_path / "overlays" / "o" / "c1.csv").write_text(
        "x,c1=a,c1=b\nx0,0.9,0.1\nx1,0.5,0.5\nx2,0,1\n"
    )
    (tmp_path / "scenarios.toml").write_text('[scenarios.o]\noverlay = "overlays/o"\n')
    old = bn.load(tmp_path)
    from bn.scenarios import overlay

    expected = marginal(old, ["p", "c1", "c2"])
    expected_o = marginal(overlay(old, "overlays/o"), ["p", "c1", "c2"])
    edit(tmp_path, "node", "remove", "x", "--marginalize")
    new = bn.load(tmp_path)
    assert new["c1"].parents == ("p",) and new["c2"].parents == ("p", "c1")
    assert np.allclose(marginal(new, ["p", "c1", "c2"]), expected, atol=1e-14)
    assert new["c1"].notes == ("one / two / three",) * 2
    assert sorted(p.name for p in (tmp_path / "overlays" / "o").iterdir()) == ["c1.csv", "c2.csv"]
    view = overlay(new, "overlays/o")
    assert np.allclose(marginal(view, ["p", "c1", "c2"]), expected_o, atol=1e-14)
    assert not np.allclose(expected, expected_o)


def test_marginalize_handles_more_variables_than_einsum_has_letters(tmp_path: Path) -> None:
    # x has 30 one-state parents, its child y 25 more: arc reversal spans 57 variables at once.
    ps = [Node(f"p{i}", ("only",), (), np.array([1.0])) for i in range(30)]
    qs = [Node(f"q{i}", ("only",), (), np.array([1.0])) for i in range(25)]
    x = Node(
        "x", ("x0", "x1"), tuple(n.id for n in ps), np.array([0.3, 0.7]).reshape([1] * 30 + [2])
    )
    y_table = np.array([[0.9, 0.1], [0.2, 0.8]]).reshape([2] + [1] * 25 + [2])
    y = Node("y", ("y0", "y1"), ("x", *(n.id for n in qs)), y_table)
    write_model(Model((*ps, *qs, x, y)), tmp_path)
    edit(tmp_path, "node", "remove", "x", "--marginalize")
    new = bn.load(tmp_path)["y"]
    assert len(new.parents) == 55 and "x" not in new.parents
    # P(y) = sum over x of P(x) P(y | x), by hand
    expected = [0.3 * 0.9 + 0.7 * 0.2, 0.3 * 0.1 + 0.7 * 0.8]
    assert new.table.reshape(2) == pytest.approx(expected, abs=1e-15)


def test_marginalize_names_a_row_state_the_parent_lacks(model: Path) -> None:
    from bn.edit_graph import remove_node

    (model / "scenarios.toml").unlink()
    ws = Workspace(model)
    ws.sheet("nuclear_war.csv").rows[1].parents[1] = "parley"  # an edit gone wrong in memory
    with pytest.raises(ModelError, match="'parley' is not a state of parent nato_response") as e:
        remove_node(ws, "nato_response", marginalize=True)
    problem = e.value.problems[0]
    assert (problem.file, problem.line) == ("nuclear_war.csv", 3)
    assert problem.hint.endswith("states of nato_response: limited, strike")


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


# --- atomicity -----------------------------------------------------------------------------------


def test_an_injected_failure_during_the_renames_leaves_the_directory_unchanged(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(model)
    real = os.replace
    calls = []

    def flaky(src: Any, dst: Any) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device", str(dst))
        real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    result = run("node", "rename", "nato_response", "nato", "--model", str(model))
    assert result.exit_code == 2 and "nothing changed" in result.stderr
    assert len(calls) > 2  # the first rename happened, then was undone
    assert snapshot(model) == before  # also: no temporary or backup file left behind


def test_an_injected_failure_while_writing_temporaries_changes_nothing(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(model)
    real = os.fsync
    calls = []

    def flaky(fd: int) -> None:
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(5, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", flaky)
    result = run("state", "rename", "kaboom", "yes", "ja", "--model", str(model))
    assert result.exit_code == 2
    assert snapshot(model) == before


def test_a_file_changed_during_the_edit_is_not_overwritten(model: Path) -> None:
    ws = Workspace(model)
    from bn.edit_graph import rename_node

    rename_node(ws, "nato_response", "nato")
    (model / "nuclear_war.csv").write_text((model / "nuclear_war.csv").read_text() + "\n")
    before = snapshot(model)
    with pytest.raises(ModelError, match="changed on disk"):
        ws.commit()
    assert snapshot(model) == before


def test_line_endings_bom_and_permissions_are_kept(model: Path) -> None:
    path = model / "nuclear_war.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    path.chmod(0o640)
    edit(model, "cpt", "set", "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\r\n") == 5
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"yes,strike,0.4,0.6,Tegmark" in data
    assert b'no,strike,1,0,"impossible combination, kept for completeness"\r\n' in data
    assert path.stat().st_mode & 0o777 == 0o640


def test_mixed_line_endings_are_kept_line_by_line(model: Path) -> None:
    path = model / "nuclear_war.csv"
    lines = path.read_bytes().split(b"\n")
    mixed = b"\r\n".join(lines[:3]) + b"\r\n" + b"\n".join(lines[3:])  # header, 2 rows in CRLF
    path.write_bytes(mixed)
    edit(model, "cpt", "set", "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6")
    assert path.read_bytes() == mixed.replace(b"yes,strike,0.3,0.7", b"yes,strike,0.4,0.6")
    edit(model, "state", "rename", "KABOOM", "yes", "ja")  # a changed line keeps its ending too
    assert path.read_bytes() == mixed.replace(b"yes,strike,0.3,0.7", b"yes,strike,0.4,0.6").replace(
        b"nuclear_war=yes", b"nuclear_war=ja"
    )


def test_a_non_utf8_model_toml_is_an_error_not_a_crash(model: Path) -> None:
    meta = model / "model.toml"
    meta.write_bytes(meta.read_bytes().replace(b"three-step", b"three-st\xe9p"))
    stderr = refused(model, "node", "add", "x", "--states", "a,b", "--label", "X")
    assert "model.toml:2: error: undecodable byte 0xe9 (the file is not UTF-8)" in stderr


def test_a_malformed_model_toml_is_reported_at_its_line(model: Path) -> None:
    meta = model / "model.toml"
    meta.write_text(meta.read_text().replace('title = "', "title = "))
    stderr = refused(model, "node", "add", "x", "--states", "a,b", "--label", "X")
    assert "model.toml:2: error: malformed TOML" in stderr and "double quotes" in stderr


def test_editing_needs_an_explicit_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BN_MODEL", raising=False)
    result = run("node", "add", "x", "--states", "a,b")
    assert result.exit_code == 2 and "--model" in result.stderr
    assert run("cpt", "show", "KABOOM").exit_code == 0  # reading the packaged model is fine
    shutil.copytree(CHAIN, tmp_path / "cpts")  # a model in ./cpts is edited, as bn.model_path says
    result = run("cpt", "set", "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6")
    assert result.exit_code == 0, result.output
    assert bn.load(tmp_path / "cpts")["KABOOM"].row(("yes", "strike")) == pytest.approx((0.4, 0.6))


def test_dry_run_and_json(model: Path) -> None:
    before = snapshot(model)
    out = edit(model, "node", "rename", "nato_response", "nato", "--dry-run", "--json").stdout
    data = json.loads(out)
    assert data["dry_run"] and data["deleted"] == ["nato_response.csv"]
    assert data["written"] == [
        "nato.csv",
        "nuclear_war.csv",
        "overlays/alt/nuclear_war.csv",
        "scenarios.toml",
    ]
    assert snapshot(model) == before


# --- random edit sequences -----------------------------------------------------------------------

COMMENT = "# analyst's comment: keep me"


@st.composite
def random_models(draw: st.DrawFn) -> Model:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    count = draw(st.integers(2, 5))
    nodes: list[Node] = []
    for i in range(count):
        parents = tuple(f"n{j}" for j in range(i) if rng.random() < 0.5)[:2]
        cards = [len(nodes[int(p[1:])].states) for p in parents]
        card = int(rng.integers(2, 4))
        table = rng.random((*cards, card)) + 0.05
        shape = tuple(cards)
        ess = np.where(rng.random(shape) < 0.5, 5.0, np.nan)
        notes = tuple(f"note {i}.{k}" for k in range(int(np.prod(shape, dtype=int))))
        nodes.append(
            Node(
                f"n{i}",
                tuple(f"s{k}" for k in range(card)),
                parents,
                table / table.sum(-1, keepdims=True),
                ess=ess,
                notes=notes,
            )
        )
    return Model(tuple(nodes))


def write_random(model: Model, directory: Path) -> None:
    write_model(model, directory)
    for node in model:
        path = directory / f"{node.id}.csv"
        path.write_text(f"{COMMENT} {node.id}\n" + path.read_text())


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "set",
                "add-state",
                "rename-state",
                "remove-state",
                "add-parent",
                "remove-parent",
                "rename",
                "add",
                "remove",
                "normalize",
            ]
        ),
        st.integers(0, 10**6),
    ),
    min_size=1,
    max_size=6,
)


def _command(model: Model, op: str, r: int) -> list[str]:
    rng = np.random.default_rng(r)
    ids = list(model.ids)
    node = model[ids[int(rng.integers(len(ids)))]]
    other = ids[int(rng.integers(len(ids)))]
    state = node.states[int(rng.integers(node.card))]
    probs = rng.random(node.card) + 0.01
    probs = ",".join(repr(float(p)) for p in probs / probs.sum())
    if op == "set":
        when = [f"{p}={model[p].states[0]}" for p in node.parents[:1]]
        return ["cpt", "set", node.id, *(["--when", *when] if when else []), "--probs", probs]
    if op == "add-state":
        return ["state", "add", node.id, f"t{r % 97}", "--like", state]
    if op == "rename-state":
        return ["state", "rename", node.id, state, f"r{r % 89}"]
    if op == "remove-state":
        return ["state", "remove", node.id, state]
    if op == "add-parent":
        free = [i for i in ids if i != node.id and node.id not in model.ancestors([i])]
        candidates = [i for i in free if i not in node.parents] or [other]
        return ["node", "add-parent", node.id, candidates[int(rng.integers(len(candidates)))]]
    if op == "remove-parent":
        with_parents = [model[i] for i in ids if model[i].parents] or [node]
        child = with_parents[int(rng.integers(len(with_parents)))]
        parent = child.parents[0] if child.parents else other
        return ["node", "remove-parent", child.id, parent]
    if op == "rename":
        return ["node", "rename", node.id, f"m{r % 83}"]
    if op == "add":
        return ["node", "add", f"a{r % 79}", "--states", "u,v", "--parents", other]
    if op == "remove":
        return ["node", "remove", node.id, "--marginalize"]
    return ["cpt", "normalize", "--all"]


def note_parts(model: Model, node: str) -> set[str]:
    return {part for note in model[node].notes for part in note.split(" / ") if part}


@settings(max_examples=30, deadline=None)
@given(start=random_models(), operations=OPERATIONS)
def test_random_edit_sequences_keep_the_model_valid(
    start: Model, operations: list[tuple[str, int]]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "model"
        write_random(start, directory)
        for op, r in operations:
            _step(directory, op, r)


def _step(directory: Path, op: str, r: int) -> None:
    """One random edit: either refused with every byte unchanged, or valid with what it keeps."""
    model = bn.load(directory)
    before = snapshot(directory)
    args = _command(model, op, r)
    result = run(*args, "--model", str(directory))
    if result.exit_code != 0:
        assert result.exit_code == 2, result.output + result.stderr
        assert snapshot(directory) == before, args
        return
    new = bn.load(directory)  # valid, or this raises
    commented = {Path(p).stem for p, data in before.items() if data.startswith(COMMENT.encode())}
    for path in directory.glob("*.csv"):
        stem = args[2] if op == "rename" and path.stem == args[3] else path.stem
        if stem in commented:
            assert path.read_text().startswith(COMMENT), (args, path.name)
    old_joint, new_joint = brute_joint(model), brute_joint(new)
    node = args[2]
    kept = [i for i in model.ids if i in new.ids]
    if op == "rename":
        renamed = [args[3] if i == node else i for i in model.ids]
        assert np.allclose(marginal(new, renamed, new_joint), old_joint[1], atol=1e-14)
        assert {n for m in new for n in m.notes} == {n for m in model for n in m.notes}
        return
    if op in ("add-parent", "add", "remove", "rename-state"):
        assert np.allclose(
            marginal(new, kept, new_joint), marginal(model, kept, old_joint), atol=1e-14
        )
    if op == "add-state":
        grown = marginal(new, kept, new_joint)
        assert np.allclose(grown[tuple(slice(0, model[i].card) for i in kept)], old_joint[1])
    if op == "remove-parent":
        family = [node, *(p for p in model[node].parents if p != args[3])]
        assert np.allclose(
            marginal(new, family, new_joint), marginal(model, family, old_joint), atol=1e-14
        )
    if op != "remove-state":  # removing a state removes its children's rows, and their notes
        for i in kept:
            assert note_parts(new, i) >= note_parts(model, i) or op == "set", (args, i)


# --- TOML edits ----------------------------------------------------------------------------------

TOML = """\
# top comment
[model]
title = "t"   # trailing comment
targets = [
  "a",  # first
  "b",
]

[nodes.a]
label = "A"
aliases = ["x"]
states = { yes = "y", "no way" = 'n' }

# about b
[nodes.b]
label = '''B'''

[nodes."c d"]
label = "C"
"""


def test_toml_edits_keep_comments_and_layout() -> None:
    doc = TomlDoc(TOML, "model.toml")
    doc.rename_key(("nodes", "a"), "alpha")
    doc.rename_key(("nodes", "alpha", "states", "no way"), "never")
    doc.set_string(("model", "targets", 0), "alpha")
    doc.delete(("model", "targets", 1))
    doc.append(("nodes", "alpha", "aliases"), "al")
    doc.delete(("nodes", "c d"))
    doc.set_value(("nodes", "b"), "description", "about B")
    doc.set_value(("nodes", "alpha", "states"), "maybe", "m")
    text = doc.result()
    assert text == TOML.replace('"a",  # first', '"alpha",  # first').replace(
        '  "b",\n', ""
    ).replace("[nodes.a]", "[nodes.alpha]").replace('"no way"', "never").replace(
        '["x"]', '["x", "al"]'
    ).replace("'n' }", "'n', maybe = \"m\" }").replace(
        "label = '''B'''\n", "label = '''B'''\ndescription = \"about B\"\n"
    ).replace('\n[nodes."c d"]\nlabel = "C"\n', "")
    assert tomllib.loads(text)["nodes"]["alpha"]["states"] == {
        "yes": "y",
        "never": "n",
        "maybe": "m",
    }


def test_toml_delete_keeps_the_next_tables_comment() -> None:
    doc = TomlDoc(TOML, "model.toml")
    doc.delete(("nodes", "a"))
    assert "# about b\n[nodes.b]" in doc.result() and "[nodes.a]" not in doc.text


def test_toml_edit_refuses_what_it_cannot_do_faithfully() -> None:
    doc = TomlDoc("[nodes]\na.label = 'A'\n", "model.toml")
    doc.set_value(("nodes", "a"), "description", "d")
    with pytest.raises(BNError, match=r"cannot edit model\.toml without losing"):
        doc.result()


KEYS = st.sampled_from(["a", "b", "c d", "é", "x-y", "n1"])
VALUES = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 5),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=3),
)
TABLES = st.dictionaries(
    KEYS, st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=3)), max_size=4
)


@settings(max_examples=60, deadline=None)
@given(
    document=st.dictionaries(KEYS, TABLES, min_size=1, max_size=3),
    comments=st.lists(st.integers(0, 40), max_size=4),
    choice=st.integers(0, 10**6),
)
def test_toml_edits_of_random_documents_are_exact_and_keep_comments(
    document: dict[str, Any], comments: list[int], choice: int
) -> None:
    import tomli_w

    lines = tomli_w.dumps(document).split("\n")
    for i, at in enumerate(comments):
        lines.insert(min(at, len(lines)), f"# comment {i}")
    text = "\n".join(lines)
    paths: list[tuple[str | int, ...]] = []

    def walk(data: Any, path: tuple[str | int, ...]) -> None:
        for key, value in data.items():
            paths.append((*path, key))
            if isinstance(value, dict):
                walk(value, (*path, key))

    walk(tomllib.loads(text), ())
    path = paths[choice % len(paths)]
    doc = TomlDoc(text, "x.toml")
    if choice % 3 == 0:
        doc.delete(path)
    elif choice % 3 == 1:
        siblings = doc.expected
        for part in path[:-1]:
            siblings = siblings[part]
        if "new key" in siblings:
            return
        doc.rename_key(path, "new key")
    else:
        doc.set_value(path[:-1], "added", "v")
    result = doc.result()  # checked inside: it means exactly the edit
    for i in range(len(comments)):
        assert f"# comment {i}" in result or choice % 3 == 0
