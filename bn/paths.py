"""Contraction paths: the pairwise order in which a plan (`bn.plan`) multiplies its factors.

For a few factors, opt_einsum's "auto" search (exhaustive or branch-and-bound), and its dynamic
programming ("auto-hq") only where that path is costly: on the flagship's nine factors with a batch
axis it took 10 ms (150 ms under the memory tracing of `bn uncertainty`'s first chunk) and its
paths ran no faster. For more factors, opt_einsum's greedy search; where that path is costly, more
candidates, in this order: cotengra's random greedy search (seeded, so a plan found is the same
from run to run; fast with cotengrust's compiled trials), a junction tree from networkx's min-fill
heuristic, more random greedy rounds from other seeds, and two longer rounds of `LONG_REPEATS`
trials (cotengra's hyper-optimised search did no better on munin1 on average, and its trials
cannot be seeded: its paths' costs varied fourfold from run to run). The cheapest path found wins,
and the search stops as soon as the best path would run in less time than the search has taken so
far (its cost over `RATE`): a large network gets a longer search only while that search can still
pay for itself.

A path costs its multiply-adds plus `WRITE` per entry of every intermediate it writes (cotengra's
"combo" measure): the reverse sweep keeps every intermediate, and the copies made to line up
axes for each product grow with them, so sizes cost time as much as the products do (on munin1
a junction tree with a seventh of the products but twice the writes ran nine times slower). A
path whose largest intermediate passes `LARGEST` entries is a last resort.

>>> search("ab,bc->a", [(2, 3), (3, 4)], [("a", "b"), ("b", "c")])
[(0, 1)]
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import opt_einsum

BATCH = "\0batch"  # the batch variable; no node id can be spelt like this
CHEAP = 1e7  # cost below which opt_einsum's greedy path is good enough
DEEP = 1e9  # cost above which a few factors' path is searched again by dynamic programming
RATE = 3e9  # cost a second, roughly, of a plan's sweeps here (link: 1.2e9 in 0.4 s)
REPEATS = 32  # trials in one round of cotengra's random greedy search
ROUNDS = 4  # such rounds at most, from seeds 0, 1, ...
LONG_REPEATS = 256  # trials in one of the last, longer rounds
SEARCHES = 2  # such rounds at most
WRITE = 64  # the cost of writing one entry of an intermediate, in multiply-adds
LARGEST = 2**24  # entries in one intermediate (128 MB) beyond which a path is a last resort


def search(
    subscripts: str, shapes: Sequence[tuple[int, ...]], factors: Sequence[tuple[str, ...]]
) -> list[tuple[int, ...]]:
    """A contraction path: for a few factors opt_einsum's own search (dynamic programming where
    its first path is costly), for more its greedy one and, where that is costly, the cheapest of
    the candidates in the module's docstring, tried while the best path found would take longer to
    run than the search so far."""
    start = time.perf_counter()

    def cost(path: Any) -> tuple[float, list[tuple[int, ...]]]:
        found, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=path)
        return _cost(info), [tuple(c) for c in found]

    if len(shapes) <= 12:
        best_cost, best = cost("auto")
        return cost("auto-hq")[1] if best_cost > DEEP else best
    best_cost, best = cost("greedy")
    if best_cost < CHEAP:
        return best
    rounds = [
        functools.partial(_random_greedy, subscripts, shapes, s, REPEATS) for s in range(ROUNDS)
    ]
    long_rounds = [
        functools.partial(_random_greedy, subscripts, shapes, s, LONG_REPEATS)
        for s in range(SEARCHES)
    ]
    candidates: list[Callable[[], Any]] = [
        rounds[0],
        lambda: _junction_tree_path(factors),
        *rounds[1:],
        *long_rounds,
    ]
    for candidate in candidates:
        found_cost, found = cost(candidate())
        if found_cost < best_cost:
            best_cost, best = found_cost, found
        if best_cost / RATE < time.perf_counter() - start:
            break
    return best


def _cost(info: Any) -> float:
    """Multiply-adds plus `WRITE` per intermediate entry, times the square of how many times the
    largest intermediate passes `LARGEST` entries: such paths are a last resort, ranked still."""
    over = max(1.0, float(info.largest_intermediate) / LARGEST)
    return (float(info.opt_cost) + WRITE * float(sum(info.size_list))) * over**2


def _random_greedy(
    subscripts: str, shapes: Sequence[tuple[int, ...]], seed: int, repeats: int
) -> list[tuple[int, ...]]:
    """cotengra's random greedy path, the best of `repeats` trials from `seed`, on one thread.
    Its costs have a long tail (on munin1 four seeds gave 5e8 to 1e10 multiply-adds), so rounds
    from several seeds find good paths sooner than more trials from one.

    The search runs on the simplified problem (`_simplified`) with cotengra's own simplification
    off, as cotengrust 0.2.1's version panics on some problems (pathfinder's, under hard evidence).
    """
    import cotengra

    inputs, output = subscripts.split("->")
    terms = inputs.split(",")
    sizes = {
        c: n
        for term, shape in zip(terms, shapes, strict=True)
        for c, n in zip(term, shape, strict=True)
    }
    ssa, live = _simplified(terms, output)
    ids, count = list(live), len(terms) + len(ssa)
    optimizer = cotengra.RandomGreedyOptimizer(
        max_repeats=repeats, seed=seed, parallel=False, simplify=False
    )
    for pair in optimizer.ssa_path([tuple(live[i]) for i in ids], tuple(output), sizes):
        ssa.append(tuple(ids[i] for i in pair))
        ids.append(count)
        count += 1
    return [tuple(c) for c in opt_einsum.paths.ssa_to_linear(ssa)]


def _simplified(terms: list[str], output: str) -> tuple[list[tuple[int, ...]], dict[int, str]]:
    """cotengra's simplifications, done here: terms over the same variables multiplied first
    (an ssa path), and, for the search, variables in every term or summed within one term left
    out of the remaining terms (by ssa id) until nothing changes."""
    ssa: list[tuple[int, ...]] = []
    live = dict(enumerate(terms))
    count = len(terms)
    changed = True
    while changed:
        changed = False
        appear = Counter(c for term in live.values() for c in set(term))
        for i, term in live.items():
            kept = "".join(
                c for c in term if appear[c] < len(live) and (appear[c] > 1 or c in output)
            )
            changed |= kept != term
            live[i] = kept
        alike: dict[frozenset[str], list[int]] = {}
        for i, term in live.items():
            alike.setdefault(frozenset(term), []).append(i)
        for group in alike.values():
            for other in group[1:]:
                ssa.append((group[0], other))
                live[count] = live.pop(group[0])
                del live[other]
                group[0], count, changed = count, count + 1, True
    return ssa, live


def _junction_tree_path(factors: Sequence[tuple[str, ...]]) -> list[tuple[int, ...]]:
    """A path that contracts a junction tree leaves to root: every intermediate lies inside one
    cluster of networkx's min-fill tree decomposition of the factors' interaction graph."""
    import itertools

    import networkx as nx
    from networkx.algorithms.approximation import treewidth_min_fill_in

    # Variables by number: the heuristic breaks ties by set order, and integers, unlike strings,
    # hash alike in every process, so the tree is the same from run to run.
    number = {
        v: i for i, v in enumerate(dict.fromkeys(v for n in factors for v in n if v != BATCH))
    }
    graph = nx.Graph()
    for names in factors:
        free = [number[v] for v in names if v != BATCH]
        graph.add_nodes_from(free)
        graph.add_edges_from(itertools.combinations(free, 2))
    _, tree = treewidth_min_fill_in(graph)
    bags = list(tree.nodes)
    home: dict[Any, list[int]] = {bag: [] for bag in bags}
    for position, names in enumerate(factors):
        scope = {number[v] for v in names if v != BATCH}
        home[next((b for b in bags if scope <= b), bags[0])].append(position)
    ssa: list[tuple[int, ...]] = []
    count = len(factors)
    messages: list[int] = []
    for root in (min(c, key=len) for c in nx.connected_components(tree)):
        order = list(nx.dfs_postorder_nodes(tree, root))
        parent = dict(nx.bfs_predecessors(tree, root))
        inbox: dict[Any, list[int]] = {bag: [] for bag in order}
        for bag in order:
            operands = [*inbox[bag], *home[bag]]
            while len(operands) > 1:  # pairwise, as the plan runs it, so that its cost is true
                ssa.append((operands[0], operands[1]))
                operands, count = [count, *operands[2:]], count + 1
            if operands:
                (inbox[parent[bag]] if bag in parent else messages).append(operands[0])
    while len(messages) > 1:
        ssa.append((messages[0], messages[1]))
        messages, count = [count, *messages[2:]], count + 1
    return list(opt_einsum.paths.ssa_to_linear(ssa))
