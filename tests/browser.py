"""A `bn serve` process and Debian's chromium for the browser tests, the bench and the screenshot.

Playwright's own browser download is not reachable everywhere; Debian's `chromium` package is
(`apt-get install chromium`, which `make test` runs as root). Playwright drives it by path.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = "install Debian's chromium (as root: apt-get install chromium; `make test` does it)"


def chromium() -> str | None:
    """The chromium executable ($BN_CHROMIUM, else chromium on PATH), or None."""
    given = os.environ.get("BN_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Server:
    """`bn serve --port 0 ...` in a subprocess; `url` is the first line it prints."""

    def __init__(
        self, model: str | Path, *options: str, timeout: float = 60.0, cwd: Path | None = None
    ) -> None:
        command = [sys.executable, "-m", "bn", "serve", "--port", "0", "--model", str(model)]
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [*command, *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self.errors = ""
        self.url = self._first_line(timeout)

    def _first_line(self, timeout: float) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.stop()
                raise RuntimeError("bn serve printed no URL")
        line = self.process.stdout.readline().strip()
        if not line.startswith("http://"):
            error = self.process.stderr.read() if self.process.stderr else ""
            self.stop()
            raise RuntimeError(f"bn serve did not start: {line} {error}")
        return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.errors = self.process.stderr.read()
        for stream in (self.process.stdout, self.process.stderr):
            if stream:
                stream.close()
        return self.process.returncode


def launch(playwright: object, args: Sequence[str] = ()) -> object:
    """A headless chromium from its path (never `playwright install`)."""
    path = chromium()
    if path is None:
        raise RuntimeError(f"no chromium: {INSTALL}")
    return playwright.chromium.launch(  # type: ignore[attr-defined]
        executable_path=path, args=[*ARGS, *args]
    )
