"""Graph and state edits that touch a compact node (noisy-OR, noisy-MAX, ranked), and `bn fmt`
of compact files.

`bn.edit.graph` and `bn.edit.states` call these for a compact file instead of reading it as a
table. Each edit keeps the node compact where the form can say the same thing exactly, and
refuses (a `BNError`, nothing written) where it cannot, saying to `bn cpt expand` first:

- a noisy node's file is a sheet of links (`parent,state`) and a leak: a state or parent rename
  renames its cells (and `absent` / `parent_absent` in model.toml); a new parent, or a new state
  of a parent, gets a link with no effect (all on the child's absent state), which changes no
  row of the expansion; a parent's state is removed with its link, a parent with its links folded
  into the leak (exact when the weights do not depend on the node's other parents); a child's
  state is added with probability 0 in every link (a level no cause reaches) or merged into an
  adjacent level (the expansion's two columns add up);
- a ranked node's states and its parents' states are equal intervals of [0, 1]: an edit that
  changes how many there are moves every interval, and one that adds or removes a parent moves
  every row's centre, so those are refused; renames change names only.

What each edit keeps is tested in tests/test_compact_graph.py against the same edit made on the
expanded table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import parse_ess
from bn.edit.averaging import conditional
from bn.edit.sheet import Row, Sheet
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, ModelError, Problem, param
from bn.files import MODEL_TOML
from bn.forms import LEAK, NoisyMax, Ranked
from bn.model import Model
from bn.numbers import computed_number, format_number, parse_decimal

NO_EFFECT = "no effect"


def _form(ws: Workspace, node: str) -> NoisyMax | Ranked:
    model = ws.model
    if model is None:
        raise BNError(
            f"{node} is a compact node: an edit that reaches into its parameters needs a valid "
            f"model, and this one has {ws.remaining_errors} error(s): run bn check and fix them first"
        )
    form = model[node].form
    if form is None:  # model.toml and the model disagree: cannot happen on a valid model
        raise BNError(f"{node} is not a compact node")
    return form


def _expand_first(node: str, why: str, instead: str = "") -> BNError:
    """The refusal of an edit the form cannot say: `why`, then what to do (`instead`, or)."""
    return BNError(
        f"{node} is a compact node: {why}; {instead + ', or ' if instead else ''}run bn cpt "
        f"expand {node} first (bn cpt fit makes it compact again)"
    )


def _sheet(ws: Workspace, node: str) -> Sheet:
    """A compact node's file (pending changes included) as a Sheet; see `compact_sheet`."""
    from bn.edit.compactedit import form_sheet

    path = f"{node}.csv"
    return form_sheet(ws.text(path) or "", path, ws.compact(path))


def _meta(ws: Workspace) -> TomlDoc:
    return TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)


def _save(ws: Workspace, doc: TomlDoc) -> None:
    if doc.text != ws.text(MODEL_TOML):
        ws.write(MODEL_TOML, doc.result())


def _leak_row(sheet: Sheet) -> int:
    """Where the leak row is in a noisy node's file (last after `bn fmt`, anywhere by hand)."""
    return next(i for i, r in enumerate(sheet.rows) if r.parents[0] == LEAK)


def _absent_row(form: NoisyMax) -> list[str]:
    return ["1" if s == form.absent else "0" for s in form.states]


# --- node rename and parents ---------------------------------------------------------------------


def rename_own(ws: Workspace, old: str, new: str) -> str:
    """A compact node's file renamed (a noisy node's header names it)."""
    path, target = f"{old}.csv", f"{new}.csv"
    sheet = _sheet(ws, old)
    sheet.node = new
    ws.delete(path)
    ws.write(target, sheet.text())
    ws.moved(path, target, old, new)
    return f"renamed {path} -> {target}"


def rename_parent(ws: Workspace, child: str, old: str, new: str) -> str:
    """A compact child's rows (and `parent_absent`) for parent `old` now say `new`."""
    _form(ws, child)
    sheet = _sheet(ws, child)
    for row in sheet.rows:
        if row.parents[0] == old:
            row.parents[0] = new
    ws.write(f"{child}.csv", sheet.text())
    doc = _meta(ws)
    if doc.has(("nodes", child, "parent_absent", old)):
        doc.rename_key(("nodes", child, "parent_absent", old), new)
    _save(ws, doc)
    return f"{child}.csv: rows for parent {old} now {new}"


