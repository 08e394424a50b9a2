"""The model directory format: one CSV per node plus `model.toml`. The only module that knows it.

A node's file `<id>.csv` has a header of parent ids, then `<id>=<state>` columns in state order,
then the optional columns `ess` and `note`; one row per parent combination. A line starting with
`#` (outside a quoted cell) is a comment. Reading never converts text: a state named `NA` or `01`
stays exactly that.

`parse_table` parses one file's text into a `RawTable` (cells as text, with line numbers) and
reports what is wrong inside that file (`read_table` reads and decodes the file first);
`bn.validate` checks the directory as a whole and builds the `Model`; `write_model` writes a model
back (atomically, file by file).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bn.errors import Problem
from bn.files import MODEL_TOML, write_atomic
from bn.forms import NoisyMax, Ranked
from bn.model import Model, Node
from bn.names import suggest
from bn.numbers import DECIMAL, format_number

ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
RESERVED = ("ess", "note")
SUM_TOLERANCE = 1e-6
MAX_ESS = 1e9


@dataclass
class RawRow:
    """One data row of a CSV file, cells kept as text."""

    line: int
    parents: tuple[str, ...]
    probs: tuple[str, ...]
    ess: str = ""
    note: str = ""


@dataclass
class RawTable:
    """A node's CSV file as written: its header and rows, before any cross-file check."""

    file: str
    node: str
    parents: tuple[str, ...]
    states: tuple[str, ...]
    rows: list[RawRow] = field(default_factory=list)
    header_line: int = 1
    columns: tuple[str, ...] = ()
    form: str = ""  # a compact form (`bn.forms`); its rows are then read by `bn.formcheck`


class CSVSyntaxError(csv.Error):
    """Text that is not standard CSV (an unclosed or stray quote), with the line it is on."""

    def __init__(self, line: int, reason: str, hint: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line = line
        self.reason = reason
        self.hint = hint


def read_text(path: Path, problems: list[Problem]) -> str | None:
    """The file's text with `\\n` line ends (see `decode_text`); None, with a problem, when it
    cannot be read or is not UTF-8."""
    try:
        data = path.read_bytes()
    except OSError as error:
        problems.append(
            Problem(
                path.name,
                None,
                f"cannot read the file: {error.strerror or error}",
                "check that the file exists and is readable",
            )
        )
        return None
    return decode_text(data, path.name, problems)


def decode_text(data: bytes, name: str, problems: list[Problem]) -> str | None:
    """The text of a file's bytes with `\\n` line ends (UTF-8; a BOM, CRLF or CR are accepted).

    None, with a problem naming the line of the first bad byte, when it is not UTF-8.

    >>> decode_text(b"\\xef\\xbb\\xbfa=x,a=y\\r\\n1,0\\r0,1\\n", "a.csv", [])
    'a=x,a=y\\n1,0\\n0,1\\n'
    >>> problems = []
    >>> decode_text(b"a=x\\n\\xe9\\n", "a.csv", problems), problems[0].where
    (None, 'a.csv:2')
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(
            Problem(
                name,
                line,
                f"undecodable byte 0x{data[error.start]:02x} (the file is not UTF-8)",
                "save the file as UTF-8 (in a spreadsheet: 'CSV UTF-8'); "
                "other encodings such as Latin-1 or UTF-16 are not read",
            )
        )
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


class _Lines(Iterator[str]):
    """Feeds lines to `csv.reader`, skipping comment lines only where a record starts."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")
        if self.lines and self.lines[-1] == "":
            self.lines.pop()
        self.number = 0  # the last line handed out
        self.start = 0  # the first line of the current record
        self.at_start = True

    def __next__(self) -> str:
        while self.number < len(self.lines):
            self.number += 1
            line = self.lines[self.number - 1]
            if self.at_start:
                if line.startswith("#"):
                    continue
                self.start = self.number
                self.at_start = False
            return line + "\n"
        raise StopIteration


