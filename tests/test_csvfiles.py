"""The model directory format: encodings, comments, quoting, state names as text, round trips."""

from __future__ import annotations

import itertools
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bn
from bn.csvfiles import (
    decode_text,
    parse_table,
    read_table,
    table_text,
    write_model,
)
from bn.errors import BNError, Problem
from bn.files import write_atomic
from bn.model import Model, Node
from tests.conftest import CHAIN, run

NAMES = ("None", "NA", "null", "TRUE", "01", "1.0", "<5", ">=7.5", "Asy/Patch")


def same_model(a: Model, b: Model) -> None:
    """Same nodes, states, parents, tables (to 1e-15), ess, notes, labels and aliases."""
    assert sorted(a.ids) == sorted(b.ids)
    for node in a:
        other = b[node.id]
        assert other.states == node.states
        assert other.parents == node.parents
        assert other.table.shape == node.table.shape
        np.testing.assert_allclose(other.table, node.table, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(other.ess, node.ess)  # NaN (exact) compares equal
        assert other.notes == node.notes
        assert (other.label, other.aliases) == (node.label, node.aliases)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    for path in CHAIN.iterdir():
        text = path.read_text(encoding="utf-8").replace("\n", "\r\n")
        (tmp_path / path.name).write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert (tmp_path / "nuclear_war.csv").read_bytes().startswith(b"\xef\xbb\xbfnuclear_use,")
    same_model(bn.load(tmp_path), bn.load(CHAIN))
    assert bn.load(tmp_path).title == "Tegmark's three-step chain"


def test_old_mac_line_ends_are_accepted(tmp_path: Path) -> None:
    for path in CHAIN.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    same_model(bn.load(tmp_path), bn.load(CHAIN))


def state_names_model(directory: Path) -> Path:
    directory.mkdir()
    n = len(NAMES)
    header = ",".join(f'"kind={s}"' if "," in s else f"kind={s}" for s in NAMES)
    (directory / "kind.csv").write_text(f"{header}\n{','.join(['1'] + ['0'] * (n - 1))}\n")
    rows = [f"{s},0.{i},{1 - i / 10:g}" for i, s in enumerate(NAMES)]
    (directory / "child.csv").write_text("kind,child=None,child=01\n" + "\n".join(rows) + "\n")
    return directory


def test_state_names_stay_text_and_round_trip(tmp_path: Path) -> None:
    model = bn.load(state_names_model(tmp_path / "a"))
    assert model["kind"].states == NAMES
    assert model["child"].states == ("None", "01")
    assert model["child"].row(("NA",)) == (0.1, 0.9)
    assert model["child"].row(("Asy/Patch",)) == (0.8, 0.2)
    again = tmp_path / "b"
    again.mkdir()
    for node in model:
        (again / f"{node.id}.csv").write_text(table_text(node))
    reloaded = bn.load(again)
    same_model(reloaded, model)
    assert reloaded["kind"].states == NAMES
    # The names work on the command line, exactly as written.
    data = run("query", "child", "--do", "kind=NA", "--model", str(again), "--json")
    assert data.exit_code == 0, data.stderr
    assert '"01": 0.9' in data.stdout.replace("\n", "").replace("  ", "")


def test_comment_lines_anywhere(tmp_path: Path) -> None:
    (tmp_path / "nuclear_use.csv").write_text(
        "# first line\n#\nnuclear_use=no,nuclear_use=yes,ess,note\n# between\n"
        "0.7,0.3,10,Tegmark (2022): 30%\n# last line, no newline at the end"
    )
    (tmp_path / "nato_response.csv").write_text(
        "nuclear_use,nato_response=limited,nato_response=strike,note\n"
        "# no comment between the rows? here is one\n"
        "no,1,0,no nuclear use: no response needed\n"
        "#yes,0.5,0.5,a commented-out row\n"
        "yes,0.2,0.8,Tegmark (2022): 80% given kaboom\n"
    )
    (tmp_path / "nuclear_war.csv").write_text((CHAIN / "nuclear_war.csv").read_text() + "#\n")
    (tmp_path / "model.toml").write_text((CHAIN / "model.toml").read_text())
    model, problems = bn.check(tmp_path)
    assert problems == []
    assert model is not None
    same_model(model, bn.load(CHAIN))


def test_quoted_notes_with_commas_quotes_and_newlines(tmp_path: Path) -> None:
    note = 'Tegmark, p. 3: "70%"\n# not a comment: inside quotes\n\nthird line, still the note'
    text = (
        "nuclear_use,nato_response,nuclear_war=no,nuclear_war=yes,note\n"
        "no,limited,1,0,\n"
        "no,strike,1,0,\n"
        'yes,limited,1,0,"a, b"\n'
        'yes,strike,0.3,0.7,"' + note.replace('"', '""') + '"\n'
    )
    for path in CHAIN.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nuclear_war.csv").write_text(text)
    node = bn.load(tmp_path)["nuclear_war"]
    assert node.notes == ("", "", "a, b", note)
    assert tuple(node.table[1, 1]) == (0.3, 0.7)


def test_crlf_inside_a_quoted_note_is_a_newline(tmp_path: Path) -> None:
    for path in CHAIN.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    war = tmp_path / "nuclear_war.csv"
    war.write_bytes(war.read_bytes().replace(b"Tegmark (2022): 70%", b'"Tegmark\r\n(2022)"'))
    assert bn.load(tmp_path)["nuclear_war"].notes[3] == "Tegmark\n(2022)"


def test_spaces_around_cells_are_ignored(tmp_path: Path) -> None:
    for path in CHAIN.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "nato_response.csv").write_text(
        "nuclear_use , nato_response = limited, nato_response=strike\n no , 1 , 0\nyes,0.2, 0.8\n"
    )
    node = bn.load(tmp_path)["nato_response"]
    assert node.states == ("limited", "strike") and node.row(("yes",)) == (0.2, 0.8)


