"""Table-level edits: `bn cpt show|template|set|normalize`, `bn node add`, `bn fmt`, `bn check --fix-sums`.

Each function takes a `Workspace`, records new file contents in it and returns lines
describing what it did; the caller commits (validates, then writes atomically). These edits work
on a model that is already invalid too (to repair it), as long as they add no new problem.

>>> import shutil, tempfile
>>> from pathlib import Path
>>> import bn
>>> from bn.edit.workspace import Workspace
>>> chain = Path(bn.__file__).parents[1] / "tests" / "data" / "chain"
>>> model = shutil.copytree(chain, Path(tempfile.mkdtemp()) / "m")
>>> ws = Workspace(model)
>>> set_rows(ws, "KABOOM", {"nuclear_use": "yes", "nato_response": "strike"}, named={"yes": "0.6"})
['nuclear_war.csv: nuclear_use=yes, nato_response=strike: no 0.3 -> 0.4, yes 0.7 -> 0.6']
>>> sorted(ws.commit())
['nuclear_war.csv']
>>> Workspace(model).valid_model()["KABOOM"].row(("yes", "strike"))
(0.4, 0.6)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bn.csvfiles import (
    ID_PATTERN,
    RESERVED,
    SUM_TOLERANCE,
    node_metadata,
    parse_ess,
    parse_probability,
)
from bn.edit import compactgraph
from bn.edit.sheet import Row, Sheet
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, ModelError, Problem, param
from bn.files import DEFAULT_WAIT, MODEL_TOML
from bn.journal import WriteFailed
from bn.names import choose
from bn.numbers import computed_number, format_number, parse_decimal
from bn.tablecheck import FIXABLE


def parent_states(ws: Workspace, sheet: Sheet) -> list[list[str]]:
    """The states of each parent of a sheet, read from the parents' own files."""
    out = []
    for parent in sheet.parents:
        if ws.bytes(f"{parent}.csv") is None:
            raise BNError(f"{sheet.node}.csv: parent column '{parent}' names no node file")
        if ws.compact(f"{parent}.csv"):  # a compact parent's states come from the model
            out.append(list(ws.valid_model()[parent].states))
            continue
        out.append(ws.sheet(f"{parent}.csv").states)
    return out


def _node_sheet(ws: Workspace, name: str) -> tuple[str, Sheet]:
    node = ws.resolve(name)
    path = f"{node}.csv"
    return path, ws.sheet(path)


# --- show ----------------------------------------------------------------------------------------


def show(ws: Workspace, name: str) -> dict[str, Any]:
    """A node's table as data (the JSON of `bn cpt show --json`)."""
    path, sheet = _node_sheet(ws, name)
    meta = node_metadata(ws.toml(MODEL_TOML), sheet.node)  # as written, on an invalid model too
    aliases = meta.get("aliases")
    rows = []
    for row in sheet.rows:
        rows.append(
            {
                "when": dict(zip(sheet.parents, row.parents, strict=True)),
                "probabilities": {
                    s: parse_decimal(c) for s, c in zip(sheet.states, row.probs, strict=True)
                },
                "ess": parse_decimal(row.ess),
                "note": row.note,
                "line": row.line or None,
            }
        )
    return {
        "node": sheet.node,
        "file": path,
        "label": str(meta.get("label") or sheet.node),
        "aliases": [str(a) for a in aliases] if isinstance(aliases, list) else [],
        "parents": list(sheet.parents),
        "states": list(sheet.states),
        "comments": [line for line in sheet.head if line.startswith("#")],
        "rows": rows,
        "valid": ws.model is not None,
    }


def show_lines(ws: Workspace, name: str) -> list[str]:
    """A node's table aligned for reading: parents as row labels, then states, ess and note."""
    _, sheet = _node_sheet(ws, name)
    data = show(ws, name)
    title = sheet.node
    if data["label"] != sheet.node:
        title += f": {data['label']}"
    if data["aliases"] and not any(a in data["label"] for a in data["aliases"]):
        title += f" (alias {', '.join(data['aliases'])})"  # as `bn query` does
    table = [[*sheet.parents, "|", *sheet.states, "|", "ess", "note"]]
    for row in sheet.rows:
        table.append([*row.parents, "|", *row.probs, "|", row.ess, row.note])
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]) - 1)]
    numeric = set(range(len(sheet.parents) + 1, len(sheet.parents) + 1 + len(sheet.states)))
    numeric.add(len(table[0]) - 2)
    lines = [title, *data["comments"]]
    for cells in table:
        text = [
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=False))
        ]
        lines.append("  ".join([*text, cells[-1]]).rstrip())
    return lines


