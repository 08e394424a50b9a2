"""`bn fmt`: canonical layout that never changes a value, a note or a comment."""

from __future__ import annotations

import math
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CHAIN, run
from hypothesis import given, settings
from hypothesis import strategies as st

import bn
from bn.csvfiles import write_model
from bn.model import Model, Node

MESSY = """\
# top comment, kept in place
 nuclear_use , nato_response ,nuclear_war=no,nuclear_war=yes,note
# about the strike row: moves with it
yes,strike,0.30,0.70,Tegmark (2022): 70%

no, limited ,1.0,0e0,no route
yes,limited,1,0,"weak answer"
no,strike,1,.0000,"impossible, kept"
# trailing comment

"""

CANONICAL = """\
# top comment, kept in place
nuclear_use,nato_response,nuclear_war=no,nuclear_war=yes,note
no,limited,1,0,no route
no,strike,1,0,"impossible, kept"
yes,limited,1,0,weak answer
# about the strike row: moves with it
yes,strike,0.3,0.7,Tegmark (2022): 70%
# trailing comment
"""


@pytest.fixture
def model(tmp_path: Path) -> Path:
    target = tmp_path / "chain"
    shutil.copytree(CHAIN, target)
    return target


def fmt(directory: Path, *args: str) -> tuple[int, str]:
    result = run("fmt", *args, "--model", str(directory))
    return result.exit_code, result.stdout + result.stderr


def test_canonical_layout(model: Path) -> None:
    (model / "nuclear_war.csv").write_text(MESSY)
    before = bn.load(model)
    assert fmt(model, "--check") == (1, "would reformat nuclear_war.csv\n")
    assert (model / "nuclear_war.csv").read_text() == MESSY  # --check writes nothing
    assert fmt(model) == (0, "reformatted nuclear_war.csv\n")
    assert (model / "nuclear_war.csv").read_text() == CANONICAL
    after = bn.load(model)
    for node in before:
        assert np.array_equal(node.table, after[node.id].table)
        assert node.notes == after[node.id].notes
    assert fmt(model, "--check") == (0, "all tables are in canonical layout\n")
    assert fmt(model) == (0, "all tables are in canonical layout\n")


def test_line_endings_and_bom_are_kept(model: Path) -> None:
    path = model / "nuclear_war.csv"
    path.write_bytes(b"\xef\xbb\xbf" + MESSY.encode().replace(b"\n", b"\r\n"))
    assert fmt(model)[0] == 0
    assert path.read_bytes() == b"\xef\xbb\xbf" + CANONICAL.encode().replace(b"\n", b"\r\n")
    assert fmt(model, "--check")[0] == 0


def test_quoted_notes_stay_quoted(model: Path) -> None:
    path = model / "nato_response.csv"
    path.write_text(
        "nuclear_use,nato_response=limited,nato_response=strike,ess,note\n"
        'yes,0.20,0.80,,"Tegmark (2022): 80%"\nno,1,0,5,"no nuclear use: no response"\n'
    )
    fmt(model)
    assert path.read_text() == (
        "nuclear_use,nato_response=limited,nato_response=strike,ess,note\n"
        'no,1,0,5,"no nuclear use: no response"\nyes,0.2,0.8,,"Tegmark (2022): 80%"\n'
    )


def test_overlays_are_formatted_too(model: Path) -> None:
    (model / "overlays" / "o").mkdir(parents=True)
    (model / "overlays" / "o" / "nuclear_war.csv").write_text(MESSY)
    (model / "scenarios.toml").write_text('[scenarios.o]\noverlay = "overlays/o"\n')
    assert fmt(model, "--check") == (1, "would reformat overlays/o/nuclear_war.csv\n")
    fmt(model)
    assert (model / "overlays" / "o" / "nuclear_war.csv").read_text() == CANONICAL


def test_an_invalid_model_is_formatted_without_new_problems(model: Path) -> None:
    path = model / "nato_response.csv"
    path.write_text(
        "nuclear_use,nato_response=limited,nato_response=strike,note\nyes,0.20,oops,x\nno,1,0,y\n"
    )
    problems = [p.message for p in bn.check(model)[1]]
    assert fmt(model)[0] == 0
    assert path.read_text().splitlines()[1:] == ["no,1,0,y", "yes,0.2,oops,x"]
    assert [p.message for p in bn.check(model)[1]] == problems


