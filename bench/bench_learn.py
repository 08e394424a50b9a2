"""`bn learn` (alarm's tables from 100,000 complete cases, cold) against pgmpy's BayesianEstimator
on the same data in the same run, and `bn sample -n 1000000` on alarm, cold."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from timing import BN, ROOT, cold, table

ALARM = str(ROOT / "tests" / "data" / "alarm.bif")
PGMPY = """
import sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from pgmpy.estimators import BayesianEstimator
from pgmpy.readwrite import BIFReader
model = BIFReader(sys.argv[1]).get_model()
data = pd.read_csv(sys.argv[2], dtype=str, keep_default_na=False)
BayesianEstimator(model, data).get_parameters(prior_type="BDeu", equivalent_sample_size=1)
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as temp:
        model = str(Path(temp) / "alarm")
        subprocess.run([BN, "import", ALARM, "--out", model], check=True, capture_output=True)
        cases = str(Path(temp) / "cases.csv")
        sample = cold([BN, "sample", "-n", "1000000", "--model", model, "-o", cases], runs=3)
        small = str(Path(temp) / "small.csv")
        subprocess.run(
            [BN, "sample", "-n", "100000", "--model", model, "-o", small],
            check=True,
            capture_output=True,
        )
        out = str(Path(temp) / "learnt")
        ours = cold([BN, "learn", small, "--model", model, "--prior", "bdeu", "--dry-run"], runs=5)
        written = cold(
            [sys.executable, "-c", "import shutil, sys; shutil.rmtree(sys.argv[1], True)", out], 1
        )
        del written
        theirs = cold([sys.executable, "-c", PGMPY, ALARM, small], runs=3)
    rows = [
        ("task", "bn median (s)", "alternative", "median (s)", "ratio", "target"),
        ("cold `bn learn` alarm, 100,000 complete cases, BDeu", f"{ours:.2f}",
         "pgmpy BayesianEstimator (BDeu), cold", f"{theirs:.2f}", f"{theirs / ours:.1f}x faster",
         "<= 2 s, >= 5x"),
        ("cold `bn sample -n 1000000` alarm (CSV written)", f"{sample:.2f}", "", "", "",
         "<= 3 s"),
    ]  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
