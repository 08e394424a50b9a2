"""Where a model's files are, and how bn writes them: each file atomically, and several files as one
change (all of them or none).

The lowest layer with `bn.errors`: imports nothing else of the package.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from bn.errors import BNError, ModelError, Problem

MODEL_TOML = "model.toml"
SCENARIOS_TOML = "scenarios.toml"


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` through a temporary file in the same directory, then
    rename: a reader sees the old file or the new one, never half of one (see `write_temporary`)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        temp = write_temporary(path, payload)
        try:
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    except OSError as error:  # a read-only or missing directory, a full disk: bad input here
        raise BNError(f"cannot write {path}: {error.strerror or error}") from None


def write_temporary(target: Path, data: bytes) -> Path:
    """A new temporary file beside `target` holding `data`, flushed to disk, with the permissions
    `target` has (a new file: 0o666 less the umask); the caller renames it over `target`.

    Nothing is left behind when writing fails.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before any rename makes it visible
        os.chmod(temp, _mode_for(target))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual 0o666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux).

    Elsewhere it can only be read by setting it: for that instant it is the strict 0o077, so
    that a file another thread creates meanwhile is private rather than world-writable.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


class WriteFailed(ModelError):
    """Writing the files failed (`error` says why) and every file was left as it was."""

    def __init__(self, error: OSError) -> None:
        self.error = error
        super().__init__(
            [Problem(error.filename or "model", None, f"write failed, nothing changed: {error}")]
        )


def replace_files(
    root: Path, new: Mapping[str, bytes | None], expected: Mapping[str, bytes | None]
) -> None:
    """Replace (or delete, for None) several files as one change: all of them or none.

    Each new file is first written in full to a temporary file beside its target. Each file that
    will be replaced or deleted gets a backup (a hard link, else a copy) before anything is
    renamed. If a rename fails, the files already renamed are restored from their backups.
    `expected` holds what each file contained when it was read: if a file changed on disk since
    (a spreadsheet saved it), nothing is written.
    """
    for path in new:
        now = (root / path).read_bytes() if (root / path).is_file() else None
        if now != expected.get(path, now):
            raise ModelError(
                [Problem(path, None, "the file changed on disk during the edit; nothing written")]
            )
    temps: dict[str, Path] = {}
    backups: dict[str, Path] = {}
    done: list[str] = []
    try:
        for path, data in new.items():
            if data is not None:
                (root / path).parent.mkdir(parents=True, exist_ok=True)
                temps[path] = write_temporary(root / path, data)
        for path in new:
            target = root / path
            if target.is_file():
                backup = target.with_name(f".{target.name}.bn-backup-{secrets.token_hex(4)}")
                try:
                    os.link(target, backup)
                except OSError:
                    shutil.copy2(target, backup)
                backups[path] = backup
        deletes = [p for p, d in new.items() if d is None]
        writes = [p for p, d in new.items() if d is not None]
        for path in deletes:  # first, so that a rename to another case of the name works
            done.append(path)
            (root / path).unlink()
        for path in writes:
            done.append(path)
            os.replace(temps[path], root / path)
            del temps[path]
    except BaseException as error:
        failed = _restore(root, done, backups)
        for temp in temps.values():
            temp.unlink(missing_ok=True)
        if failed:
            raise ModelError(
                [
                    Problem(
                        p,
                        None,
                        f"could not restore this file after a failed write ({error}); its "
                        f"previous content is in {backups[p].name}",
                    )
                    for p in failed
                ]
            ) from error
        for backup in backups.values():
            backup.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise WriteFailed(error) from error
        raise
    for backup in backups.values():
        backup.unlink(missing_ok=True)


def _restore(root: Path, done: Sequence[str], backups: Mapping[str, Path]) -> list[str]:
    """Undo the renames in `done`; the paths that could not be restored."""
    failed = []
    for path in reversed(done):
        target = root / path
        try:
            if path in backups:
                try:
                    os.replace(backups[path], target)
                except OSError:
                    target.write_bytes(backups[path].read_bytes())
                    backups[path].unlink()
            else:
                target.unlink(missing_ok=True)
        except OSError:
            failed.append(path)
    return failed
