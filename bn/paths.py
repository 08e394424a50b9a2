"""Contraction paths: the pairwise order in which a plan (`bn.plan`) multiplies its factors.

opt_einsum's exhaustive search for a few factors and its greedy search for more; where the greedy
path is costly, a junction tree from networkx's min-fill heuristic; while still costly, cotengra's
hyper-optimised greedy search. The cheapest path found wins; a path whose largest intermediate
passes `LARGEST` entries is a last resort.

>>> search("ab,bc->a", [(2, 3), (3, 4)], [("a", "b"), ("b", "c")])
[(0, 1)]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import opt_einsum

BATCH = "\0batch"  # the batch variable; no node id can be spelt like this
CHEAP = 1e7  # operations below which opt_einsum's greedy path is good enough
SEARCH_SECONDS = 0.6  # how long one cotengra search may look for a better path
SEARCHES = 3  # searches at most, while the best path found needs over COSTLY operations
COSTLY = 3e9
LARGEST = 2**24  # entries in one intermediate (128 MB) beyond which a path is a last resort


def search(
    subscripts: str, shapes: Sequence[tuple[int, ...]], factors: Sequence[tuple[str, ...]]
) -> list[tuple[int, ...]]:
    """A contraction path, the cheapest of: opt_einsum's exhaustive search (a few factors) or its
    greedy one; where that is costly, a junction tree from networkx's min-fill heuristic; and
    while still costly, cotengra's hyper-optimised greedy (random restarts with tuned costs,
    `SEARCH_SECONDS` a search, at most `SEARCHES` times)."""
    if len(shapes) <= 12:
        path, _ = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize="auto-hq")
        return list(path)
    path, info = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize="greedy")
    best, cost = list(path), _cost(info)
    if cost < CHEAP:
        return best
    tree = _junction_tree_path(factors)
    _, found = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=tree)
    if _cost(found) < cost:
        best, cost = tree, _cost(found)
    if cost < COSTLY:
        return best
    import cotengra

    for _ in range(SEARCHES):
        hyper = cotengra.HyperOptimizer(
            methods=["greedy"],
            max_time=SEARCH_SECONDS,
            max_repeats=256,
            minimize="flops",
            parallel=False,
            progbar=False,
            reconf_opts=None,  # subtree reconfiguration costs seconds on 1,000 factors
        )
        other, found = opt_einsum.contract_path(subscripts, *shapes, shapes=True, optimize=hyper)
        if _cost(found) < cost:
            best, cost = list(other), _cost(found)
        if cost < COSTLY:
            break
    return best


def _cost(info: Any) -> float:
    """Operations, and a path whose largest intermediate passes `LARGEST` costs as if infinite."""
    if float(info.largest_intermediate) > LARGEST:
        return math.inf if float(info.largest_intermediate) > 8 * LARGEST else 1e30
    return float(info.opt_cost)


def _junction_tree_path(factors: Sequence[tuple[str, ...]]) -> list[tuple[int, ...]]:
    """A path that contracts a junction tree leaves to root: every intermediate lies inside one
    cluster of networkx's min-fill tree decomposition of the factors' interaction graph."""
    import itertools

    import networkx as nx
    from networkx.algorithms.approximation import treewidth_min_fill_in

    graph = nx.Graph()
    for names in factors:
        free = [v for v in names if v != BATCH]
        graph.add_nodes_from(free)
        graph.add_edges_from(itertools.combinations(free, 2))
    _, tree = treewidth_min_fill_in(graph)
    bags = list(tree.nodes)
    home: dict[Any, list[int]] = {bag: [] for bag in bags}
    for number, names in enumerate(factors):
        scope = {v for v in names if v != BATCH}
        home[next((b for b in bags if scope <= b), bags[0])].append(number)
    ssa: list[tuple[int, ...]] = []
    count = len(factors)
    messages: list[int] = []
    for root in (min(c, key=len) for c in nx.connected_components(tree)):
        order = list(nx.dfs_postorder_nodes(tree, root))
        parent = dict(nx.bfs_predecessors(tree, root))
        inbox: dict[Any, list[int]] = {bag: [] for bag in order}
        for bag in order:
            operands = [*inbox[bag], *home[bag]]
            if len(operands) > 1:
                ssa.append(tuple(operands))
                operands, count = [count], count + 1
            if operands:
                (inbox[parent[bag]] if bag in parent else messages).append(operands[0])
    if len(messages) > 1:
        ssa.append(tuple(messages))
    return list(opt_einsum.paths.ssa_to_linear(ssa))
