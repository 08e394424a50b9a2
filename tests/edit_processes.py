"""Processes for the crash and concurrency tests of tests/test_edit_journal.py (run as a script).

python tests/edit_processes.py crash PRISTINE WORKDIR BN-ARGS...
    For N = 1, 2, ...: copy PRISTINE to WORKDIR/N and run `bn BN-ARGS --model WORKDIR/N` in a
    forked child with BN_TEST_CRASH_AT=N (the test hook of bn.journal: SIGKILL at the N-th
    file operation), until an edit runs to its end. Prints {"killed": [N...], "finished": N,
    "status": exit status}. Forking one process that imported bn already keeps this fast.
python tests/edit_processes.py write MODEL PREFIX M
    M times `bn node add PREFIX<i> --label ...`; prints the exit statuses.
python tests/edit_processes.py read MODEL STOP
    `bn query KABOOM --json` in a loop until the file STOP exists; prints every distinct
    output and the failures.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import sys
from pathlib import Path

import bn.edit.graph
import bn.edit.states
import bn.edit.tables
import bn.engine
import bn.scenarios  # noqa: F401  (imported once, before forking)
from bn.cli import cli


def bn_main(args: list[str]) -> tuple[int, str]:
    """Run `bn ARGS` in this process: the exit status and what it printed on stdout."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli.main(args, prog_name="bn", standalone_mode=True)
            status = 0
        except SystemExit as exit:
            status = exit.code if isinstance(exit.code, int) else 1
    return status, out.getvalue()


def crash(pristine: Path, work: Path, args: list[str]) -> dict[str, object]:
    killed = []
    for n in range(1, 1000):
        target = work / str(n)
        shutil.copytree(pristine, target)
        pid = os.fork()
        if pid == 0:
            os.environ["BN_TEST_CRASH_AT"] = str(n)
            status, _ = bn_main([*args, "--model", str(target)])
            os._exit(status)
        _, wait_status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGKILL:
            killed.append(n)
            continue
        return {"killed": killed, "finished": n, "status": os.waitstatus_to_exitcode(wait_status)}
    raise RuntimeError("the edit never finished")


def write(model: str, prefix: str, count: int) -> list[int]:
    return [
        bn_main(
            [
                *("node", "add", f"{prefix}{i}", "--states", "a,b", "--fill", "0.25,0.75"),
                *("--label", f"written by {prefix}", "--wait", "60", "--model", model),
            ]
        )[0]
        for i in range(count)
    ]


def read(model: str, stop: Path) -> dict[str, object]:
    answers: set[str] = set()
    failures = []
    runs = 0
    while not stop.exists() or runs == 0:
        status, out = bn_main(["query", "KABOOM", "--json", "--model", model])
        runs += 1
        if status:
            failures.append(status)
        else:
            answers.add(json.dumps(json.loads(out)["posteriors"], sort_keys=True))
    return {"runs": runs, "failures": failures, "answers": sorted(answers)}


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    if mode == "crash":
        result: object = crash(Path(rest[0]), Path(rest[1]), rest[2:])
    elif mode == "write":
        result = write(rest[0], rest[1], int(rest[2]))
    else:
        result = read(rest[0], Path(rest[1]))
    print(json.dumps(result))
