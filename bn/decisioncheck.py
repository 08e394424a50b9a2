"""The checks of an influence diagram's decision and utility files, reported all at once.

A decision's file is only a header (informational parents, then `<id>=<option>` columns) and its
`[nodes.<id>]` table in `model.toml` says `kind = "decision"`; a utility's file has a `utility`
column and one row per combination of its parents' states. Decisions must be made in one order:
either a directed path runs through all of them, or `[model] decision_order` lists them. The chance
nodes are checked by `bn.tablecheck` as always; `check_influence` adds what is particular here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from bn.csvfiles import RawTable, node_metadata
from bn.errors import Problem
from bn.files import MODEL_TOML
from bn.influence import KINDS, UTILITY, Decision, RawUtility, Utility
from bn.metadata import TomlLines
from bn.names import suggest
from bn.numbers import parse_decimal


def kind_of(meta: Mapping[str, Any], node: str) -> str:
    """The `kind` a node's `[nodes.<id>]` table gives it ("chance" when absent)."""
    kind = node_metadata(meta, node).get("kind", "chance")
    return kind if isinstance(kind, str) else "chance"


def utility_stub(raw: RawUtility) -> RawTable:
    """A utility as a header the table checks can consult (it has no states: no child may use it)."""
    return RawTable(raw.file, raw.node, raw.parents, (), [], raw.header_line)


def check_influence(
    chance: Sequence[RawTable],
    decisions: Sequence[RawTable],
    utilities: Sequence[RawUtility],
    meta: Mapping[str, Any],
    problems: list[Problem],
    toml_text: str = "",
) -> tuple[list[Decision], list[Utility]]:
    """Decisions (in the order they are made) and utilities, with a `Problem` for each mistake."""
    where = TomlLines(toml_text)
    states = {t.node: t.states for t in (*chance, *decisions)}
    utility_ids = {u.node for u in utilities}
    _check_kinds(meta, {*states, *utility_ids}, utility_ids, problems, where)
    for table in (*chance, *decisions):
        for parent in table.parents:
            if parent in utility_ids:
                problems.append(
                    Problem(
                        table.file,
                        table.header_line,
                        f"parent column '{parent}' names a utility; utilities have no children",
                        f"remove the column '{parent}': a utility is a value to maximise, not an "
                        "event other nodes can depend on",
                    )
                )
    built = [d for d in (_decision(t, meta, states, problems) for t in decisions) if d]
    values = [u for u in (_utility(r, meta, states, utility_ids, problems) for r in utilities) if u]
    order = _order(built, chance, meta, problems, where)
    return order, values


def _check_kinds(
    meta: Mapping[str, Any],
    ids: set[str],
    utility_ids: set[str],
    problems: list[Problem],
    where: TomlLines,
) -> None:
    nodes = meta.get("nodes", {})
    for node_id in sorted(ids):
        entry = nodes.get(node_id) if isinstance(nodes, Mapping) else None
        if not isinstance(entry, Mapping) or "kind" not in entry:
            continue
        kind = entry["kind"]
        line = where.line("nodes", node_id, "kind")
        if kind not in KINDS:
            problems.append(
                Problem(
                    MODEL_TOML,
                    line,
                    f"[nodes.{node_id}] kind {kind!r} is not a kind of node",
                    f"{suggest(str(kind), KINDS)}kinds: {', '.join(KINDS)}",
                )
            )
        elif (kind == "utility") != (node_id in utility_ids):
            has = "has" if node_id in utility_ids else "has no"
            problems.append(
                Problem(
                    MODEL_TOML,
                    line,
                    f'[nodes.{node_id}] says kind = "{kind}" but {node_id}.csv {has} '
                    f"'{UTILITY}' column",
                    "a utility's file is its parents, then a utility column; a chance node's "
                    "or a decision's has <id>=<state> columns",
                )
            )


def _decision(
    table: RawTable,
    meta: Mapping[str, Any],
    states: Mapping[str, tuple[str, ...]],
    problems: list[Problem],
) -> Decision | None:
    errors = len(problems)
    node = table.node
    header = f"{','.join([*table.parents, *(f'{node}={s}' for s in table.states)])}"
    extra = [c for c in table.columns if c in ("ess", "note")]
    if extra:
        problems.append(
            Problem(
                table.file,
                table.header_line,
                f"decision {node} has column(s) {', '.join(extra)}",
                f"a decision's file is only its header: {header}; describe it in "
                f"[nodes.{node}] of model.toml",
            )
        )
    for row in table.rows:
        problems.append(
            Problem(
                table.file,
                row.line,
                f'{node} is a decision (kind = "decision" in model.toml): it has no '
                "probabilities, so its file has no rows",
                f"delete this row; the file is only the header {header} (informational "
                "parents, then the options)",
            )
        )
    for parent in table.parents:
        if parent not in states and parent != node:
            problems.append(
                Problem(
                    table.file,
                    table.header_line,
                    f"informational parent '{parent}' names no chance node or decision",
                    f"{suggest(parent, sorted(states))}nodes: {', '.join(sorted(states))}",
                )
            )
    if len(problems) > errors:
        return None
    entry = node_metadata(meta, node)
    return Decision(
        node,
        table.states,
        table.parents,
        label=str(entry.get("label", "")) or node,
        description=str(entry.get("description", "")),
        aliases=tuple(str(a) for a in entry.get("aliases", []) or []),
        option_descriptions={str(k): str(v) for k, v in (entry.get("states") or {}).items()},
    )