# --- template and set ----------------------------------------------------------------------------


def fill_row(fill: str, states: Sequence[str]) -> list[str]:
    """The cells of every row of a new table: `uniform`, one number per cell, or one per state.

    >>> fill_row("uniform", "abc"), fill_row("0.5", "ab"), fill_row("0.9,0.1", "ab")
    (['0.333333333333333', '0.333333333333333', '0.333333333333333'], ['0.5', '0.5'], ['0.9', '0.1'])
    """
    if fill == "uniform":
        return [computed_number(1 / len(states))] * len(states)
    values = [_probability(v, param("fill")) for v in fill.split(",")]
    if len(values) == 1:
        values *= len(states)
    if len(values) != len(states):
        raise BNError(
            f"{param('fill')} gives {len(values)} numbers but there are {len(states)} states "
            f"({', '.join(states)}): give one number, or one per state"
        )
    if abs(math.fsum(values) - 1) > SUM_TOLERANCE:
        raise BNError(f"{param('fill')} {fill}: a row would sum to {math.fsum(values):g}, not 1")
    return [format_number(v) for v in values]


def _probability(text: str, what: str) -> float:
    """A probability given on the command line, read as `bn check` reads a cell."""
    value = parse_probability(text)
    if isinstance(value, str):
        raise BNError(f"{what}: '{text}' is not a probability (a number from 0 to 1)")
    return value


def template(
    ws: Workspace,
    node: str,
    states: Sequence[str],
    parents: Sequence[str] = (),
    fill: str = "uniform",
    force: bool = False,
) -> list[str]:
    """Write `<node>.csv` with one row per parent combination (refuses to overwrite unless forced)."""
    states = [s.strip() for s in states]
    if not ID_PATTERN.match(node) or node in RESERVED:
        raise BNError(
            f"'{node}' is not a valid node id: start with a letter, then letters, digits or _"
        )
    if not states or "" in states or len(set(states)) != len(states):
        raise BNError(
            f"{param('states')} must name distinct, non-empty states (got {', '.join(states)})"
        )
    existing = _existing(ws, node)
    if existing and not force:
        raise BNError(f"{existing}.csv already exists; use {param('force')} to overwrite it")
    if existing:
        node = existing
    ids = [ws.resolve(p) for p in parents]
    if node in ids or len(set(ids)) != len(ids):
        raise BNError(f"{param('parents')} must name distinct nodes other than the node itself")
    sheet = Sheet(node, ids, list(states), [], [])
    cells = fill_row(fill, states)
    for combo in sheet.order(parent_states(ws, sheet)):
        sheet.rows.append(Row(list(combo), list(cells)))
    path = f"{node}.csv"
    if existing:
        old = ws.sheet(path)
        sheet.head = old.head
    ws.write(path, sheet.text())
    verb = "overwrote" if existing else "wrote"
    return [f"{verb} {path}: {len(sheet.rows)} row(s), states {', '.join(states)}"]


def _existing(ws: Workspace, node: str) -> str | None:
    try:
        return ws.resolve(node)
    except BNError:
        return None


def add_node(
    ws: Workspace,
    node: str,
    states: Sequence[str],
    parents: Sequence[str] = (),
    fill: str = "uniform",
    label: str = "",
    description: str = "",
) -> list[str]:
    """A new node: its table (as `template`) and, if given, its label and description."""
    _refuse_existing(ws, node)
    lines = template(ws, node, states, parents, fill)
    if label or description:
        doc = TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)
        for key, value in (("label", label), ("description", description)):
            if value:
                doc.set_value(("nodes", node), key, value)
        ws.write(MODEL_TOML, doc.result())
        lines.append(f"described {node} in {MODEL_TOML}")
    return lines


def _refuse_existing(ws: Workspace, node: str) -> None:
    """`BNError` naming the node whose id or alias is `node` (ignoring case), if there is one."""
    names = ws.names()
    found = [n for n in names if n == node] or [n for n in names if n.lower() == node.lower()]
    if not found:
        return
    name, owner = found[0], names[found[0]]
    if name == node == owner:
        what = f"node {owner} already exists"
    elif name == node:
        what = f"'{node}' is already an alias of node {owner}"
    else:
        other = f"node {owner}" if name == owner else f"{name}, an alias of node {owner}"
        what = f"'{node}' clashes with {other} (ids and aliases are compared ignoring case)"
    raise BNError(
        f"{what}: to replace its table use "
        f"`bn cpt template {owner} --states ... --force`, or remove it first with "
        f"`bn node remove {owner}`"
    )


