"""Several files written as one change: all of them or none, even if the process is killed.

The bottom layer, beside `bn.files`: imports only `bn.errors` and `bn.files`.

Writing several files (`replace_files`) follows SQLite's rollback journal:

1. the writer holds the model's lock (`bn.files.ModelLock`: `flock` on `.bn-lock` in the model directory,
   with the holder's process id in it) from before it reads the files until after the last
   rename; a second writer waits for it (`wait` seconds), then gives up;
2. before it creates any file it writes `.bn-journal` and flushes it and the directory to disk: every
   path, the temporary file of its new content, the backup of its old content, and a SHA-256 of
   each content;
3. it writes the temporary files, links the backups, unlinks and renames, flushes the
   directories, deletes the backups and, last, the journal.

A process killed at any step leaves the journal behind. `recover`, which every command calls
before it reads a model (`bn.validate.check`), rolls the edit back from the backups, or forward
when every new file is already in place, and deletes exactly the files the journal names.
`leftovers` lists stray backups, temporary files and journals no journal accounts for: bn never
deletes those.

Test hook: with `BN_TEST_CRASH_AT=N` in the environment, the process kills itself (SIGKILL) at
the N-th file operation of a journaled write (each write, fsync, link, rename and unlink), so that
a test can interrupt an edit at every step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bn.errors import BNError, ModelError, Problem
from bn.files import DEFAULT_WAIT, JOURNAL, ModelBusy, ModelLock, holds_lock, mode_for

BACKUP = ".bn-backup-"  # in the name of a backup: .<file>.bn-backup-<token>
CRASH_AT = "BN_TEST_CRASH_AT"  # the test hook (see the module's docstring)


# --- the test hook -------------------------------------------------------------------------------

_operations = 0


def _step() -> None:
    """Count one file operation of a journaled write; the test hook may kill the process here."""
    global _operations
    crash_at = os.environ.get(CRASH_AT)
    if crash_at:
        _operations += 1
        if _operations == int(crash_at):
            os.kill(os.getpid(), signal.SIGKILL)


# --- the journal ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file of a journaled write, paths relative to the model directory: its temporary file
    (None: the file is deleted), its backup (None: the file is new), and the SHA-256 of its old
    and new content (None: no file)."""

    path: str
    temp: str | None
    backup: str | None
    old: str | None
    new: str | None


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _digest_of(path: Path) -> str | None:
    """The SHA-256 of a file's content; None when there is no such file."""
    try:
        return _digest(path.read_bytes()) if path.is_file() else None
    except OSError:
        return None


class WriteFailed(ModelError):
    """Writing the files failed (`error` says why) and every file was left as it was."""

    def __init__(self, error: OSError) -> None:
        self.error = error
        super().__init__(
            [Problem(error.filename or "model", None, f"write failed, nothing changed: {error}")]
        )


def replace_files(
    root: Path,
    new: Mapping[str, bytes | None],
    expected: Mapping[str, bytes | None],
    wait: float = DEFAULT_WAIT,
) -> None:
    """Replace (or delete, for None) several files as one change: all of them or none.

    Under the model's lock (taken here unless this process holds it already), with a journal
    (see the module's docstring): if the process is killed at any step, the next command that
    reads the model finishes or undoes the change. If a step fails, the files already renamed
    are restored from their backups. `expected` holds what each file contained when it was read:
    if a file changed on disk since (a spreadsheet saved it), nothing is written.
    """
    root = Path(root)
    lock = None if holds_lock(root) else ModelLock(root, wait)
    if lock is not None:
        lock.acquire()
    try:
        recover(root)
        for path in new:
            now = (root / path).read_bytes() if (root / path).is_file() else None
            if now != expected.get(path, now):
                raise ModelError(
                    [
                        Problem(
                            path, None, "the file changed on disk during the edit; nothing written"
                        )
                    ]
                )
        _replace(root, new)
    finally:
        if lock is not None:
            lock.release()


