"""All marginals on the bnlearn networks against pyAgrum's LazyPropagation, and 10,000 alarm cases.

For each network: five hard findings drawn from a forward sample, three such sets. bn: the first
query in a fresh process (the plan search included), then warm (the same evidence again: the plan
is cached) and a new observation pattern (a new search); and one target (the middle node in
topological order) under the first set, warm: the median of 21 batches of about 10 ms, each timed
as a whole. pyAgrum answers one target with `addTarget` on a fresh engine or `posterior` on a
reused one, the better of the two. pyAgrum: the better of a fresh LazyPropagation per set and one
reused, in its own process with a time and memory limit (link needs 4.4 GB). Ratios are bn / pyAgrum (below 1: bn faster), medians of one run.
Both sides see the same double-precision tables. Cases: `query_cases` over 10,000 alarm cases (5 to
8 observed nodes, nearly all patterns distinct) against a pyAgrum loop (1,000 timed, scaled) and
pgmpy's VariableElimination looped, one query per node (40 cases timed, scaled).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from timing import ROOT, table

NETWORKS = ["alarm", "insurance", "hepar2", "win95pts", "hailfinder", "water", "andes",
            "pathfinder", "mildew", "barley", "munin1", "pigs", "diabetes", "link", "munin"]  # fmt: skip
LIMIT_SECONDS = 300
LIMIT_BYTES = 8 * 2**30

COMMON = """
SINGLE_RUNS = 21  # batches of one-target queries timed
BATCH_SECONDS = 0.01  # about how long one batch lasts
import json, resource, statistics, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[1] + "/tests")
import numpy as np
from bnlearn import load_bnlearn, pyagrum_net

def evidence_sets(model, count, size, seed):
    rng = np.random.default_rng(seed)
    sets = []
    for _ in range(count):
        drawn = {}
        for node in model.nodes:
            row = node.table[tuple(drawn[p] for p in node.parents)]
            drawn[node.id] = int(rng.choice(node.card, p=row))
        chosen = rng.choice(model.ids, size=size, replace=False)
        sets.append({str(n): model[str(n)].states[drawn[str(n)]] for n in chosen})
    return sets

def per_call(query):
    # Median over SINGLE_RUNS batches of the time per call of `query`. A batch repeats it for
    # about BATCH_SECONDS, so that timings of a fraction of a millisecond are not all taken within
    # the same few milliseconds of a shared machine.
    start = time.perf_counter()
    query()
    number = max(1, round(BATCH_SECONDS / (time.perf_counter() - start)))
    times = []
    for _ in range(SINGLE_RUNS):
        start = time.perf_counter()
        for _ in range(number):
            query()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""

BN_SCRIPT = (
    COMMON
    + """
from bn.engine import posterior
from bn.evidence import Evidence
model = load_bnlearn(sys.argv[2])
sets = evidence_sets(model, 3, 5, 0)
ids = list(model.ids)

def run(given):
    start = time.perf_counter()
    posterior(model, ids, Evidence(hard=given))
    return time.perf_counter() - start

def one(given):
    posterior(model, [ids[len(ids) // 2]], Evidence(hard=given))

def search(given):
    # the plan search alone for this pattern, caches emptied (after every other timing)
    from bn import plan
    from bn.factors import query_factors
    plan.compile_query.cache_clear()
    plan.compile_plan.cache_clear()
    hard = {k: model[k].states.index(v) for k, v in given.items()}
    free = [n for n in ids if n not in hard]
    start = time.perf_counter()
    factors, _, position = query_factors(model, free, hard, {}, {})
    plan.compile_query(factors, tuple((position[n], n) for n in free))
    return time.perf_counter() - start

first = run(sets[0])
warm = statistics.median(run(sets[0]) for _ in range(5))
fresh = statistics.median(run(s) for s in sets[1:])
single = per_call(lambda: one(sets[0]))
peak = peak_mb()
print(json.dumps({"first": first, "warm": warm, "new_pattern": fresh, "single": single,
                  "peak_mb": peak, "search": search(sets[0])}))
"""
)

AGRUM_SCRIPT = (
    COMMON
    + """
import pyagrum as gum
model = load_bnlearn(sys.argv[2])
sets = evidence_sets(model, 3, 5, 0)
net = pyagrum_net(model)

def fresh(given):
    start = time.perf_counter()
    engine = gum.LazyPropagation(net)
    engine.setEvidence(given)
    engine.makeInference()
    for node in model.ids:
        engine.posterior(node)
    return time.perf_counter() - start

reused_engine = gum.LazyPropagation(net)
def reused(given):
    start = time.perf_counter()
    reused_engine.setEvidence(given)
    reused_engine.makeInference()
    for node in model.ids:
        reused_engine.posterior(node)
    return time.perf_counter() - start

def single_fresh(given):
    engine = gum.LazyPropagation(net)
    engine.setEvidence(given)
    engine.addTarget(TARGET)
    engine.makeInference()
    engine.posterior(TARGET)

def single_reused(given):
    reused_engine.setEvidence(given)
    reused_engine.makeInference()
    reused_engine.posterior(TARGET)

TARGET = list(model.ids)[len(model.ids) // 2]
fresh(sets[0])
times_fresh = [fresh(s) for s in sets for _ in range(2)]
reused(sets[0])
times_reused = [reused(s) for s in sets for _ in range(2)]
best = min(statistics.median(times_fresh), statistics.median(times_reused))
single = min(per_call(lambda: single_fresh(sets[0])), per_call(lambda: single_reused(sets[0])))
print(json.dumps({"seconds": best, "single": single, "peak_mb": peak_mb()}))
"""
)