def csv_records(text: str) -> list[tuple[int, int, list[str]]]:
    """Non-empty, non-comment CSV records with the first and last line of each.

    `text` has `\\n` line ends. A line starting with `#` is a comment, unless it continues a
    quoted cell (a note spanning lines). Raises `CSVSyntaxError` at a malformed quote.

    >>> csv_records('# a comment\\nx=a,x=b,note\\n0.5,0.5,"two\\n# lines"\\n')
    [(2, 2, ['x=a', 'x=b', 'note']), (3, 4, ['0.5', '0.5', 'two\\n# lines'])]
    """
    source = _Lines(text)
    reader = csv.reader(source, strict=True)
    records = []
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            if "end of data" in str(error):
                raise CSVSyntaxError(
                    source.start,
                    "a quoted cell opened on this line is never closed",
                    'close the quote; inside a quoted cell write a quote as two quotes ("")',
                ) from None
            if source.start != source.number:
                raise CSVSyntaxError(
                    source.start,
                    f"a quoted cell opened on this line runs on to line {source.number}, "
                    "where its closing quote is followed by more text",
                    "close each quoted cell on the line it belongs to; inside a quoted cell "
                    'write a quote as two quotes ("")',
                ) from None
            raise CSVSyntaxError(
                source.number,
                f"misplaced quote ({error})",
                'a quoted cell must end at its closing quote: write "a ""quoted"" word" '
                "for a cell holding quotes, and put no text between a closing quote and the comma",
            ) from None
        if any(cell.strip() for cell in record):
            records.append((source.start, source.number, record))
        source.at_start = True
    return records


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-empty, non-comment CSV records with the line each starts on."""
    return [(start, record) for start, _, record in csv_records(text)]


def _header_problems(
    name: str, node: str, line: int, header: list[str]
) -> tuple[list[str], list[str], list[Problem]]:
    """Parents, states and the problems of a header (parents, node=state columns, ess, note)."""
    parents: list[str] = []
    states: list[str] = []
    extra: list[str] = []
    problems: list[Problem] = []
    foreign: dict[str, list[str]] = {}
    order = "the columns go: parents, then node=state columns, then ess and note"
    for position, column in enumerate(header, 1):
        target, sep, state = (part.strip() for part in column.partition("="))
        if not column:
            problems.append(
                Problem(
                    name,
                    line,
                    f"column {position} of the header has no name",
                    "every column needs a name; remove stray commas at the end of the lines",
                )
            )
        elif column in RESERVED:
            if column in extra:
                problems.append(
                    Problem(name, line, f"column '{column}' appears twice", "keep one of them")
                )
            extra.append(column)
        elif sep:
            if target != node:
                foreign.setdefault(target, []).append(column)
            elif extra:
                problems.append(
                    Problem(name, line, f"column '{column}' comes after '{extra[0]}'", order)
                )
            elif not state:
                problems.append(
                    Problem(
                        name,
                        line,
                        f"column '{column}' has no state name",
                        f"write {node}=<state>, e.g. {node}=yes",
                    )
                )
            else:
                states.append(state)
        elif states or extra:
            problems.append(
                Problem(
                    name,
                    line,
                    f"column '{column}' comes after the probability columns",
                    suggest(column, RESERVED) + order,
                )
            )
        elif column in parents:
            problems.append(
                Problem(
                    name,
                    line,
                    f"parent column '{column}' appears twice",
                    "name each parent once",
                )
            )
        else:
            parents.append(column)
    for target, columns in foreign.items():
        quoted = ", ".join(f"'{c}'" for c in columns)
        are = "is a probability column" if len(columns) == 1 else "are probability columns"
        fixed = ",".join(f"{node}={c.partition('=')[2].strip()}" for c in columns)
        problems.append(
            Problem(
                name,
                line,
                f"{quoted} {are} for another node ('{target}'); this file is {node}'s",
                f"write {fixed}, or move the column(s) to {target}.csv",
            )
        )
    if not states and not problems:
        looks_like_data = all(isinstance(parse_probability(c), float) for c in header)
        example = ",".join([*parents, f"{node}=no", f"{node}=yes"])
        problems.append(
            Problem(
                name,
                line,
                f"no probability columns: the header needs {node}=<state> columns",
                ("the first line is data: add a header line, " if looks_like_data else "")
                + f"for example: {example}",
            )
        )
    duplicates = sorted({s for s in states if states.count(s) > 1})
    if duplicates:
        problems.append(
            Problem(
                name,
                line,
                f"duplicate state(s) of {node}: {', '.join(duplicates)}",
                "each state has exactly one column; remove or rename the repeated one",
            )
        )
    return parents, states, problems


def read_table(path: Path, problems: list[Problem]) -> RawTable | None:
    """Read and parse one node file (see `parse_table`)."""
    text = read_text(path, problems)
    return None if text is None else parse_table(text, path.name, problems)


def parse_table(text: str, name: str, problems: list[Problem]) -> RawTable | None:
    """Parse a node file's text (`\\n` line ends); problems inside it are appended to `problems`.

    `name` is the file's name (its stem is the node id), used in the problems. None when the
    header is wrong (the rows cannot then be checked); rows with the wrong number of cells are
    reported and left out of the table.

    >>> table = parse_table("# rain\\nrain=no,rain=yes\\n0.8,0.2\\n", "rain.csv", [])
    >>> table.states, table.header_line, [(r.line, r.probs) for r in table.rows]
    (('no', 'yes'), 2, [(3, ('0.8', '0.2'))])
    """
    try:
        records = csv_rows(text)
    except CSVSyntaxError as error:
        problems.append(Problem(name, error.line, f"not valid CSV: {error.reason}", error.hint))
        return None
    node = Path(name).stem
    if not records:
        problems.append(
            Problem(
                name,
                None,
                "the file is empty (no header, no rows)",
                f"add a header and rows, e.g. {node}=no,{node}=yes then 0.9,0.1; "
                "or delete the file",
            )
        )
        return None
    header_line, header = records[0]
    header = [h.strip() for h in header]
    parents, states, found = _header_problems(name, node, header_line, header)
    if found:
        problems.extend(p for i, p in enumerate(found) if p not in found[:i])
        return None
    table = RawTable(name, node, tuple(parents), tuple(states), [], header_line, tuple(header))
    np_, ns = len(parents), len(states)
    ess_at = header.index("ess") if "ess" in header else None
    note_at = header.index("note") if "note" in header else None
    for line, record in records[1:]:
        if len(record) != len(header):
            spaced = any(cell.startswith(' "') for cell in record)
            problems.append(
                Problem(
                    name,
                    line,
                    f"the row has {len(record)} cells but the header has {len(header)} "
                    f"({', '.join(header)})",
                    'one cell per header column; quote cells that contain commas ("a, b")'
                    + ("; put no space before an opening quote" if spaced else ""),
                )
            )
            continue
        table.rows.append(
            RawRow(
                line,
                tuple(c.strip() for c in record[:np_]),
                tuple(c.strip() for c in record[np_ : np_ + ns]),
                record[ess_at].strip() if ess_at is not None else "",
                record[note_at] if note_at is not None else "",
            )
        )
    return table


def parse_probability(cell: str) -> float | str:
    """A probability from a cell, or the reason it is not one.

    >>> parse_probability("0.25"), parse_probability("1e-05"), parse_probability("-0.1")
    (0.25, 1e-05, 'negative')
    >>> parse_probability(""), parse_probability("nan"), parse_probability("30%")
    ('empty', 'NaN', 'not a number')
    >>> parse_probability("1_0")
    'not a number'
    """
    cell = cell.strip()
    if not cell:
        return "empty"
    if cell.lower().lstrip("+-") == "nan":
        return "NaN"
    if not DECIMAL.match(cell):
        return "not a number"
    value = float(cell)
    if value < 0:
        return "negative"
    if value > 1:
        return "greater than 1"
    return value


def parse_ess(cell: str) -> float | str:
    """An equivalent sample size (NaN for blank = exact), or the reason it is not one.

    >>> parse_ess("20"), parse_ess(""), parse_ess("0"), parse_ess("many"), parse_ess("1e308")
    (20.0, nan, 'not a positive number', 'not a number', 'more than 1e9 (leave it blank: exact)')
    """
    cell = cell.strip()
    if not cell:
        return math.nan
    if not DECIMAL.match(cell):
        return "not a number"
    value = float(cell)
    if not (math.isfinite(value) and value > 0):
        return "not a positive number"
    # Beyond this a row is exact for every purpose, and Dirichlet weights lose their precision.
    return value if value <= MAX_ESS else "more than 1e9 (leave it blank: exact)"


def scenario_tables(document: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The `[scenarios.<name>]` tables of a parsed scenarios.toml, as far as it is well formed
    (`bn.scenarios` reports what is not).

    >>> scenario_tables({"scenarios": {"a": {"overlay": "o"}, "b": 3}})
    {'a': {'overlay': 'o'}}
    """
    table = document.get("scenarios", {})
    if not isinstance(table, Mapping):
        return {}
    return {str(k): v for k, v in table.items() if isinstance(v, Mapping)}