def _replace(root: Path, new: Mapping[str, bytes | None]) -> None:
    entries = []
    for path, data in new.items():
        target = root / path
        old = target.read_bytes() if target.is_file() else None
        token = secrets.token_hex(4)
        name = Path(path)
        entries.append(
            Entry(
                path,
                None if data is None else str(name.with_name(f".{name.name}.{token}.tmp")),
                None if old is None else str(name.with_name(f".{name.name}{BACKUP}{token}")),
                _digest(old),
                _digest(data),
            )
        )
    folders = sorted({(root / e.path).parent for e in entries})
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    _write_journal(root, entries)
    try:
        for entry in entries:
            data = new[entry.path]
            if entry.temp is not None and data is not None:
                _write_new(root / entry.temp, data, root / entry.path)
        for entry in entries:
            if entry.backup is not None:
                _back_up(root / entry.path, root / entry.backup)
        _sync(folders)
        for entry in entries:  # deletions first, so that a rename to another case of the name works
            if entry.temp is None:
                _step()
                os.unlink(root / entry.path)
        for entry in entries:
            if entry.temp is not None:
                _step()
                os.replace(root / entry.temp, root / entry.path)
        _sync(folders)
    except BaseException as error:
        failed = _roll_back(root, entries)
        if failed:
            raise ModelError(
                [
                    Problem(
                        p,
                        None,
                        f"could not restore this file after a failed write ({error}); its "
                        f"previous content is in {backup}",
                    )
                    for p, backup in failed
                ]
            ) from error
        _remove_journal(root)
        if isinstance(error, OSError):
            raise WriteFailed(error) from error
        raise
    for entry in entries:
        if entry.backup is not None:
            _step()
            (root / entry.backup).unlink(missing_ok=True)
    _remove_journal(root)


def _write_journal(root: Path, entries: Sequence[Entry]) -> None:
    text = json.dumps(
        {"bn-journal": 1, "pid": os.getpid(), "files": [asdict(e) for e in entries]}, indent=1
    )
    _step()
    fd = os.open(root / JOURNAL, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, (text + "\n").encode("utf-8"))
        _step()
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        (root / JOURNAL).unlink(missing_ok=True)
        raise
    os.close(fd)
    try:
        _sync([root])
    except BaseException:
        (root / JOURNAL).unlink(missing_ok=True)
        raise


def _remove_journal(root: Path) -> None:
    _step()
    (root / JOURNAL).unlink(missing_ok=True)
    _sync([root])


def _write_new(temp: Path, data: bytes, target: Path) -> None:
    """The temporary file `temp` (a new file) holding `data`, on disk, with `target`'s mode."""
    _step()
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        _step()
        os.fsync(handle.fileno())
    os.chmod(temp, mode_for(target))


def _back_up(target: Path, backup: Path) -> None:
    """A backup of `target`: a hard link (instant, and the same file), else a copy."""
    _step()
    try:
        os.link(target, backup)
    except OSError:
        _step()
        shutil.copy2(target, backup)


def _sync(folders: Iterable[Path]) -> None:
    """Flush directories' entries (new names, renames) to disk."""
    if sys.platform == "win32":
        return  # directories cannot be opened there
    for folder in folders:
        _step()
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _roll_back(
    root: Path, entries: Sequence[Entry], undone: list[str] | None = None
) -> list[tuple[str, str]]:
    """Put every file back as it was, from its backup; delete the temporary files and backups.

    Only what the journal names is deleted, and a file only when its content is the one the
    journal gives. Returns the files that could not be restored, with their backups' names; the
    files it had to put back (restored, or a new one removed) are added to `undone`.
    """
    undone = [] if undone is None else undone
    failed = []
    for entry in reversed(entries):
        target = root / entry.path
        now = _digest_of(target)
        try:
            if entry.old is None:
                if now is not None and now == entry.new:
                    _step()
                    target.unlink()
                    undone.append(f"removed {entry.path}")
            elif now != entry.old:
                backup = root / (entry.backup or "")
                ours = now is None or now == entry.new  # else someone changed it since: keep it
                if not ours or entry.backup is None or _digest_of(backup) != entry.old:
                    failed.append((entry.path, entry.backup or "no backup"))
                    continue
                _step()
                try:
                    os.replace(backup, target)
                except OSError:
                    target.write_bytes(backup.read_bytes())
                undone.append(f"restored {entry.path}")
            _clean(root, entry)
        except OSError:
            failed.append((entry.path, entry.backup or "no backup"))
    return failed


def _clean(root: Path, entry: Entry) -> None:
    """Delete an entry's temporary file and backup (once its file is settled)."""
    for name in (entry.temp, entry.backup):
        if name is not None and (root / name).is_file():
            _step()
            (root / name).unlink()


# --- recovery ------------------------------------------------------------------------------------