CASES_SCRIPT = (
    COMMON
    + """
PGMPY_CASES = 40
import pandas as pd
import pyagrum as gum
from bn.cases import query_cases
model = load_bnlearn("alarm")
rng = np.random.default_rng(1)
sets = []
for size in rng.integers(5, 9, size=10_000):
    sets += evidence_sets(model, 1, int(size), int(rng.integers(2**31)))
frame = pd.DataFrame(sets, columns=list(model.ids)).fillna("")
patterns = len({tuple(sorted(s)) for s in sets})
ids = list(model.ids)
query_cases(model, frame.iloc[:10], ids)  # imports and the plan for these shapes
start = time.perf_counter()
ours = query_cases(model, frame, ids)
bn_seconds = time.perf_counter() - start

net = pyagrum_net(model)
engine = gum.LazyPropagation(net)
start = time.perf_counter()
for given in sets[:1000]:
    engine.setEvidence(given)
    engine.makeInference()
    for node in ids:
        engine.posterior(node)
agrum_seconds = (time.perf_counter() - start) * 10

from pgmpy.factors.discrete import TabularCPD
from pgmpy.inference import VariableElimination
from pgmpy.models import DiscreteBayesianNetwork
pg = DiscreteBayesianNetwork([(p, n.id) for n in model for p in n.parents])
pg.add_nodes_from(model.ids)
for n in model:
    names = {n.id: list(n.states), **{p: list(model[p].states) for p in n.parents}}
    pg.add_cpds(TabularCPD(n.id, n.card, n.table.reshape(-1, n.card).T,
                           evidence=list(n.parents) or None,
                           evidence_card=[model[p].card for p in n.parents] or None,
                           state_names=names))
ve = VariableElimination(pg)
start = time.perf_counter()
for given in sets[:PGMPY_CASES]:  # one query per node: pgmpy's joint=False builds the joint
    for node in ids:
        if node not in given:
            ve.query([node], evidence=given, show_progress=False)
pgmpy_seconds = (time.perf_counter() - start) * 10_000 / PGMPY_CASES
print(json.dumps({"bn": bn_seconds, "pyagrum": agrum_seconds, "pgmpy": pgmpy_seconds,
                  "patterns": patterns, "impossible": int((ours["error"] != "").sum())}))
"""
)


def limited(script: str, *args: str) -> dict[str, float] | str:
    """Run `script` in a new process under the time and memory limits; its JSON, or why not."""
    limit = (
        f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({LIMIT_BYTES}, {LIMIT_BYTES}))\n"
    )
    try:
        out = subprocess.run(
            [sys.executable, "-c", limit + script, str(ROOT), *args],
            capture_output=True, text=True, timeout=LIMIT_SECONDS, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f"over {LIMIT_SECONDS} s"
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["killed"])[-1]
        return "out of memory" if "Memory" in last or out.returncode < 0 else last[:60]
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--networks",
        default=",".join(NETWORKS),
        help="comma-separated networks (default: all %(default)s)",
    )
    parser.add_argument("--no-cases", action="store_true", help="skip the 10,000 alarm cases")
    args = parser.parse_args()  # fmt: skip
    rows = [("network", "bn first query (s)", "bn plan search (s)", "bn warm (s)",
             "bn new pattern (s)", "bn peak MB", "pyAgrum (s)", "pyAgrum peak MB",
             "ratio bn/pyAgrum (warm)", "bn one target (s)", "pyAgrum one target (s)",
             "ratio (one target)")]  # fmt: skip
    for name in args.networks.split(","):
        ours = limited(BN_SCRIPT, name)
        theirs = limited(AGRUM_SCRIPT, name)
        if isinstance(ours, str):
            rows.append((name, ours, *[""] * 10))
            continue
        agrum, agrum_mb, ratio, one, one_ratio = theirs, "", "", theirs, ""
        if not isinstance(theirs, str):
            agrum, agrum_mb = f"{theirs['seconds']:.4f}", f"{theirs['peak_mb']:.0f}"
            ratio = f"{ours['warm'] / theirs['seconds']:.2f}x"
            one, one_ratio = f"{theirs['single']:.3g}", f"{ours['single'] / theirs['single']:.2f}x"
        rows.append((name, f"{ours['first']:.3f}", f"{ours['search']:.3f}", f"{ours['warm']:.4f}",
                     f"{ours['new_pattern']:.3f}", f"{ours['peak_mb']:.0f}", agrum, agrum_mb,
                     ratio, f"{ours['single']:.3g}", one, one_ratio))  # fmt: skip
        print(rows[-1], file=sys.stderr, flush=True)
    print("All marginals, 5 hard findings from a forward sample:\n")
    print(table(rows))
    if args.no_cases:
        return
    cases = limited(CASES_SCRIPT)
    print("\n10,000 alarm cases, all marginals:\n")
    if isinstance(cases, str):
        print(f"cases: {cases}")
        return
    print(table([
        ("bn query_cases (s)", "pyAgrum loop (s, scaled)", "pgmpy VE loop (s, scaled)",
         "vs pyAgrum", "vs pgmpy", "patterns", "impossible cases"),
        (f"{cases['bn']:.2f}", f"{cases['pyagrum']:.2f}", f"{cases['pgmpy']:.1f}",
         f"{cases['pyagrum'] / cases['bn']:.1f}x faster", f"{cases['pgmpy'] / cases['bn']:.0f}x faster",
         f"{cases['patterns']:,}", f"{cases['impossible']}"),
    ]))  # fmt: skip


if __name__ == "__main__":
    main()
