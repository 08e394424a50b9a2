"""The model directory format: one CSV per node plus `model.toml`. The only module that knows it.

A node's file `<id>.csv` has a header of parent ids, then `<id>=<state>` columns in state order, then
the optional columns `ess` and `note`; one row per parent combination. Lines starting with `#` are
comments. Reading never converts text: a state named `NA` or `01` stays exactly that.

`read_table` parses one file into a `RawTable` (cells as text, with line numbers) and reports what is
wrong inside that file; `bn.validate` checks the directory as a whole and builds the `Model`;
`write_model` writes a model back (atomically, file by file).
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import tempfile
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bn.errors import Problem
from bn.model import Model, Node

ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
RESERVED = ("ess", "note")
SUM_TOLERANCE = 1e-6


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


def read_text(path: Path, problems: list[Problem]) -> str | None:
    """The file's text (UTF-8, BOM and CRLF accepted), or None with a problem naming the bad byte."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        problems.append(
            Problem(
                path.name,
                line,
                f"undecodable byte 0x{data[error.start]:02x} (the file is not UTF-8)",
                "save the file as UTF-8",
            )
        )
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def csv_records(text: str) -> list[tuple[int, int, list[str]]]:
    """Non-empty, non-comment CSV records with the first and last line of each."""
    # Comment lines become empty lines so that the reader's line numbers stay those of the file.
    lines = ["" if line.startswith("#") else line for line in text.split("\n")]
    reader = csv.reader(io.StringIO("\n".join(lines)))
    records = []
    start = 1
    for record in reader:
        if any(cell.strip() for cell in record):
            records.append((start, reader.line_num, record))
        start = reader.line_num + 1
    return records


def csv_rows(text: str) -> list[tuple[int, list[str]]]:
    """Non-empty, non-comment CSV records with the line each starts on."""
    return [(start, record) for start, _, record in csv_records(text)]


def read_table(path: Path, problems: list[Problem]) -> RawTable | None:
    """Parse one node file; problems found inside the file are appended to `problems`."""
    name = path.name
    text = read_text(path, problems)
    if text is None:
        return None
    try:
        records = csv_rows(text)
    except csv.Error as error:
        problems.append(Problem(name, None, f"not valid CSV: {error}", "check the quoting"))
        return None
    if not records:
        problems.append(
            Problem(name, None, "the file is empty", "add a header such as: rain=no,rain=yes")
        )
        return None
    node = path.stem
    header_line, header = records[0]
    header = [h.strip() for h in header]
    parents: list[str] = []
    states: list[str] = []
    extra: list[str] = []
    for column in header:
        target, sep, state = column.partition("=")
        if column in RESERVED:
            extra.append(column)
        elif sep:
            if target.strip() != node:
                problems.append(
                    Problem(
                        name,
                        header_line,
                        f"column '{column}' is a probability column for another node "
                        f"('{target.strip()}'); this file is {node}'s",
                        f"write it as {node}={state.strip()}, or move it to {target.strip()}.csv",
                    )
                )
                return None
            if extra:
                problems.append(Problem(name, header_line, f"column '{column}' after {extra[0]}"))
            states.append(state.strip())
        elif states or extra:
            problems.append(
                Problem(
                    name,
                    header_line,
                    f"column '{column}' comes after the probability columns",
                    "parents come first, then node=state columns, then ess and note",
                )
            )
            return None
        else:
            parents.append(column)
    if not states:
        problems.append(
            Problem(
                name,
                header_line,
                f"no probability columns: the header needs {node}=<state> columns",
                f"for example: {','.join([*parents, f'{node}=no', f'{node}=yes'])}",
            )
        )
        return None
    duplicates = sorted({s for s in states if states.count(s) > 1})
    if duplicates:
        problems.append(
            Problem(name, header_line, f"duplicate state(s) of {node}: {', '.join(duplicates)}")
        )
        return None
    if "" in states:
        problems.append(Problem(name, header_line, f"an empty state name in {node}'s header"))
        return None
    table = RawTable(name, node, tuple(parents), tuple(states), [], header_line, tuple(header))
    np_, ns = len(parents), len(states)
    for line, record in records[1:]:
        if len(record) != len(header):
            problems.append(
                Problem(
                    name,
                    line,
                    f"the row has {len(record)} cells but the header has {len(header)}",
                    "quote cells that contain commas",
                )
            )
            continue
        cells = dict(zip(header, record, strict=True))
        table.rows.append(
            RawRow(
                line,
                tuple(c.strip() for c in record[:np_]),
                tuple(c.strip() for c in record[np_ : np_ + ns]),
                cells.get("ess", "").strip(),
                cells.get("note", ""),
            )
        )
    return table


