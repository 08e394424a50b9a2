"""Parameter uncertainty: an interval on a posterior from the uncertainty in the tables themselves.

A CPT row with an `ess` (equivalent sample size) is uncertain: its probabilities are the mean of a
Dirichlet(ess x row) distribution, so a row `0.3, 0.7` with ess 10 is as firm as 3 "yes" in 10
observations. Rows without an ess are exact. `sample` draws n parameter sets and answers the query
under every one of them as one batched contraction through the engine's batch axis (in chunks that
keep memory bounded); `uncertainty` summarises the draws as a mean, median and intervals.

Each uncertain cell has its own random stream, keyed by the seed, the node and the cell. So the same
seed gives the same draws whatever the chunk size, whatever other nodes the query touches, and in
every scenario: scenarios compared with one seed share their parameter draws (common random numbers).
(Rows with a tiny ess, drawn in log space, agree across chunk sizes to rounding rather than bit for
bit: numpy's vectorised exp and log may differ in the last place between loop body and tail.)

>>> import bn
>>> m = bn.load(bn.packaged_model_path())
>>> u = uncertainty(m, "KABOOM", "yes", m.evidence(), n=2000, seed=1)
>>> round(u.point, 3)
0.168
>>> u.interval_90[0] < u.point < u.interval_90[1]
True
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import tracemalloc
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import numpy as np

from bn.engine import intervene, posterior
from bn.errors import BNError, EvidenceError
from bn.evidence import Evidence
from bn.forms import NoisyMax, Ranked
from bn.model import Model, Node

MEMORY_BUDGET = (
    400_000_000  # bytes per chunk: the run stays under about 500 MB with the interpreter
)
PROBE = 2048  # draws in each of the first two chunks; the second's peak memory sizes the others
LARGEST_CHUNK = 16384  # larger chunks fall out of the CPU caches and run no faster
SMALL_ALPHA = 0.5  # rows whose largest Dirichlet weight is below this are drawn in log space
TINY_LOG = -690.0  # in log space, shares below e^-690 (about 1e-300) of a row's largest become 0

Progress = Callable[[int, int], None]
Question = tuple[Model, Evidence]


def uncertain_rows(model: Model, nodes: set[str] | None = None) -> int:
    """How many rows (of the given nodes, default all) carry an ess.

    >>> import bn
    >>> uncertain_rows(bn.load(bn.packaged_model_path()), {"starlink"})
    1
    """
    return sum(int(np.isfinite(_ess(n)).sum()) for n in model if nodes is None or n.id in nodes)


def _ess(node: Node) -> np.ndarray:
    """The ess of what is drawn: a noisy node's links and leak, a ranked node's weights and
    variance, else its table's rows."""
    if isinstance(node.form, Ranked):
        return np.array([*node.form.ess, node.form.variance_ess])
    return node.form.ess if isinstance(node.form, NoisyMax) else node.ess


def _sampler(node: Node, seed: int) -> _NodeSampler:
    """The sampler of a node's table: of its links and leak for a noisy node."""
    if isinstance(node.form, NoisyMax):
        return _LinkSampler(node, seed)
    if isinstance(node.form, Ranked):
        return _RankedSampler(node, seed)
    return _NodeSampler(node, seed)


@dataclass(frozen=True)
class _Cell:
    """One uncertain cell: its state, its Dirichlet weight and its own random streams."""

    state: int
    alpha: float
    gamma: np.random.Generator
    uniform: np.random.Generator | None  # only for rows drawn in log space


