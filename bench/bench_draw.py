"""Cold `bn draw` of the flagship model (SVG, and PNG with a comparison) against drawing the bare
DAG with pgmpy + networkx + matplotlib, the usual Python alternative (which shows no probabilities).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from timing import BN, ROOT, cold, table

PGMPY_SCRIPT = """
import sys
import bn
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
from pgmpy.models import DiscreteBayesianNetwork
m = bn.load("cpts")
net = DiscreteBayesianNetwork([(p, n.id) for n in m for p in n.parents])
graph = nx.DiGraph(net.edges())
plt.figure(figsize=(10, 8))
nx.draw(graph, pos=nx.spring_layout(graph, seed=1), with_labels=True, node_color="#e3e9f0",
        node_size=1500)
plt.savefig(sys.argv[1], dpi=144)
"""


def main() -> None:
    model = str(ROOT / "cpts")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        svg = cold([BN, "draw", "--model", model, "-o", str(out / "a.svg")])
        png = cold(
            [BN, "draw", "--model", model, "-e", "kaboom=yes", "--compare", "baseline",
             "-o", str(out / "b.png")]
        )  # fmt: skip
        dot_file = out / "c.dot"
        subprocess.run(
            [BN, "draw", "--model", model, "-o", str(dot_file)], check=True, capture_output=True
        )
        renderer = Path(sys.executable).parent / "graphviz-pure"
        render = cold(
            [str(renderer), "-Tpng", "-Gdpi=144", str(dot_file), "-o", str(out / "c.png")]
        )
        theirs = cold(
            [sys.executable, "-W", "ignore", "-c", PGMPY_SCRIPT, str(out / "d.png")], runs=5
        )
    rows = [
        ("task", "bn median (s)", "pgmpy + networkx (s)", "ratio", "target"),
        ("cold `bn draw` (flagship, SVG)", f"{svg:.3f}", f"{theirs:.3f}",
         f"{theirs / svg:.1f}x faster", "<= 1 s"),
        ("cold `bn draw -e kaboom=yes --compare baseline` (PNG)", f"{png:.3f}", f"{theirs:.3f}",
         f"{theirs / png:.1f}x faster", "<= 1 s"),
        ("of which: graphviz-pure renders the PNG", f"{render:.3f}", "", "", ""),
    ]  # fmt: skip
    print(table(rows))
    print("\npgmpy + networkx draws the bare graph only, with no probabilities in the nodes.")


if __name__ == "__main__":
    main()
