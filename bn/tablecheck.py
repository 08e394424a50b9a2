"""The checks of a model's node tables, reported all at once, and the construction of its nodes.

`check_tables` turns the raw tables of a model directory (or of an overlay) into `Node`s, adding a
`Problem` for each thing that is wrong: ids, parents, states, rows, sums, ess, cycles. One mistake
gives one message: a node whose file cannot be read is reported once, in its own file; its
children are still checked, except for what depends on its states.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import (
    ID_PATTERN,
    RESERVED,
    SUM_TOLERANCE,
    RawTable,
    node_metadata,
    parse_ess,
    parse_probability,
)
from bn.errors import Problem
from bn.formcheck import build_compact
from bn.metadata import TomlLines, alias_map, check_metadata
from bn.model import Node
from bn.names import suggest

FIXABLE = 1e-3  # rows off by at most this much are renormalised by `bn check --fix-sums`


def check_tables(
    tables: Sequence[RawTable],
    problems: list[Problem],
    meta: Mapping[str, Any] | None = None,
    known: Sequence[RawTable] = (),
    unreadable: Collection[str] = (),
    toml_text: str = "",
) -> list[Node] | None:
    """Cross-file checks (ids, parents, states, rows, sums, cycles, aliases); the nodes if clean.

    `known` are other nodes' headers, consulted for parents and states but not checked or built
    (an overlay's tables are checked against the model's other nodes this way). `unreadable`
    names node files whose problems are already in `problems`: their ids exist, but their states
    are unknown. `toml_text` (model.toml) is used to give its problems line numbers.
    """
    meta = meta or {}
    before = len([p for p in problems if p.severity == "error"])
    by_id = {t.node: t for t in [*known, *tables]}
    broken = {Path(name).stem for name in unreadable} - set(by_id)
    skipped = {
        t.file: [
            p.line
            for p in problems
            if p.file == t.file and p.severity == "error" and p.line and p.line > t.header_line
        ]
        for t in tables
    }
    _check_ids(
        [*((t.file, t.node) for t in tables), *((f, Path(f).stem) for f in unreadable)], problems
    )
    _check_cycles([*known, *tables], by_id, problems)
    nodes = []
    aliases = alias_map(meta)
    where = TomlLines(toml_text)
    for table in tables:
        meta_node = node_metadata(meta, table.node)
        if table.form:
            node = build_compact(table, by_id, broken, problems, meta_node, where)
        else:
            node = _build_node(
                table, by_id, broken, skipped[table.file], problems, meta_node, aliases
            )
        if node is not None:
            nodes.append(node)
    check_metadata(meta, by_id, broken, problems, where)
    if len([p for p in problems if p.severity == "error"]) > before or len(nodes) < len(tables):
        return None
    return nodes


def _check_ids(files: Sequence[tuple[str, str]], problems: list[Problem]) -> None:
    folded: dict[str, str] = {}
    for file, node in files:
        if not ID_PATTERN.match(node) or node in RESERVED:
            problems.append(
                Problem(
                    file,
                    None,
                    f"'{node}' is not a valid node id (the file name gives the id)",
                    "ids match [A-Za-z][A-Za-z0-9_]* (a letter, then letters, digits or _) and "
                    "are not 'ess' or 'note'; rename the file, and give the display name as a "
                    "label or alias in model.toml",
                )
            )
        other = folded.setdefault(node.lower(), node)
        if other != node:
            problems.append(
                Problem(
                    file,
                    None,
                    f"node ids '{other}' and '{node}' differ only by case",
                    f"{other}.csv and {node}.csv are the same file on macOS and Windows: rename "
                    "one, and use aliases in model.toml for the names users type",
                )
            )


def _check_cycles(
    tables: Sequence[RawTable], by_id: Mapping[str, RawTable], problems: list[Problem]
) -> None:
    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 2 or node not in by_id:
            return
        if state.get(node) == 1:
            cycle = [*path[path.index(node) :], node]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                edges = " -> ".join(reversed(cycle))
                problems.append(
                    Problem(
                        by_id[node].file,
                        by_id[node].header_line,
                        f"the graph has a cycle: {edges} (arrows go from parent to child)",
                        "a node cannot depend on itself through its parents: remove one of "
                        "these parent columns",
                    )
                )
            return
        state[node] = 1
        for parent in by_id[node].parents:
            if parent != node:  # a node naming itself is reported by `_build_node`
                visit(parent, [*path, node])
        state[node] = 2

    for table in tables:
        visit(table.node, [])


def _parent_states(
    table: RawTable,
    by_id: Mapping[str, RawTable],
    broken: Collection[str],
    problems: list[Problem],
    aliases: Mapping[str, str],
) -> list[tuple[str, ...] | None]:
    """Each parent's states; None for a parent that is missing or whose file is unreadable."""
    found: list[tuple[str, ...] | None] = []
    for parent in table.parents:
        if parent == table.node:
            problems.append(
                Problem(
                    table.file,
                    table.header_line,
                    f"{parent} names itself as a parent",
                    f"remove the column '{parent}': a node cannot depend on itself",
                )
            )
            found.append(None)
        elif parent in broken:
            found.append(None)  # its own file's problem says why
        elif parent not in by_id:
            names = sorted({*by_id, *broken})
            hint = f"{suggest(parent, names)}nodes: {', '.join(names)}"
            if parent in aliases:
                hint = (
                    f"'{parent}' is an alias of {aliases[parent]}: headers name parents by id, "
                    f"so write {aliases[parent]}"
                )
            problems.append(
                Problem(
                    table.file,
                    table.header_line,
                    f"parent column '{parent}' names no node (there is no {parent}.csv)",
                    hint,
                )
            )
            found.append(None)
        else:
            found.append(by_id[parent].states)
    return found


