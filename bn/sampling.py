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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bn.engine import intervene
from bn.errors import BNError, param
from bn.evidence import Evidence
from bn.model import Model

if TYPE_CHECKING:
    import pandas as pd

METHODS = ("weighting", "rejection")
MIN_ACCEPTANCE = 1e-4  # rejection below this rate would draw ten thousand cases for each one kept
MAX_CASES = 100_000_000


@dataclass(frozen=True)
class Draws:
    """Drawn states as indices, `codes[node]` of shape (n,), and a weight per case."""

    codes: Mapping[str, np.ndarray]
    weights: np.ndarray


def forward(
    model: Model, n: int, rng: np.random.Generator, fixed: Mapping[str, int] | None = None
) -> Draws:
    """`n` forward draws; nodes in `fixed` take that state and weigh the case by its probability."""
    fixed = fixed or {}
    codes: dict[str, np.ndarray] = {}
    weights = np.ones(n)
    for node in model.nodes:
        rows = node.table.reshape(-1, node.card)
        if node.parents:
            index = np.ravel_multi_index([codes[p] for p in node.parents], node.parent_shape)
        else:
            index = np.zeros(n, dtype=np.intp)
        if node.id in fixed:
            state = fixed[node.id]
            codes[node.id] = np.full(n, state)
            weights *= rows[index, state]
            continue
        # One search over every row's cumulative distribution laid end to end (row r shifted by
        # r), rather than an n x states comparison: each case finds its state in its own row.
        cumulative = np.cumsum(rows, axis=1)
        cumulative[:, -1] = 1.0  # rounding must never leave a case past the last state
        flat = (cumulative + np.arange(len(rows))[:, None]).ravel()
        position = np.searchsorted(flat, rng.random(n) + index, side="right")
        codes[node.id] = np.minimum(position - index * node.card, node.card - 1).astype(np.intp)
    return Draws(codes, weights)


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
        draws, used = forward(model, n, rng), "forward"
    elif method == "weighting":
        draws, used = forward(model, n, rng, hard), "likelihood weighting"
        if not draws.weights.any():
            raise BNError("the evidence has probability 0: no case can agree with it")
    else:
        draws, used = _rejection(model, n, rng, hard), "rejection"
    columns = {}
    for node in model.nodes:
        states = pd.Index(list(node.states), dtype=object)
        columns[node.id] = pd.Categorical.from_codes(draws.codes[node.id], categories=states)
    frame = pd.DataFrame(columns)
    if used == "likelihood weighting":
        frame["weight"] = draws.weights
    return frame, used


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
    return Draws(codes, np.ones(n))


def encode(frame: pd.DataFrame, parquet: bool = False) -> bytes:
    """Cases as CSV bytes (pyarrow's writer: floats exact, fast; quotes only where needed) or
    parquet bytes."""
    import io

    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    from bn.csvfiles import csv_line

    table = pa.Table.from_pandas(frame, preserve_index=False)  # states stay dictionary-encoded
    buffer = io.BytesIO()
    if parquet:
        pyarrow.parquet.write_table(table, buffer)
        return buffer.getvalue()
    plain = all(_plain(str(s)) for c in frame.columns for s in _values(frame[c]))
    options = pyarrow.csv.WriteOptions(
        include_header=False, quoting_style="none" if plain else "needed"
    )
    pyarrow.csv.write_csv(table, buffer, options)
    return csv_line(list(frame.columns)).encode("utf-8") + buffer.getvalue()


def _values(column: pd.Series) -> list[object]:
    """The distinct texts a column can hold: a categorical's categories, else nothing to check
    (numbers, such as the weight, never need quotes)."""
    return list(column.cat.categories) if hasattr(column, "cat") else []


def _plain(text: str) -> bool:
    """Whether a cell can be written without quotes (no comma, quote or line break; not empty)."""
    return bool(text) and not any(c in text for c in ',"\r\n') and text.strip() == text


def write_table(frame: pd.DataFrame, path: str | Path) -> None:
    """Write cases to `path` atomically: parquet for `.parquet`/`.pq`, else CSV."""
    from bn.files import write_atomic

    path = Path(path)
    write_atomic(path, encode(frame, parquet=path.suffix.lower() in {".parquet", ".pq"}))
