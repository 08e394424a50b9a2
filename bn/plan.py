"""Compiled contraction plans: one forward and one backward sweep give every marginal at once.

A plan is built for a list of factors (each a tuple of variable names with sizes) and the variables
to keep. opt_einsum (and cotengra, for large networks) finds the pairwise contraction order; the plan
fixes, for each pair, the transposes and the batched matrix product that contract it. `forward`
multiplies the factors out; `marginals` also runs the reverse sweep: the derivative of the total with
respect to a factor, times the factor, is the joint of that factor's variables and the evidence, so a
node's marginal comes from its own table's factor (reverse-mode differentiation of one contraction
tree; the cost is about three contractions, whatever the number of marginals).

Every intermediate result is divided by its largest entry (per batch element) and the logarithms of
those scales are summed, so neither sweep underflows and log P(evidence) is exact below 1e-300.

A factor may carry the batch variable `BATCH` as its first axis; the answer then has one row per batch
element. Plans depend only on the shapes, so they are cached (`compile_plan`) and shared by every
query, model and evidence set with the same structure.

>>> plan = compile_plan(((("a",), (2,)), (("a", "b"), (2, 2))), ())
>>> values = plan.forward([np.array([0.3, 0.7]), np.array([[0.9, 0.1], [0.2, 0.8]])])
>>> float(np.exp(values.log_scale) * values.table)
1.0
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import opt_einsum

BATCH = "\0batch"  # the batch variable; no node id can be spelt like this
UNSCALED = 16  # factors up to which a forward-only contraction runs unscaled through opt_einsum
BATCHED_EINSUM = 1000  # batch size from which tiny pairwise products go through einsum
FLOOR = 1e-100  # intermediate results whose largest entry falls below this are rescaled
CHEAP = 1e7  # operations below which opt_einsum's greedy path is good enough
SEARCH_SECONDS = 0.6  # how long one cotengra search may look for a better path
SEARCHES = 3  # searches at most, while the best path found needs over COSTLY operations
COSTLY = 3e9
LARGEST = 2**24  # entries in one intermediate (128 MB) beyond which a path is a last resort
Factor = tuple[tuple[str, ...], tuple[int, ...]]  # variables and their sizes


@dataclass(frozen=True)
class _Pair:
    """Contract x (variables xi) with y (yi) into variables `out`, as one batched matmul."""

    xi: tuple[str, ...]
    yi: tuple[str, ...]
    out: tuple[str, ...]
    x_sum: tuple[int, ...]  # axes of x summed first (in neither y nor out)
    y_sum: tuple[int, ...]
    x_perm: tuple[int, ...]  # after the sums: shared kept, x-only kept, contracted
    y_perm: tuple[int, ...]  # after the sums: shared kept, contracted, y-only kept
    groups: tuple[int, int, int, int]  # how many shared, x-only, contracted, y-only variables
    out_perm: tuple[int, ...] | None  # from (shared, x-only, y-only) to `out`
    x_code: tuple[int, ...] = ()  # einsum subscripts of the transposed x and y, and the product
    y_code: tuple[int, ...] = ()
    out_code: tuple[int, ...] = ()

    @staticmethod
    def make(xi: Sequence[str], yi: Sequence[str], out: Sequence[str]) -> _Pair:
        xs = [i for i, v in enumerate(xi) if v not in yi and v not in out]
        ys = [i for i, v in enumerate(yi) if v not in xi and v not in out]
        xr = [v for i, v in enumerate(xi) if i not in xs]
        yr = [v for i, v in enumerate(yi) if i not in ys]
        shared = [v for v in xr if v in yr and v in out]
        contracted = [v for v in xr if v in yr and v not in out]
        left = [v for v in xr if v not in yr]
        right = [v for v in yr if v not in xr]
        natural = [*shared, *left, *right]
        perm = tuple(natural.index(v) for v in out)
        return _Pair(
            tuple(xi),
            tuple(yi),
            tuple(out),
            tuple(xs),
            tuple(ys),
            tuple(xr.index(v) for v in [*shared, *left, *contracted]),
            tuple(yr.index(v) for v in [*shared, *contracted, *right]),
            (len(shared), len(left), len(contracted), len(right)),
            None if perm == tuple(range(len(perm))) else perm,
            *_codes(shared, left, contracted, right),
        )

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.x_sum:
            x = x.sum(axis=self.x_sum)
        if self.y_sum:
            y = y.sum(axis=self.y_sum)
        x = x.transpose(self.x_perm)
        y = y.transpose(self.y_perm)
        s, left, c, _ = self.groups
        shape_s = x.shape[:s]
        shape_l = x.shape[s : s + left]
        shape_c = x.shape[s + left :]
        shape_r = y.shape[s + c :]
        n = math.prod(shape_s)
        if n > BATCHED_EINSUM and math.prod(shape_l) * math.prod(shape_r) <= 4:
            # Many tiny products (a batch of parameter sets): einsum beats matmul's per-matrix cost.
            product: np.ndarray = np.einsum(
                x, list(self.x_code), y, list(self.y_code), list(self.out_code)
            )
            return product if self.out_perm is None else product.transpose(self.out_perm)
        product = np.matmul(
            x.reshape(n, math.prod(shape_l), math.prod(shape_c)),
            y.reshape(n, math.prod(shape_c), math.prod(shape_r)),
        ).reshape((*shape_s, *shape_l, *shape_r))
        return product if self.out_perm is None else product.transpose(self.out_perm)


def _codes(
    shared: list[str], left: list[str], contracted: list[str], right: list[str]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    number = {v: i for i, v in enumerate([*shared, *left, *contracted, *right])}
    return (
        tuple(number[v] for v in [*shared, *left, *contracted]),
        tuple(number[v] for v in [*shared, *contracted, *right]),
        tuple(number[v] for v in [*shared, *left, *right]),
    )


def _grad_vars(variables: tuple[str, ...]) -> tuple[str, ...]:
    """A derivative of the batched total keeps the batch axis first, even for an unbatched factor."""
    return variables if BATCH in variables else (BATCH, *variables)


@dataclass(frozen=True)
class _Step:
    x: int  # positions in the list of live tensors (leaves first, then one per step)
    y: int
    forward: _Pair
    grad_x: _Pair  # d total / d x from d total / d out and y
    grad_y: _Pair
    x_expand: tuple[int, ...]  # axes of d/dx summed away by forward (broadcast back)
    y_expand: tuple[int, ...]


@dataclass(frozen=True)
class Values:
    """A forward sweep: `exp(log_scale) * table` is the contraction (log_scale is per batch)."""

    table: np.ndarray
    log_scale: np.ndarray
    tensors: list[np.ndarray]


_ZERO = np.zeros(())


def _rescale(array: np.ndarray, batched: bool) -> tuple[np.ndarray, np.ndarray]:
    """`array` divided by its largest entry (per batch element), and the log of that entry.

    Entries between `FLOOR` and 1 / `FLOOR` are left as they are (scale 1), which saves the division
    on most steps; smaller peaks are brought back to 1 before they can underflow.
    """
    if array.size == 0:
        return array, np.zeros(array.shape[:1] if batched else ())
    if not batched:
        top = float(array.max())
        if FLOOR < top < 1 / FLOOR or top <= 0:
            return array, _ZERO
        return array / top, np.asarray(math.log(top))
    peak = array.reshape(array.shape[0], -1).max(axis=1)
    if peak.min() > FLOOR and peak.max() < 1 / FLOOR:
        return array, np.zeros(peak.shape)
    peak = np.where(peak > 0, peak, 1.0)
    scaled = array / peak.reshape(peak.shape + (1,) * (array.ndim - 1))
    return scaled, np.log(peak)


@dataclass(frozen=True)
class Plan:
    """A compiled contraction of `factors` down to the variables `keep`."""

    factors: tuple[tuple[str, ...], ...]
    keep: tuple[str, ...]
    steps: tuple[_Step, ...]
    final: tuple[str, ...]  # variables of the last tensor, in its axis order
    batched: bool
    size: int  # the batch size (1 without a batch)
    expression: Any = None  # opt_einsum's compiled contraction along the same path (few factors)

    def contract(self, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The contraction as (table, log scale), without keeping intermediates.

        Up to `UNSCALED` factors, opt_einsum's compiled expression runs the same path unscaled (its
        pairwise kernels are faster on large batches, and a product of so few tables cannot
        underflow unless the tables hold entries near 1e-20); more factors go through `forward`.
        """
        if self.expression is None:
            values = self.forward(arrays)
            return values.table, values.log_scale
        table = np.asarray(self.expression(*arrays))
        if self.batched and table.ndim == len(self.keep):
            table = np.broadcast_to(table, (self.size, *table.shape))
        return table, _ZERO

    def forward(self, arrays: Sequence[np.ndarray]) -> Values:
        """Contract the factors; the result's axes are (batch,) + keep."""
        tensors = list(arrays)
        log_scale = np.zeros(())
        for step in self.steps:
            out = step.forward(tensors[step.x], tensors[step.y])
            scaled, logs = _rescale(out, BATCH in step.forward.out)
            tensors.append(scaled)
            log_scale = log_scale + logs
        last = tensors[-1] if self.steps else tensors[0]
        wanted = ((BATCH,) if self.batched else ()) + self.keep
        table = np.einsum(last, list(range(len(self.final))), [self.final.index(v) for v in wanted])
        if self.batched and BATCH not in self.final:
            table = np.broadcast_to(table, (self.size, *table.shape))
        return Values(table, log_scale, tensors)

    def marginals(
        self, arrays: Sequence[np.ndarray], variables: Sequence[tuple[int, str]]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Normalised marginals of each (factor position, variable) and log of the total.

        Only for plans that keep nothing. A marginal is NaN where the total is zero.
        """
        values = self.forward(arrays)
        tensors = values.tensors
        size = self.size
        with np.errstate(divide="ignore"):
            log_total = values.log_scale + np.log(values.table)
        grads: dict[int, np.ndarray] = {len(tensors) - 1: np.ones((size,))}
        if not self.steps:
            grads = {0: np.ones((size, *tensors[0].shape[int(self.batched) :]))}
        for number in range(len(self.steps) - 1, -1, -1):
            step = self.steps[number]
            g = grads.pop(len(self.factors) + number)
            gx = step.grad_x(g, tensors[step.y])
            gy = step.grad_y(g, tensors[step.x])
            for target, grad, expand in ((step.x, gx, step.x_expand), (step.y, gy, step.y_expand)):
                if expand:
                    shape = list(grad.shape)
                    for axis in expand:
                        shape.insert(axis, 1)
                    sizes = (size, *tensors[target].shape[int(BATCH in self._vars(target)) :])
                    grad = np.broadcast_to(grad.reshape(shape), sizes)
                grads[target] = _rescale(grad, True)[0]
        result = []
        for position, variable in variables:
            factor = self.factors[position]
            leaf = tensors[position]
            if BATCH not in factor:
                leaf = leaf[np.newaxis]
            joint = grads[position] * leaf
            axis = _grad_vars(factor).index(variable)
            sum_axes = tuple(a for a in range(1, joint.ndim) if a != axis)
            marginal = joint.sum(axis=sum_axes) if sum_axes else joint
            total = marginal.sum(axis=-1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                marginal = marginal / total
            result.append(marginal if self.batched else marginal[0])
        return result, log_total

    def _vars(self, position: int) -> tuple[str, ...]:
        if position < len(self.factors):
            return self.factors[position]
        return self.steps[position - len(self.factors)].forward.out


@functools.lru_cache(maxsize=512)
def compile_plan(factors: tuple[Factor, ...], keep: tuple[str, ...]) -> Plan:
    """The contraction plan for these factor shapes (cached: the path search runs once per shape)."""
    variables = {v: n for names, sizes in factors for v, n in zip(names, sizes, strict=True)}
    batched = BATCH in variables
    symbol = {v: opt_einsum.get_symbol(i) for i, v in enumerate(variables)}
    output = ((BATCH,) if batched else ()) + keep
    live = [names for names, _ in factors]
    steps: list[_Step] = []
    if len(factors) > 1:
        subscripts = ",".join("".join(symbol[v] for v in names) for names in live)
        subscripts += "->" + "".join(symbol[v] for v in output)
        shapes = [sizes for _, sizes in factors]
        path = _search(subscripts, shapes, live)
        ids = list(range(len(factors)))
        count = Counter(v for names in live for v in names)  # over the live tensors
        for contraction in path:
            if len(contraction) < 2:  # a lone tensor summed down: the next pair does that
                continue
            chosen = [ids[i] for i in contraction]
            for i in sorted(contraction, reverse=True):
                del ids[i]
            while len(chosen) > 1:
                x, y = chosen[0], chosen[1]
                xi, yi = live[x], live[y]
                count.subtract((*xi, *yi))
                out = tuple(v for v in dict.fromkeys((*xi, *yi)) if v in output or count[v] > 0)
                if BATCH in out:
                    out = (BATCH, *(v for v in out if v != BATCH))
                count.update(out)
                steps.append(_make_step(x, y, xi, yi, out))
                live.append(out)
                chosen = [len(live) - 1, *chosen[2:]]
            ids.append(chosen[0])
    final = live[-1] if steps else live[0]
    size = variables.get(BATCH, 1)
    expression = None
    if 1 < len(factors) <= UNSCALED:
        expression = opt_einsum.contract_expression(
            subscripts, *(sizes for _, sizes in factors), optimize=path
        )
    return Plan(tuple(n for n, _ in factors), keep, tuple(steps), final, batched, size, expression)


def _make_step(
    x: int, y: int, xi: tuple[str, ...], yi: tuple[str, ...], out: tuple[str, ...]
) -> _Step:
    gout = _grad_vars(out)
    gx, gy = _grad_vars(xi), _grad_vars(yi)
    x_kept = tuple(v for v in gx if v in gout or v in yi)
    y_kept = tuple(v for v in gy if v in gout or v in xi)
    return _Step(
        x,
        y,
        _Pair.make(xi, yi, out),
        _Pair.make(gout, yi, x_kept),
        _Pair.make(gout, xi, y_kept),
        tuple(i for i, v in enumerate(gx) if v not in x_kept),
        tuple(i for i, v in enumerate(gy) if v not in y_kept),
    )


def _search(
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
