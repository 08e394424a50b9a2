"""Tables of observed cases, for `bn learn`: read from CSV or parquet and checked against a model,
every problem at once with its line and column, into state codes.

Columns are node ids or aliases; an empty cell is missing; a `weight` column weighs each case.
CSV goes through pyarrow's reader straight into dictionary codes, without pandas (0.3 s to
import) or a Python string per cell.

>>> import bn, pandas as pd
>>> chain = bn.load("tests/data/chain")
>>> cases(chain, pd.DataFrame({"kaboom": ["yes", "", "no"]})).codes["nuclear_use"].tolist()
[1, -1, 0]
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import BNError, DataError, Problem
from bn.model import Model, Node
from bn.names import find, suggest

if TYPE_CHECKING:
    import pandas as pd

MAX_PROBLEMS = 20  # bad cells listed one by one; the rest are counted


@dataclass(frozen=True)
class Cases:
    """Observed cases as state indices: `codes[node]` (-1 where missing) for the nodes that have a
    column, and a weight per case (1 unless the data has a `weight` column)."""

    codes: Mapping[str, np.ndarray]
    weights: np.ndarray
    source: str = "data"

    @property
    def size(self) -> int:
        return len(self.weights)

    @functools.cached_property
    def missing(self) -> frozenset[str]:
        """The nodes with a missing value in some case."""
        return frozenset(n for n, c in self.codes.items() if (c < 0).any())

    @functools.cached_property
    def unweighted(self) -> bool:
        return bool((self.weights == 1).all())


@dataclass(frozen=True)
class _Column:
    """One column of a table of cases as distinct texts (stripped) and a label per row."""

    name: str
    labels: np.ndarray  # index into `texts` for each row
    texts: list[str]


def read_cases(model: Model, path: str | Path) -> Cases:
    """The cases of a CSV or parquet file, checked against `model` as `cases` checks a
    DataFrame; pyarrow reads the file straight into state codes (no DataFrame on the way).

    Every cell is text as written (a state named `NA` stays `NA`); an empty cell is missing.
    """
    path = Path(path)
    lines: Callable[[int], int] = _next_line
    problems: list[Problem] = []
    try:
        if path.suffix.lower() in {".parquet", ".pq"}:
            columns = _read_parquet(path)
        else:
            columns, lines, problems = _read_csv(path)
    except FileNotFoundError:
        raise BNError(f"{path}: no such file") from None
    except UnicodeDecodeError as error:
        raise BNError(
            f"{path}: not a table of cases: not UTF-8 text "
            f"(byte 0x{error.object[error.start]:02x} at position {error.start})"
        ) from None
    except (ValueError, OSError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise BNError(f"{path}: not a table of cases: {error}") from None
    return _checked(model, columns, path.name, lines, problems)


def _next_line(row: int) -> int:
    return row + 2  # line 1 is the header


def _read_csv(path: Path) -> tuple[list[_Column], Callable[[int], int], list[Problem]]:
    """The columns, the line of each data row, and the rows whose number of cells is wrong
    (left out, each a problem with its line)."""
    import csv

    import pyarrow as pa
    import pyarrow.csv

    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle), [])
    if not header:
        raise ValueError("the file is empty (a header row of node names is needed)")
    keys = [f"c{i}" for i in range(len(header))]  # the header may repeat a name, or have a BOM
    ragged: list[int] = []

    def skip(row: Any) -> str:
        ragged.append(row.actual_columns)
        return "skip"

    table = pyarrow.csv.read_csv(
        path,
        read_options=pyarrow.csv.ReadOptions(column_names=keys, skip_rows=1),
        parse_options=pyarrow.csv.ParseOptions(invalid_row_handler=skip),
        convert_options=pyarrow.csv.ConvertOptions(
            column_types=dict.fromkeys(keys, pa.dictionary(pa.int32(), pa.string())),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    ).unify_dictionaries()
    columns = [_column(name, column) for name, column in zip(header, table.columns, strict=True)]
    lines = _Lines(path, len(header))
    problems = [
        Problem(path.name, line, f"{got} cell(s), but the header names {len(header)} column(s)")
        for line, got in (lines.ragged if ragged else [])
    ]
    if ragged and not problems:  # pyarrow and Python's csv module disagree on a quote
        problems.append(
            Problem(path.name, None, f"{len(ragged)} row(s) with too few or many cells")
        )
    return columns, lines, problems


class _Lines:
    """The line of each data row of a CSV file, found by reading it again with Python's csv
    module, and only when a problem is reported: pyarrow skips blank lines and the rows with a
    wrong number of cells, and a quoted cell may hold a line break."""

    def __init__(self, path: Path, width: int) -> None:
        self.path = path
        self.width = width

    @functools.cached_property
    def _scan(self) -> tuple[list[int], list[tuple[int, int]]]:
        import csv

        starts: list[int] = []
        ragged: list[tuple[int, int]] = []
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            line = reader.line_num + 1  # where the next record starts
            for row in reader:
                if row and len(row) != self.width:
                    ragged.append((line, len(row)))
                elif row:
                    starts.append(line)
                line = reader.line_num + 1
        return starts, ragged

    @property
    def ragged(self) -> list[tuple[int, int]]:
        """(line, cells) of each row whose number of cells is not the header's."""
        return self._scan[1]

    def __call__(self, row: int) -> int:
        starts = self._scan[0]
        return starts[row] if row < len(starts) else _next_line(row)