def add_parent(ws: Workspace, node: str, parent: str, states: Sequence[str]) -> str:
    """A new parent of a noisy node: a link per present state, each with no effect."""
    form = _form(ws, node)
    if isinstance(form, Ranked):
        raise _expand_first(
            node,
            "a new parent of a ranked node moves the centre of every row (its weight must be "
            "positive), so the table would change",
        )
    sheet = _sheet(ws, node)
    absent = states[0]
    rows = [Row([parent, s], _absent_row(form), note=NO_EFFECT) for s in states[1:]]
    leak = _leak_row(sheet)
    sheet.rows[leak:leak] = rows
    sheet.ensure("note")
    ws.write(f"{node}.csv", sheet.text())
    doc = _meta(ws)
    if doc.has(("nodes", node, "parent_absent")):
        doc.set_value(("nodes", node, "parent_absent"), parent, absent)
    _save(ws, doc)
    return (
        f"{node}.csv: added parent {parent} ({parent}={absent} absent): {len(rows)} link(s) with "
        f"no effect (all on {node}={form.absent}), so no row of the table changes"
    )


def remove_parent(ws: Workspace, node: str, parent: str, weights: np.ndarray | None) -> str:
    """Drop a noisy node's parent: its links are averaged with `weights` (over the parent's
    states; None: P(parent), which must not depend on the node's other parents) and folded into
    the leak, so the new table is the old one averaged with those weights."""
    form = _form(ws, node)
    if isinstance(form, Ranked):
        raise _expand_first(
            node, "without a parent a ranked node's rows have other centres, not an average"
        )
    model = ws.valid_model()
    i = form.parents.index(parent)
    states = form.parent_states[i]
    how = "given weights"
    if weights is None:
        weights = _independent_weights(model, node, parent)
        how = f"P({parent})"
    levels = form.levels
    cum = np.cumsum(form.rows[:, levels], axis=1)
    cum[:, -1] = 1.0
    mixed = np.zeros(len(levels))
    for s, w in zip(states, weights, strict=True):
        link = np.ones(len(levels)) if s == form.parent_absent[i] else cum[form.row_of(parent, s)]
        mixed += w * link
    sheet = _sheet(ws, node)
    links = [r for r in sheet.rows if r.parents[0] == parent]
    leak = next(r for r in sheet.rows if r.parents[0] == LEAK)
    if not np.all(mixed == 1.0):  # else the links had weight 0: the leak stays as it is
        total = cum[form.row_of(LEAK, "")] * mixed
        total[-1] = 1.0
        probs = np.clip(np.diff(total, prepend=0.0), 0.0, 1.0)
        out = np.empty_like(probs)
        out[levels] = probs
        leak.probs = [computed_number(float(p)) for p in out]
        used = [leak, *(r for r in links if weights[states.index(r.parents[1])] > 0)]
        leak.ess = _smallest_ess(used, f"{node}.csv")
        leak.note = " / ".join(dict.fromkeys(r.note for r in used if r.note))
    for row in links:
        sheet.drop(row)
    ws.write(f"{node}.csv", sheet.text())
    doc = _meta(ws)
    if doc.has(("nodes", node, "parent_absent", parent)):
        doc.delete(("nodes", node, "parent_absent", parent))
    _save(ws, doc)
    return f"{node}.csv: removed parent {parent}, its links averaged with {how} into the leak"


def _independent_weights(model: Model, node: str, parent: str) -> np.ndarray:
    """P(parent), when it is also P(parent | node's other parents); else refuse."""
    others = [p for p in model[node].parents if p != parent]
    table = conditional(model, parent, others)
    prior = table.reshape(table.shape[0], -1)
    weights: np.ndarray = prior.mean(axis=1)
    if np.max(np.abs(prior - weights[:, None])) > 1e-12:
        raise _expand_first(
            node,
            f"P({parent}) depends on its other parents ({', '.join(others)}), so the average "
            f"over {parent} is no noisy form",
            f"give {param('weights')} (the same for every row)",
        )
    return weights


def _smallest_ess(rows: Sequence[Row], path: str) -> str:
    values = []
    for row in rows:
        value = parse_ess(row.ess)
        if isinstance(value, str):
            raise BNError(f"{path}:{row.line}: ess '{row.ess}' is {value}; fix it first")
        if not math.isnan(value):
            values.append(value)
    return computed_number(min(values)) if values else ""


# --- states --------------------------------------------------------------------------------------


