"""The flagship's cold commands against an earlier version of bn, in alternating runs.

The engine issue asks that cold `bn query`, `bn sensitivity` and `bn uncertainty` (100,000 draws)
stay as fast as before the compiled-plan engine. This checks out that version (by default the
commit before "engine: every marginal from one compiled plan") into a temporary git worktree and
times both versions on its flagship model, one run of each in turn (each going first as often),
so that both see the same moments of a shared machine. Medians of `--rounds` runs (default 21:
a run of 9 could be 10% off).

    python bench/bench_versions.py [--rev REV] [--rounds N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import ROOT, table

BEFORE_ENGINE = "2aa1beb7cbd50936e266bf21e3188a9cbef8195f"
COMMANDS = {
    "`bn query KABOOM -e starlink=cut -e western_resolve=firm`": [
        "query", "KABOOM", "-e", "starlink=cut", "-e", "western_resolve=firm",
    ],
    "`bn sensitivity KABOOM=yes`": ["sensitivity", "KABOOM=yes"],
    "`bn uncertainty KABOOM=yes -n 100000`": ["uncertainty", "KABOOM=yes", "-n", "100000"],
}  # fmt: skip


def run(root: Path, args: list[str], model: Path) -> float:
    """Wall time of `python -m bn ARGS --model MODEL` with the package at `root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    command = [sys.executable, "-m", "bn", *args, "--model", str(model)]
    start = time.perf_counter()
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", default=BEFORE_ENGINE, help="the earlier version (a git revision)")
    parser.add_argument("--rounds", type=int, default=21, help="alternating runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        old = Path(scratch) / "old"
        added = subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.rev],
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode:
            print(f"not measured: cannot check out {args.rev} ({added.stderr.strip()})")
            return
        try:
            for root in (old, ROOT):
                compileall.compile_dir(root / "bn", quiet=1)
            model = old / "cpts"
            times: dict[tuple[str, str], list[float]] = {}
            versions = [("before", old), ("now", ROOT)]
            for _ in range(args.rounds):
                for name, command in COMMANDS.items():
                    for version, root in versions:
                        times.setdefault((name, version), []).append(run(root, command, model))
                    versions.reverse()  # each goes first as often: a run can slow the next one
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False
            )
    rows = [
        ("cold command (flagship of the earlier version)", "before (s)", "now (s)", "now/before")
    ]
    for name in COMMANDS:
        before = statistics.median(times[(name, "before")])
        now = statistics.median(times[(name, "now")])
        rows.append((name, f"{before:.3f}", f"{now:.3f}", f"{now / before:.2f}x"))
    print(f"Against {args.rev[:12]}, medians of {args.rounds} alternating cold runs:\n")
    print(table(rows))


if __name__ == "__main__":
    main()
