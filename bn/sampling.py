"""Drawing cases from a model: forward sampling, vectorised over cases, reproducible with a seed.

Each node is drawn in topological order, all cases at once: its parents' drawn states pick a row
of its table, and one uniform number per case picks the state. `do()` is graph surgery first.
Hard evidence is handled by likelihood weighting (the default: observed nodes take their
observed state and each case's `weight` is the product of their probabilities given the drawn
parents) or by rejection (cases that disagree with the evidence are drawn again; refused when
the evidence is too rare for that).

>>> import bn
>>> chain = bn.load("tests/data/chain")
>>> frame, method = sample(chain, 100_000, seed=0)
>>> method, round(float((frame["nuclear_war"] == "yes").mean()), 2)
('forward', 0.17)
"""

from __future__ import annotations

import io
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from bn.engine import intervene
from bn.errors import BNError, param
from bn.evidence import Evidence
from bn.model import Model

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

METHODS = ("weighting", "rejection")
MIN_ACCEPTANCE = 1e-4  # rejection below this rate would draw ten thousand cases for each one kept
MAX_CASES = 100_000_000
CSV_SLICE = 125_000  # cases formatted at a time by one of two threads


@dataclass(frozen=True)
class Draws:
    """Drawn states as indices, `codes[node]` of shape (n,), a weight per case, and the method:
    "forward", "likelihood weighting" or "rejection"."""

    codes: Mapping[str, np.ndarray]
    weights: np.ndarray
    method: str = "forward"


def forward(
    model: Model, n: int, rng: np.random.Generator, fixed: Mapping[str, int] | None = None
) -> Draws:
    """`n` forward draws; nodes in `fixed` take that state and weigh the case by its probability."""
    fixed = fixed or {}
    codes: dict[str, np.ndarray] = {}
    weights = np.ones(n)
    for node in model.nodes:
        rows = node.table.reshape(-1, node.card)
        index = np.zeros(n, dtype=np.intp)
        for parent, card in zip(node.parents, node.parent_shape, strict=True):
            index *= card  # the row of each case, as np.ravel_multi_index numbers them
            index += codes[parent]
        kind = np.int8 if node.card < 128 else np.intp
        if node.id in fixed:
            state = fixed[node.id]
            codes[node.id] = np.full(n, state, dtype=kind)
            weights *= rows[index, state]
            continue
        # Row r's cumulative distribution shifted by r, and the case's uniform number shifted by
        # its row: the state is the number of bounds at or below it. (The shift keeps the draws
        # those of one search over every row laid end to end, as bn has always drawn them.)
        bounds = np.cumsum(rows, axis=1) + np.arange(len(rows))[:, None]
        position = rng.random(n)
        position += index
        code: np.ndarray = np.zeros(n, dtype=kind)
        for k in range(node.card - 1):  # the last bound is 1 + r: every case is at or below it
            code += position >= (bounds[0, k] if len(rows) == 1 else bounds[:, k][index])
        codes[node.id] = code
    return Draws(codes, weights)


def draw(
    model: Model,
    n: int,
    seed: int = 0,
    evidence: Evidence | None = None,
    method: str = "weighting",
) -> Draws:
    """`n` cases drawn from `model` as state indices (see the module; `sample` gives a
    DataFrame). With hard evidence: likelihood weighting, or rejection."""
    if not 1 <= n <= MAX_CASES:
        raise BNError(f"{param('n')} {n} is not between 1 and {MAX_CASES:,}")
    if method not in METHODS:
        raise BNError(f"{param('method')} '{method}' is not one of {', '.join(METHODS)}")
    evidence = (evidence or Evidence()).resolved(model)
    if evidence.likelihood or evidence.soft:
        raise BNError(
            "only hard evidence and do() can be sampled: likelihood and soft evidence change "
            "the distribution, not the cases"
        )
    model = intervene(model, evidence.do)
    hard = {name: model[name].state_index(state) for name, state in evidence.hard.items()}
    rng = np.random.default_rng(seed)
    if not hard:
        return forward(model, n, rng)
    if method == "weighting":
        draws = forward(model, n, rng, hard)
        if not draws.weights.any():
            raise BNError("the evidence has probability 0: no case can agree with it")
        return replace(draws, method="likelihood weighting")
    return _rejection(model, n, rng, hard)


def sample(
    model: Model,
    n: int,
    seed: int = 0,
    evidence: Evidence | None = None,
    method: str = "weighting",
) -> tuple[pd.DataFrame, str]:
    """`n` cases as a DataFrame (a column per node, states as written; a `weight` column with
    likelihood weighting), and the method used: "forward", "likelihood weighting" or "rejection"."""
    import pandas as pd

    draws = draw(model, n, seed, evidence, method)
    columns = {}
    for node in model.nodes:
        states = pd.Index(list(node.states), dtype=object)
        columns[node.id] = pd.Categorical.from_codes(draws.codes[node.id], categories=states)
    frame = pd.DataFrame(columns)
    if draws.method == "likelihood weighting":
        frame["weight"] = draws.weights
    return frame, draws.method