# -- property: anything write_model writes, load reads back identically ------------------------

IDS = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,7}", fullmatch=True).filter(
    lambda s: s not in ("ess", "note")
)
TEXT = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r")
STATE = st.one_of(
    st.sampled_from(NAMES),
    st.text(TEXT, min_size=1, max_size=6).filter(lambda s: s == s.strip()),
)
NOTE = st.text(st.one_of(TEXT, st.sampled_from([",", '"', "\n", "#", "\t"])), max_size=12)


@st.composite
def models(draw: st.DrawFn) -> Model:
    ids = draw(st.lists(IDS, min_size=1, max_size=5, unique_by=str.lower))
    nodes: list[Node] = []
    for i, node_id in enumerate(ids):
        states = tuple(draw(st.lists(STATE, min_size=1, max_size=3, unique=True)))
        parents = (
            tuple(draw(st.lists(st.sampled_from(ids[:i]), max_size=2, unique=True))) if i else ()
        )
        shape = tuple(len(n.states) for p in parents for n in nodes if n.id == p)
        rows = math.prod(shape)
        table = np.empty((rows, len(states)))
        for r in range(rows):
            weights = draw(
                st.lists(st.floats(0, 1), min_size=len(states), max_size=len(states)).filter(
                    lambda w: math.fsum(w) > 1e-3
                )
            )
            table[r] = np.array(weights) / math.fsum(weights)
        ess = draw(
            st.lists(
                st.one_of(st.just(math.nan), st.floats(1e-3, 1e6)), min_size=rows, max_size=rows
            )
        )
        notes = tuple(draw(st.lists(NOTE, min_size=rows, max_size=rows)))
        taken = {a for n in nodes for a in n.aliases} | {i.lower() for i in ids}
        aliases = draw(
            st.lists(st.from_regex(r"[a-z]{1,5}", fullmatch=True), max_size=2, unique=True).filter(
                lambda a, taken=taken: all(x not in taken for x in a)
            )
        )
        label = draw(st.one_of(st.just(""), st.text(TEXT, max_size=10)))
        nodes.append(
            Node(
                node_id,
                states,
                parents,
                table.reshape((*shape, len(states))),
                ess=np.array(ess).reshape(shape),
                notes=notes,
                label=label,
                aliases=tuple(aliases),
            )
        )
    return Model(tuple(nodes))


