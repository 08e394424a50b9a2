"""Where a model's files are, and how bn writes one: atomically (`write_atomic`), and under the
model's lock when it edits the model (`ModelLock`: one writer at a time). Several files as one
change, even across a crash: `bn.journal`.

The lowest layer with `bn.errors`: imports nothing else of the package.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from bn.errors import BNError, param

if sys.platform != "win32":
    import fcntl

MODEL_TOML = "model.toml"
SCENARIOS_TOML = "scenarios.toml"
OUTCOMES_TOML = "outcomes.toml"  # what happened: bn.outcomes
JOURNAL = ".bn-journal"  # an edit in progress (or interrupted): bn.journal
LOCK = ".bn-lock"  # the writers' lock; it holds the holder's process id
DEFAULT_WAIT = 5.0  # seconds a writer waits for another one


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to `path` through a temporary file in the same directory, then
    rename: a reader sees the old file or the new one, never half of one (see `atomic_file`)."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_file(path) as handle:
        handle.write(payload)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write `path` through, for data written in pieces: a new temporary file
    beside `path` that, when the block ends, is flushed to disk, given the permissions `path` has
    (a new file: 0o666 less the umask) and renamed over `path`. If the block or the write fails,
    nothing is left behind and `path` is as it was; a failed write (a read-only or missing
    directory, a full disk) is bad input here: `BNError` naming the file.
    """
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise BNError(f"cannot write {path}: {error.strerror or error}") from None
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # the data is on disk before any rename makes it visible
        os.chmod(temp, mode_for(path))
        os.replace(temp, path)
    except OSError as error:
        temp.unlink(missing_ok=True)
        raise BNError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def mode_for(path: Path) -> int:
    """The permissions a new version of `path` gets: keep an existing file's permissions; a new file gets the usual 0o666 less the umask."""
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


# --- one writer at a time ------------------------------------------------------------------------

_held: dict[Path, ModelLock] = {}  # the locks this process holds, by model directory


class ModelBusy(BNError):
    """Another process holds the model's lock (it is editing the model); `holder` says which."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class ModelLock:
    """The lock of a model directory: one writer at a time. Readers never take it.

    An advisory `flock` on `.bn-lock` in the directory, which holds the holder's process id; the
    system releases it when the holder ends, however it ends. The holder deletes the file when it
    is done; a waiter that then locks the deleted file notices and locks the new one.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> with ModelLock(root):
    ...     (root / LOCK).read_text().strip() == str(os.getpid())
    True
    >>> (root / LOCK).exists()
    False
    """

    def __init__(self, root: Path, wait: float = DEFAULT_WAIT) -> None:
        self.root = Path(root)
        self.wait = wait
        self.fd: int | None = None

    def __enter__(self) -> ModelLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def acquire(self) -> None:
        """Take the lock, waiting up to `wait` seconds; `ModelBusy` if another process keeps it."""
        if sys.platform == "win32":
            return  # no flock: see the README (what is not guaranteed)
        path = self.root / LOCK
        deadline = time.monotonic() + max(self.wait, 0.0)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise BNError(
                    f"cannot lock {self.root} to write it: {error.strerror or error}"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                if time.monotonic() >= deadline:
                    raise ModelBusy(
                        f"{self.root} is being edited by {holder} (waited {self.wait:g} s); "
                        f"nothing was changed: try again, or wait longer with {param('wait')}",
                        holder,
                    ) from None
                time.sleep(0.02)
                continue
            except OSError as error:  # ENOLCK: a network file system without a lock service
                os.close(fd)
                raise BNError(
                    f"cannot lock {self.root} to write it: {error.strerror or error} (this file "
                    "system does not support locks)"
                ) from None
            try:
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if not current:  # the previous holder deleted the file as we opened it
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self.fd = fd
            _held[self.root.resolve()] = self
            return

    def release(self) -> None:
        if self.fd is None:
            return
        _held.pop(self.root.resolve(), None)
        with contextlib.suppress(OSError):
            (self.root / LOCK).unlink()  # ours: nobody replaces it while we hold it
        os.close(self.fd)
        self.fd = None


def _holder(fd: int) -> str:
    """Who holds a lock, as its file says."""
    try:
        pid = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"process {pid}" if pid.isdigit() else "another process"


def holds_lock(root: Path) -> bool:
    """Whether this process holds the lock of the model directory `root`."""
    return Path(root).resolve() in _held
