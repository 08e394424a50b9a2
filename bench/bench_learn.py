"""`bn learn` (alarm's tables from 100,000 complete cases, cold) against pgmpy's BayesianEstimator
on the same data in the same run, and `bn sample -n 1000000` on alarm, cold.

Both sides are cold processes reading the same CSV and computing every table with BDeu (ess 1)
from the same structure and state names. pgmpy is given the structure as an edge list and the
state names (no BIF parsing, which is not learning); bn reads its model directory. The runs
alternate (bn dry run, bn writing a new directory, pgmpy), and medians are compared.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from timing import BN, ROOT, table

ALARM = str(ROOT / "tests" / "data" / "alarm.bif")
ROUNDS = 5
PGMPY = """
import json, sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from pgmpy.estimators import BayesianEstimator
from pgmpy.models import DiscreteBayesianNetwork
spec = json.load(open(sys.argv[1]))
model = DiscreteBayesianNetwork(spec["edges"])
model.add_nodes_from(spec["states"])
data = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
BayesianEstimator(model, data, state_names=spec["states"]).get_parameters(
    prior_type="BDeu", equivalent_sample_size=1
)
"""
STRUCTURE = """
import bn, json, sys
m = bn.load(sys.argv[1])
edges = [[p, n.id] for n in m for p in n.parents]
json.dump({"edges": edges, "states": {n.id: list(n.states) for n in m}}, open(sys.argv[2], "w"))
"""


def once(command: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, env=os.environ)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        model = str(Path(temp) / "alarm")
        subprocess.run([BN, "import", ALARM, "--out", model], check=True, capture_output=True)
        spec = Path(temp) / "structure.json"
        subprocess.run([sys.executable, "-c", STRUCTURE, model, str(spec)], check=True)
        small = str(Path(temp) / "small.csv")
        subprocess.run(
            [BN, "sample", "-n", "100000", "--model", model, "-o", small],
            check=True,
            capture_output=True,
        )
        learn = [BN, "learn", small, "--model", model, "--prior", "bdeu", "--ess", "1"]
        times: dict[str, list[float]] = {"dry": [], "write": [], "pgmpy": [], "sample": []}
        cases = str(Path(temp) / "cases.csv")
        for run in range(ROUNDS):
            times["dry"].append(once([*learn, "--dry-run"]))
            times["write"].append(once([*learn, "-o", str(Path(temp) / f"learnt{run}")]))
            times["pgmpy"].append(once([sys.executable, "-c", PGMPY, str(spec), small]))
            times["sample"].append(
                once([BN, "sample", "-n", "1000000", "--model", model, "-o", cases])
            )
        size = Path(cases).stat().st_size
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({k: [round(t, 3) for t in v] for k, v in times.items()}), file=sys.stderr)
    theirs = f"{med['pgmpy']:.2f}"
    rows = [
        ("task", "bn median (s)", "alternative", "median (s)", "ratio", "target"),
        ("cold `bn learn` alarm, 100,000 complete cases, BDeu, `--dry-run`", f"{med['dry']:.2f}",
         "pgmpy BayesianEstimator (BDeu), cold", theirs, f"{med['pgmpy'] / med['dry']:.1f}x faster",
         "<= 2 s, >= 5x"),
        ("... writing a new model directory (`-o`)", f"{med['write']:.2f}",
         "the same pgmpy runs", theirs, f"{med['pgmpy'] / med['write']:.1f}x faster", ""),
        (f"cold `bn sample -n 1000000` alarm (CSV written, {size / 1e6:.0f} MB)",
         f"{med['sample']:.2f}", "", "", "", "<= 3 s"),
    ]  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