def rename_own_state(ws: Workspace, node: str, index: int, old: str, new: str) -> str:
    """A compact node's state renamed: a noisy node's header and `absent`, a ranked node's
    `levels`."""
    form = _form(ws, node)
    doc = _meta(ws)
    path = f"{node}.csv"
    if isinstance(form, Ranked):
        doc.set_string(("nodes", node, "levels", index), new)
        _save(ws, doc)
        return f"{MODEL_TOML}: [nodes.{node}] levels: {old} -> {new}"
    sheet = _sheet(ws, node)
    sheet.states[index] = new
    ws.write(path, sheet.text())
    ws.moved(path, path, f"{node}={old}", f"{node}={new}")
    if doc.has(("nodes", node, "absent")) and form.absent == old:
        doc.set_string(("nodes", node, "absent"), new)
    _save(ws, doc)
    return f"{path}: state {old} -> {new}"


def rename_parent_state(ws: Workspace, child: str, parent: str, old: str, new: str) -> str | None:
    """A compact child's rows for `parent=old` (and `parent_absent`) now say `new`; a ranked
    child names its parents' states by position only, so nothing changes there (None)."""
    form = _form(ws, child)
    if isinstance(form, Ranked):
        return None
    sheet = _sheet(ws, child)
    for row in sheet.rows:
        if row.parents == [parent, old]:
            row.parents[1] = new
    ws.write(f"{child}.csv", sheet.text())
    doc = _meta(ws)
    if doc.has(("nodes", child, "parent_absent", parent)) and (
        form.parent_absent[form.parents.index(parent)] == old
    ):
        doc.set_string(("nodes", child, "parent_absent", parent), new)
    _save(ws, doc)
    return f"{child}.csv: rows for {parent}={old} now {parent}={new}"


def _ranked_count(node: str, what: str) -> BNError:
    return _expand_first(
        node,
        f"{what} changes how many equal intervals of [0, 1] there are, which moves every "
        "interval and so every row",
    )


def add_own_state(ws: Workspace, node: str, position: int, state: str) -> str:
    """A noisy-MAX node's new level, with probability 0 in every link and the leak."""
    form = _form(ws, node)
    if isinstance(form, Ranked):
        raise _ranked_count(node, "a new state of a ranked node")
    if form.form == "noisy-or":
        raise _expand_first(
            node,
            "a noisy-or node has two states",
            f'for graded levels set form = "noisy-max" in [nodes.{node}] of {MODEL_TOML} and add '
            "the state again",
        )
    first = form.states.index(form.absent) == 0
    if (first and position == 0) or (not first and position == len(form.states)):
        where = "after it" if first else f"before it ({param('after')} a state before it)"
        raise BNError(
            f"{node}'s absent state {form.absent} must stay its {'first' if first else 'last'} "
            f"state (noisy-max levels run away from it): put {state} {where}"
        )
    sheet = _sheet(ws, node)
    sheet.states.insert(position, state)
    for row in sheet.rows:
        row.probs.insert(position, "0")
    ws.write(f"{node}.csv", sheet.text())
    return f"{node}.csv: added state {state} (probability 0 in every link and the leak)"


def add_parent_state(
    ws: Workspace, child: str, parent: str, state: str, like: str | None, order: Sequence[str]
) -> str:
    """A noisy child's link for a parent's new state (`order`: the parent's states with it): a
    copy of `like`'s link, else no effect; placed in the parent's state order."""
    form = _form(ws, child)
    if isinstance(form, Ranked):
        raise _ranked_count(child, f"a new state of its parent {parent}")
    sheet = _sheet(ws, child)
    i = form.parents.index(parent)
    source = None
    if like is not None and like != form.parent_absent[i]:
        source = next(r for r in sheet.rows if r.parents == [parent, like])
    row = (
        source.copy(parents=[parent, state])
        if source
        else Row([parent, state], _absent_row(form), note=NO_EFFECT)
    )
    if row.note:
        sheet.ensure("note")
    if row.ess:
        sheet.ensure("ess")
    own = [k for k, r in enumerate(sheet.rows) if r.parents[0] == parent]
    later = [k for k in own if order.index(sheet.rows[k].parents[1]) > order.index(state)]
    sheet.rows.insert(later[0] if later else own[-1] + 1 if own else _leak_row(sheet), row)
    ws.write(f"{child}.csv", sheet.text())
    if source:
        return f"{child}.csv: link {parent}={state} copied from {parent}={like}"
    return (
        f"{child}.csv: link {parent}={state} with no effect (all on {child}={form.absent}), "
        f"as {parent}={form.parent_absent[i]} has"
    )