def recover(root: Path, wait: float = DEFAULT_WAIT) -> None:
    """Finish or undo an interrupted write of the model directory `root`, if there is one.

    Called before a model is read. Nothing to do (one `stat`) when there is no journal. When
    there is one, its writer is either at work (then this waits, up to `wait` seconds, for it to
    finish) or dead: this takes the lock, rolls the write back (or forward, when every new file is
    already in place), says so in one line on stderr and deletes the journal's leftovers. A
    process that cannot take the lock (a read-only directory) reads nothing: `BNError`.
    """
    root = Path(root)
    if not os.path.lexists(root / JOURNAL):
        return
    if holds_lock(root):
        _recover(root)
        return
    lock = ModelLock(root, wait)
    try:
        lock.acquire()
    except ModelBusy as busy:
        raise BNError(
            f"{root} is being edited by {busy.holder}, which is replacing its files (waited "
            f"{wait:g} s); nothing was read: try again"
        ) from None
    except BNError as error:
        raise BNError(
            f"{root}: an edit was interrupted ({JOURNAL} is left) and this process cannot "
            f"recover it ({error}); nothing was read: run `bn check` on the model with write "
            "access to its directory"
        ) from None
    try:
        _recover(root)
    finally:
        lock.release()


def _recover(root: Path) -> None:
    journal = root / JOURNAL
    try:
        data: Any = json.loads(journal.read_text(encoding="utf-8"))
        entries = [Entry(**e) for e in data["files"]]
    except FileNotFoundError:
        return  # its writer finished meanwhile
    except (OSError, ValueError, KeyError, TypeError):
        # Written in full before any other file is touched: a journal that cannot be read was
        # interrupted while being written, and nothing else changed.
        _remove_journal(root)
        print(
            f"bn: {root}: removed the journal of an edit interrupted before it changed anything",
            file=sys.stderr,
        )
        return
    if all(_digest_of(root / e.path) == e.new for e in entries):
        for entry in entries:
            _clean(root, entry)
        paths = ", ".join(e.path for e in entries)
        how = f"completed an interrupted edit (every new file was in place): {paths}"
    else:
        undone: list[str] = []
        failed = _roll_back(root, entries, undone)
        if failed:
            raise ModelError(
                [
                    Problem(
                        p,
                        None,
                        f"an interrupted edit cannot be undone: this file is not as the journal "
                        f"{JOURNAL} says it was (its backup: {backup})",
                        f"restore it by hand, then delete {JOURNAL}",
                    )
                    for p, backup in failed
                ]
            )
        how = "undid an interrupted edit" + (
            f": {', '.join(reversed(undone))}" if undone else " (it had changed no file yet)"
        )
    _remove_journal(root)
    print(f"bn: {root}: {how}", file=sys.stderr)


def leftovers(root: Path) -> list[Problem]:
    """Warnings for stray backups, temporary files and journals in a model directory: what an
    interrupted write may have left that no journal accounts for. bn never deletes them."""
    found = []
    root = Path(root)
    for folder, folders, files in os.walk(root):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            path = (Path(folder) / name).relative_to(root).as_posix()
            if name == JOURNAL:
                what, hint = "the journal of an interrupted edit", "run any bn command to recover"
            elif BACKUP in name:
                original = name[1 : name.index(BACKUP)]
                what = f"a backup of {original} left by an interrupted edit"
                hint = f"compare it with {original}, then delete it"
            elif name.startswith(".") and name.endswith(".tmp"):
                what = "a temporary file left by an interrupted write"
                hint = "delete it once you know it holds nothing you need"
            else:
                continue
            found.append(Problem(path, None, what, hint, "warning"))
    return found


def replace_directory(source: Path, target: Path, wait: float = DEFAULT_WAIT) -> None:
    """Make the directory `target` hold exactly the files of the directory `source`, as one change.

    A rename when `target` does not exist; else, under `target`'s lock, `replace_files` with every
    file that differs (hidden files and folders are left alone), then the folders left empty are
    removed. `source` is left for the caller to delete.
    """
    if not target.exists():
        os.rename(source, target)
        return
    new = {path: data for path, data in _visible_files(source)}
    with ModelLock(target, wait):
        recover(target)
        old = dict(_visible_files(target))
        changes: dict[str, bytes | None] = {p: None for p in old if p not in new}
        changes.update((p, d) for p, d in new.items() if old.get(p) != d)
        if changes:
            replace_files(target, changes, old)
    for folder, _, _ in sorted(os.walk(target), reverse=True):
        if Path(folder) != target and not Path(folder).name.startswith("."):
            with contextlib.suppress(OSError):  # not empty
                Path(folder).rmdir()


def _visible_files(root: Path) -> Iterable[tuple[str, bytes]]:
    for folder, folders, files in os.walk(root):
        folders[:] = [f for f in folders if not f.startswith(".")]
        for name in files:
            if not name.startswith("."):
                path = Path(folder) / name
                yield path.relative_to(root).as_posix(), path.read_bytes()