def parse_when(ws: Workspace, sheet: Sheet, when: Mapping[str, str]) -> dict[int, str]:
    """`when` conditions as {parent column index: state}, names checked and canonicalised."""
    states = parent_states(ws, sheet)
    out: dict[int, str] = {}
    for name, state in when.items():
        if not state:
            raise BNError(f"{param('when')} '{name}' is not of the form PARENT=STATE")
        parent = name if name in sheet.parents else ws.resolve(name)
        column = sheet.parent_index(parent)
        out[column] = choose(state, states[column], f"'{state}' is not a state of {name}")
    return out


def set_rows(
    ws: Workspace,
    name: str,
    when: Mapping[str, str],
    probs: Sequence[str] | None = None,
    named: Mapping[str, str] | None = None,
    ess: str | None = None,
    note: str | None = None,
) -> list[str]:
    """Edit the rows matching `when` (all rows if empty): probabilities, ess and/or note.

    On a compact node `bn.edit.compactedit.set_compact` edits its parameters instead."""
    node = ws.resolve(name)
    if ws.compact(f"{node}.csv"):
        from bn.edit.compactedit import set_compact  # it builds on edit_rows below

        return set_compact(ws, node, when, probs, named or {}, ess, note)
    path, sheet = _node_sheet(ws, name)
    if not sheet.utility and not sheet.rows and ws.kind(sheet.node) == "decision":
        raise BNError(
            f"{sheet.node} is a decision: its options are chosen, not drawn, so its file has no "
            "rows to set (bn decide finds the best option; bn query --do fixes one)"
        )
    conditions = parse_when(ws, sheet, when)
    rows = [r for r in sheet.rows if all(r.parents[i] == s for i, s in conditions.items())]
    if not rows:
        given = ", ".join(f"{sheet.parents[i]}={s}" for i, s in conditions.items())
        raise BNError(f"{path}: no row matches {given}")
    if sheet.utility:
        from bn.edit.influence import set_utility

        return set_utility(ws, path, sheet, rows, probs, named or {}, ess, note)

    def label(row: Row) -> str:
        given = ", ".join(f"{p}={s}" for p, s in zip(sheet.parents, row.parents, strict=True))
        return given or "(root)"

    lines = edit_rows(sheet, path, rows, probs, named, ess, note, label)
    ws.save(path)
    return lines


def edit_rows(
    sheet: Sheet,
    path: str,
    rows: Sequence[Row],
    probs: Sequence[str] | None,
    named: Mapping[str, str] | None,
    ess: str | None,
    note: str | None,
    label: Callable[[Row], str],
) -> list[str]:
    """Set the probabilities, ess and/or note of `rows` of `sheet`; a line per row saying what
    changed (`label` names the row)."""
    if probs is None and not named and ess is None and note is None:
        raise BNError(
            f"nothing to set: give {param('probs')}, STATE=p, {param('ess')} or {param('note')}"
        )
    values: dict[int, float] = {}
    if probs is not None:
        if named:
            raise BNError(f"give either {param('probs')} or STATE=p, not both")
        if len(probs) != len(sheet.states):
            raise BNError(
                f"{param('probs')} gives {len(probs)} numbers but {sheet.node} has {len(sheet.states)} "
                f"states ({', '.join(sheet.states)})"
            )
        values = {i: _probability(p, param("probs")) for i, p in enumerate(probs)}
    for state, text in (named or {}).items():
        values[sheet.state_index(state)] = _probability(text, state)
    if values:
        _check_total(values, len(sheet.states))
    if ess is not None:
        ess = parse_ess_option(ess)
        sheet.ensure("ess")
    if note is not None:
        sheet.ensure("note")
    lines = []
    for row in rows:
        before = list(row.probs)
        if values:
            row.probs = _new_row(row, values, path)
        if ess is not None:
            row.ess = ess
        if note is not None:
            row.note = note
        moves = [
            f"{s} {a} -> {b}"
            for s, a, b in zip(sheet.states, before, row.probs, strict=True)
            if a != b
        ]
        if ess is not None:
            moves.append(f"ess {ess or 'exact'}")
        if note is not None:
            moves.append("note set")
        lines.append(f"{path}: {label(row)}: {', '.join(moves) or 'unchanged'}")
    return lines