def remove_own_state(ws: Workspace, node: str, index: int, target: int | None) -> str:
    """A noisy-MAX level merged into an adjacent one (`target`): each link and the leak add the
    two cells, and so does every row of the expansion."""
    form = _form(ws, node)
    if isinstance(form, Ranked):
        raise _ranked_count(node, "removing a state of a ranked node")
    state = form.states[index]
    if form.form == "noisy-or":
        raise _expand_first(node, "a noisy-or node needs its two states")
    if target is None or abs(target - index) != 1:
        raise BNError(
            f"{node} is noisy-max: removing {state} needs {param('into')} an adjacent state "
            f"({' or '.join(form.states[j] for j in (index - 1, index + 1) if 0 <= j < len(form.states))}): "
            f"merging two adjacent levels is exact, rescaling is not; or run bn cpt expand {node} first"
        )
    from bn.edit.graph import row_values

    path = f"{node}.csv"
    sheet = _sheet(ws, node)
    for row in sheet.rows:
        values = row_values(row, path)
        cells = list(row.probs)
        cells[target] = computed_number(float(values[target] + values[index]))
        del cells[index]
        row.probs = cells
    del sheet.states[index]
    ws.write(path, sheet.text())
    line = f"{path}: state {state} merged into {form.states[target]} in every link and the leak"
    if state == form.absent:
        doc = _meta(ws)
        doc.set_value(("nodes", node), "absent", form.states[target])
        _save(ws, doc)
        line += f"; {form.states[target]} is now the absent state"
    return line


def remove_parent_state(ws: Workspace, child: str, parent: str, state: str) -> str:
    """A noisy child loses its link for a parent's removed state (its other rows are kept)."""
    form = _form(ws, child)
    if isinstance(form, Ranked):
        raise _ranked_count(child, f"removing a state of its parent {parent}")
    i = form.parents.index(parent)
    if state == form.parent_absent[i]:
        raise _expand_first(
            child,
            f"{parent}={state} is {parent}'s absent state, which the links of {child} are "
            "measured from",
        )
    sheet = _sheet(ws, child)
    sheet.drop(next(r for r in sheet.rows if r.parents == [parent, state]))
    ws.write(f"{child}.csv", sheet.text())
    return f"{child}.csv: removed the link for {parent}={state}"


# --- bn fmt --------------------------------------------------------------------------------------


def fmt_compact(ws: Workspace, path: str) -> None:
    """A compact file in canonical layout: a noisy node's links grouped by parent (in the order
    the parents first appear), each parent's states in order, the leak last; a ranked node's rows
    as they are; numbers in their shortest form, spaces and blank lines dropped (as `fmt`)."""
    node = Path(path).stem
    form = _form(ws, node)
    sheet = _sheet(ws, node)
    rows = list(sheet.rows)
    if isinstance(form, NoisyMax):

        def key(row: Row) -> tuple[int, int]:
            parent, state = row.parents
            if parent == LEAK:
                return (len(form.parents), 0)
            i = form.parents.index(parent)
            return (i, form.parent_states[i].index(state))

        rows.sort(key=key)
    out = Sheet(sheet.node, sheet.parents, sheet.states, sheet.extras, [])
    out.quote_notes = sheet.quote_notes
    out.head = list(sheet.head)
    for row in rows:
        out.rows.append(
            row.copy(
                parents=[row.parents[0], _tidy(row.parents[1])]
                if isinstance(form, Ranked)
                else list(row.parents),
                probs=[_tidy(c) for c in row.probs],
                ess=_tidy(row.ess),
                comments=[c for c in row.comments if c.strip()],
            )
        )
    out.tail = [c for c in sheet.tail if c.strip()] + [""]
    text = out.text()
    from bn.edit.compactedit import form_sheet

    if _content(sheet) != _content(form_sheet(text, path, ws.compact(path))):
        raise ModelError([Problem(path, None, "bn fmt would change the node's parameters (a bug)")])
    ws.write(path, text)


def _tidy(cell: str) -> str:
    value = parse_decimal(cell)
    return cell if value is None else format_number(value)


def _content(sheet: Sheet) -> tuple[list[str], list[tuple[Any, ...]]]:
    def number(cell: str) -> float | str:
        value = parse_decimal(cell)
        return cell if value is None else value

    rows = sorted(
        (
            (
                tuple(number(c) for c in r.parents),
                tuple(number(c) for c in r.probs),
                number(r.ess),
                r.note,
            )
            for r in sheet.rows
        ),
        key=repr,
    )
    order = list(dict.fromkeys(r.parents[0] for r in sheet.rows if r.parents[0] != LEAK))
    return [*sheet.header(), *order], rows
