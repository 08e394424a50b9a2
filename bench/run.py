"""`make bench`: run every bench/bench_*.py in turn and collect their Markdown tables.

Each script measures medians of repeated cold runs and compares against the alternative measured in
the same run. The combined tables are printed and written to bench/results.md.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    parts = [f"Machine: {platform.machine()}, Python {platform.python_version()}\n"]
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        out = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, check=False
        )
        text = out.stdout if out.returncode == 0 else f"FAILED:\n{out.stdout}\n{out.stderr}"
        print(text, flush=True)
        parts.append(f"## {script.stem}\n\n{text}")
    (HERE / "results.md").write_text("\n".join(parts))


if __name__ == "__main__":
    main()
