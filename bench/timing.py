"""Timing helpers shared by the benchmark scripts: medians of cold runs in fresh processes.

Importing this module byte-compiles bn's modules first (`compileall`), as pip does when it installs
the package: the development install is editable and, with PYTHONDONTWRITEBYTECODE set, would
otherwise compile every module of bn again in every cold run (the libraries it is compared with
are installed with their bytecode).
"""

from __future__ import annotations

import compileall
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BN = str(Path(sys.executable).parent / "bn")

compileall.compile_dir(ROOT / "bn", quiet=1)


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
