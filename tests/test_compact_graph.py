"""Graph and state edits that touch compact nodes, and `bn fmt` of compact files.

Each edit is made twice: on the compact model, and on a copy whose compact nodes were expanded
first (`bn cpt expand`) with the same edit then made on the full tables. The two models must give
the same tables and the same posteriors (1e-12). Refusals leave every file byte-identical.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from editing import edit, refused

import bn

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"

# A graded noisy-MAX child: harm (none < partial < total) caused by a (off, on) and b (off, low, high).
GRADED = {
    "a.csv": "a=off,a=on\n0.6,0.4\n",
    "b.csv": "b=off,b=low,b=high\n0.5,0.3,0.2\n",
    "harm.csv": (
        "parent,state,harm=none,harm=partial,harm=total,note\n"
        "a,on,0.5,0.3,0.2,\n"
        "b,low,0.7,0.2,0.1,\n"
        "b,high,0.2,0.3,0.5,the worst\n"
        "leak,,0.9,0.08,0.02,\n"
    ),
    "cost.csv": ("harm,cost=low,cost=high\nnone,0.9,0.1\npartial,0.5,0.5\ntotal,0.1,0.9\n"),
    "model.toml": '[nodes.harm]\nform = "noisy-max"\nabsent = "none"\n',
}


@pytest.fixture
def graded(tmp_path: Path) -> Path:
    root = tmp_path / "graded-src"
    root.mkdir()
    for name, text in GRADED.items():
        (root / name).write_text(text)
    return root


def twins(source: Path, tmp_path: Path, *args: str) -> tuple[Path, Path]:
    """The edit `args` made on a copy of `source`, and on a copy whose compact nodes were
    expanded first; both must pass `bn check`."""
    compact = Path(shutil.copytree(source, tmp_path / "compact"))
    full = Path(shutil.copytree(source, tmp_path / "full"))
    for node in bn.load(full).ids:
        if bn.load(full)[node].form is not None:
            edit(full, "cpt", "expand", node)
    edit(compact, *args)
    edit(full, *args)
    for model in (compact, full):
        assert run("check", "--model", str(model)).exit_code == 0
    return compact, full


def answers(model: bn.Model, evidence: dict[str, str]) -> dict[str, dict[str, float]]:
    return dict(model.query(list(model.ids), evidence=evidence).posteriors)


def same_model(compact: Path, full: Path, *evidence: dict[str, str], tables: bool = True) -> None:
    """Same nodes, same tables (unless `tables` is False) and the same posteriors."""
    a, b = bn.load(compact), bn.load(full)
    assert a.ids == b.ids
    for node in a.ids:
        assert a[node].parents == b[node].parents and a[node].states == b[node].states
        if tables:
            np.testing.assert_allclose(a[node].table, b[node].table, rtol=0, atol=1e-12)
    for given in ({}, *evidence):
        got, want = answers(a, given), answers(b, given)
        for node in a.ids:
            for state in a[node].states:
                assert got[node][state] == pytest.approx(want[node][state], abs=1e-12, rel=0)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


# --- renames -------------------------------------------------------------------------------------


def test_state_rename_of_a_noisy_parent(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "rename", "power", "failed", "down")
    assert lines(compact / "outage.csv")[3] == (
        "power,down,0.05,0.95,20,the generator covers one failure in twenty"
    )
    assert lines(compact / "outage.csv")[2] == lines(EXAMPLE / "outage.csv")[2]  # byte for byte
    assert (compact / "model.toml").read_bytes() == (EXAMPLE / "model.toml").read_bytes()
    same_model(compact, full, {"power": "down"}, {"outage": "yes"})


def test_renaming_a_parents_absent_state_renames_parent_absent(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "rename", "power", "ok", "fine")
    assert (
        'parent_absent = { power = "fine", network = "ok"' in (compact / "model.toml").read_text()
    )
    assert (compact / "outage.csv").read_bytes() == (EXAMPLE / "outage.csv").read_bytes()
    same_model(compact, full, {"power": "fine"})


def test_renaming_a_noisy_childs_absent_state(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "rename", "outage", "no", "none")
    assert lines(compact / "outage.csv")[1] == "parent,state,outage=none,outage=yes,ess,note"
    assert 'absent = "none"' in (compact / "model.toml").read_text()
    assert lines(compact / "sla_breach.csv")[1] == "none,slow,1,0,no outage: no breach"
    same_model(compact, full, {"outage": "none"}, {"sla_breach": "yes"})


def test_renaming_a_ranked_state_renames_its_level(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "rename", "response", "fast", "quick")
    assert 'levels = ["slow", "adequate", "quick"]' in (compact / "model.toml").read_text()
    assert (compact / "response.csv").read_bytes() == (EXAMPLE / "response.csv").read_bytes()
    same_model(compact, full, {"response": "quick"})


def test_renaming_a_ranked_parents_state_changes_no_parameter(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "rename", "staffing", "high", "top")
    assert (compact / "response.csv").read_bytes() == (EXAMPLE / "response.csv").read_bytes()
    same_model(compact, full, {"staffing": "top"})


@pytest.mark.parametrize(
    ("old", "new", "file", "line"),
    [
        ("power", "mains", "outage.csv", "mains,failed,0.05,0.95,20,the generator covers one failure in twenty"),
        ("staffing", "crew", "response.csv", "crew,2,who is on call matters twice as much"),
    ],
)  # fmt: skip
def test_renaming_a_parent_of_a_compact_child(
    tmp_path: Path, old: str, new: str, file: str, line: str
) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "node", "rename", old, new)
    assert line in lines(compact / file)
    toml = (compact / "model.toml").read_text()
    if old == "power":
        assert 'parent_absent = { mains = "ok", network = "ok"' in toml
    same_model(compact, full, {new: lines(compact / f"{new}.csv")[0].split(",")[1].split("=")[1]})


@pytest.mark.parametrize("node", ["outage", "response"])
def test_renaming_a_compact_node(tmp_path: Path, node: str) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "node", "rename", node, "renamed")
    assert not (compact / f"{node}.csv").exists()
    text = (compact / "renamed.csv").read_text()
    assert text == (EXAMPLE / f"{node}.csv").read_text().replace(f"{node}=", "renamed=")
    assert bn.load(compact)["renamed"].form is not None
    assert "[nodes.renamed]" in (compact / "model.toml").read_text()
    same_model(compact, full, {"sla_breach": "yes"})


# --- states --------------------------------------------------------------------------------------


def test_new_state_of_a_noisy_parent_has_no_effect(tmp_path: Path) -> None:
    compact, full = twins(
        EXAMPLE, tmp_path, "state", "add", "power", "flicker", "--after", "degraded"
    )
    assert lines(compact / "outage.csv")[3] == "power,flicker,1,0,,no effect"
    model = bn.load(compact)
    table = model["outage"].table  # axes: power, network, cooling, software, outage
    np.testing.assert_array_equal(table[2], table[0])  # flicker acts as ok (absent) does
    np.testing.assert_array_equal(table[[0, 1, 3]], bn.load(EXAMPLE)["outage"].table)
    # the full table gets uniform rows for flicker: other tables, the same answers
    same_model(compact, full, {"outage": "yes"}, {"sla_breach": "yes"}, tables=False)
    result = run("state", "add", "network", "flaky", "--model", str(compact))
    assert "outage.csv: link network=flaky with no effect (all on outage=no)" in result.stdout


def test_new_state_of_a_noisy_parent_like_another(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "add", "power", "surge", "--like", "failed")
    assert lines(compact / "outage.csv")[4] == (
        "power,surge,0.05,0.95,20,the generator covers one failure in twenty"
    )
    same_model(compact, full, {"outage": "yes"}, {"sla_breach": "yes"})


def test_new_level_of_a_noisy_max_child(tmp_path: Path, graded: Path) -> None:
    compact, full = twins(graded, tmp_path, "state", "add", "harm", "severe", "--after", "partial")
    assert lines(compact / "harm.csv")[:2] == [
        "parent,state,harm=none,harm=partial,harm=severe,harm=total,note",
        "a,on,0.5,0.3,0,0.2,",
    ]
    same_model(compact, full, {"cost": "high"})


def test_a_noisy_childs_state_merges_into_an_adjacent_level(tmp_path: Path, graded: Path) -> None:
    compact, full = twins(graded, tmp_path, "state", "remove", "harm", "partial", "--into", "total")
    assert lines(compact / "harm.csv")[1:3] == ["a,on,0.5,0.5,", "b,low,0.7,0.3,"]
    same_model(compact, full, {"cost": "high"}, {"b": "high"})


def test_merging_the_absent_state_moves_absent(tmp_path: Path, graded: Path) -> None:
    compact, full = twins(graded, tmp_path, "state", "remove", "harm", "none", "--into", "partial")
    assert 'absent = "partial"' in (compact / "model.toml").read_text()
    same_model(compact, full, {"cost": "high"})


def test_a_noisy_parents_state_is_removed_with_its_link(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "state", "remove", "power", "degraded")
    assert not any(line.startswith("power,degraded") for line in lines(compact / "outage.csv"))
    same_model(compact, full, {"outage": "yes"})


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("state", "remove", "harm", "partial"), "needs --into an adjacent state (none or total)"),
        (("state", "remove", "harm", "none", "--into", "total"), "needs --into an adjacent state"),
        (("state", "remove", "b", "off"), "b=off is b's absent state"),
    ],
)
def test_noisy_state_edits_the_form_cannot_make_are_refused(
    graded: Path, args: tuple[str, ...], words: str
) -> None:
    assert words in refused(graded, *args)


def test_noisy_or_child_keeps_two_states(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    toml = model / "model.toml"
    toml.write_text(toml.read_text().replace('form = "noisy-max"', 'form = "noisy-or"'))
    assert "a noisy-or node has two states" in refused(model, "state", "add", "outage", "severe")
    assert "needs its two states" in refused(
        model, "state", "remove", "outage", "yes", "--into", "no"
    )


@pytest.mark.parametrize(
    "args",
    [
        ("state", "add", "response", "blazing"),
        ("state", "remove", "response", "slow", "--into", "adequate"),
        ("state", "add", "staffing", "extra"),
        ("state", "remove", "runbooks", "fair", "--into", "good"),
        ("node", "add-parent", "response", "software"),
        ("node", "remove-parent", "response", "runbooks"),
    ],
)
def test_ranked_edits_that_move_intervals_or_centres_are_refused(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    message = refused(model, *args)
    assert "response is a compact node" in message
    assert "run bn cpt expand response first" in message


# --- parents -------------------------------------------------------------------------------------


def test_new_parent_of_a_noisy_node_has_no_effect(tmp_path: Path) -> None:
    compact, full = twins(EXAMPLE, tmp_path, "node", "add-parent", "outage", "staffing")
    assert lines(compact / "outage.csv")[-3:] == [
        "staffing,medium,1,0,,no effect",
        "staffing,high,1,0,,no effect",
        "leak,,0.99,0.01,50,other causes: about 1% of days",
    ]
    assert 'software = "ok", staffing = "low" }' in (compact / "model.toml").read_text()
    same_model(compact, full, {"outage": "yes"}, {"staffing": "high"})


@pytest.mark.parametrize("weights", [None, "0.5,0.3,0.2", "ok:1"])
def test_removing_a_noisy_parent_folds_its_links_into_the_leak(
    tmp_path: Path, weights: str | None
) -> None:
    extra = ("--weights", weights) if weights else ()
    compact, full = twins(EXAMPLE, tmp_path, "node", "remove-parent", "outage", "network", *extra)
    rows = lines(compact / "outage.csv")
    assert not any(r.startswith("network,") for r in rows)
    assert "network" not in (compact / "model.toml").read_text()
    if weights == "ok:1":  # all the weight on the absent state: the links just go
        assert rows[-1] == lines(EXAMPLE / "outage.csv")[-1]
    else:  # the leak gets the smallest ess of the rows it merges (as remove-parent does)
        assert rows[-1].startswith("leak,,") and rows[-1].endswith(
            ",10,other causes: about 1% of days"
        )
    same_model(compact, full, {"outage": "yes"}, {"network": "failed"})


def test_removing_a_dependent_noisy_parent_needs_weights(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    edit(model, "node", "add-parent", "network", "power")
    edit(model, "cpt", "set", "network", "--when", "power=failed", "failed=0.5")
    message = refused(model, "node", "remove-parent", "outage", "network")
    assert "P(network) depends on its other parents (power, cooling, software)" in message
    assert "give --weights" in message
    edit(model, "node", "remove-parent", "outage", "network", "--weights", "1,1,1")


# --- bn fmt --------------------------------------------------------------------------------------

MESSY = """\
# noisy-MAX, written by hand
parent, state ,outage=no,outage=yes,ess,note
leak,,0.990,0.010,50.0,other causes
network,failed,0.1,0.9,10,

