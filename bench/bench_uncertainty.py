"""Cold `bn uncertainty` (100,000 parameter draws of the flagship model) against looping pgmpy's
VariableElimination over the same draws (1,000 draws timed, scaled to 100,000), plus peak memory.

pgmpy is timed inside one warm process, after its import and the network's construction, so the
comparison favours it; bn is timed cold, process start and model loading included. The first draws
are answered by both and must agree (the table reports the largest difference).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence

from timing import BN, ROOT, table

DRAWS = 100_000
PGMPY_DRAWS = 1_000

PGMPY_SCRIPT = """
import json, sys, time
import numpy as np
import bn
from bn.analysis.uncertainty import draw_tables, sample
from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import VariableElimination
from pgmpy.models import DiscreteBayesianNetwork

n, seed, given = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
model = bn.load("cpts")
tables = draw_tables(model, n, seed, model.ancestors(["nuclear_war", *given]))
network = DiscreteBayesianNetwork([(p, node.id) for node in model for p in node.parents])


def cpd(node, table):
    names = {node.id: list(node.states), **{p: list(model[p].states) for p in node.parents}}
    return TabularCPD(node.id, node.card, table.reshape(-1, node.card).T,
                      evidence=list(node.parents) or None,
                      evidence_card=[model[p].card for p in node.parents] or None,
                      state_names=names)


network.add_cpds(*(cpd(node, node.table) for node in model))
engine = VariableElimination(network)
fixed = [c for c in network.cpds if c.variable not in tables]
answers = []
start = time.perf_counter()
for i in range(n):
    network.cpds = fixed + [cpd(model[k], t[i]) for k, t in tables.items()]
    result = engine.query(["nuclear_war"], evidence=given or None, show_progress=False)
    answers.append(result.get_value(nuclear_war="yes"))
elapsed = time.perf_counter() - start
ours = sample([(model, model.evidence(hard=given))], "nuclear_war", "yes", n=n, seed=seed)[0]
print(json.dumps({"seconds": elapsed, "max_difference": float(np.max(np.abs(ours - answers)))}))
"""


def cold_with_memory(command: Sequence[str], runs: int = 7) -> tuple[float, float]:
    """Median wall time (s) and largest peak resident memory (MB) of `command` in new processes."""
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        child = subprocess.Popen(
            command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        _, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - start)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(
                f"{' '.join(command)} failed: {child.stderr.read().decode() if child.stderr else ''}"
            )
        peaks.append(usage.ru_maxrss / 1024)  # kilobytes on Linux
    return statistics.median(times), max(peaks)


def pgmpy_loop(given: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", PGMPY_SCRIPT, str(PGMPY_DRAWS), "1", json.dumps(given)],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    model = str(ROOT / "cpts")
    base = [BN, "uncertainty", "KABOOM=yes", "--model", model, "-n", str(DRAWS), "--json"]
    cases = [
        ("no evidence (the headline)", [], {}),
        ("`-e western_resolve=firm -e peace_talks=talks`",
         ["-e", "western_resolve=firm", "-e", "peace_talks=talks"],
         {"western_resolve": "firm", "peace_talks": "talks"}),
        ("`--scenario metaculus_low` (soft evidence)", ["--scenario", "metaculus_low"], None),
        ("`--scenario samotsvety` (soft evidence + overlay)", ["--scenario", "samotsvety"], None),
    ]  # fmt: skip
    rows = [
        ("cold `bn uncertainty KABOOM=yes`, 100,000 draws", "bn median (s)", "peak memory (MB)",
         "pgmpy VE loop, scaled (s)", "speed-up", "agreement (max diff)"),
    ]  # fmt: skip
    for label, flags, given in cases:
        seconds, peak = cold_with_memory([*base, *flags])
        if given is None:
            rows.append((label, f"{seconds:.3f}", f"{peak:.0f}", "n/a (no soft evidence)", "", ""))
            continue
        theirs = pgmpy_loop(given)
        scaled = theirs["seconds"] * DRAWS / PGMPY_DRAWS
        rows.append((label, f"{seconds:.3f}", f"{peak:.0f}", f"{scaled:.1f}",
                     f"{scaled / seconds:.0f}x", f"{theirs['max_difference']:.1e}"))  # fmt: skip
    every, peak = cold_with_memory(
        [BN, "scenarios", "--intervals", "--model", model, "-n", str(DRAWS), "--json"], runs=3
    )
    rows.append(("cold `bn scenarios --intervals` (13 scenarios x 100,000 draws)",
                 f"{every:.3f}", f"{peak:.0f}", "", "", ""))  # fmt: skip
    print(table(rows))
    print(
        f"\nTargets: <= 1.5 s median, >= 100x pgmpy, <= 1 GB. pgmpy timed warm over {PGMPY_DRAWS:,} "
        "draws (CPDs replaced per draw, VariableElimination reused), scaled to 100,000."
    )


if __name__ == "__main__":
    main()
