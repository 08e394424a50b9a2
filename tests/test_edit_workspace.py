"""The edit transaction (bn/edit/workspace.py): an edit of an invalid model adds no error, every
edit is all-or-nothing, line endings and permissions are kept, and random edit sequences keep
the model valid."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CHAIN, run
from editing import (
    brute_joint,
    edit,
    marginal,
    refused,
    snapshot,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import bn
from bn.csvfiles import write_model
from bn.edit.workspace import Workspace
from bn.errors import ModelError
from bn.model import Model, Node


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
    from bn.edit.graph import rename_node

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
