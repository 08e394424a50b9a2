"""Edits of decisions and utilities: a utility's values, and the files that name a decision or a
utility, which the chance network (`Workspace.structure`) does not list.

A utility row is addressed as a chance row is, by its parents' states (`--when drill=yes,oil=dry`),
and its one column by name: `bn cpt set payoff utility=-80 --when drill=yes,oil=dry`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bn.edit.sheet import Row, Sheet
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, param
from bn.files import MODEL_TOML
from bn.influence import UTILITY
from bn.numbers import format_number, parse_decimal


def set_utility(
    ws: Workspace,
    path: str,
    sheet: Sheet,
    rows: Sequence[Row],
    probs: Sequence[str] | None,
    named: Mapping[str, str],
    ess: str | None,
    note: str | None,
) -> list[str]:
    """Set the value (`utility=V`) and/or note of a utility's rows."""
    if probs is not None or ess is not None:
        what = param("probs") if probs is not None else param("ess")
        raise BNError(
            f"{sheet.node} is a utility: it has no probabilities ({what}); set its value with "
            f"utility=VALUE (and {param('when')} for the rows)"
        )
    wrong = [k for k in named if k != UTILITY]
    if wrong:
        raise BNError(
            f"'{wrong[0]}=...': {sheet.node} is a utility, whose one column is utility: "
            "give utility=VALUE"
        )
    if UTILITY not in named and note is None:
        raise BNError(f"nothing to set: give utility=VALUE or {param('note')}")
    value = None
    if UTILITY in named:
        number = parse_decimal(named[UTILITY])
        if number is None:
            raise BNError(f"utility={named[UTILITY]}: not a number (a decimal such as -70 or 12.5)")
        value = format_number(number)
    if note is not None:
        sheet.ensure("note")
    lines = []
    for row in rows:
        before = row.probs[0]
        if value is not None:
            row.probs = [value]
        if note is not None:
            row.note = note
        label = ", ".join(f"{p}={s}" for p, s in zip(sheet.parents, row.parents, strict=True))
        moves = [f"utility {before} -> {value}"] if value is not None and value != before else []
        moves += ["note set"] if note is not None else []
        lines.append(f"{path}: {label or '(no parent)'}: {', '.join(moves) or 'unchanged'}")
    ws.save(path)
    return lines


def influence_children(ws: Workspace, node: str) -> list[str]:
    """The decision and utility files whose header names `node` as a parent."""
    return [p for p in ws.influence_files() if node in ws.sheet(p).parents]


def decision_order(ws: Workspace) -> list[str]:
    """`[model] decision_order` as model.toml gives it ([] when absent)."""
    head = ws.toml(MODEL_TOML).get("model", {})
    order = head.get("decision_order", []) if isinstance(head, Mapping) else []
    return [str(d) for d in order] if isinstance(order, list) else []


def rename_in_order(ws: Workspace, meta: TomlDoc | None, old: str, new: str) -> None:
    """`old` renamed `new` in `[model] decision_order`."""
    for index, name in enumerate(decision_order(ws)):
        if name == old and meta is not None:
            meta.set_string(("model", "decision_order", index), new)


def drop_from_order(ws: Workspace, meta: TomlDoc | None, node: str) -> None:
    order = decision_order(ws)
    if node in order and meta is not None:
        if len(order) == 1:
            meta.delete(("model", "decision_order"))
        else:
            meta.delete(("model", "decision_order", order.index(node)))


def rename_utility(ws: Workspace, old: str, new: str, meta: TomlDoc | None) -> list[str]:
    """A utility's file renamed, and its `[nodes.<id>]` table (no node names a utility)."""
    path, target = f"{old}.csv", f"{new}.csv"
    sheet = ws.sheet(path)
    sheet.node = new
    ws.delete(path)
    ws.write(target, sheet.text())
    ws.moved(path, target, old, new)
    if meta is not None and meta.has(("nodes", old)):
        meta.rename_key(("nodes", old), new)
    return [f"renamed {path} -> {target}"]


def remove_uses(ws: Workspace, node: str) -> list[str]:
    """Before `node` is removed: a utility naming it is an error (its rows would have to be
    merged); a decision that knows it no longer does (the column leaves its header)."""
    lines = []
    for path in influence_children(ws, node):
        sheet = ws.sheet(path)
        if sheet.utility:
            raise BNError(
                f"{node} is a parent of the utility {sheet.node}: remove it from {path} first "
                "(its column, and one row per combination of the other parents)"
            )
        del sheet.parents[sheet.parents.index(node)]
        ws.save(path)
        lines.append(f"{path}: {sheet.node} no longer knows {node} when it is decided")
    return lines


def add_state_rows(sheet: Sheet, column: int, template: str, state: str) -> list[Row]:
    """A utility's rows for a parent's new state: copies of the rows of `template`."""
    rows = []
    for row in sheet.rows:
        if row.parents[column] == template:
            parents = [*row.parents]
            parents[column] = state
            rows.append(row.copy(parents=parents))
    return rows