def _read_parquet(path: Path) -> list[_Column]:
    import pyarrow.parquet

    table = pyarrow.parquet.read_table(path).unify_dictionaries()
    return [_column(n, c) for n, c in zip(table.column_names, table.columns, strict=True)]


def _column(name: str, column: Any) -> _Column:
    """A pyarrow column as distinct texts and labels; a null (parquet) is an empty cell."""
    import pyarrow as pa

    # The chunks of a dictionary column share one dictionary (`Table.unify_dictionaries`).
    if pa.types.is_dictionary(column.type):
        chunks = column.chunks
    else:  # a parquet column of text or numbers (pyarrow.compute takes 0.1 s to import)
        import pyarrow.compute as pc

        chunks = [pc.dictionary_encode(column.combine_chunks())]
    values = chunks[0].dictionary.to_pylist() if chunks else []
    texts = ["" if v is None else str(v).strip() for v in values] + [""]
    labels = np.concatenate(
        [_labels(c.indices, len(values)) for c in chunks] or [np.zeros(0, np.intp)]
    )
    return _Column(name.strip(), labels, texts)


def _labels(indices: Any, missing: int) -> np.ndarray:
    """Dictionary indices as numpy, nulls as `missing`, read from pyarrow's buffers (its
    `to_numpy` and `fill_null` import pandas: 0.3 s of a cold `bn learn`)."""
    import pyarrow as pa

    kind = "i" if pa.types.is_signed_integer(indices.type) else "u"
    width = indices.type.bit_width // 8
    validity, data = indices.buffers()
    values = np.frombuffer(
        data, dtype=np.dtype(f"{kind}{width}"), count=len(indices), offset=width * indices.offset
    )
    if not indices.null_count:
        return values
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    valid = bits[indices.offset : indices.offset + len(indices)].astype(bool)
    return np.where(valid, values, missing)


def cases(model: Model, data: pd.DataFrame, source: str = "data") -> Cases:
    """The cases in `data` checked against `model`: every unknown column and every value that is
    not a state is reported at once (`DataError`, with row and column), before any work.

    Columns are node ids or aliases; an empty cell is missing; a `weight` column, if any, weighs
    each case (as `bn sample` writes it under evidence).
    """
    import pandas as pd

    columns = []
    for name in data.columns:
        values = data[name]
        if isinstance(values.dtype, pd.CategoricalDtype):
            labels = values.cat.codes.to_numpy()
            found = list(values.cat.categories)
        else:
            labels, uniques = pd.factorize(values.astype(str))
            found = list(uniques)
        texts = [str(v).strip() for v in found] + [""]
        labels = np.where(labels < 0, len(found), labels)  # NaN in a categorical: missing
        columns.append(_Column(str(name).strip(), labels, texts))
    return _checked(model, columns, source)


def _checked(
    model: Model,
    columns: Sequence[_Column],
    source: str,
    lines: Callable[[int], int] = _next_line,
    problems: Sequence[Problem] = (),
) -> Cases:
    """The cases, or every problem of the table (`problems` found before, then the columns')."""
    problems = list(problems)
    codes: dict[str, np.ndarray] = {}
    rows = len(columns[0].labels) if columns else 0
    weights = np.ones(rows)
    for column in columns:
        if column.name == "weight":
            weights = _weights(column, source, problems, lines)
            continue
        if column.name not in model:
            choices = [*model.ids, *(a for n in model for a in n.aliases)]
            problems.append(
                Problem(
                    source,
                    1,
                    f"column '{column.name}' names no node",
                    f"{suggest(column.name, choices)}columns are node ids or aliases: "
                    + ", ".join(model.ids),
                )
            )
            continue
        node = model[column.name]
        if node.id in codes:
            problems.append(Problem(source, 1, f"two columns name node {node.id}"))
            continue
        codes[node.id] = _codes(node, column, source, problems, lines)
    if problems:
        raise DataError(_capped(problems, source))
    return Cases(codes, weights, source)


def _capped(problems: list[Problem], source: str) -> list[Problem]:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(Problem(source, None, f"... and {more} more problem(s)"))
    return shown


def _codes(
    node: Node,
    column: _Column,
    source: str,
    problems: list[Problem],
    lines: Callable[[int], int],
) -> np.ndarray:
    mapping = np.full(len(column.texts), -1, dtype=np.intp)
    for code, value in enumerate(column.texts):
        if value == "":
            continue
        state = find(value, node.states)
        if state is None:
            for row in np.flatnonzero(column.labels == code)[:MAX_PROBLEMS]:
                problems.append(
                    Problem(
                        source,
                        lines(int(row)),
                        f"column {column.name}: '{value}' is not a state of {node.id}",
                        f"{suggest(value, node.states)}states of {node.id}: "
                        + ", ".join(node.states)
                        + " (leave the cell empty if it was not observed)",
                    )
                )
            continue
        mapping[code] = node.states.index(state)
    result: np.ndarray = mapping[column.labels]
    return result


def _weights(
    column: _Column, source: str, problems: list[Problem], lines: Callable[[int], int]
) -> np.ndarray:
    numbers: np.ndarray = np.array([_number(t) for t in column.texts])[column.labels]
    for row in np.flatnonzero(np.isnan(numbers))[:MAX_PROBLEMS]:
        problems.append(
            Problem(
                source,
                lines(int(row)),
                f"column weight: '{column.texts[column.labels[row]]}' is not a non-negative number",
            )
        )
    return numbers


def _number(text: str) -> float:
    """A non-negative finite number, else NaN."""
    try:
        value = float(text)
    except ValueError:
        return math.nan
    return value if math.isfinite(value) and value >= 0 else math.nan
