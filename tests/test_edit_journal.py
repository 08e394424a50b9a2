"""Crash-safe, one-writer-at-a-time edits (bn/files.py, bn/journal.py): an edit killed at any step
is finished or undone by the next command, concurrent writers lose nothing, readers see no half
edit.

The processes run through tests/edit_processes.py: the crash test forks one process that imported
bn for every kill point (BN_TEST_CRASH_AT, the test hook of bn.journal), which keeps it fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import run
from editing import snapshot

import bn
from bn.files import LOCK, ModelLock
from bn.journal import JOURNAL

PROCESSES = Path(__file__).parent / "edit_processes.py"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def every_file(directory: Path) -> dict[str, bytes]:
    """Every file, hidden ones (journals, backups, temporaries) included, but the lock file."""
    return snapshot(directory)


def processes(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(PROCESSES), *args], stdout=subprocess.PIPE, text=True, env=ENV
    )


def output(process: subprocess.Popen[str]) -> object:
    out, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    return json.loads(out)


HARVEST = """\
drought,nuclear_use,harvest=poor,harvest=good
no,no,0.2,0.8
no,yes,0.5,0.5
yes,no,0.7,0.3
yes,yes,0.9,0.1
"""


def scratch(tmp_path: Path) -> Path:
    """Where the killed edits run: in memory when the system has a tmpfs there, since the crash
    test makes a few thousand fsyncs in all (each is a kill point) and a busy disk makes each
    slow; the kill points and what they leave are the same on any file system."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="bn-crash-", dir=shm))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


CRASHED_EDITS = [
    ["node", "rename", "nato_response", "nato", "--keep-alias"],
    ["node", "remove", "drought", "--marginalize"],
    ["node", "add-parent", "KABOOM", "drought"],
    ["state", "rename", "kaboom", "yes", "ja"],
    ["cpt", "set", "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6"],
]


@pytest.mark.parametrize("args", CRASHED_EDITS, ids=[" ".join(a[:2]) for a in CRASHED_EDITS])
def test_an_edit_killed_at_any_step_is_finished_or_undone(
    model: Path, tmp_path: Path, args: list[str]
) -> None:
    (model / "drought.csv").write_text("drought=no,drought=yes\n0.9,0.1\n")
    (model / "harvest.csv").write_text(HARVEST)
    with (model / "model.toml").open("a") as meta:
        meta.write('\n[nodes.drought]\nlabel = "Drought"\n')
    before = every_file(model)
    work = scratch(tmp_path)
    result = output(processes("crash", str(model), str(work), *args))
    assert isinstance(result, dict) and result["status"] == 0
    after = every_file(work / str(result["finished"]))  # the same edit, not killed
    assert after != before and not any(name.startswith(".") for name in after)
    assert len(result["killed"]) >= 10  # every write, fsync, link, rename and unlink
    outcomes = []
    for n in result["killed"]:
        directory = work / str(n)
        journal = (directory / JOURNAL).exists()
        checked = run("check", "--model", str(directory))
        assert checked.exit_code == 0, (n, checked.output, checked.stderr)
        assert "warning:" not in checked.stdout, (n, checked.stdout)  # nothing stray
        files = every_file(directory)
        assert files in (before, after), n
        outcomes.append(files == after)
        if journal:
            assert checked.stderr.count("\n") == 1 and "interrupted edit" in checked.stderr
        assert not (directory / JOURNAL).exists()
    assert False in outcomes and True in outcomes  # killed before and after the point of no return
    shutil.rmtree(work)


def test_concurrent_writers_lose_nothing_and_readers_see_no_half_edit(model: Path) -> None:
    """The lost update of issue 14: `bn node add` run at once by several processes, each adding
    to model.toml; a reader queries all along."""
    expected = run("query", "KABOOM", "--json", "--model", str(model))
    answer = json.dumps(json.loads(expected.stdout)["posteriors"], sort_keys=True)
    stop = model.parent / "stop"
    reader = processes("read", str(model), str(stop))
    writers = [processes("write", str(model), f"w{k}_", "3") for k in range(3)]
    statuses = [output(w) for w in writers]
    stop.touch()
    read = output(reader)
    assert isinstance(read, dict)
    assert read["failures"] == [] and read["answers"] == [answer] and read["runs"] > 0
    loaded = bn.load(model)
    meta = (model / "model.toml").read_text()
    for k, codes in enumerate(statuses):
        assert isinstance(codes, list)
        for i, code in enumerate(codes):
            name = f"w{k}_{i}"
            assert code in (0, 2)
            assert (name in loaded.ids) == (code == 0)  # done entirely, or not at all
            assert (f"[nodes.{name}]" in meta) == (code == 0)
    assert sum(code == 0 for codes in statuses for code in codes) >= 8  # type: ignore[union-attr]
    checked = run("check", "--model", str(model))
    assert checked.exit_code == 0 and "warning:" not in checked.stdout
    assert not any(p.name.startswith(".bn-") for p in model.iterdir())


