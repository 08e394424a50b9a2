"""Cold `bn query` with two evidence items against the same question in pgmpy, and `bn --help`."""

from __future__ import annotations

import sys

from timing import BN, ROOT, cold, table

EVIDENCE = ["-e", "starlink=cut", "-e", "western_resolve=firm"]

PGMPY_SCRIPT = """
import bn
from pgmpy.models import DiscreteBayesianNetwork
from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import VariableElimination
m = bn.load("cpts")
net = DiscreteBayesianNetwork([(p, n.id) for n in m for p in n.parents])
for n in m:
    card = [m[p].card for p in n.parents]
    values = n.table.reshape(-1, n.card).T
    net.add_cpds(TabularCPD(n.id, n.card, values, evidence=list(n.parents) or None,
                            evidence_card=card or None,
                            state_names={n.id: list(n.states), **{p: list(m[p].states) for p in n.parents}}))
r = VariableElimination(net).query(["nuclear_war"], evidence={"starlink": "cut", "western_resolve": "firm"},
                                   show_progress=False)
print(r)
"""


def main() -> None:
    ours = cold([BN, "query", "KABOOM", *EVIDENCE, "--model", str(ROOT / "cpts")])
    theirs = cold([sys.executable, "-W", "ignore", "-c", PGMPY_SCRIPT], runs=5)
    helps = cold([BN, "--help"])
    rows = [
        ("task", "bn median (s)", "pgmpy median (s)", "ratio", "target"),
        ("cold query, 2 evidence items", f"{ours:.3f}", f"{theirs:.3f}",
         f"{theirs / ours:.1f}x faster", "<= 0.5 s, >= 3x"),
        ("`bn --help`", f"{helps:.3f}", "", "", "<= 0.3 s"),
    ]  # fmt: skip
    print(table(rows))


if __name__ == "__main__":
    main()
