"""Batched evidence: many cases of hard evidence, each answered as a single query would be.

A table of cases has one column per observed node (its id or an alias), one row per case, and an
empty cell where the node was not observed; an optional `case` column names the cases. Nearly every
case has its own observation pattern, so hard evidence is written as one-hot likelihood vectors on
a batch axis (all ones where a node is unobserved): every case then goes through one compiled plan,
in chunks of `CHUNK` rows.

>>> import bn, pandas as pd
>>> m = bn.load(bn.packaged_model_path())
>>> out = query_cases(m, pd.DataFrame({"kaboom": ["yes", ""]}), ["KABOOM"])
>>> out["case"].tolist(), out["nuclear_war=yes"].round(3).tolist()
([1, 2], [0.56, 0.168])
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.engine import sweep
from bn.errors import EvidenceError, FileFormatError
from bn.model import Model

if TYPE_CHECKING:
    import pandas as pd

CASE = "case"  # the optional column of case ids
CHUNK = 2048  # cases per batched sweep: large enough to amortise the plan, small enough for memory
MAX_LISTED = 50  # bad cells listed in one error


@dataclass(frozen=True)
class Cases:
    """Cases parsed against a model: `observed[node]` holds state indices, -1 where unobserved."""

    ids: list[Any]
    observed: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)


def parse_cases(model: Model, frame: pd.DataFrame, *, first_row: int = 1) -> Cases:
    """Check every cell first: unknown columns and states are all reported, with row and column.

    Rows are numbered from `first_row` (1 is the first row under the header).
    """
    problems: list[str] = []
    columns: dict[str, str] = {}
    for column in frame.columns:
        name = str(column)
        if name == CASE:
            continue
        try:
            node_id = model.resolve(name)
        except EvidenceError as error:
            problems.append(f"column '{name}': {error}")
            continue
        if node_id in columns.values():
            other = next(c for c, n in columns.items() if n == node_id)
            problems.append(f"column '{name}': names {node_id}, as column '{other}' does")
            continue
        columns[name] = node_id
    observed: dict[str, np.ndarray] = {}
    for name, node_id in columns.items():
        node = model[node_id]
        cells = frame[name]
        index = np.full(len(frame), -1, dtype=np.int64)
        empty = cells.isna().to_numpy() | (cells.astype(str).str.strip() == "").to_numpy()
        text = cells.astype(str).str.strip().to_numpy()
        for value in dict.fromkeys(text[~empty]):
            rows = np.flatnonzero((text == value) & ~empty)
            try:
                index[rows] = node.state_index(value)
            except EvidenceError as error:
                for row in rows:
                    problems.append(f"row {row + first_row}, column '{name}': {error}")
        if np.any(index >= 0):
            observed[node_id] = index
    if problems:
        listed = problems[:MAX_LISTED]
        more = len(problems) - len(listed)
        tail = [f"... and {more} more"] if more else []
        raise EvidenceError(
            f"{len(problems)} bad cell(s) in the cases:\n" + "\n".join([*listed, *tail])
        )
    ids = (
        frame[CASE].tolist()
        if CASE in frame.columns
        else list(range(first_row, first_row + len(frame)))
    )
    return Cases(ids, observed)


def columns(model: Model, targets: Sequence[str]) -> list[str]:
    """The output columns for `targets` (canonical ids), in order."""
    states = [f"{t}={s}" for t in targets for s in model[t].states]
    return [CASE, *states, "probability_of_evidence", "log_probability_of_evidence", "error"]


def run_cases(
    model: Model,
    cases: Cases,
    targets: Sequence[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Marginals of `targets` for every case, as columns (see `columns`)."""
    size = len(cases)
    found = {t: np.empty((size, model[t].card)) for t in targets}
    log_mass = np.empty(size)
    for start in range(0, size, CHUNK):
        stop = min(start + CHUNK, size)
        weights = {}
        for node_id, index in cases.observed.items():
            chunk = index[start:stop]
            vector = np.ones((stop - start, model[node_id].card))
            seen = chunk >= 0
            vector[seen] = 0.0
            vector[np.flatnonzero(seen), chunk[seen]] = 1.0
            weights[node_id] = vector
        marginals, logs = sweep(model, list(targets), {}, weights, {})
        for t in targets:
            found[t][start:stop] = np.broadcast_to(marginals[t], (stop - start, model[t].card))
        log_mass[start:stop] = np.broadcast_to(logs, (stop - start,))
        if progress is not None:
            progress(stop - start)
    impossible = ~np.isfinite(log_mass)
    out: dict[str, Any] = {CASE: cases.ids}
    for t in targets:
        found[t][impossible] = np.nan
        for i, state in enumerate(model[t].states):
            out[f"{t}={state}"] = found[t][:, i]
    out["probability_of_evidence"] = np.exp(log_mass)
    out["log_probability_of_evidence"] = log_mass
    out["error"] = [_why(model, cases, row) if bad else "" for row, bad in enumerate(impossible)]
    return out


def _why(model: Model, cases: Cases, row: int) -> str:
    given = [
        f"{node}={model[node].states[index[row]]}"
        for node, index in cases.observed.items()
        if index[row] >= 0
    ]
    return "the evidence is impossible under the model (probability 0): " + ", ".join(given)


