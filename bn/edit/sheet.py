"""A node's CSV file as an editable document: `Sheet.parse` reads it, `Sheet.text` writes it back,
unchanged rows byte for byte (see `bn.edit`)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bn.csvfiles import RESERVED, csv_records, decode_text, parse_probability, parse_table
from bn.errors import ModelError, Problem
from bn.influence import UTILITY, parse_utility, utility_header
from bn.names import choose


@dataclass
class Row:
    """One row of a node file: cells as text, plus the comment lines written just above it."""

    parents: list[str]
    probs: list[str]
    ess: str = ""
    note: str = ""
    comments: list[str] = field(default_factory=list)
    raw: str | None = None  # the row's text as read; written back when nothing changed
    line: int = 0

    def __post_init__(self) -> None:
        self._read = self.cells()

    def cells(self) -> tuple[tuple[str, ...], tuple[str, ...], str, str]:
        return tuple(self.parents), tuple(self.probs), self.ess, self.note

    @property
    def changed(self) -> bool:
        return self.raw is None or self.cells() != self._read

    def copy(self, **changes: Any) -> Row:
        """A new row (written afresh) with the same cells, comments moved only when given."""
        values: dict[str, Any] = {
            "parents": list(self.parents),
            "probs": list(self.probs),
            "ess": self.ess,
            "note": self.note,
            "comments": [],
        }
        values.update(changes)
        return Row(**values)


@dataclass
class Sheet:
    """A node's CSV file as an editable document. `text()` writes it back."""

    node: str
    parents: list[str]
    states: list[str]
    extras: list[str]  # "ess" and/or "note", in file order
    rows: list[Row]
    head: list[str] = field(default_factory=list)  # comment/blank lines above the header
    tail: list[str] = field(default_factory=lambda: [""])  # lines after the last row
    header_raw: str | None = None
    quote_notes: bool = False  # write every non-empty note in quotes, as most of the file does
    utility: bool = False  # a utility's file: no states, one `utility` value per row (in probs)

    def __post_init__(self) -> None:
        self._layout = self.layout()

    def layout(self) -> tuple[int, int, tuple[str, ...]]:
        return len(self.parents), len(self.states), tuple(self.extras)

    @classmethod
    def parse(cls, data: bytes, file: str, keep_bad_rows: bool = False) -> Sheet:
        """Read a node file; `ModelError` if its header or rows cannot be read as a table.

        With `keep_bad_rows`, a row with the wrong number of cells is no error: it is kept
        verbatim, like a comment line above the next row.
        """
        problems: list[Problem] = []
        text = decode_text(data, file, problems)
        if text is not None and utility_header(text):
            return cls._parse_utility(text, file, keep_bad_rows)
        table = None if text is None else parse_table(text, file, problems)
        if text is None or table is None or (problems and not keep_bad_rows):
            raise ModelError(problems)
        lines = text.split("\n")
        records = csv_records(text)
        first, last, _ = records[0]
        ends = {start: end for start, end, _ in records[1:]}
        extras = [c for c in table.columns if c in RESERVED]
        rows = []
        previous = last
        for raw in table.rows:
            start, end = raw.line, ends[raw.line]
            rows.append(
                Row(
                    list(raw.parents),
                    list(raw.probs),
                    raw.ess,
                    raw.note,
                    lines[previous : start - 1],
                    "\n".join(lines[start - 1 : end]),
                    start,
                )
            )
            previous = end
        notes = [r for r in rows if r.note]
        quoted = [r for r in notes if (r.raw or "").rstrip().endswith('"')]
        return cls(
            quote_notes=extras[-1:] == ["note"] and len(quoted) * 2 > len(notes),
            node=table.node,
            parents=list(table.parents),
            states=list(table.states),
            extras=extras,
            rows=rows,
            head=lines[: first - 1],
            tail=lines[previous:],
            header_raw="\n".join(lines[first - 1 : last]),
        )

    @classmethod
    def _parse_utility(cls, text: str, file: str, keep_bad_rows: bool) -> Sheet:
        """A utility's file: `parent,...,utility[,note]`, one row per parent combination; its
        value is the row's one `probs` cell."""
        problems: list[Problem] = []
        raw = parse_utility(text, file, problems)
        if raw is None or (problems and not keep_bad_rows):
            raise ModelError(problems)
        lines = text.split("\n")
        records = csv_records(text)
        first, last, _ = records[0]
        ends = {start: end for start, end, _ in records[1:]}
        rows, previous = [], last
        for line, parents, value, note in raw.rows:
            end = ends[line]
            raw_text = "\n".join(lines[line - 1 : end])
            rows.append(
                Row(list(parents), [value], "", note, lines[previous : line - 1], raw_text, line)
            )
            previous = end
        notes = [r for r in rows if r.note]
        quoted = [r for r in notes if (r.raw or "").rstrip().endswith('"')]
        extras = ["note"] if "note" in _cells(lines[first - 1]) else []
        return cls(
            node=raw.node,
            parents=list(raw.parents),
            states=[],
            extras=extras,
            rows=rows,
            head=lines[: first - 1],
            tail=lines[previous:],
            header_raw="\n".join(lines[first - 1 : last]),
            quote_notes=bool(extras) and len(quoted) * 2 > len(notes),
            utility=True,
        )

    def header(self) -> list[str]:
        if self.utility:
            return [*self.parents, UTILITY, *self.extras]
        return [*self.parents, *(f"{self.node}={s}" for s in self.states), *self.extras]

    def text(self) -> str:
        """The file's text (LF newlines, no BOM: see `_encoded`): unchanged rows as read."""
        same = self.layout() == self._layout
        header = self.header()
        lines = list(self.head)
        if self.header_raw is not None and same and _cells(self.header_raw) == header:
            lines.append(self.header_raw)
        else:
            lines.append(_record(header))
        for row in self.rows:
            lines.extend(row.comments)
            if same and not row.changed and row.raw is not None:
                lines.append(row.raw)
            else:
                extra = {"ess": row.ess, "note": row.note}
                cells = [*row.parents, *row.probs, *(extra[e] for e in self.extras)]
                lines.append(self.record(cells))
        lines.extend(self.tail)
        return "\n".join(lines)

    def record(self, cells: Sequence[str]) -> str:
        """One row as CSV, notes quoted when the file quotes them."""
        if self.quote_notes and self.extras[-1:] == ["note"] and cells[-1]:
            return _record(cells[:-1]) + ',"' + cells[-1].replace('"', '""') + '"'
        return _record(cells)

    def state_index(self, state: str) -> int:
        return self.states.index(
            choose(state, self.states, f"'{state}' is not a state of {self.node}")
        )

    def parent_index(self, parent: str) -> int:
        return self.parents.index(
            choose(parent, self.parents, f"'{parent}' is not a parent of {self.node}")
        )

    def ensure(self, column: str) -> None:
        """Add the `ess` or `note` column if the file has none."""
        if column not in self.extras:
            self.extras.append(column)
            self.extras.sort(key=RESERVED.index)

    def order(self, parent_states: Sequence[Sequence[str]]) -> Iterator[tuple[str, ...]]:
        """Every parent combination in canonical (row-major, state) order."""
        yield from itertools.product(*parent_states)

    def place(self, rows: Iterable[Row], parent_states: Sequence[Sequence[str]]) -> None:
        """Insert new rows where canonical order puts them, without reordering existing rows."""
        rank = {combo: i for i, combo in enumerate(self.order(parent_states))}

        def key(row: Row) -> int:
            return rank.get(tuple(row.parents), len(rank))

        for row in sorted(rows, key=key):
            before = [i for i, r in enumerate(self.rows) if key(r) < key(row)]
            self.rows.insert(before[-1] + 1 if before else 0, row)

    def drop(self, row: Row) -> None:
        """Remove a row; its comments go to the row below it (or to the end of the file)."""
        index = self.rows.index(row)
        del self.rows[index]
        if row.comments:
            if index < len(self.rows):
                self.rows[index].comments[:0] = row.comments
            else:
                self.tail[:0] = row.comments


def _record(cells: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


def _cells(text: str) -> list[str]:
    return [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]


def probability(cell: str) -> float | None:
    """A cell's probability read as `bn check` reads it (a decimal from 0 to 1), else None.

    >>> probability(" 0.25"), probability("1e-3"), probability("1_0"), probability("1.5")
    (0.25, 0.001, None, None)
    """
    value = parse_probability(cell)
    return value if isinstance(value, float) else None