def table_text(node: Node) -> str:
    """A node's CSV file, rows in parent-state order (a compact node's: see `compact_text`)."""
    if node.form is not None:
        return compact_text(node.id, node.form)
    has_ess = not all(math.isnan(e) for e in node.ess.flat)
    has_note = any(node.notes)
    header = [*node.parents, *(f"{node.id}={s}" for s in node.states)]
    lines = [csv_line(header + ["ess"] * has_ess + ["note"] * has_note)]
    for flat, (combo, probs) in enumerate(node.rows()):
        row = [*node.row_label(combo), *(format_number(p) for p in probs)]
        if has_ess:
            ess = float(node.ess[combo])
            row.append("" if math.isnan(ess) else format_number(ess))
        if has_note:
            row.append(node.notes[flat])
        lines.append(csv_line(row))
    return "".join(lines)


def compact_text(node_id: str, form: NoisyMax | Ranked) -> str:
    """The CSV file of a compact node: its form's parameters (`bn.formcheck` reads it back)."""
    notes = any(form.notes)
    has_ess = not all(math.isnan(e) for e in form.ess.flat)
    if isinstance(form, Ranked):
        header = ["parent", "weight"]
        keys = [
            [p, format_number(float(w))] for p, w in zip(form.parents, form.weights, strict=True)
        ]
    else:
        header = ["parent", "state", *(f"{node_id}={s}" for s in form.states)]
        keys = [
            [*label, *map(format_number, map(float, row))]
            for label, row in zip(form.labels, form.rows, strict=True)
        ]
    lines = [csv_line(header + ["ess"] * has_ess + ["note"] * notes)]
    for cells, ess, note in zip(keys, form.ess, form.notes, strict=True):
        ess_cell = "" if math.isnan(ess) else format_number(float(ess))
        lines.append(csv_line(cells + [ess_cell] * has_ess + [note] * notes))
    return "".join(lines)


