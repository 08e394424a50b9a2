"""Compact node files (noisy-OR, noisy-MAX, ranked): reading them, checking them, building the node.

A node is compact when its `[nodes.<id>]` table in model.toml says `form = "noisy-or"`,
`"noisy-max"` or `"ranked"`. Its CSV file then holds the form's parameters (README: compact
nodes); `read_compact` parses it into a `RawTable` (rows as text, with lines) and
`build_compact` checks it against its parents and builds the `Node`, whose table is the
expansion (`bn.forms`) and whose `form` keeps the parameters.

>>> problems = []
>>> text = "parent,state,c=no,c=yes\\na,on,0.2,0.8\\nleak,,0.9,0.1\\n"
>>> table = parse_compact(text, "c.csv", "noisy-or", problems)
>>> table.parents, table.states, [r.parents for r in table.rows], problems
(('a',), ('no', 'yes'), [('a', 'on'), ('leak', '')], [])
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import (
    RESERVED,
    SUM_TOLERANCE,
    CSVSyntaxError,
    RawRow,
    RawTable,
    csv_rows,
    parse_ess,
    parse_probability,
    read_text,
)
from bn.errors import Problem
from bn.files import MODEL_TOML
from bn.forms import FORMS, FUNCTIONS, LEAK, NoisyMax, Ranked
from bn.metadata import TomlLines
from bn.model import Node
from bn.names import suggest
from bn.numbers import DECIMAL


def form_of(meta_node: Mapping[str, Any]) -> str:
    """The form model.toml declares for a node ('' for a full table; an unknown form is
    reported by `build_compact`, and the file read as that form's nearest kind)."""
    form = meta_node.get("form", "")
    return form if isinstance(form, str) else str(form)


def read_compact(
    path: Path, meta_node: Mapping[str, Any], problems: list[Problem]
) -> RawTable | None:
    """Read and parse the file of a node whose model.toml table declares a form."""
    text = read_text(path, problems)
    if text is None:
        return None
    return parse_compact(text, path.name, form_of(meta_node), problems, levels_of(meta_node))


def parse_compact(
    text: str, name: str, form: str, problems: list[Problem], levels: tuple[str, ...] = ()
) -> RawTable | None:
    """Parse a compact file's text. Noisy forms: `parent,state,<id>=<state>...[,ess][,note]`,
    one row per parent state plus a `leak` row (state blank). Ranked: `parent,weight[,ess][,note]`.
    The parents are the `parent` cells in order of first appearance (the leak row excepted)."""
    node = Path(name).stem
    try:
        records = csv_rows(text)
    except CSVSyntaxError as error:
        problems.append(Problem(name, error.line, f"not valid CSV: {error.reason}", error.hint))
        return None
    if not records:
        problems.append(
            Problem(name, None, "the file is empty (no header, no rows)", _layout(form, node))
        )
        return None
    line, header = records[0]
    header = [h.strip() for h in header]
    ranked = form == "ranked"
    second = "weight" if ranked else "state"
    if header[:2] != ["parent", second]:
        problems.append(
            Problem(
                name,
                line,
                f"model.toml declares {node} {form}, so the header starts with parent,{second}",
                _layout(form, node),
            )
        )
        return None
    rest = header[2:]
    states: list[str] = []
    extras: list[str] = []
    for column in rest:
        target, sep, state = (part.strip() for part in column.partition("="))
        if column in RESERVED and column not in extras:
            extras.append(column)
        elif sep and target == node and state and not extras and not ranked and state not in states:
            states.append(state)
        else:
            problems.append(
                Problem(
                    name,
                    line,
                    f"unexpected column '{column}' in a {form} file",
                    _layout(form, node),
                )
            )
            return None
    if not ranked and len(states) < 2:
        problems.append(
            Problem(
                name,
                line,
                f"a {form} file needs a {node}=<state> column per state",
                _layout(form, node),
            )
        )
        return None
    ess_at = header.index("ess") if "ess" in header else None
    note_at = header.index("note") if "note" in header else None
    width = 1 if ranked else 2
    rows: list[RawRow] = []
    parents: list[str] = []
    for row_line, record in records[1:]:
        if len(record) != len(header):
            problems.append(
                Problem(
                    name,
                    row_line,
                    f"the row has {len(record)} cells but the header has {len(header)} "
                    f"({', '.join(header)})",
                    'one cell per header column; quote cells that contain commas ("a, b")',
                )
            )
            continue
        cells = [c.strip() for c in record]
        keys = tuple(cells[:width])
        probs = tuple(cells[width : 2 + len(states)] if not ranked else cells[1:2])
        rows.append(
            RawRow(
                row_line,
                keys,
                probs,
                cells[ess_at] if ess_at is not None else "",
                record[note_at] if note_at is not None else "",
            )
        )
        is_leak = not ranked and keys == (LEAK, "")
        if not is_leak and keys[0] not in parents:
            parents.append(keys[0])
    if ranked:
        states = list(levels)
    return RawTable(name, node, tuple(parents), tuple(states), rows, line, tuple(header), form)


def _layout(form: str, node: str) -> str:
    if form == "ranked":
        return (
            "a ranked node's file has the header parent,weight (then ess and note) and one row "
            "per parent, e.g. skill,3; its states (levels), function and variance are in model.toml"
        )
    return (
        f"a {form} file has the header parent,state,{node}=<state>,... (then ess and note): one "
        "row per parent state other than the parent's absent state, with the child's "
        "distribution when only that parent is present, and a row leak,,... for all other causes"
    )


def levels_of(meta_node: Mapping[str, Any]) -> tuple[str, ...]:
    """A ranked node's states as model.toml lists them (`levels`), as far as it is a list."""
    levels = meta_node.get("levels", [])
    return tuple(str(s) for s in levels) if isinstance(levels, list) else ()


def build_compact(
    table: RawTable,
    by_id: Mapping[str, RawTable],
    broken: Collection[str],
    problems: list[Problem],
    meta: Mapping[str, Any],
    where: TomlLines,
) -> Node | None:
    """Check a compact table against its parents and model.toml; its `Node` if all is well."""
    errors = len(problems)
    checker = _Checker(table, by_id, broken, problems, meta, where)
    form: NoisyMax | Ranked | None
    if table.form not in FORMS:
        checker.toml(
            "form",
            f"unknown form '{table.form}' for {table.node}",
            f"{suggest(table.form, FORMS)}forms: {', '.join(FORMS)}",
        )
        form = None
    elif table.form == "ranked":
        form = checker.ranked()
    else:
        form = checker.noisy()
    if form is None or len(problems) > errors:
        return None
    return Node(
        id=table.node,
        states=form.states,
        parents=form.parents,
        table=form.expand(),
        label=str(meta.get("label", "")),
        description=str(meta.get("description", "")),
        aliases=tuple(str(a) for a in meta.get("aliases", []) or []),
        state_descriptions={str(k): str(v) for k, v in (meta.get("states") or {}).items()},
        form=form,
    )


class _Checker:
    """The checks of one compact table, each problem with its file and line."""

    def __init__(
        self,
        table: RawTable,
        by_id: Mapping[str, RawTable],
        broken: Collection[str],
        problems: list[Problem],
        meta: Mapping[str, Any],
        where: TomlLines,
    ) -> None:
        self.table, self.by_id, self.broken = table, by_id, broken
        self.problems, self.meta, self.where = problems, meta, where

    def add(self, line: int | None, message: str, hint: str = "") -> None:
        self.problems.append(Problem(self.table.file, line, message, hint))

    def toml(self, key: str, message: str, hint: str) -> None:
        line = self.where.line("nodes", self.table.node, key)
        self.problems.append(Problem(MODEL_TOML, line, message, hint))

    def parent_states(self) -> dict[str, tuple[str, ...]]:
        """Each parent's states, for the parents that are known nodes (the others reported)."""
        found: dict[str, tuple[str, ...]] = {}
        first = {r.parents[0]: r.line for r in self.table.rows}
        for parent in self.table.parents:
            line = first.get(parent, self.table.header_line)
            if parent == self.table.node:
                self.add(
                    line, f"{parent} names itself as a parent", "a node cannot depend on itself"
                )
            elif parent in self.broken:
                pass  # its own file's problem says why
            elif parent not in self.by_id:
                names = sorted({*self.by_id, *self.broken})
                self.add(
                    line,
                    f"'{parent}' names no node (there is no {parent}.csv)",
                    f"{suggest(parent, names)}nodes: {', '.join(names)}",
                )
            else:
                found[parent] = self.by_id[parent].states
        return found

    def ess(self, row: RawRow) -> float:
        weight = parse_ess(row.ess)
        if isinstance(weight, str):
            self.add(
                row.line,
                f"ess '{row.ess}' is {weight}",
                "ess is how many observations the row is worth (a number > 0); "
                "leave it blank if the row is exact",
            )
            return math.nan
        return weight

    def noisy(self) -> NoisyMax | None:
        table, meta = self.table, self.meta
        node, states = table.node, table.states
        absent = meta.get("absent", states[0])
        if absent not in states:
            self.toml(
                "absent",
                f"absent = '{absent}' is not a state of {node}",
                f"{suggest(str(absent), states)}states of {node}: {', '.join(states)}",
            )
            return None
        if states.index(absent) not in (0, len(states) - 1):
            self.toml(
                "absent",
                f"{node}'s absent state '{absent}' is neither its first nor its last state",
                "the child's states are levels ordered away from its absent state: put it first "
                "(or last) in the header",
            )
            return None
        if table.form == "noisy-or" and len(states) != 2:
            self.add(
                table.header_line,
                f"a noisy-or node has two states; {node} has {len(states)}",
                'for graded states declare form = "noisy-max"',
            )
        known = self.parent_states()
        given = meta.get("parent_absent", {})
        if not isinstance(given, Mapping):
            self.toml(
                "parent_absent", "parent_absent must be a table", 'parent_absent = {a = "no"}'
            )
            given = {}
        for parent, state in given.items():
            if parent not in table.parents:
                self.toml(
                    "parent_absent",
                    f"parent_absent names '{parent}', which is not a parent of {node}",
                    f"{suggest(parent, table.parents)}parents: {', '.join(table.parents)}",
                )
            elif parent in known and state not in known[parent]:
                self.toml(
                    "parent_absent",
                    f"parent_absent: '{state}' is not a state of {parent}",
                    f"{suggest(str(state), known[parent])}states of {parent}: "
                    f"{', '.join(known[parent])}",
                )
        off = {p: str(given.get(p, known[p][0])) for p in known}
        rows: dict[tuple[str, str], tuple[list[float] | None, float, str, int]] = {}
        for row in table.rows:
            key = (row.parents[0], row.parents[1])
            leak = key == (LEAK, "")
            if not leak and key[0] not in known:
                continue  # an unknown parent, reported once
            if not leak and key[1] not in known[key[0]]:
                self.add(
                    row.line,
                    f"'{key[1]}' is not a state of parent {key[0]}",
                    f"{suggest(key[1], known[key[0]])}states of {key[0]}: {', '.join(known[key[0]])}",
                )
                continue
            if not leak and key[1] == off[key[0]]:
                self.add(
                    row.line,
                    f"{key[0]}={key[1]} is {key[0]}'s absent state: it has no link",
                    "delete the row (an absent parent never produces the child), or declare "
                    f'another absent state with parent_absent = {{{key[0]} = "..."}} in model.toml',
                )
                continue
            if key in rows:
                what = "leak row" if leak else f"row for {key[0]}={key[1]}"
                self.add(
                    row.line, f"duplicate {what} (first on line {rows[key][3]})", "keep one of them"
                )
                continue
            rows[key] = (self.probabilities(row), self.ess(row), row.note, row.line)
        labels = [(p, s) for p in known for s in known[p] if s != off[p]]
        missing = [f"{p}={s}" for p, s in labels if (p, s) not in rows]
        if missing:
            self.add(
                table.header_line,
                f"{len(missing)} missing link row(s): {', '.join(missing)}",
                "each parent state other than the absent one needs a row with the child's "
                "distribution when only that parent is present",
            )
        if (LEAK, "") not in rows:
            self.add(
                table.header_line,
                "no leak row",
                f"add a row leak,,... with {node}'s distribution when no modelled parent is "
                f"present (all on {absent} for no leak: "
                + ",".join("1" if s == absent else "0" for s in states)
                + ")",
            )
            return None
        labels.append((LEAK, ""))
        if missing or len(known) < len(table.parents) or any(rows[k][0] is None for k in labels):
            return None
        return NoisyMax(
            form=table.form,
            states=states,
            absent=str(absent),
            parents=table.parents,
            parent_states=tuple(known[p] for p in table.parents),
            parent_absent=tuple(off[p] for p in table.parents),
            labels=tuple(labels),
            rows=np.array([rows[k][0] for k in labels]),
            ess=np.array([rows[k][1] for k in labels]),
            notes=tuple(rows[k][2] for k in labels),
        )

    def probabilities(self, row: RawRow) -> list[float] | None:
        values = []
        for state, cell in zip(self.table.states, row.probs, strict=True):
            value = parse_probability(cell)
            if isinstance(value, str):
                what = f" is {value}" if value in ("empty", "NaN") else f": '{cell}' is {value}"
                self.add(
                    row.line,
                    f"{self.table.node}={state}{what}",
                    "probabilities are decimals in [0, 1]",
                )
            else:
                values.append(value)
        if len(values) != len(row.probs):
            return None
        total = math.fsum(values)
        if abs(total - 1) > SUM_TOLERANCE:
            self.add(
                row.line,
                f"the row sums to {total:.10g}, not 1",
                "each link and the leak is a distribution over the child's states",
            )
            return None
        return values

    def ranked(self) -> Ranked | None:
        table, meta = self.table, self.meta
        node = table.node
        states = levels_of(meta)
        ok = True
        if len(states) < 2 or len(set(states)) != len(states):
            self.toml(
                "levels",
                f"ranked node {node} needs levels: its states, lowest first, each once",
                'levels = ["low", "medium", "high"] in [nodes.' + node + "]",
            )
            ok = False
        function = meta.get("function", "wmean")
        if function not in FUNCTIONS:
            self.toml(
                "function",
                f"unknown function '{function}' for ranked node {node}",
                f"{suggest(str(function), FUNCTIONS)}functions: {', '.join(FUNCTIONS)}",
            )
            ok = False
        variance = meta.get("variance")
        if (
            not isinstance(variance, int | float)
            or isinstance(variance, bool)
            or not (math.isfinite(variance) and variance > 0)
        ):
            self.toml(
                "variance",
                f"ranked node {node} needs variance = a positive number (got {variance!r})",
                "the variance of the normal around the parents' function, e.g. variance = 0.01",
            )
            ok = False
        variance_ess = meta.get("variance_ess", math.nan)
        if (
            not isinstance(variance_ess, int | float)
            or isinstance(variance_ess, bool)
            or not (math.isnan(variance_ess) or (math.isfinite(variance_ess) and variance_ess > 0))
        ):
            self.toml(
                "variance_ess",
                f"variance_ess of {node} must be a positive number (got {variance_ess!r})",
                "how many observations the variance is worth, e.g. variance_ess = 20; "
                "leave it out if the variance is exact",
            )
            ok = False
        mix = meta.get("mix", [1.0, 1.0])
        if not (
            isinstance(mix, list)
            and len(mix) == 2
            and all(isinstance(m, int | float) and not isinstance(m, bool) and m > 0 for m in mix)
        ):
            self.toml("mix", "mix must be two positive weights [min, max]", "mix = [1, 3]")
            ok = False
        if not table.rows:
            self.add(
                table.header_line, f"ranked node {node} has no parent rows", _layout("ranked", node)
            )
            ok = False
        known = self.parent_states()
        weights: dict[str, float] = {}
        notes: dict[str, str] = {}
        ess: dict[str, float] = {}
        for row in table.rows:
            parent = row.parents[0]
            if parent in weights:
                self.add(row.line, f"duplicate row for parent {parent}", "one row per parent")
                ok = False
                continue
            cell = row.probs[0]
            value = float(cell) if DECIMAL.match(cell) else math.nan
            if not (math.isfinite(value) and value > 0):
                if function == "mixminmax" and not cell:
                    value = 1.0
                else:
                    self.add(
                        row.line,
                        f"weight '{cell}' of {parent} is not a positive number",
                        "weights are numbers > 0, e.g. 3",
                    )
                    ok = False
            ess[parent] = self.ess(row)
            weights[parent] = value
            notes[parent] = row.note
        if not ok or len(known) < len(table.parents):
            return None
        return Ranked(
            function=str(function),
            states=states,
            parents=table.parents,
            parent_states=tuple(known[p] for p in table.parents),
            weights=np.array([weights[p] for p in table.parents]),
            variance=float(variance),  # type: ignore[arg-type]
            mix=(float(mix[0]), float(mix[1])),
            notes=tuple(notes[p] for p in table.parents),
            ess=np.array([ess[p] for p in table.parents]),
            variance_ess=float(variance_ess),
        )