def _build_node(
    table: RawTable,
    by_id: Mapping[str, RawTable],
    broken: Collection[str],
    skipped: Sequence[int],
    problems: list[Problem],
    meta: Mapping[str, Any],
    aliases: Mapping[str, str],
) -> Node | None:
    """Check one table against its parents and build its `Node` (None if anything is wrong).

    `skipped` are lines of rows already reported as unreadable.
    """
    errors = len(problems)
    file = table.file
    parent_states = _parent_states(table, by_id, broken, problems, aliases)
    known_states = [s for s in parent_states if s is not None]
    shape = tuple(len(s) for s in known_states)
    complete = len(known_states) == len(parent_states)
    probs = np.full((*shape, len(table.states)), np.nan)
    ess = np.full(shape, np.nan)
    notes: dict[tuple[int, ...], str] = {}
    lines: dict[tuple[int, ...], int] = {}
    unmatched = list(skipped)
    for row in table.rows:
        values = _row_values(table, row.probs, row.line, problems)
        if values is not None:
            total = math.fsum(values)
            if abs(total - 1) > SUM_TOLERANCE:
                hint = (
                    "`bn check --fix-sums` renormalises rows this close to 1"
                    if abs(total - 1) <= FIXABLE
                    else "each row's probabilities must sum to 1 (tolerance 1e-6)"
                )
                problems.append(
                    Problem(file, row.line, f"the row sums to {total:.10g}, not 1", hint)
                )
        weight = parse_ess(row.ess)
        if isinstance(weight, str):
            problems.append(
                Problem(
                    file,
                    row.line,
                    f"ess '{row.ess}' is {weight}",
                    "ess is how many observations the row is worth (a number > 0); "
                    "leave it blank if the row is exact",
                )
            )
        combo = _row_index(table, row.parents, row.line, parent_states, problems)
        if combo is None:
            unmatched.append(row.line)
            continue
        if combo in lines:
            problems.append(
                Problem(
                    file,
                    row.line,
                    f"duplicate row for {_combo_text(table, row.parents)} "
                    f"(first on line {lines[combo]})",
                    "keep one row per combination of parent states; delete one of them",
                )
            )
            continue
        lines[combo] = row.line
        if values is not None:
            probs[combo] = values
        ess[combo] = weight if isinstance(weight, float) else math.nan
        notes[combo] = row.note
    if complete:
        _check_missing(table, known_states, lines, unmatched, problems)
    if len(problems) > errors or not complete or skipped:
        return None
    order = list(itertools.product(*(range(n) for n in shape)))
    return Node(
        id=table.node,
        states=table.states,
        parents=table.parents,
        table=probs,
        ess=ess,
        notes=tuple(notes[c] for c in order),
        label=str(meta.get("label", "")),
        description=str(meta.get("description", "")),
        aliases=tuple(str(a) for a in meta.get("aliases", []) or []),
        state_descriptions={str(k): str(v) for k, v in (meta.get("states") or {}).items()},
    )