def _utility(
    raw: RawUtility,
    meta: Mapping[str, Any],
    states: Mapping[str, tuple[str, ...]],
    utility_ids: set[str],
    problems: list[Problem],
) -> Utility | None:
    errors = len(problems)
    known = []
    for parent in raw.parents:
        if parent in utility_ids:
            problems.append(
                Problem(
                    raw.file,
                    raw.header_line,
                    f"parent column '{parent}' names a utility; utilities have no children",
                    "utilities add up by themselves: remove the column",
                )
            )
        elif parent not in states:
            problems.append(
                Problem(
                    raw.file,
                    raw.header_line,
                    f"parent column '{parent}' names no node (there is no {parent}.csv)",
                    f"{suggest(parent, sorted(states))}nodes: {', '.join(sorted(states))}",
                )
            )
        else:
            known.append(states[parent])
    if len(problems) > errors:
        return None
    values = np.full(tuple(len(s) for s in known), np.nan)
    notes: dict[tuple[int, ...], str] = {}
    lines: dict[tuple[int, ...], int] = {}
    for line, cells, cell, note in raw.rows:
        index = []
        for parent, value, options in zip(raw.parents, cells, known, strict=True):
            if value not in options:
                problems.append(
                    Problem(
                        raw.file,
                        line,
                        f"'{value}' is not a state of parent {parent}",
                        f"{suggest(value, options)}states of {parent}: {', '.join(options)}",
                    )
                )
            else:
                index.append(options.index(value))
        number = parse_decimal(cell)
        if number is None:
            problems.append(
                Problem(
                    raw.file,
                    line,
                    f"utility '{cell}' is not a number",
                    "a utility is a decimal in the model's unit (negative for a loss), e.g. -70",
                )
            )
        if len(index) < len(raw.parents) or number is None:
            continue
        combo = tuple(index)
        if combo in lines:
            problems.append(
                Problem(
                    raw.file,
                    line,
                    f"duplicate row (first on line {lines[combo]})",
                    "keep one row per combination of parent states; delete one of them",
                )
            )
            continue
        lines[combo] = line
        values[combo] = number
        notes[combo] = note
    combos = list(itertools.product(*(range(len(s)) for s in known)))
    missing = [c for c in combos if c not in lines]
    if missing and len(problems) == errors:
        names = [
            ", ".join(f"{p}={s[i]}" for p, s, i in zip(raw.parents, known, c, strict=True))
            or "(no parents)"
            for c in missing
        ]
        shown = "; ".join(names[:8]) + (f"; and {len(names) - 8} more" if len(names) > 8 else "")
        problems.append(
            Problem(
                raw.file,
                raw.header_line,
                f"{len(missing)} missing row(s): {shown}",
                "a utility needs a value for every combination of its parents' states",
            )
        )
    if len(problems) > errors:
        return None
    entry = node_metadata(meta, raw.node)
    return Utility(
        raw.node,
        raw.parents,
        values,
        tuple(notes[c] for c in combos),
        label=str(entry.get("label", "")) or raw.node,
        description=str(entry.get("description", "")),
    )


def _order(
    decisions: list[Decision],
    chance: Sequence[RawTable],
    meta: Mapping[str, Any],
    problems: list[Problem],
    where: TomlLines,
) -> list[Decision]:
    """The decisions in the order they are made (given, or read from the graph), checked."""
    parents = {t.node: t.parents for t in chance} | {d.id: d.parents for d in decisions}
    ancestors: dict[str, set[str]] = {}

    def up(node: str) -> set[str]:
        if node not in ancestors:
            ancestors[node] = set()
            for p in parents.get(node, ()):
                ancestors[node] |= {p, *up(p)}
        return ancestors[node]

    by_id = {d.id: d for d in decisions}
    head = meta.get("model", {})
    given = head.get("decision_order") if isinstance(head, Mapping) else None
    line = where.line("model", "decision_order")
    if given is not None:
        if not isinstance(given, list) or sorted(map(str, given)) != sorted(by_id):
            problems.append(
                Problem(
                    MODEL_TOML,
                    line,
                    f"[model] decision_order must list each decision once: {given!r}",
                    f"decisions: {', '.join(sorted(by_id)) or '(none)'}",
                )
            )
            return decisions
        order = [by_id[str(g)] for g in given]
        for early, late in itertools.combinations(order, 2):
            if late.id in up(early.id):
                problems.append(
                    Problem(
                        MODEL_TOML,
                        line,
                        f"decision_order puts {early.id} before {late.id}, but {late.id} "
                        f"influences {early.id} through the graph",
                        f"a decision is made after the ones that influence it: put {late.id} first",
                    )
                )
        return order
    order = sorted(decisions, key=lambda d: len(up(d.id)))
    for early, late in itertools.pairwise(order):
        if early.id not in up(late.id):
            problems.append(
                Problem(
                    MODEL_TOML,
                    line,
                    f"decisions {early.id} and {late.id} are not ordered: no path of arcs "
                    "joins them",
                    "say which is made first: add decision_order = "
                    f'["{early.id}", "{late.id}", ...] to [model] in model.toml, or make the '
                    "first an informational parent of the second",
                )
            )
    return order
