"""`bn node rename|remove|add-parent|remove-parent` (bn/edit/graph.py): every file kept consistent,
and what each edit preserves checked against a brute-force enumeration of the joint distribution
(`editing.brute_joint`), written independently of bn's engine."""

from __future__ import annotations

import itertools
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from conftest import CHAIN
from editing import (
    answers,
    brute_joint,
    edit,
    marginal,
    refused,
    same_answers,
    snapshot,
)

import bn
from bn.csvfiles import write_model
from bn.edit.workspace import Workspace
from bn.errors import ModelError
from bn.model import Model, Node


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
    from bn.edit.graph import remove_node

    (model / "scenarios.toml").unlink()
    ws = Workspace(model)
    ws.sheet("nuclear_war.csv").rows[1].parents[1] = "parley"  # an edit gone wrong in memory
    with pytest.raises(ModelError, match="'parley' is not a state of parent nato_response") as e:
        remove_node(ws, "nato_response", marginalize=True)
    problem = e.value.problems[0]
    assert (problem.file, problem.line) == ("nuclear_war.csv", 3)
    assert problem.hint.endswith("states of nato_response: limited, strike")