class _NodeSampler:
    """Draws a node's table n times: Dirichlet(ess x row) for rows with an ess, fixed otherwise.

    Each uncertain cell has its own generators, seeded by (seed, node id, cell), so that the draws
    of a cell never depend on the chunk size or on which other cells are drawn.
    """

    def __init__(self, node: Node, seed: int) -> None:
        self.node = node
        key = zlib.crc32(node.id.encode())
        ess = np.where(np.isfinite(node.ess), node.ess, 0.0)
        alpha = ess[..., None] * node.table
        self.cells: dict[tuple[int, ...], list[_Cell]] = {}
        for combo in np.ndindex(*node.parent_shape):
            if not np.isfinite(node.ess[combo]):
                continue
            flat = int(np.ravel_multi_index(combo, node.parent_shape)) if combo else 0
            tiny = alpha[combo].max() < SMALL_ALPHA
            self.cells[combo] = [
                _Cell(
                    s,
                    float(a),
                    np.random.default_rng([seed, key, flat * node.card + s]),
                    np.random.default_rng([seed, key, flat * node.card + s, 1]) if tiny else None,
                )
                for s, a in enumerate(alpha[combo])
                if a > 0
            ]

    def draw(self, size: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Tables of shape (size, *parents, card); only the rows where the boolean mask `rows`
        (shape: the parent combinations) is true are drawn, the others keep their fixed values."""
        table, tasks = self.plan(size, rows)
        for task in tasks:
            task()
        return table

    def plan(
        self, size: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[Callable[[], None]]]:
        """The table to fill, and one task per uncertain row that fills it (tasks can run in
        threads: numpy's generators release the GIL, and every cell has its own generators).

        The table is stored batch-last: the einsum's inner loops then run over the long,
        contiguous batch axis (about 15x faster than batch-first).
        """
        node = self.node
        out = np.empty((*node.table.shape, size))
        out[...] = node.table[..., None]
        tasks: list[Callable[[], None]] = [
            functools.partial(_draw_row, out[combo], cells)
            for combo, cells in self.cells.items()
            if rows is None or rows[combo]
        ]
        return np.moveaxis(out, -1, 0), tasks


class _LinkSampler(_NodeSampler):
    """Draws a noisy node's links and leak, each Dirichlet(ess x row) with its own ess, and
    expands every draw into a table: the parameters the analyst gave are what is uncertain."""

    def __init__(self, node: Node, seed: int) -> None:
        assert isinstance(node.form, NoisyMax)
        self.full, self.form = node, node.form
        rows = Node(node.id, node.states, ("_row",), node.form.rows, node.form.ess)
        # the rows as a one-parent table, so that the cells and their random streams are drawn
        # exactly as a table's
        super().__init__(
            replace(rows, parent_states=(tuple(map(str, range(len(rows.table)))),)), seed
        )

    def plan(
        self, size: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[Callable[[], None]]]:
        drawn, tasks = super().plan(size, None)
        out = np.empty((size, *self.full.table.shape))

        def expand() -> None:
            for task in tasks:
                task()
            out[...] = self.form.expand(drawn)

        return out, [expand]


class _RankedSampler(_NodeSampler):
    """Draws a ranked node's weights, each Gamma(ess, weight / ess) (mean: the weight), and its
    variance, variance_ess * variance / chi2(variance_ess) (the variance of a normal seen in
    variance_ess observations), each with its own random stream; then expands every draw."""

    def __init__(self, node: Node, seed: int) -> None:
        assert isinstance(node.form, Ranked)
        self.full, self.form = node, node.form
        key = zlib.crc32(node.id.encode())
        self.streams = [np.random.default_rng([seed, key, i]) for i in range(len(_ess(node)))]

    def plan(
        self, size: int, rows: np.ndarray | None = None
    ) -> tuple[np.ndarray, list[Callable[[], None]]]:
        form = self.form
        out = np.empty((size, *self.full.table.shape))

        def expand() -> None:
            weights = np.broadcast_to(form.weights, (size, len(form.weights))).copy()
            for i, ess in enumerate(form.ess):
                if np.isfinite(ess):
                    weights[:, i] = (
                        self.streams[i].standard_gamma(ess, size) * form.weights[i] / ess
                    )
            variances = np.full(size, form.variance)
            ess = form.variance_ess
            if np.isfinite(ess):
                chi2 = 2 * self.streams[-1].standard_gamma(ess / 2, size)
                variances = ess * form.variance / chi2
            # a draw of 0 (gamma variates of a tiny ess underflow) or a normal so wide that
            # its masses cancel would give no table: weights stay above 1e-300, variances below
            # 1e6 (a standard deviation 1000 times [0, 1]: uniform rows to 1e-6)
            weights = np.maximum(weights, 1e-300)
            out[...] = form.expand_draws(weights, np.minimum(variances, 1e6))

        return out, [expand]


def _draw_row(row: np.ndarray, cells: list[_Cell]) -> None:
    """Fill `row` (shape (card, size)) with Dirichlet draws: one gamma variate per cell, normalised."""
    row[...] = 0.0
    if cells[0].uniform is not None:
        _draw_log_space(row, cells)
        return
    for cell in cells:
        cell.gamma.standard_gamma(cell.alpha, out=row[cell.state])
    row /= row.sum(axis=0)


def _draw_log_space(row: np.ndarray, cells: list[_Cell]) -> None:
    """Dirichlet draws for tiny weights, where every gamma variate may underflow to 0.

    log G(a) = log G(a + 1) + log(U) / a (Marsaglia and Tsang's boost); normalise in log space.
    """
    size = row.shape[-1]
    logs = np.full(row.shape, -np.inf)
    for cell in cells:
        assert cell.uniform is not None  # set for every cell of a row drawn in log space
        boost = np.log(cell.uniform.random(size)) / cell.alpha
        logs[cell.state] = np.log(cell.gamma.standard_gamma(cell.alpha + 1.0, size)) + boost
    logs -= logs.max(axis=0)
    logs[logs < TINY_LOG] = -np.inf  # no subnormal probabilities: they cost precision downstream
    np.exp(logs, out=row)
    row /= row.sum(axis=0)


def draw_tables(
    model: Model, n: int, seed: int, nodes: set[str] | None = None
) -> dict[str, np.ndarray]:
    """n draws of every table with an uncertain row (of `nodes`, default all): shape (n, *parents,
    card). These are exactly the draws `sample` uses with the same seed: the way to get the
    parameter sets themselves, e.g. to answer the same draws with another engine.

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> tables = draw_tables(m, 3, seed=0)
    >>> tables["starlink"].shape, bool(np.allclose(tables["starlink"].sum(axis=-1), 1))
    ((3, 3), True)
    """
    return {
        node.id: _sampler(node, seed).draw(n)
        for node in model
        if (nodes is None or node.id in nodes) and np.isfinite(_ess(node)).any()
    }


Key = tuple[str, bytes, bytes, bytes]  # what a node's draws depend on: overlays change it


def _key(node: Node) -> Key:
    """A node's id, table, ess and compact parameters: two nodes with one key draw the same
    tables. A compact node's draws come from its parameters and their ess, which two nodes with
    the same expanded table need not share."""
    form = node.form
    if isinstance(form, NoisyMax):
        given = repr((form.form, form.absent, form.parent_absent, form.labels)).encode()
        params = given + form.rows.tobytes() + form.ess.tobytes()
    elif isinstance(form, Ranked):
        given = repr((form.function, form.mix, form.variance, form.variance_ess)).encode()
        params = given + form.weights.tobytes() + form.ess.tobytes()
    else:
        params = b""
    return node.id, node.table.tobytes(), node.ess.tobytes(), params


@dataclass
class _Draws:
    """The parameter draws shared by several questions: one sampler per distinct table, and in
    each chunk one draw per table, of the union of the rows the questions need."""

    seed: int
    pool: ThreadPoolExecutor | None = None
    samplers: dict[Key, _NodeSampler] = field(default_factory=dict)

    def chunk(
        self, questions: Sequence[Question], rows: Sequence[dict[str, np.ndarray]], size: int
    ) -> list[dict[str, np.ndarray]]:
        needed: dict[Key, np.ndarray] = {}
        for (model, _), masks in zip(questions, rows, strict=True):
            for name, mask in masks.items():
                key = _key(model[name])
                needed[key] = needed[key] | mask if key in needed else mask
                if key not in self.samplers:
                    self.samplers[key] = _sampler(model[name], self.seed)
        drawn, tasks = {}, []
        for key, mask in needed.items():
            drawn[key], more = self.samplers[key].plan(size, mask)
            tasks += more
        if self.pool is None:
            for task in tasks:
                task()
        else:
            for _ in self.pool.map(lambda task: task(), tasks):
                pass
        return [
            {name: drawn[_key(model[name])] for name in masks}
            for (model, _), masks in zip(questions, rows, strict=True)
        ]


def _uncertain_rows(model: Model, target: str, evidence: Evidence) -> dict[str, np.ndarray]:
    """For each node whose table can move the answer, a mask of its rows that can: the rows with an
    ess, of the ancestors of the target and the evidence after surgery (minus the nodes set by
    do()), whose parents agree with the hard evidence and do() (the others are sliced away)."""
    surgery = intervene(model, evidence.do)
    named = [target, *evidence.hard, *evidence.likelihood, *evidence.soft]
    fixed = {k: model[k].states.index(v) for k, v in {**evidence.hard, **evidence.do}.items()}
    masks = {}
    for name in surgery.ancestors(named) - set(evidence.do):
        node = model[name]
        mask = np.isfinite(node.ess)
        if node.form is not None:  # every row depends on every link and the leak (or weight)
            mask = np.full(node.parent_shape, np.isfinite(_ess(node)).any())
        for axis, parent in enumerate(node.parents):
            if parent in fixed:
                keep = np.zeros(node.parent_shape[axis], dtype=bool)
                keep[fixed[parent]] = True
                mask = mask & keep.reshape([-1 if a == axis else 1 for a in range(mask.ndim)])
        if mask.any():
            masks[name] = mask
    return masks


class _PeakMemory:
    """Bytes allocated at the peak of a `with` block, measured with tracemalloc.

    A caller's own tracing is left running: then the peak since it started (or last reset) minus
    what was held on entry is used, which can only overstate the block's peak (smaller chunks).

    >>> with _PeakMemory() as probe:
    ...     block = bytearray(10_000_000)
    >>> probe.peak >= 10_000_000, tracemalloc.is_tracing()
    (True, False)
    """

    def __init__(self) -> None:
        self.peak = 0
        self.owner = False
        self.held = 0

    def __enter__(self) -> _PeakMemory:
        self.owner = not tracemalloc.is_tracing()
        if self.owner:
            tracemalloc.start()
        self.held = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.peak = max(0, tracemalloc.get_traced_memory()[1] - self.held)
        if self.owner:
            tracemalloc.stop()


def sample(
    questions: Sequence[Question],
    target: str,
    state: str,
    *,
    n: int,
    seed: int,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """P(target = state | evidence) under n parameter draws, for each (model, resolved evidence).

    Returns shape (len(questions), n); NaN where a draw makes the evidence impossible. All draws of
    a chunk go through the engine as one batched contraction. `chunk` fixes the chunk size (default:
    sized from the memory used by a first, small chunk).
    """
    if n < 1:
        raise BNError(f"the number of draws must be at least 1 (got {n})")
    if seed < 0:
        raise BNError(f"the seed must be a non-negative integer (got {seed})")
    if not questions:
        return np.empty((0, n))
    target = questions[0][0].resolve(target)
    rows = [_uncertain_rows(model, target, evidence) for model, evidence in questions]
    index = [model[target].state_index(state) for model, _ in questions]
    out = np.empty((len(questions), n))
    workers = min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    with ThreadPoolExecutor(workers) if workers > 1 else contextlib.nullcontext() as pool:
        draws = _Draws(seed, pool)
        done, size = 0, min(n, chunk or PROBE)
        while done < n:
            # The last chunk is drawn full size and cut: one batch shape fewer to compile. The
            # second chunk's peak memory sizes the rest: the first compiles the plans, and a path
            # search runs several times slower under tracemalloc (10 to 20 ms on the flagship).
            probe = _PeakMemory() if chunk is None and done == PROBE and n - done > size else None
            with probe or contextlib.nullcontext():
                tables = draws.chunk(questions, rows, size)
                used = min(size, n - done)
                for k, ((model, evidence), batch) in enumerate(zip(questions, tables, strict=True)):
                    marginal = posterior(model, [target], evidence, tables=batch).marginals[target]
                    out[k, done : done + used] = np.broadcast_to(marginal[..., index[k]], (size,))[
                        :used
                    ]
            done += used
            if probe is not None:
                largest = min(
                    LARGEST_CHUNK, max(64, int(MEMORY_BUDGET * size / max(probe.peak, 1)))
                )
                chunks = math.ceil((n - done) / largest) if n > done else 1
                size = math.ceil((n - done) / chunks) if n > done else size
            if progress is not None:
                progress(done, n)
    return out


@dataclass(frozen=True)
class Uncertainty:
    """Summary of the posterior P(target = state) over parameter draws."""

    target: str
    state: str
    n: int
    seed: int
    point: float
    draws: np.ndarray = field(repr=False)
    threshold: float | None = None
    rows: int = 0  # uncertain rows that can move the answer

    @property
    def valid(self) -> np.ndarray:
        """The draws under which the evidence is possible."""
        finite: np.ndarray = self.draws[np.isfinite(self.draws)]
        return finite

    @property
    def dropped(self) -> int:
        """Draws under which the evidence is impossible (left out of every statistic)."""
        return int(self.n - self.valid.size)

    @property
    def mean(self) -> float:
        return float(self.valid.mean())

    @property
    def median(self) -> float:
        return float(np.median(self.valid))

    @property
    def std(self) -> float:
        return float(self.valid.std(ddof=1)) if self.valid.size > 1 else 0.0

    @property
    def standard_error(self) -> float:
        """Monte Carlo standard error of the mean."""
        return self.std / math.sqrt(self.valid.size)

    def interval(self, level: float) -> tuple[float, float]:
        """The central interval holding `level` of the draws (e.g. 0.9: 5th to 95th percentile)."""
        low, high = np.quantile(self.valid, [(1 - level) / 2, (1 + level) / 2])
        return float(low), float(high)

    @property
    def interval_90(self) -> tuple[float, float]:
        return self.interval(0.90)

    @property
    def interval_95(self) -> tuple[float, float]:
        return self.interval(0.95)

    @property
    def share_above(self) -> float | None:
        if self.threshold is None:
            return None
        return float(np.mean(self.valid > self.threshold))

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn uncertainty --json`."""
        return {
            "target": f"{self.target}={self.state}",
            "n": self.n,
            "seed": self.seed,
            "point": self.point,
            "mean": self.mean,
            "median": self.median,
            "interval_90": list(self.interval_90),
            "interval_95": list(self.interval_95),
            "share_above": self.share_above,
            "threshold": self.threshold,
            "std": self.std,
            "uncertain_rows": self.rows,
            "dropped": self.dropped,
        }


def uncertainty(
    model: Model,
    target: str,
    state: str,
    evidence: Evidence,
    *,
    n: int = 100_000,
    seed: int = 0,
    threshold: float | None = None,
    chunk: int | None = None,
    progress: Progress | None = None,
) -> Uncertainty:
    """Draw n parameter sets and summarise P(target = state | evidence) over them.

    `evidence` must be resolved (`Evidence.resolved` or `model.evidence(...)`).
    """
    if threshold is not None and not 0 <= threshold <= 1:
        raise BNError(f"the threshold is a probability between 0 and 1 (got {threshold})")
    target = model.resolve(target)
    state = model[target].states[model[target].state_index(state)]
    point = posterior(model, [target], evidence).marginals[target]
    draws = sample(
        [(model, evidence)], target, state, n=n, seed=seed, chunk=chunk, progress=progress
    )
    if not np.isfinite(draws).any():
        raise EvidenceError("the evidence is impossible under every parameter draw")
    masks = _uncertain_rows(model, target, evidence)
    rows = sum(
        int(np.isfinite(_ess(model[name])).sum() if model[name].form else mask.sum())
        for name, mask in masks.items()
    )
    value = float(point[model[target].state_index(state)])
    return Uncertainty(target, state, n, seed, value, draws[0], threshold, rows)