def test_a_second_writer_waits_then_names_the_first(model: Path) -> None:
    before = snapshot(model)
    with ModelLock(model):
        started = time.monotonic()
        result = run("node", "add", "x", "--states", "a,b", "--wait", "0.3", "--model", str(model))
        assert time.monotonic() - started >= 0.3
    assert result.exit_code == 2
    assert f"is being edited by process {os.getpid()} (waited 0.3 s)" in result.stderr
    assert "nothing was changed: try again, or wait longer with --wait" in result.stderr
    assert snapshot(model) == before and not (model / LOCK).exists()
    assert run("node", "add", "x", "--states", "a,b", "--model", str(model)).exit_code == 0


def test_readers_never_take_the_lock(model: Path) -> None:
    with ModelLock(model):
        assert run("query", "KABOOM", "--model", str(model)).exit_code == 0
        assert run("cpt", "show", "KABOOM", "--model", str(model)).exit_code == 0
        assert run("fmt", "--check", "--model", str(model)).exit_code in (0, 1)


def test_check_lists_strays_and_deletes_nothing_the_journal_does_not_name(model: Path) -> None:
    stray = model / ".nuclear_war.csv.bn-backup-0123abcd"
    stray.write_text("an old table\n")
    temp = model / "overlays" / "alt" / ".nuclear_war.csv.deadbeef.tmp"
    temp.write_text("half a table")
    result = run("check", "--model", str(model))
    assert result.exit_code == 0
    assert (
        ".nuclear_war.csv.bn-backup-0123abcd: warning: a backup of nuclear_war.csv" in result.stdout
    )
    assert "overlays/alt/.nuclear_war.csv.deadbeef.tmp: warning: a temporary file" in result.stdout
    assert stray.exists() and temp.exists()
    data = json.loads(run("check", "--model", str(model), "--json").stdout)
    assert [p["severity"] for p in data["problems"]] == ["warning", "warning"]


def test_a_journal_cut_short_is_removed_and_changes_nothing(model: Path) -> None:
    before = snapshot(model)
    (model / JOURNAL).write_text('{"bn-journal": 1, "files": [{"path": "nuclear_wa')
    result = run("query", "KABOOM", "--model", str(model))
    assert result.exit_code == 0
    assert "removed the journal of an edit interrupted before it changed anything" in result.stderr
    assert snapshot(model) == before


def test_a_reader_that_cannot_recover_reads_nothing(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root ignores permissions, so a read-only directory is simulated: the lock cannot be made."""
    (model / JOURNAL).write_text('{"bn-journal": 1, "files": []}')
    real_open = os.open

    def read_only(path: object, flags: int, *args: object) -> int:
        if str(path).endswith(LOCK):
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", read_only)
    result = run("query", "KABOOM", "--model", str(model))
    assert result.exit_code == 2
    assert "an edit was interrupted (.bn-journal is left) and this process cannot" in result.stderr
    assert "nothing was read" in result.stderr


def test_import_force_replaces_a_model_as_an_edit(tmp_path: Path) -> None:
    source = Path(__file__).parent / "data"
    out = tmp_path / "imported"
    assert run("import", str(source / "asia.bif"), "--out", str(out)).exit_code == 0
    before = snapshot(out)
    with ModelLock(out):
        args = ("import", str(source / "cancer.bif"), "--out", str(out), "--force")
        result = run(*args, "--wait", "0.1")
    assert result.exit_code == 2 and "is being edited by process" in result.stderr
    assert snapshot(out) == before
    assert run(*args).exit_code == 0
    assert sorted(bn.load(out).ids) == ["Cancer", "Dyspnoea", "Pollution", "Smoker", "Xray"]
    assert sorted(p.name for p in out.iterdir()) == [
        *sorted(f"{n}.csv" for n in ["Cancer", "Dyspnoea", "Pollution", "Smoker", "Xray"]),
        "model.toml",
    ]


def test_recovery_never_overwrites_a_change_made_after_the_crash(model: Path) -> None:
    """A journal says nuclear_war.csv was being replaced; since, someone saved it by hand."""
    import hashlib

    table = model / "nuclear_war.csv"
    old = table.read_bytes()
    backup = model / ".nuclear_war.csv.bn-backup-0123abcd"
    backup.write_bytes(old)
    entry = {
        "path": "nuclear_war.csv",
        "temp": ".nuclear_war.csv.0123abcd.tmp",
        "backup": backup.name,
        "old": hashlib.sha256(old).hexdigest(),
        "new": hashlib.sha256(b"what bn meant to write").hexdigest(),
    }
    (model / JOURNAL).write_text(json.dumps({"bn-journal": 1, "files": [entry]}))
    by_hand = old.replace(b"0.3,0.7", b"0.35,0.65")
    table.write_bytes(by_hand)
    result = run("check", "--model", str(model))
    assert result.exit_code == 2 and "an interrupted edit cannot be undone" in result.stderr
    assert table.read_bytes() == by_hand and backup.exists() and (model / JOURNAL).exists()
