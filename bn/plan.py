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
Factors hold probabilities (no entry above 1: the engine scales likelihood vectors down to a peak of
1), so an unbatched sweep first runs without scaling: every intermediate entry is then at most N,
the number of joint states of the part, and what gradual underflow can lose is below
N^3 * steps * 2.5e-324 of the total. A total above `Plan.floor` (N^3 * steps * 1e-300) is kept,
exact to 1e-23; a smaller one is computed again with scaling.

A factor may carry the batch variable `BATCH` as its first axis; the answer then has one row per batch
element. Plans depend only on the shapes, so they are cached (`compile_plan`) and shared by every
query, model and evidence set with the same structure.

>>> plan = compile_plan(((("a",), (2,)), (("a", "b"), (2, 2))), ())
>>> values = plan.forward([np.array([0.3, 0.7]), np.array([[0.9, 0.1], [0.2, 0.8]])])
>>> float(np.exp(values.log_scale) * values.table)
1.0
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import opt_einsum

from bn.paths import BATCH, search

UNSCALED = 16  # factors up to which a forward-only contraction runs unscaled through opt_einsum
BATCHED_EINSUM = 1000  # batch size from which tiny pairwise products go through einsum
FLOOR = 1e-100  # intermediate results whose largest entry falls below this are rescaled
THREADED = 10**7  # multiply-adds of one BLAS call from which it may use more than one thread
DIRECT = 1000  # cells x factors per step below which one plain einsum call beats the steps
SAFE = 1e-200  # a direct result whose largest entry is below this is redone with scaling
LOST = 1e-300  # above what one multiply-add may lose to gradual underflow (2.5e-324), with margin
HIGHEST_FLOOR = 1e-30  # a part whose floor would exceed this always runs scaled
SINGLE = 8192  # multiply-adds up to which OpenBLAS runs a call on one thread by itself
Factor = tuple[tuple[str, ...], tuple[int, ...]]  # variables and their sizes


