"""Cold `bn import` of alarm (37 nodes) and `bn export` to XDSL, against pgmpy's reader alone.

`bn import` parses with pgmpy, so pgmpy's own cold read (import + parse + model, no checks, nothing
written) is its floor; `import pgmpy.readwrite` alone shows how much of that is pgmpy's import.
pyAgrum's cold read is there for scale.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from timing import BN, ROOT, cold, table

ALARM = str(ROOT / "tests" / "data" / "alarm.bif")
PYTHON = [sys.executable, "-W", "ignore", "-c"]


def speed(ours: float, theirs: float) -> str:
    return f"{theirs / ours:.1f}x faster" if ours <= theirs else f"{ours / theirs:.1f}x slower"


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        out = str(Path(temp) / "alarm")
        ours = cold([BN, "import", ALARM, "--out", out, "--force"])
        export = cold([BN, "export", "--model", out, "--to", str(Path(temp) / "a.xdsl"), "--force"])
    reader = f"from pgmpy.readwrite import BIFReader; BIFReader({ALARM!r}).get_model()"
    pgmpy = cold([*PYTHON, reader], runs=5)
    pgmpy_import = cold([*PYTHON, "import pgmpy.readwrite"], runs=5)
    pyagrum = cold([*PYTHON, f"import pyagrum; pyagrum.loadBN({ALARM!r})"], runs=5)
    rows = [
        ("task", "bn median (s)", "alternative", "median (s)", "ratio", "target"),
        ("cold `bn import alarm.bif` (37 nodes)", f"{ours:.2f}",
         "pgmpy `BIFReader(...).get_model()`", f"{pgmpy:.2f}", speed(ours, pgmpy),
         "<= 3 s"),
        ("", "", "`import pgmpy.readwrite` alone", f"{pgmpy_import:.2f}",
         f"{pgmpy_import / ours:.0%} of bn import", ""),
        ("", "", "pyAgrum `loadBN` (float32)", f"{pyagrum:.2f}", speed(ours, pyagrum),
         ""),
        ("cold `bn export` alarm -> XDSL (read back)", f"{export:.2f}", "", "", "", ""),
    ]  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
