"""Timing helpers shared by the benchmark scripts: medians of cold runs in fresh processes."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BN = str(Path(sys.executable).parent / "bn")


def cold(command: Sequence[str], runs: int = 7) -> float:
    """Median wall time in seconds of `command` run `runs` times, each in a new process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=os.environ)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table from a header row and data rows."""
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