def parse_probability(cell: str) -> float | str:
    """A probability from a cell, or the reason it is not one.

    >>> parse_probability("0.25"), parse_probability("1e-05"), parse_probability("-0.1")
    (0.25, 1e-05, 'negative')
    """
    if not cell:
        return "empty"
    try:
        value = float(cell)
    except ValueError:
        return "not a number"
    if math.isnan(value):
        return "NaN"
    if value < 0:
        return "negative"
    if value > 1:
        return "greater than 1"
    return value


def parse_ess(cell: str) -> float | str:
    """An equivalent sample size (NaN for blank = exact), or the reason it is not one."""
    if not cell:
        return math.nan
    try:
        value = float(cell)
    except ValueError:
        return "not a number"
    return value if math.isfinite(value) and value > 0 else "not a positive number"


def read_toml(path: Path, problems: list[Problem]) -> dict[str, Any]:
    """`model.toml` (or `scenarios.toml`) as a dict; {} with a problem when it is malformed."""
    if not path.exists():
        return {}
    text = read_text(path, problems)
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        line = int(match.group(1)) if match else None
        problems.append(Problem(path.name, line, f"malformed TOML: {error}"))
        return {}


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float, without exponents for common values.

    >>> format_number(0.3), format_number(1.0), format_number(1e-05), format_number(0.1 + 0.2)
    ('0.3', '1', '0.00001', '0.30000000000000004')
    """
    text = repr(float(value))
    if "e" in text or "E" in text:
        text = f"{value:.20f}".rstrip("0")
        while float(text) != value and len(text) < 40:
            text += "0"
    if text.endswith(".0"):
        text = text[:-2]
    return text.rstrip(".") if "." in text and text.endswith(".") else text


def table_text(node: Node) -> str:
    """A node's CSV file, rows in parent-state order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    has_ess = not all(math.isnan(e) for e in node.ess.flat)
    has_note = any(node.notes)
    header = [*node.parents, *(f"{node.id}={s}" for s in node.states)]
    writer.writerow(header + ["ess"] * has_ess + ["note"] * has_note)
    for flat, (combo, probs) in enumerate(node.rows()):
        row = [*node.row_label(combo), *(format_number(p) for p in probs)]
        if has_ess:
            ess = float(node.ess[combo])
            row.append("" if math.isnan(ess) else format_number(ess))
        if has_note:
            row.append(node.notes[flat])
        writer.writerow(row)
    return buffer.getvalue()


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
        if entry:
            nodes[node.id] = entry
    document: dict[str, Any] = {}
    if head:
        document["model"] = head
    if nodes:
        document["nodes"] = nodes
    return tomli_w.dumps(document)


def write_atomic(path: Path, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same directory, then rename."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_model(model: Model, directory: Path) -> None:
    """Write every node's CSV and `model.toml` into `directory` (created if missing)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path, text in model_files(model).items():
        write_atomic(directory / path, text)


def model_files(model: Model) -> dict[str, str]:
    """File name -> text of a model directory."""
    files = {f"{node.id}.csv": table_text(node) for node in model.nodes}
    files["model.toml"] = toml_text(model)
    return files


def node_files(directory: Path) -> list[Path]:
    """The node files of a model directory (top level only; subdirectories hold overlays)."""
    return sorted(p for p in directory.glob("*.csv") if p.is_file())


def node_metadata(meta: Mapping[str, Any], node_id: str) -> dict[str, Any]:
    """The `[nodes.<id>]` table of a parsed model.toml ({} when absent)."""
    nodes = meta.get("nodes", {})
    entry = nodes.get(node_id, {}) if isinstance(nodes, Mapping) else {}
    return dict(entry) if isinstance(entry, Mapping) else {}


def sources_list(meta: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    head = meta.get("model", {})
    sources = head.get("sources", []) if isinstance(head, Mapping) else []
    return [s if isinstance(s, Mapping) else {"title": str(s)} for s in sources]