def test_fmt_rewrites_only_what_check_reads_as_a_number(model: Path) -> None:
    path = model / "nuclear_war.csv"
    path.write_text(path.read_text().replace("0.3,0.7", "0.3_0,0.70"))  # float() reads 0.3_0
    problems = [p.message for p in bn.check(model)[1]]
    assert problems == ["nuclear_war=no: '0.3_0' is not a number"]
    assert fmt(model)[0] == 0
    assert "yes,strike,0.3_0,0.7,Tegmark" in path.read_text()  # not silently made 0.3
    assert [p.message for p in bn.check(model)[1]] == problems


def test_check_needs_no_explicit_model_but_writing_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BN_MODEL", raising=False)
    assert run("fmt").exit_code == 2


# --- property: fmt changes no value --------------------------------------------------------------


def _variant(value: float, rng: random.Random) -> str:
    """Another way an analyst or a spreadsheet might write the same number."""
    text = repr(value)
    choice = rng.randrange(4)
    if choice == 0 and "e" not in text:
        return text + "0"
    if choice == 1:
        return f"{value:e}" if float(f"{value:e}") == value else text
    if choice == 2:
        return f" {text} "
    return text


@st.composite
def messy_models(draw: st.DrawFn) -> tuple[Model, int]:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    nodes: list[Node] = []
    for i in range(draw(st.integers(1, 4))):
        parents = tuple(f"n{j}" for j in range(i) if rng.random() < 0.6)
        cards = [len(nodes[int(p[1:])].states) for p in parents]
        card = int(rng.integers(2, 4))
        table = rng.random((*cards, card)) ** 3
        table = table / table.sum(-1, keepdims=True)
        zero = (rng.random(table.shape) < 0.1) & (table < table.max(-1, keepdims=True))
        table = np.where(zero, 0.0, table)
        table = table / table.sum(-1, keepdims=True)
        rows = math.prod(cards)
        notes = tuple(
            rng.choice(["", "plain", 'a "quoted", comma', "  spaces  ", "x,y"]) for _ in range(rows)
        )
        ess = np.where(rng.random(tuple(cards)) < 0.5, rng.integers(1, 50), np.nan)
        nodes.append(
            Node(f"n{i}", tuple(f"s{k}" for k in range(card)), parents, table, ess=ess, notes=notes)
        )
    return Model(tuple(nodes)), seed


def scramble(directory: Path, seed: int) -> None:
    """Shuffle rows, rewrite numbers, add comments between rows and blank lines."""
    rng = random.Random(seed)
    for path in directory.glob("*.csv"):
        lines = path.read_text().splitlines()
        header, rows = lines[0], lines[1:]
        rng.shuffle(rows)
        out = ["# head comment", header]
        for row in rows:
            if rng.random() < 0.3:
                out.append(f"# comment for {row[:10]}")
            if rng.random() < 0.2:
                out.append("")
            out.append(row)
        text = "\n".join(out) + "\n"
        node = bn.load(directory)[path.stem]
        for value in sorted({float(v) for v in node.table.flat}, key=lambda v: -len(repr(v))):
            if value not in (0.0, 1.0):
                text = text.replace("," + repr(value), "," + _variant(value, rng))
        path.write_text(text)


@settings(max_examples=30, deadline=None)
@given(messy_models())
def test_fmt_changes_no_value_and_is_idempotent(case: tuple[Model, int]) -> None:
    start, seed = case
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "m"
        write_model(start, directory)
        scramble(directory, seed)
        before = bn.load(directory)
        comments = {
            p.name: sorted(line for line in p.read_text().splitlines() if line.startswith("#"))
            for p in directory.glob("*.csv")
        }
        assert fmt(directory)[0] == 0
        after = bn.load(directory)
        for node in before:
            new = after[node.id]
            assert np.array_equal(node.table, new.table)
            assert np.array_equal(node.ess, new.ess, equal_nan=True)
            assert node.notes == new.notes == start[node.id].notes
        for path in directory.glob("*.csv"):
            lines = path.read_text().splitlines()
            assert sorted(line for line in lines if line.startswith("#")) == comments[path.name]
            assert lines[0] == "# head comment" and "" not in lines
            width = len(after[path.stem].parents)
            labels = [line.split(",")[:width] for line in lines[2:] if not line.startswith("#")]
            assert labels == sorted(labels)  # states are s0, s1, ...: sorted is canonical here
        assert fmt(directory, "--check") == (0, "all tables are in canonical layout\n")