def _check_total(values: Mapping[int, float], card: int) -> None:
    total = math.fsum(values.values())
    if len(values) == card and abs(total - 1) > SUM_TOLERANCE:
        raise BNError(f"the probabilities sum to {total:.10g}, not 1")
    if total > 1 + SUM_TOLERANCE:
        raise BNError(f"the given probabilities already sum to {total:.10g}, more than 1")


def _new_row(row: Row, values: Mapping[int, float], path: str) -> list[str]:
    """Given states take their values; the others share the rest in proportion to their old ones."""
    cells = list(row.probs)
    rest = [i for i in range(len(cells)) if i not in values]
    old = [parse_decimal(cells[i]) for i in rest]
    remainder = 1 - math.fsum(values.values())
    if rest and any(v is None for v in old):
        raise BNError(
            f"{path}:{row.line}: the row has cells that are not numbers; give every state"
        )
    olds = [v or 0.0 for v in old]
    total = math.fsum(olds)
    for i, value in values.items():
        cells[i] = format_number(value)
    for i, value in zip(rest, olds, strict=True):
        share = value / total if total > 0 else 1 / len(rest)
        cells[i] = computed_number(max(remainder, 0.0) * share)
    return cells


def parse_ess_option(text: str) -> str:
    """The ess cell for an `ess` option: '' for exact, else the number as written."""
    if text.strip().lower() in ("", "exact", "none"):
        return ""
    value = parse_ess(text)
    if isinstance(value, str):
        raise BNError(f"{param('ess')} '{text}' is not a positive number (or 'exact' to clear it)")
    return format_number(value)


# --- normalize and fmt ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rescaled:
    """A row that `normalize` rescaled: where it is and what it summed to."""

    path: str
    line: int
    total: float


def normalize(
    ws: Workspace,
    names: Sequence[str] = (),
    within: float | None = None,
    paths: Sequence[str] | None = None,
) -> list[Rescaled]:
    """Rescale every row whose probabilities do not sum to exactly 1 (to 1e-12); the rows rescaled.

    `names` are nodes (every copy of their table: overlays too), by default every node; or give
    `paths` (node files) instead. With `within`, only rows that `bn check` reports (off by more
    than its tolerance) and that are off by at most `within` are rescaled, and a file with rows
    that cannot be read keeps them as written (`bn check --fix-sums`). Rescaled cells are written
    with 15 significant digits (`computed_number`); every other line stays byte-identical.
    """
    if paths is None:
        nodes = (
            [ws.resolve(n) for n in names]
            if names
            else [Path(p).stem for p in ws.node_paths() if not ws.compact(p)]
        )
        paths = [p for node in nodes for p in ws.copies(node)]
    fixed: list[Rescaled] = []
    for path in paths:
        sheet = ws.sheet(path, keep_bad_rows=within is not None)
        found = len(fixed)
        for row in sheet.rows:
            values = [parse_decimal(c) for c in row.probs]
            floats = [v for v in values if v is not None and v >= 0]
            if len(floats) < len(values):
                continue
            total = math.fsum(floats)
            off = abs(total - 1)
            if within is not None and not SUM_TOLERANCE < off <= within:
                continue
            if total <= 0:
                raise BNError(
                    f"{path}:{row.line}: the row sums to 0 and cannot be normalised; set it "
                    "with `bn cpt set`"
                )
            if off > 1e-12:
                row.probs = [computed_number(v / total) for v in floats]
                fixed.append(Rescaled(path, row.line, total))
        if len(fixed) > found:
            ws.save(path)
    return fixed


def normalized_lines(fixed: Sequence[Rescaled]) -> list[str]:
    """What `bn cpt normalize` prints: one line per file."""
    counts = Counter(r.path for r in fixed)
    return [f"{path}: {count} row(s) normalised" for path, count in counts.items()]