class _Pair(NamedTuple):
    """Contract x (variables xi) with y (yi) into variables `out`, as one batched matmul.

    The shapes are fixed when the plan is compiled, so a call is only the sums, the transposes
    that are not the identity, and one product between precomputed reshapes. (The plan's records
    are named tuples: a cold command creates them in a fifth of a frozen dataclass's time.)
    """

    x_sum: tuple[int, ...]  # axes of x summed first (in neither y nor out)
    y_sum: tuple[int, ...]
    x_perm: tuple[int, ...] | None  # after the sums: shared kept, x-only kept, contracted
    y_perm: tuple[int, ...] | None  # after the sums: shared kept, contracted, y-only kept
    x_shape: tuple[int, ...] | None  # (shared, x-only, contracted) flattened; no shared axis if
    y_shape: tuple[int, ...] | None  # none; None where the array has that shape already
    product_shape: tuple[int, ...] | None  # the product unflattened: shared, x-only, y-only
    out_perm: tuple[int, ...] | None  # from (shared, x-only, y-only) to `out`
    codes: tuple[tuple[int, ...], ...] | None  # einsum subscripts for many tiny products
    blas: int  # multiply-adds of each BLAS call: matmul makes one per shared index; einsum none

    @staticmethod
    def make(
        xi: Sequence[str], yi: Sequence[str], out: Sequence[str], sizes: Mapping[str, int]
    ) -> _Pair:
        xs = [i for i, v in enumerate(xi) if v not in yi and v not in out]
        ys = [i for i, v in enumerate(yi) if v not in xi and v not in out]
        xr = [v for i, v in enumerate(xi) if i not in xs]
        yr = [v for i, v in enumerate(yi) if i not in ys]
        shared = [v for v in xr if v in yr and v in out]
        contracted = [v for v in xr if v in yr and v not in out]
        left = [v for v in xr if v not in yr]
        right = [v for v in yr if v not in xr]
        n, nl, nc, nr = (
            math.prod(sizes[v] for v in vs) for vs in (shared, left, contracted, right)
        )
        lead = (n,) if shared else ()
        x_shape, y_shape = (*lead, nl, nc), (*lead, nc, nr)
        product_shape = tuple(sizes[v] for v in [*shared, *left, *right])
        codes = None
        if n > BATCHED_EINSUM and nl * nr <= 4:
            # Many tiny products (a batch of parameter sets): einsum beats matmul's per-matrix cost.
            codes = _codes(shared, left, contracted, right)
        return _Pair(
            tuple(xs),
            tuple(ys),
            _permutation([xr.index(v) for v in [*shared, *left, *contracted]]),
            _permutation([yr.index(v) for v in [*shared, *contracted, *right]]),
            _reshape(x_shape, [sizes[v] for v in [*shared, *left, *contracted]]),
            _reshape(y_shape, [sizes[v] for v in [*shared, *contracted, *right]]),
            _reshape(product_shape, [*lead, nl, nr]),
            _permutation([[*shared, *left, *right].index(v) for v in out]),
            codes,
            0 if codes is not None else nl * nc * nr,
        )

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.blas > THREADED:
            with _threads(_blas_threads()):
                return self._product(x, y)
        return self._product(x, y)

    def _product(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.x_sum:
            x = x.sum(axis=self.x_sum)
        if self.y_sum:
            y = y.sum(axis=self.y_sum)
        if self.x_perm is not None:
            x = x.transpose(self.x_perm)
        if self.y_perm is not None:
            y = y.transpose(self.y_perm)
        if self.codes is not None:
            xc, yc, oc = self.codes
            product: np.ndarray = np.einsum(x, list(xc), y, list(yc), list(oc))
        else:
            if self.x_shape is not None:
                x = x.reshape(self.x_shape)
            if self.y_shape is not None:
                y = y.reshape(self.y_shape)
            product = np.matmul(x, y)
            if self.product_shape is not None:
                product = product.reshape(self.product_shape)
        return product if self.out_perm is None else product.transpose(self.out_perm)


@functools.cache
def _blas() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded (numpy's OpenBLAS here)."""
    from threadpoolctl import ThreadpoolController

    return [lib for lib in ThreadpoolController().lib_controllers if lib.user_api == "blas"]


@functools.cache
def _blas_threads() -> int:
    """The BLAS threads numpy started with (several only pay off on large products)."""
    return max((int(lib.num_threads) for lib in _blas()), default=1)


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    """A context that runs BLAS on `count` threads: small products run faster on one, as
    OpenBLAS's threads cost more than they give on them (measured sixfold on a busy machine).
    The library's own get/set calls: threadpoolctl's `limit` takes 20 us, a tiny query's tenth."""
    libraries = _blas()
    saved = [lib.get_num_threads() for lib in libraries]
    for lib, before in zip(libraries, saved, strict=True):
        if before != count:
            lib.set_num_threads(count)
    try:
        yield
    finally:
        for lib, before in zip(libraries, saved, strict=True):
            if before != count:
                lib.set_num_threads(before)


def _one_thread(small: bool) -> contextlib.AbstractContextManager[None]:
    """BLAS on one thread for a sweep, unless every call is `small`: OpenBLAS runs those on one
    by itself, and setting it costs 10 us (the first time, 10 to 20 ms to find the library)."""
    return contextlib.nullcontext() if small else _threads(1)


def _reshape(shape: tuple[int, ...], current: list[int]) -> tuple[int, ...] | None:
    """`shape`, or None where an array of shape `current` has it already (the reshape is skipped)."""
    return None if list(shape) == current else shape


def _permutation(order: list[int]) -> tuple[int, ...] | None:
    """`order` as a transpose, or None where it is the identity (the transpose is skipped)."""
    return None if order == list(range(len(order))) else tuple(order)


def _codes(
    shared: list[str], left: list[str], contracted: list[str], right: list[str]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    number = {v: i for i, v in enumerate([*shared, *left, *contracted, *right])}
    return (
        tuple(number[v] for v in [*shared, *left, *contracted]),
        tuple(number[v] for v in [*shared, *contracted, *right]),
        tuple(number[v] for v in [*shared, *left, *right]),
    )


def _grad_vars(variables: tuple[str, ...], batched: bool) -> tuple[str, ...]:
    """A derivative of a batched total keeps the batch axis first, even for an unbatched factor."""
    return (BATCH, *variables) if batched and BATCH not in variables else variables


class _Grad(NamedTuple):
    """d total / d operand from d total / d out and the other operand, with size-one axes where
    the forward step summed the operand's axes away (`shape`). Only a leaf has such axes (an
    intermediate keeps just the variables still needed), and its marginal broadcasts over them."""

    pair: _Pair
    shape: tuple[int, ...] | None

    def __call__(self, g: np.ndarray, other: np.ndarray) -> np.ndarray:
        grad = self.pair(g, other)
        return grad if self.shape is None else grad.reshape(self.shape)


class _Step(NamedTuple):
    x: int  # positions in the list of live tensors (leaves first, then one per step)
    y: int
    forward: _Pair
    batched: bool  # whether the result carries the batch axis
    grad_x: _Grad
    grad_y: _Grad


class Values(NamedTuple):
    """A forward sweep: `exp(log_scale) * table` is the contraction (log_scale is per batch)."""

    table: np.ndarray
    log_scale: np.ndarray
    tensors: list[np.ndarray]


_ZERO = np.zeros(())


def _rescale(array: np.ndarray, batched: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """`array` divided by its largest entry (per batch element), and the log of that entry.

    Entries between `FLOOR` and 1 / `FLOOR` are left as they are (no scale: None), which saves the
    division on most steps; smaller peaks are brought back to 1 before they can underflow.
    """
    if array.size == 0:
        return array, None
    if not batched:
        top = float(array.max())
        if FLOOR < top < 1 / FLOOR or top <= 0:
            return array, None
        return array / top, np.asarray(math.log(top))
    peak = array.reshape(array.shape[0], -1).max(axis=1)
    if peak.min() > FLOOR and peak.max() < 1 / FLOOR:
        return array, None
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
    direct: tuple[Any, ...] | None = None  # np.einsum's interleaved operands (tiny, unbatched)
    floor: float = 0.0  # an unscaled total above this is exact (unbatched); 0: always scale
    small: bool = False  # every BLAS call is below `SINGLE` multiply-adds

    def contract(self, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The contraction as (table, log scale), without keeping intermediates.

        With a batch axis and up to `UNSCALED` factors, opt_einsum's compiled expression runs the
        same path unscaled (its pairwise kernels are faster on large batches, and a product of so
        few tables cannot underflow unless the tables hold entries near 1e-20); otherwise the
        plan's own steps run (faster without a batch: half the time on water's parts).
        """
        with _one_thread(self.small):
            return self._contract(arrays)

    def _contract(self, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        if self.direct is not None:
            # One C loop over every cell of the part: no Python per step. Unscaled, so a result
            # whose peak is near underflow is computed again with scaling (terms lost to
            # underflow next to a peak above SAFE are below 1e-100 of it).
            operands = [x for pair in zip(arrays, self.direct[:-1], strict=True) for x in pair]
            table = np.einsum(*operands, self.direct[-1])
            if table.max(initial=0.0) > SAFE:
                return table, _ZERO
        if self.expression is None or not self.batched:
            values = self._forward(arrays)
            return values.table, values.log_scale
        table = np.asarray(self.expression(*arrays))
        if table.ndim == len(self.keep):
            table = np.broadcast_to(table, (self.size, *table.shape))
        return table, _ZERO

    def forward(self, arrays: Sequence[np.ndarray]) -> Values:
        """Contract the factors; the result's axes are (batch,) + keep."""
        with _one_thread(self.small):
            return self._forward(arrays)

    def _forward(self, arrays: Sequence[np.ndarray]) -> Values:
        if self.floor:
            values = self._sweep(arrays, scaled=False)
            if self.floor < float(values.table.sum()) < math.inf:
                return values
        return self._sweep(arrays, scaled=True)

    def _sweep(self, arrays: Sequence[np.ndarray], scaled: bool) -> Values:
        tensors = list(arrays)
        log_scale = _ZERO
        for step in self.steps:
            product = step.forward(tensors[step.x], tensors[step.y])
            if scaled:
                product, logs = _rescale(product, step.batched)
                if logs is not None:
                    log_scale = log_scale + logs
            tensors.append(product)
        last = tensors[-1]
        wanted = ((BATCH,) if self.batched else ()) + self.keep
        if self.final != wanted:
            last = np.einsum(
                last, list(range(len(self.final))), [self.final.index(v) for v in wanted]
            )
        if self.batched and BATCH not in self.final:
            last = np.broadcast_to(last, (self.size, *last.shape))
        return Values(last, log_scale, tensors)

    def marginals(
        self, arrays: Sequence[np.ndarray], variables: Sequence[tuple[int, str]]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Normalised marginals of each (factor position, variable) and log of the total.

        Only for plans that keep nothing. A marginal is NaN where the total is zero.
        """
        with _one_thread(self.small):
            return self._marginals(arrays, variables)

    def _marginals(
        self, arrays: Sequence[np.ndarray], variables: Sequence[tuple[int, str]]
    ) -> tuple[list[np.ndarray], np.ndarray]:
        values = self._forward(arrays)
        tensors = values.tensors
        batched = self.batched
        with np.errstate(divide="ignore"):
            log_total = values.log_scale + np.log(values.table)
        lead = (self.size,) if batched else ()
        grads: dict[int, np.ndarray] = {len(tensors) - 1: np.ones(lead)}
        if not self.steps:
            grads = {0: np.ones((*lead, *tensors[0].shape[int(BATCH in self.factors[0]) :]))}
        count = len(self.factors)
        for number in range(len(self.steps) - 1, -1, -1):
            step = self.steps[number]
            g = grads.pop(count + number)
            grads[step.x] = _rescale(step.grad_x(g, tensors[step.y]), batched)[0]
            grads[step.y] = _rescale(step.grad_y(g, tensors[step.x]), batched)[0]
        result = []
        with np.errstate(invalid="ignore", divide="ignore"):
            for position, variable in variables:
                factor = self.factors[position]
                joint = grads[position] * tensors[position]
                if factor[-1] == variable:  # a node's own variable: the last axis of its table
                    marginal = joint.reshape(*lead, -1, joint.shape[-1]).sum(axis=-2)
                else:
                    axis = _grad_vars(factor, batched).index(variable)
                    sum_axes = tuple(a for a in range(len(lead), joint.ndim) if a != axis)
                    marginal = joint.sum(axis=sum_axes) if sum_axes else joint
                result.append(marginal / marginal.sum(axis=-1, keepdims=True))
        return result, log_total


@dataclass(frozen=True)
class Part:
    """One connected part of a query's factors (no variable shared with another part but the
    batch axis): it contracts alone, and to the rest of the query it is only a constant factor."""

    positions: tuple[int, ...]  # the part's factors, by position among the query's
    targets: tuple[tuple[int, str], ...]  # (position within the part, variable) of its targets
    plan: Plan | None  # keeps the target where the part has one; None for constants


@functools.lru_cache(maxsize=512)
def compile_query(
    factors: tuple[Factor, ...], targets: tuple[tuple[int, str], ...]
) -> tuple[Part, ...]:
    """Plans for the marginals of `targets` ((factor position, variable) pairs) and the total.

    The factors split into connected parts; a part holding no target contributes its total only
    (hard evidence d-separates it from the targets: the nodes pyAgrum's LazyPropagation prunes as
    not requisite), and each part's plan is searched on its own, smaller, problem. Cached per
    factor shapes and targets, that is per model structure, evidence pattern and target set.
    """
    parts = []
    for positions in components(factors):
        if all(set(factors[p][0]) <= {BATCH} for p in positions):
            parts.append(Part(positions, (), None))  # sliced away entirely: constants
            continue
        local = {p: i for i, p in enumerate(positions)}
        mine = tuple((local[p], v) for p, v in targets if p in local)
        keep = (mine[0][1],) if len(mine) == 1 else ()
        plan = compile_plan(tuple(factors[p] for p in positions), keep)
        parts.append(Part(positions, mine, plan))
    return tuple(parts)


def components(factors: Sequence[Factor]) -> list[tuple[int, ...]]:
    """Positions of the factors in each connected part (factors linked by a shared variable, the
    batch axis aside), parts in the order of their first factor; the factors with no variable
    (hard evidence sliced every axis away) form one part, last.

    >>> components(((("a",), (2,)), ((), ()), (("b",), (2,)), (("a", "c"), (2, 2)), ((), ())))
    [(0, 3), (2,), (1, 4)]
    """
    parent = list(range(len(factors)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, (names, _) in enumerate(factors):
        for v in names:
            if v == BATCH:
                continue
            j = owner.setdefault(v, i)
            if j != i:
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    constants = []
    for i, (names, _) in enumerate(factors):
        if set(names) <= {BATCH}:
            constants.append(i)
        else:
            groups.setdefault(root(i), []).append(i)
    return [tuple(g) for g in groups.values()] + ([tuple(constants)] if constants else [])


def solve(
    parts: Sequence[Part], arrays: Sequence[np.ndarray]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Normalised marginals of every part's targets (by variable) and the log of the total.

    A marginal is NaN where its own part's total is zero; the log total is then -inf whichever
    part is impossible.
    """
    found: dict[str, np.ndarray] = {}
    log_total: np.ndarray = _ZERO
    small = all(part.plan is None or part.plan.small for part in parts)
    with np.errstate(invalid="ignore", divide="ignore"), _one_thread(small):
        for part in parts:
            mine = [arrays[p] for p in part.positions]
            plan = part.plan
            if plan is None:
                for constant in mine:
                    log_total = log_total + np.log(constant)
                continue
            if len(part.targets) > 1:
                marginals, logs = plan._marginals(mine, part.targets)
                found.update(zip((v for _, v in part.targets), marginals, strict=True))
                log_total = log_total + logs
                continue
            if not plan.steps:  # one factor: no contraction to run
                table, log_scale = _lone(plan, mine[0])
            else:
                table, log_scale = plan._contract(mine)
            if part.targets:
                total = table.sum(axis=-1)
                found[part.targets[0][1]] = table / total[..., np.newaxis]
                table = total
            log_total = log_total + log_scale + np.log(table)
    lead = np.shape(log_total)  # a part without a batched factor answers for every element
    for name, marginal in found.items():
        if marginal.ndim == 1 and lead:
            found[name] = np.broadcast_to(marginal, (*lead, marginal.shape[-1])).copy()
    return found, log_total


def _lone(plan: Plan, array: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A part of one factor summed down to its kept variable (if any), batch axis first."""
    names = plan.factors[0]
    wanted = ((BATCH,) if plan.batched else ()) + plan.keep
    table = array
    if names != wanted:
        table = np.einsum(array, list(range(len(names))), [names.index(v) for v in wanted])
    return table, _ZERO


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
        path = search(subscripts, shapes, live)
        ids = list(range(len(factors)))
        count = Counter(v for names in live for v in names)  # over the live tensors
        for contraction in path:
            if len(contraction) < 2:  # a lone tensor summed down: the next pair does that
                ids.append(ids.pop(contraction[0]))  # and, as in the path, it moves last
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
                steps.append(_make_step(x, y, xi, yi, out, variables, batched))
                live.append(out)
                chosen = [len(live) - 1, *chosen[2:]]
            ids.append(chosen[0])
    final = live[-1] if steps else live[0]
    size = variables.get(BATCH, 1)
    expression = None
    if batched and 1 < len(factors) <= UNSCALED:
        expression = opt_einsum.contract_expression(
            subscripts, *(sizes for _, sizes in factors), optimize=path
        )
    names = tuple(n for n, _ in factors)
    cells = math.prod(variables.values())
    direct = None
    if not batched and 1 < len(factors) <= 32 and cells * len(factors) <= DIRECT * len(steps):
        number = {v: i for i, v in enumerate(variables)}
        direct = (*([number[v] for v in n] for n in names), [number[v] for v in keep])
    log_cells = sum(math.log(n) for v, n in variables.items() if v != BATCH)
    floor = math.exp(min(3 * log_cells + math.log(len(steps) + 1), 1e3) + math.log(LOST))
    if batched or not steps or floor > HIGHEST_FLOOR:
        floor = 0.0
    calls = [p.blas for s in steps for p in (s.forward, s.grad_x.pair, s.grad_y.pair)]
    if expression is not None:
        calls += _blas_calls(expression, {symbol[v]: n for v, n in variables.items()})
    small = max(calls, default=0) <= SINGLE
    return Plan(names, keep, tuple(steps), final, batched, size, expression, direct, floor, small)


def _blas_calls(expression: Any, sizes: Mapping[str, int]) -> list[int]:
    """Multiply-adds of each BLAS call of opt_einsum's expression: a step it flags as one is a
    tensordot over every index of its operands; its other steps run as einsum, without BLAS."""
    return [
        math.prod(sizes[i] for i in set(step[2].split("->")[0]) - {","})
        for step in expression.contraction_list
        if step[-1]
    ]


def _make_step(
    x: int,
    y: int,
    xi: tuple[str, ...],
    yi: tuple[str, ...],
    out: tuple[str, ...],
    sizes: Mapping[str, int],
    batched: bool,
) -> _Step:
    gout = _grad_vars(out, batched)

    def grad(mine: tuple[str, ...], other: tuple[str, ...]) -> _Grad:
        full = _grad_vars(mine, batched)
        kept = tuple(v for v in full if v in gout or v in other)
        shape = None
        if kept != full:
            shape = tuple(sizes[v] if v in kept else 1 for v in full)
        return _Grad(_Pair.make(gout, other, kept, sizes), shape)

    return _Step(x, y, _Pair.make(xi, yi, out, sizes), BATCH in out, grad(xi, yi), grad(yi, xi))
