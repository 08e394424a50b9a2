"""Every check of a model directory, reported all at once, and the construction of the `Model`.

`check(directory)` returns the model (None when there are errors) and the list of problems, each
naming the file and line, saying what is wrong and how to fix it. `load` raises `ModelError` with
all of them. `bn check` prints them; every other command loads through here first.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import (
    ID_PATTERN,
    csv_records,
    write_atomic,
    RESERVED,
    SUM_TOLERANCE,
    RawTable,
    node_files,
    node_metadata,
    parse_ess,
    parse_probability,
    read_table,
    read_toml,
    sources_list,
)
from bn.errors import ModelError, Problem
from bn.model import Model, Node, suggest

FIXABLE = 1e-3  # rows off by at most this much are renormalised by `bn check --fix-sums`


def load(directory: str | Path) -> Model:
    """Read and validate a model directory; `ModelError` lists every problem if it is invalid."""
    model, problems = check(directory)
    if model is None:
        raise ModelError(problems)
    return model


def check(directory: str | Path) -> tuple[Model | None, list[Problem]]:
    """All problems of a model directory, and the model when there are no errors."""
    directory = Path(directory)
    problems: list[Problem] = []
    if not directory.is_dir():
        return None, [Problem(str(directory), None, "no such model directory")]
    meta = read_toml(directory / "model.toml", problems)
    files = node_files(directory)
    if not files:
        problems.append(
            Problem(
                directory.name or str(directory),
                None,
                "no node files (*.csv) in the model directory",
                "each node is a file <node_id>.csv; see `bn --help`",
            )
        )
    tables = [t for t in (read_table(path, problems) for path in files) if t is not None]
    nodes = check_tables(tables, problems, meta)
    if any(p.severity == "error" for p in problems) or nodes is None:
        return None, problems
    head = meta.get("model", {}) if isinstance(meta.get("model", {}), Mapping) else {}
    try:
        model = Model(
            tuple(nodes),
            title=str(head.get("title", "")),
            description=str(head.get("description", "")),
            sources=tuple(sources_list(meta)),
            targets=tuple(str(t) for t in head.get("targets", [])),
            path=directory,
        )
    except ModelError as error:
        return None, problems + error.problems
    problems += _check_targets(model)
    if any(p.severity == "error" for p in problems):
        return None, problems
    return model, problems


def fix_sums(directory: str | Path) -> list[Problem]:
    """Renormalise every row whose sum is off by at most `FIXABLE`; one `Problem` per fixed row.

    Only the fixed rows are rewritten; every other line (comments, notes, line endings) stays
    byte-identical. Each file is replaced atomically.
    """
    fixed: list[Problem] = []
    for path in node_files(Path(directory)):
        data = path.read_bytes()
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            continue  # `check` reports it
        bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
        table = read_table(path, [])
        if table is None:
            continue
        lines = text.split("\n")
        ends = {start: end for start, end, _ in csv_records(text.replace("\r\n", "\n"))}
        width = len(table.parents)
        changed = False
        for row in reversed(table.rows):  # bottom-up, so earlier line numbers stay valid
            values = [parse_probability(c) for c in row.probs]
            floats = [v for v in values if isinstance(v, float)]
            total = math.fsum(floats)
            if len(floats) < len(values) or not SUM_TOLERANCE < abs(total - 1) <= FIXABLE:
                continue
            start, end = row.line, ends[row.line]
            original = "\n".join(lines[start - 1 : end])
            ending = "\r" if original.endswith("\r") else ""
            record = next(csv.reader(io.StringIO(original.replace("\r\n", "\n"))))
            record[width : width + len(floats)] = [f"{v / total:.12g}" for v in floats]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow(record)
            lines[start - 1 : end] = [buffer.getvalue() + ending]
            fixed.append(Problem(table.file, row.line, f"row renormalised (it summed to {total:.10g})"))
            changed = True
        if changed:
            write_atomic(path, bom + "\n".join(lines))
    return fixed


def check_tables(
    tables: Sequence[RawTable],
    problems: list[Problem],
    meta: Mapping[str, Any] | None = None,
    known: Sequence[RawTable] = (),
) -> list[Node] | None:
    """Cross-file checks (ids, parents, states, rows, sums, cycles, aliases); the nodes if clean.

    `known` are other nodes' headers, consulted for parents and states but not checked or built
    (an overlay's tables are checked against the model's other nodes this way).
    """
    meta = meta or {}
    before = len([p for p in problems if p.severity == "error"])
    by_id = {t.node: t for t in [*known, *tables]}
    _check_ids(tables, problems)
    _check_cycles([*known, *tables], by_id, problems)
    nodes = []
    for table in tables:
        node = _build_node(table, by_id, problems, node_metadata(meta, table.node))
        if node is not None:
            nodes.append(node)
    if meta:
        _check_metadata(meta, by_id, problems)
    if len([p for p in problems if p.severity == "error"]) > before:
        return None
    return nodes


def _check_ids(tables: Sequence[RawTable], problems: list[Problem]) -> None:
    folded: dict[str, str] = {}
    for table in tables:
        if not ID_PATTERN.match(table.node) or table.node in RESERVED:
            problems.append(
                Problem(
                    table.file,
                    None,
                    f"'{table.node}' is not a valid node id",
                    "ids start with a letter, then letters, digits or _, and are not 'ess' or "
                    "'note'; rename the file (use a label or alias in model.toml for display)",
                )
            )
        other = folded.setdefault(table.node.lower(), table.node)
        if other != table.node:
            problems.append(
                Problem(
                    table.file,
                    None,
                    f"node ids '{other}' and '{table.node}' differ only by case",
                    "file names collide on macOS and Windows: give them distinct ids and use "
                    "aliases in model.toml for the names users type",
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
            cycle = path[path.index(node) :] + [node]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                problems.append(
                    Problem(
                        by_id[node].file,
                        by_id[node].header_line,
                        f"the graph has a cycle: {' -> '.join(reversed(cycle))}",
                        "a node cannot depend on itself, directly or through its parents",
                    )
                )
            return
        state[node] = 1
        for parent in by_id[node].parents:
            visit(parent, [*path, node])
        state[node] = 2

    for table in tables:
        visit(table.node, [])


def _build_node(
    table: RawTable,
    by_id: Mapping[str, RawTable],
    problems: list[Problem],
    meta: Mapping[str, Any],
) -> Node | None:
    """Check one table against its parents and build its `Node` (None if anything is wrong)."""
    errors = len(problems)
    file = table.file
    parent_states: list[tuple[str, ...]] = []
    for parent in table.parents:
        if parent == table.node:
            problems.append(Problem(file, table.header_line, f"{parent} names itself as a parent"))
            return None
        if parent not in by_id:
            problems.append(
                Problem(
                    file,
                    table.header_line,
                    f"parent column '{parent}' names no node",
                    f"{suggest(parent, by_id)}nodes: {', '.join(sorted(by_id))}",
                )
            )
            return None
        parent_states.append(by_id[parent].states)
    if len(set(table.parents)) != len(table.parents):
        problems.append(Problem(file, table.header_line, "a parent column appears twice"))
        return None
    shape = tuple(len(s) for s in parent_states)
    probs = np.full((*shape, len(table.states)), np.nan)
    ess = np.full(shape, np.nan)
    notes: dict[tuple[int, ...], str] = {}
    lines: dict[tuple[int, ...], int] = {}
    for row in table.rows:
        combo = _row_index(table, row.parents, row.line, parent_states, problems)
        values = _row_values(table, row.probs, row.line, problems)
        weight = parse_ess(row.ess)
        if isinstance(weight, str):
            problems.append(
                Problem(
                    file,
                    row.line,
                    f"ess '{row.ess}' is {weight}",
                    "ess is how many observations the row is worth (> 0); leave it blank if exact",
                )
            )
        if combo is None or values is None:
            continue
        if combo in lines:
            problems.append(
                Problem(
                    file,
                    row.line,
                    f"duplicate row for {_combo_text(table, row.parents)} "
                    f"(first on line {lines[combo]})",
                    "keep one row per combination of parent states",
                )
            )
            continue
        lines[combo] = row.line
        total = math.fsum(values)
        if abs(total - 1) > SUM_TOLERANCE:
            hint = (
                "`bn check --fix-sums` renormalises rows this close to 1"
                if abs(total - 1) <= FIXABLE
                else "each row's probabilities must sum to 1"
            )
            problems.append(Problem(file, row.line, f"the row sums to {total:.10g}, not 1", hint))
        probs[combo] = values
        ess[combo] = weight if isinstance(weight, float) else math.nan
        notes[combo] = row.note
    missing = [c for c in itertools.product(*(range(n) for n in shape)) if c not in lines]
    if missing and len(problems) == errors:
        names = [
            _combo_text(table, [s[i] for s, i in zip(parent_states, c, strict=True)])
            for c in missing
        ]
        shown = "; ".join(names[:8]) + (f"; and {len(names) - 8} more" if len(names) > 8 else "")
        problems.append(
            Problem(
                file,
                None,
                f"{len(missing)} missing row(s): {shown}",
                "add one row per combination of parent states (`bn cpt template` writes them)",
            )
        )
    if len(problems) > errors:
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


def _combo_text(table: RawTable, states: Sequence[str]) -> str:
    return ", ".join(f"{p}={s}" for p, s in zip(table.parents, states, strict=True)) or "(root)"


def _row_index(
    table: RawTable,
    values: Sequence[str],
    line: int,
    parent_states: Sequence[tuple[str, ...]],
    problems: list[Problem],
) -> tuple[int, ...] | None:
    index = []
    for parent, value, states in zip(table.parents, values, parent_states, strict=True):
        if value not in states:
            problems.append(
                Problem(
                    table.file,
                    line,
                    f"'{value}' is not a state of parent {parent}",
                    f"{suggest(value, states)}states of {parent}: {', '.join(states)}",
                )
            )
            return None
        index.append(states.index(value))
    return tuple(index)


def _row_values(
    table: RawTable, cells: Sequence[str], line: int, problems: list[Problem]
) -> list[float] | None:
    values = []
    for state, cell in zip(table.states, cells, strict=True):
        value = parse_probability(cell)
        if isinstance(value, str):
            problems.append(
                Problem(
                    table.file,
                    line,
                    f"{table.node}={state}: '{cell}' is {value}",
                    "probabilities are decimals between 0 and 1",
                )
            )
            return None
        values.append(value)
    return values


def _check_metadata(
    meta: Mapping[str, Any], by_id: Mapping[str, RawTable], problems: list[Problem]
) -> None:
    nodes = meta.get("nodes", {})
    if not isinstance(nodes, Mapping):
        problems.append(Problem("model.toml", None, "[nodes] must be a table of node tables"))
        return
    owners: dict[str, str] = {}
    for node_id, entry in nodes.items():
        if node_id not in by_id:
            problems.append(
                Problem(
                    "model.toml",
                    None,
                    f"[nodes.{node_id}] describes no node",
                    f"{suggest(node_id, by_id)}nodes: {', '.join(sorted(by_id))}",
                    "warning",
                )
            )
            continue
        if not isinstance(entry, Mapping):
            problems.append(Problem("model.toml", None, f"[nodes.{node_id}] must be a table"))
            continue
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.append(
                Problem("model.toml", None, f"aliases of {node_id} must be a list of strings")
            )
            continue
        states = entry.get("states", {})
        if not isinstance(states, Mapping):
            problems.append(
                Problem("model.toml", None, f"[nodes.{node_id}] states must be a table")
            )
        else:
            for state in states:
                if state not in by_id[node_id].states:
                    problems.append(
                        Problem(
                            "model.toml",
                            None,
                            f"[nodes.{node_id}.states] defines '{state}', not a state of {node_id}",
                            f"states of {node_id}: {', '.join(by_id[node_id].states)}",
                        )
                    )
        for alias in aliases:
            clash = by_id.get(alias)
            if clash is not None and alias != node_id:
                owner = f"node id {alias}"
            else:
                owner = owners.get(alias, "")
            if owner and owner != node_id:
                problems.append(
                    Problem(
                        "model.toml",
                        None,
                        f"alias '{alias}' of {node_id} is already used by {owner}",
                        "aliases must be unique across the model and differ from node ids",
                    )
                )
            owners[alias] = node_id


def _check_targets(model: Model) -> list[Problem]:
    problems = []
    for target in model.targets:
        if target not in model:
            problems.append(
                Problem(
                    "model.toml",
                    None,
                    f"target '{target}' names no node",
                    f"{suggest(target, model.ids)}nodes: {', '.join(model.ids)}",
                )
            )
    return problems