@settings(max_examples=60, deadline=None)
@given(models())
def test_written_models_load_back_identically(model: Model) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        write_model(model, Path(scratch))
        loaded, problems = bn.check(scratch)
        assert problems == [], "\n".join(map(str, problems))
        assert loaded is not None
        same_model(loaded, model)
        for node in model:  # every row, by parent state names
            for combo, row in node.rows():
                labels = node.row_label(combo)
                np.testing.assert_allclose(loaded[node.id].row(labels), row, rtol=0, atol=1e-15)


def test_rows_may_come_in_any_order(tmp_path: Path) -> None:
    for path in CHAIN.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    war = tmp_path / "nuclear_war.csv"
    header, *rows = war.read_text().splitlines()
    for order in itertools.islice(itertools.permutations(rows), 0, 24, 5):
        war.write_text("\n".join([header, *order]) + "\n")
        same_model(bn.load(tmp_path), bn.load(CHAIN))


# --- atomic writes -------------------------------------------------------------------------------


def test_write_atomic_syncs_the_data_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rain.csv"
    path.write_text("old\n")
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append("fsync")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    write_atomic(path, "new\n")
    assert events == ["fsync", "replace"] and path.read_text() == "new\n"


def test_write_atomic_failing_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rain.csv"
    path.write_text("old\n")

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(BNError, match=r"cannot write .*rain\.csv: Input/output error"):
        write_atomic(path, "new\n")
    assert [p.name for p in tmp_path.iterdir()] == ["rain.csv"] and path.read_text() == "old\n"


def test_write_atomic_keeps_permissions_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    kept = tmp_path / "kept.csv"
    kept.write_text("old\n")
    kept.chmod(0o600)
    write_atomic(kept, "new\n")
    assert kept.stat().st_mode & 0o777 == 0o600
    previous = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.csv", b"data\n")
        assert os.umask(0o027) == 0o027  # unchanged by the write
    finally:
        os.umask(previous)
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o640  # 0o666 less the umask


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads the umask from /proc")
def test_the_umask_is_read_without_setting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = os.umask(0o022)
    try:

        def forbidden(mask: int) -> int:
            raise AssertionError("setting the umask affects files other threads create")

        monkeypatch.setattr(os, "umask", forbidden)
        write_atomic(tmp_path / "new.csv", "x\n")
    finally:
        monkeypatch.undo()
        os.umask(previous)
    assert (tmp_path / "new.csv").stat().st_mode & 0o777 == 0o644


# --- parsing text ----------------------------------------------------------------------------------


def test_parse_table_reads_text_as_read_table_reads_the_file(tmp_path: Path) -> None:
    for path in CHAIN.glob("*.csv"):
        data = b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n")
        (tmp_path / path.name).write_bytes(data)
        from_file: list[Problem] = []
        from_text: list[Problem] = []
        text = decode_text(data, path.name, from_text)
        assert text is not None and "\r" not in text and not text.startswith("\ufeff")
        assert read_table(tmp_path / path.name, from_file) == parse_table(
            text, path.name, from_text
        )
        assert from_file == from_text == []
    problems: list[Problem] = []
    assert parse_table("rain=no,rain=no\n0.5,0.5\n", "rain.csv", problems) is None
    assert [(p.file, p.line, p.message) for p in problems] == [
        ("rain.csv", 1, "duplicate state(s) of rain: no")
    ]


def test_hidden_files_are_not_nodes_and_broken_links_are_named(tmp_path: Path) -> None:
    from conftest import CHAIN

    import bn

    model = tmp_path / "m"
    shutil.copytree(CHAIN, model)
    (model / "._nuclear_use.csv").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (model / ".draft.csv").write_text("not a node\n")
    assert bn.load(model).ids == ("nuclear_use", "nato_response", "nuclear_war")
    (model / "nuclear_war.csv").unlink()
    (model / "nuclear_war.csv").symlink_to(tmp_path / "elsewhere.csv")
    _, problems = bn.check(model)
    assert any("is a link to" in p.message and p.file == "nuclear_war.csv" for p in problems)