def query_cases(
    model: Model,
    frame: pd.DataFrame,
    targets: Sequence[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    first_row: int = 1,
) -> pd.DataFrame:
    """One row per case: `case`, a `node=state` column per target state, P(evidence) and its log,
    and `error` (empty, or why the case is impossible; such rows are kept with NaN marginals)."""
    import pandas as pd

    ids = resolve_targets(model, targets)
    cases = parse_cases(model, frame, first_row=first_row)
    return pd.DataFrame(
        run_cases(model, cases, ids, progress=progress), columns=columns(model, ids)
    )


def resolve_targets(model: Model, targets: Sequence[str] | None) -> list[str]:
    """Canonical target ids; the model's default targets when none are named."""
    names = list(targets) if targets else list(model.default_targets())
    return list(dict.fromkeys(model.resolve(t) for t in names))


@functools.lru_cache(maxsize=8)
def _load(model_dir: str) -> Model:
    from bn.validate import load

    return load(model_dir)


def _partition(
    frame: pd.DataFrame,
    model_dir: str,
    targets: tuple[str, ...],
    offsets: tuple[int, ...],
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    number = partition_info["number"] if partition_info else 0
    return query_cases(_load(model_dir), frame, targets, first_row=offsets[number] + 1)


def _checked(
    frame: pd.DataFrame, model_dir: str, partition_info: dict[str, Any] | None = None
) -> pd.DataFrame:
    import pandas as pd

    try:
        parse_cases(_load(model_dir), frame)
        message = ""
    except EvidenceError as error:
        message = str(error)
    number = partition_info["number"] if partition_info else 0
    return pd.DataFrame({"number": [number], "rows": [len(frame)], "problems": [message]})


def read_dask(pattern: str) -> Any:
    """A dask dataframe of cases from CSV or Parquet files (a glob); every cell read as text."""
    import dask.dataframe as dd

    if pattern.endswith(".parquet") or pattern.endswith(".pq"):
        frame = dd.read_parquet(pattern)
        return frame.astype({c: "object" for c in frame.columns if c != CASE})
    return dd.read_csv(pattern, dtype=str, keep_default_na=False, blocksize=None)


def query_cases_dask(model: Model, frame: Any, targets: Sequence[str] | None = None) -> Any:
    """`query_cases` mapped over the partitions of a dask dataframe (lazy; compute or write it).

    Every partition is checked first, so bad cells stop the run before any work; rows are
    numbered across partitions as in one file. Workers load the model from its directory.
    """
    import pandas as pd

    if model.path is None:
        raise EvidenceError("the model has no directory for dask workers to load it from")
    model_dir = str(model.path)
    ids = tuple(resolve_targets(model, targets))
    meta_checks = pd.DataFrame({"number": pd.Series(dtype=int), "rows": pd.Series(dtype=int)})
    meta_checks["problems"] = pd.Series(dtype=object)
    checks = frame.map_partitions(_checked, model_dir, meta=meta_checks).compute()
    checks = checks.sort_values("number")
    problems = [p for p in checks["problems"] if p]
    offsets = tuple(int(x) for x in np.cumsum([0, *checks["rows"]])[:-1])
    if problems:
        rows = [0, *offsets[1:]]
        raise EvidenceError(_renumber(problems, checks, rows))
    meta = pd.DataFrame({c: pd.Series(dtype=float) for c in columns(model, ids)}).astype(
        {CASE: object, "error": object}
    )
    return frame.map_partitions(_partition, model_dir, ids, offsets, meta=meta)


def _renumber(problems: list[str], checks: Any, offsets: list[int]) -> str:
    """Problems found per partition, with rows renumbered as in one file."""
    import re

    lines: list[str] = []
    for number, text in zip(checks["number"], checks["problems"], strict=True):
        if not text:
            continue
        shift = offsets[int(number)]

        def renumber(match: re.Match[str], shift: int = shift) -> str:
            return f"row {int(match.group(1)) + shift}"

        lines.extend(re.sub(r"^row (\d+)", renumber, line) for line in text.splitlines()[1:])
    return f"{len(lines)} bad cell(s) in the cases:\n" + "\n".join(lines)


def read_cases(path: str) -> pd.DataFrame:
    """A table of cases from CSV or Parquet, every cell as text (a state named NA stays NA)."""
    import pandas as pd

    try:
        if path.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
            return frame.astype({c: "object" for c in frame.columns if c != CASE})
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as error:
        raise FileFormatError(f"cannot read the cases in {path}: {error}") from error


def write_cases(frame: pd.DataFrame, path: str | None) -> str:
    """Write answers to `path` by its extension (.csv, .parquet, .json); CSV text if `path` is None.

    pyarrow writes CSV and Parquet (ten times faster than pandas for wide float tables).
    """
    import io

    import pyarrow as pa
    import pyarrow.csv
    import pyarrow.parquet

    table = pa.Table.from_pandas(frame.astype({CASE: str}), preserve_index=False)
    if path is None:
        sink = io.BytesIO()
        pyarrow.csv.write_csv(table, sink)
        return sink.getvalue().decode()
    if path.endswith((".parquet", ".pq")):
        pyarrow.parquet.write_table(table, path)
    elif path.endswith(".json"):
        frame.to_json(path, orient="records", double_precision=15)
    elif path.endswith(".csv"):
        pyarrow.csv.write_csv(table, path)
    else:
        raise FileFormatError(f"{path}: write .csv, .parquet or .json")
    return ""
