"""Analysis commands and the report on the flagship model.

Sensitivity is compared with the obvious alternative: one query per cell and end of its plausible
range (the same numbers, computed one model at a time), both warm, in one process.
"""

from __future__ import annotations

import subprocess
import sys

from timing import BN, ROOT, cold, table

WARM = """
import statistics, time
from dataclasses import replace
import bn
from bn.analysis.sensitivity import sensitivity

m = bn.load("cpts")
def batched():
    return sensitivity(m, "KABOOM", "yes", m.evidence()).cells

def one_by_one(cells):
    for c in cells:
        node = m[c.node]
        row = tuple(node.parent_states[i].index(s) for i, s in enumerate(c.parents.values()))
        j = node.states.index(c.state)
        for theta in c.range:
            table = node.table.copy()
            rest = 1 - table[row][j]
            table[row] = table[row] * ((1 - theta) / rest if rest else 0)
            table[row][j] = theta
            m.with_nodes([replace(node, table=table)]).query("KABOOM")

cells = batched()
def median(f):
    times = []
    for _ in range(5):
        start = time.perf_counter(); f(); times.append(time.perf_counter() - start)
    return statistics.median(times)
print(median(batched), median(lambda: one_by_one(cells)), len(cells))
"""


def main() -> None:
    model = ["--model", str(ROOT / "cpts")]
    out = subprocess.run([sys.executable, "-c", WARM], cwd=ROOT, capture_output=True, text=True)
    ours, loop, cells = (float(x) for x in out.stdout.split())
    rows = [
        ("task", "bn median (s)", "alternative median (s)", "ratio", "target"),
        (f"sensitivity of KABOOM=yes to {cells:.0f} cells (warm)", f"{ours:.4f}",
         f"{loop:.4f} (a query per cell and range end)", f"{loop / ours:.1f}x faster", ""),
        ("cold `bn sensitivity KABOOM=yes`", f"{cold([BN, 'sensitivity', 'KABOOM=yes', *model]):.3f}",
         "", "", ""),
        ("cold `bn explain KABOOM=yes -e crimea_offensive=yes`",
         f"{cold([BN, 'explain', 'KABOOM=yes', '-e', 'crimea_offensive=yes', *model]):.3f}", "", "", ""),
        ("cold `bn voi KABOOM`", f"{cold([BN, 'voi', 'KABOOM', *model]):.3f}", "", "", ""),
        ("cold `bn report` (flagship, HTML + Markdown)",
         f"{cold([BN, 'report', *model, '-o', str(ROOT / '.bench'), '--date', '2026-01-01'], runs=3):.2f}",
         "", "", "<= 10 s"),
    ]  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
