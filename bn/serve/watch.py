"""The served model as it is on disk now: read again whenever one of its files changes.

The version is a digest of every file's name, size and modification time (hidden files and
folders left out), so a save in a text editor, a `git checkout` or a `bn cpt set` in a terminal
changes it; the page polls it and asks its question again.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from bn.errors import Problem
from bn.model import Model


@dataclass(frozen=True)
class Loaded:
    """The model (None when `bn check` finds errors), its problems and the version read."""

    version: str
    model: Model | None
    problems: list[Problem] = field(default_factory=list)


def version(root: Path) -> str:
    """A digest of the files under `root` (names, sizes, modification times).

    >>> import bn
    >>> len(version(bn.packaged_model_path()))
    16
    """
    digest = hashlib.blake2b(digest_size=8)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = os.path.join(folder, name)
            try:
                info = os.stat(path)
            except OSError:
                continue
            relative = os.path.relpath(path, root)
            digest.update(f"{relative}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Watch:
    """The model directory being served; `current()` is cheap when nothing changed."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._loaded: Loaded | None = None

    def current(self) -> Loaded:
        from bn.validate import check

        now = version(self.root)
        with self._lock:
            if self._loaded is None or self._loaded.version != now:
                model, problems = check(self.root)
                # A file changed while it was read: read again at the next request.
                seen = now if version(self.root) == now else "changing"
                self._loaded = Loaded(seen, model, problems)
            return self._loaded