def _rejection(model: Model, n: int, rng: np.random.Generator, hard: Mapping[str, int]) -> Draws:
    kept: list[dict[str, np.ndarray]] = []
    total = drawn = 0
    while total < n:
        batch = max(1000, min(10_000_000, 2 * (n - total) * max(1, drawn // max(total, 1))))
        draws = forward(model, batch, rng)
        drawn += batch
        agree = np.logical_and.reduce([draws.codes[k] == v for k, v in hard.items()])
        if drawn >= 1_000_000 and (total + agree.sum()) / drawn < MIN_ACCEPTANCE:
            raise BNError(
                f"rejection kept {total + int(agree.sum())} of {drawn:,} draws: the evidence is "
                f"too rare; use {param('method')} weighting"
            )
        kept.append({k: v[agree] for k, v in draws.codes.items()})
        total += int(agree.sum())
    codes = {k: np.concatenate([part[k] for part in kept])[:n] for k in kept[0]}
    return Draws(codes, np.ones(n), "rejection")


def to_arrow(model: Model, draws: Draws) -> pa.Table:
    """The cases as a pyarrow table: a dictionary-encoded column of states per node (built from
    the codes' buffers: no Python string per case), and `weight` with likelihood weighting."""
    import pyarrow as pa

    columns, names = [], []
    for node in model.nodes:
        codes = np.ascontiguousarray(
            draws.codes[node.id], dtype=np.int8 if node.card < 128 else np.int32
        )
        kind = pa.int8() if codes.dtype == np.int8 else pa.int32()
        indices = pa.Array.from_buffers(kind, len(codes), [None, pa.py_buffer(codes)])
        columns.append(pa.DictionaryArray.from_arrays(indices, _strings(node.states)))
        names.append(node.id)
    if draws.method == "likelihood weighting":
        weights = np.ascontiguousarray(draws.weights, dtype=np.float64)
        columns.append(
            pa.Array.from_buffers(pa.float64(), len(weights), [None, pa.py_buffer(weights)])
        )
        names.append("weight")
    return pa.Table.from_arrays(columns, names=names)


def _strings(texts: Sequence[str]) -> pa.Array:
    """A pyarrow string array from its buffers (`pa.array` on a list imports pandas: 0.3 s)."""
    import pyarrow as pa

    data = [t.encode("utf-8") for t in texts]
    offsets = np.cumsum([0, *map(len, data)], dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(texts), buffers)


def write_csv(table: pa.Table, handle: BinaryIO) -> None:
    """Cases as CSV (pyarrow's writer: floats exact, fast; quotes only where some state needs
    them), the header written as bn writes one."""
    import pyarrow.csv

    from bn.csvfiles import csv_line

    plain = all(
        _plain(str(s))
        for column in table.columns
        if hasattr(column.type, "value_type")
        for s in column.chunk(0).dictionary.to_pylist()
    )
    handle.write(csv_line(list(table.column_names)).encode("utf-8"))
    options = pyarrow.csv.WriteOptions(
        include_header=False, quoting_style="none" if plain else "needed"
    )

    def text(part: pa.Table) -> bytes:
        out = io.BytesIO()
        pyarrow.csv.write_csv(part, out, options)
        return out.getvalue()

    # pyarrow formats slices on two threads (it lets go of the GIL); they are written in order,
    # with at most three slices in memory
    with ThreadPoolExecutor(2) as pool:
        pending: deque[Future[bytes]] = deque()
        for start in range(0, table.num_rows, CSV_SLICE):
            pending.append(pool.submit(text, table.slice(start, CSV_SLICE)))
            if len(pending) > 2:
                handle.write(pending.popleft().result())
        while pending:
            handle.write(pending.popleft().result())


def _plain(text: str) -> bool:
    """Whether a cell can be written without quotes (no comma, quote or line break; not empty)."""
    return bool(text) and not any(c in text for c in ',"\r\n') and text.strip() == text


def write_table(table: pa.Table, path: str | Path) -> None:
    """Write cases to `path` atomically, as they are encoded (no copy of the whole file in
    memory): parquet for `.parquet`/`.pq`, else CSV."""
    import pyarrow.parquet

    from bn.files import atomic_file

    path = Path(path)
    with atomic_file(path) as handle:
        if path.suffix.lower() in {".parquet", ".pq"}:
            pyarrow.parquet.write_table(table, handle)
        else:
            write_csv(table, handle)