power,failed,5e-02,0.95,20,"the generator"
# a comment that moves with its row
power,degraded, 0.70,0.30,10,
network,degraded,0.8,0.2,1e1,
cooling,degraded,0.9,0.1,5,
cooling,failed,0.3,0.7,5,
software,buggy,0.85,0.15,10,
software,broken,0.2,0.8,10,

"""

CANONICAL = """\
# noisy-MAX, written by hand
parent,state,outage=no,outage=yes,ess,note
network,degraded,0.8,0.2,10,
network,failed,0.1,0.9,10,
# a comment that moves with its row
power,degraded,0.7,0.3,10,
power,failed,0.05,0.95,20,the generator
cooling,degraded,0.9,0.1,5,
cooling,failed,0.3,0.7,5,
software,buggy,0.85,0.15,10,
software,broken,0.2,0.8,10,
leak,,0.99,0.01,50,other causes
"""


def test_fmt_keeps_compact_files_compact_and_canonical(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    (model / "outage.csv").write_text(MESSY)
    (model / "response.csv").write_text("parent,weight,note\n staffing ,2.0,twice\nrunbooks,1e0,\n")
    before = bn.load(model)
    assert run("fmt", "--check", "--model", str(model)).exit_code == 1
    edit(model, "fmt")
    assert (model / "outage.csv").read_text() == CANONICAL
    assert (
        model / "response.csv"
    ).read_text() == "parent,weight,note\nstaffing,2,twice\nrunbooks,1,\n"
    once = {p.name: p.read_bytes() for p in model.iterdir()}
    edit(model, "fmt")
    assert {p.name: p.read_bytes() for p in model.iterdir()} == once  # fmt twice = fmt once
    assert run("fmt", "--check", "--model", str(model)).exit_code == 0
    after = bn.load(model)
    assert after["outage"].parents == ("network", "power", "cooling", "software")
    for node in ("outage", "response"):  # same numbers (the parents' order is the file's)
        np.testing.assert_array_equal(after[node].table, before[node].table)


def test_fmt_leaves_the_example_as_it_is() -> None:
    assert run("fmt", "--check", "--model", str(EXAMPLE)).exit_code == 0


def test_removing_a_compact_node_drops_its_file_and_form(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    edit(model, "node", "remove-parent", "sla_breach", "response", "--weights", "1,1,1")
    edit(model, "node", "remove", "response")
    assert not (model / "response.csv").exists()
    assert "[nodes.response]" not in (model / "model.toml").read_text()
    assert "levels" not in (model / "model.toml").read_text()
    assert run("check", "--model", str(model)).exit_code == 0


def test_summing_a_parent_out_of_a_compact_child_is_refused(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    message = refused(model, "node", "remove", "power", "--marginalize")
    assert "run bn cpt expand outage first" in message


def test_a_new_level_stays_on_the_present_side_of_a_last_absent_state(
    tmp_path: Path, graded: Path
) -> None:
    """With the absent state last (GeNIe's layout), a new state goes before it."""
    harm = (
        "parent,state,harm=total,harm=partial,harm=none\n"
        "a,on,0.2,0.3,0.5\nb,low,0.1,0.2,0.7\nb,high,0.5,0.3,0.2\nleak,,0.02,0.08,0.9\n"
    )
    (graded / "harm.csv").write_text(harm)
    (graded / "cost.csv").write_text(
        "harm,cost=low,cost=high\ntotal,0.1,0.9\npartial,0.5,0.5\nnone,0.9,0.1\n"
    )
    message = refused(graded, "state", "add", "harm", "severe")
    assert "harm's absent state none must stay its last state" in message
    compact, full = twins(graded, tmp_path, "state", "add", "harm", "severe", "--after", "total")
    assert lines(compact / "harm.csv")[1] == "a,on,0.2,0,0.3,0.5"
    same_model(compact, full, {"cost": "high"})


@pytest.mark.parametrize(
    ("parent", "weights"), [("b", None), ("b", "0.1,0.6,0.3"), ("a", None), ("a", "0,1")]
)
def test_removing_a_parent_of_a_graded_child(
    tmp_path: Path, graded: Path, parent: str, weights: str | None
) -> None:
    """Three levels: the averaged cumulative link multiplies the leak's at every level."""
    extra = ("--weights", weights) if weights else ()
    compact, full = twins(graded, tmp_path, "node", "remove-parent", "harm", parent, *extra)
    assert bn.load(compact)["harm"].parents == tuple(p for p in ("a", "b") if p != parent)
    same_model(compact, full, {"cost": "high"})


def test_graded_child_new_parent_and_parent_state(tmp_path: Path, graded: Path) -> None:
    (graded / "c.csv").write_text("c=no,c=yes\n0.7,0.3\n")
    compact, full = twins(graded, tmp_path, "node", "add-parent", "harm", "c")
    assert "c,yes,1,0,0,no effect" in lines(compact / "harm.csv")
    same_model(compact, full, {"cost": "high"}, {"c": "yes"})
    again, full_again = compact.parent / "again", compact.parent / "full-again"
    shutil.copytree(compact, again)
    shutil.copytree(full, full_again)
    edit(again, "state", "add", "b", "extreme", "--like", "high")
    edit(full_again, "state", "add", "b", "extreme", "--like", "high")
    same_model(again, full_again, {"cost": "high"})