def fix_sums(
    directory: str | Path, within: float = FIXABLE, wait: float = DEFAULT_WAIT
) -> list[Problem]:
    """Renormalise every row whose sum is off by at most `within`; one `Problem` per fixed row.

    The edit `normalize` makes, through a `Workspace`: only the fixed rows are rewritten, every
    other line (comments, notes, line endings, a BOM, rows with the wrong number of cells) stays
    byte-identical, and the files are replaced all together or not at all; `ModelError` if they
    cannot be written (every file is then unchanged). A file whose header cannot be read is left
    alone (`check` says why). The returned problems have severity "info". `wait`: see
    `Workspace`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        return []  # `check` says so
    with Workspace(directory, wait) as workspace:
        paths = []
        for path in workspace.node_paths():
            if workspace.compact(path):
                continue  # its rows are a form's parameters, checked by bn check
            try:
                workspace.sheet(path, keep_bad_rows=True)
            except ModelError:
                continue
            paths.append(path)
        fixed = normalize(workspace, within=within, paths=paths)
        try:
            workspace.commit()
        except WriteFailed as failure:
            files = sorted({r.path for r in fixed})
            raise ModelError(
                [
                    Problem(
                        ", ".join(files),
                        None,
                        f"cannot rewrite the file: {failure.error.strerror or failure.error}",
                        "nothing was changed; check that the files and their directory are writable",
                    )
                ]
            ) from None
    return [
        Problem(
            r.path,
            r.line,
            f"row renormalised (it summed to {r.total:.10g})",
            "each probability was divided by the row's sum",
            "info",
        )
        for r in fixed
    ]


def canonical(sheet: Sheet, states: Sequence[Sequence[str]]) -> str:
    """The canonical text of a node file (see `fmt`)."""
    rank = {combo: i for i, combo in enumerate(sheet.order(states))}
    rows = sorted(sheet.rows, key=lambda r: rank.get(tuple(r.parents), len(rank)))
    out = Sheet(sheet.node, sheet.parents, sheet.states, sheet.extras, [], utility=sheet.utility)
    out.quote_notes = sheet.quote_notes
    out.head = list(sheet.head)
    for row in rows:
        out.rows.append(
            row.copy(
                probs=[_tidy(c) for c in row.probs],
                ess=_tidy(row.ess),
                comments=[c for c in row.comments if c.strip()],
            )
        )
    out.tail = [c for c in sheet.tail if c.strip()] + [""]
    return out.text()


def _tidy(cell: str) -> str:
    value = parse_decimal(cell)
    return cell if value is None else format_number(value)


def fmt(ws: Workspace) -> list[str]:
    """Rewrite every node file (overlays included) in canonical layout; the files that change.

    Canonical layout: comment lines above the header stay as they are; the header and cells lose
    surrounding spaces; rows are in parent-state order (the order of each parent's states in its
    own header, first parent slowest); numbers are the shortest decimal that reads back as the same
    float (0.30 -> 0.3, 1e-05 -> 0.00001, 1.0 -> 1); notes are kept verbatim; a comment line
    between rows moves with the row below it; blank lines between and after rows are dropped; the
    file ends with one newline. Line endings and a BOM are kept. The tables' meaning is checked to
    be unchanged before anything is written.
    """
    paths = [*ws.node_paths(), *(p for o in ws.overlays() for p in _overlay_files(ws, o))]
    changed = []
    for path in paths:
        if ws.compact(path):  # compact, canonical for its form (needs a valid model)
            if ws.model is not None:
                compactgraph.fmt_compact(ws, path)
                changed += [path] if path in ws.pending() else []
            continue
        sheet = ws.sheet(path)
        states = parent_states(ws, sheet)
        text = canonical(sheet, states)
        _same_meaning(sheet, Sheet.parse(text.encode(), path), path)
        ws.write(path, text)
        if path in ws.pending():
            changed.append(path)
    return changed


def _overlay_files(ws: Workspace, overlay: str) -> list[str]:
    return [f"{overlay}/{p.name}" for p in sorted((ws.root / overlay).glob("*.csv"))]


def _same_meaning(old: Sheet, new: Sheet, path: str) -> None:
    def content(sheet: Sheet) -> list[tuple[Any, ...]]:
        return sorted(
            (
                tuple(r.parents),
                tuple(_number_or_text(c) for c in r.probs),
                parse_decimal(r.ess),
                r.note,
            )
            for r in sheet.rows
        )

    if content(old) != content(new) or old.header() != new.header():
        raise ModelError([Problem(path, None, "bn fmt would change the table's content (a bug)")])


def _number_or_text(cell: str) -> float | str:
    value = parse_decimal(cell)
    return cell if value is None else value