def form_entry(form: NoisyMax | Ranked) -> dict[str, Any]:
    """The keys of a compact node's `[nodes.<id>]` table that declare its form."""
    if isinstance(form, Ranked):
        entry: dict[str, Any] = {
            "form": "ranked",
            "levels": list(form.states),
            "function": form.function,
            "variance": float(form.variance),
        }
        if math.isfinite(form.variance_ess):
            entry["variance_ess"] = float(form.variance_ess)
        if form.function == "mixminmax":
            entry["mix"] = [float(m) for m in form.mix]
        return entry
    return {
        "form": form.form,
        "absent": form.absent,
        "parent_absent": dict(zip(form.parents, form.parent_absent, strict=True)),
    }


def csv_line(cells: list[str]) -> str:
    """One CSV record with its newline; a first cell starting with `#` is quoted (not a comment).

    >>> csv_line(["#1", "a,b", "0.5"])
    '"#1","a,b",0.5\\n'
    """
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    line = buffer.getvalue()
    if line.startswith("#"):
        line = f'"{cells[0]}"' + line[len(cells[0]) :]
    return line


def toml_text(model: Model) -> str:
    """`model.toml` for a model's descriptive metadata."""
    import tomli_w

    head: dict[str, Any] = {}
    if model.title:
        head["title"] = model.title
    if model.description:
        head["description"] = model.description
    if model.targets:
        head["targets"] = list(model.targets)
    if model.sources:
        head["sources"] = [dict(s) for s in model.sources]
    nodes: dict[str, Any] = {}
    for node in model.nodes:
        entry: dict[str, Any] = {}
        if node.label != node.id:
            entry["label"] = node.label
        if node.description:
            entry["description"] = node.description
        if node.aliases:
            entry["aliases"] = list(node.aliases)
        if node.state_descriptions:
            entry["states"] = dict(node.state_descriptions)
        if node.form is not None:
            entry.update(form_entry(node.form))
        if entry:
            nodes[node.id] = entry
    document: dict[str, Any] = {}
    if head:
        document["model"] = head
    if nodes:
        document["nodes"] = nodes
    return tomli_w.dumps(document)


def write_model(model: Model, directory: Path) -> None:
    """Write every node's CSV and `model.toml` into `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in model_files(model).items():
        write_atomic(directory / path, text)


def model_files(model: Model) -> dict[str, str]:
    """File name -> text of a model directory."""
    files = {f"{node.id}.csv": table_text(node) for node in model.nodes}
    files[MODEL_TOML] = toml_text(model)
    return files


def node_files(directory: Path) -> list[Path]:
    """The node files of a model directory: top level only (subdirectories hold overlays), and not
    hidden files (`.x.csv`, or the `._x.csv` that macOS leaves on other file systems)."""
    return sorted(p for p in directory.glob("*.csv") if p.is_file() and not p.name.startswith("."))


def node_metadata(meta: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    """The `[nodes.<id>]` table of a parsed model.toml ({} when absent)."""
    nodes = meta.get("nodes", {})
    entry = nodes.get(node_id, {}) if isinstance(nodes, Mapping) else {}
    return dict(entry) if isinstance(entry, Mapping) else {}


def sources_list(meta: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    head = meta.get("model", {})
    sources = head.get("sources", []) if isinstance(head, Mapping) else []
    return [s if isinstance(s, Mapping) else {"title": str(s)} for s in sources]