def _check_missing(
    table: RawTable,
    parent_states: Sequence[tuple[str, ...]],
    lines: Mapping[tuple[int, ...], int],
    unmatched: Sequence[int],
    problems: list[Problem],
) -> None:
    """Report parent-state combinations without a row (not those an erroneous row may hold)."""
    combos = itertools.product(*(range(len(s)) for s in parent_states))
    missing = [c for c in combos if c not in lines]
    if not missing or len(missing) <= len(unmatched):
        return  # each missing row is probably one of the rows already reported
    names = [
        _combo_text(table, [s[i] for s, i in zip(parent_states, c, strict=True)]) for c in missing
    ]
    shown = "; ".join(names[:8]) + (f"; and {len(names) - 8} more" if len(names) > 8 else "")
    hint = "add one row per combination of parent states"
    if unmatched:
        hint += f" (some may be the rows with errors, on lines {', '.join(map(str, unmatched))})"
    if any(s[c[0]].startswith("#") for c in missing for s in parent_states[:1]):
        hint += '; a row starting with # is a comment: quote the state ("#...")'
    problems.append(
        Problem(table.file, table.header_line, f"{len(missing)} missing row(s): {shown}", hint)
    )


def _combo_text(table: RawTable, states: Sequence[str]) -> str:
    return ", ".join(f"{p}={s}" for p, s in zip(table.parents, states, strict=True)) or "(root)"


def _row_index(
    table: RawTable,
    values: Sequence[str],
    line: int,
    parent_states: Sequence[tuple[str, ...] | None],
    problems: list[Problem],
) -> tuple[int, ...] | None:
    """The row's parent-state indices; None if a parent is unknown or a value is not its state.

    Every value that is not a state of its (known) parent is reported.
    """
    index: list[int] | None = []
    for parent, value, states in zip(table.parents, values, parent_states, strict=True):
        if states is not None and value not in states:
            problems.append(
                Problem(
                    table.file,
                    line,
                    f"'{value}' is not a state of parent {parent}",
                    f"{suggest(value, states)}states of {parent}: {', '.join(states)}",
                )
            )
        if states is None or value not in states:
            index = None
        elif index is not None:
            index.append(states.index(value))
    return None if index is None else tuple(index)


def _row_values(
    table: RawTable, cells: Sequence[str], line: int, problems: list[Problem]
) -> list[float] | None:
    """The row's probabilities; None, with one problem per bad cell, if any cell is not one."""
    values = []
    for state, cell in zip(table.states, cells, strict=True):
        value = parse_probability(cell)
        if isinstance(value, float):
            values.append(value)
            continue
        hint = "probabilities are decimals between 0 and 1"
        if cell.endswith("%"):
            hint += f": write {cell[:-1].strip()}% as a fraction (30% is 0.3)"
        elif "," in cell:
            hint += " with a decimal point (0.3, not 0,3)"
        elif value == "greater than 1":
            hint += " (a percentage? 30% is 0.3)"
        what = f" is {value}" if value in ("empty", "NaN") else f": '{cell}' is {value}"
        problems.append(Problem(table.file, line, f"{table.node}={state}{what}", hint))
    return values if len(values) == len(cells) else None
