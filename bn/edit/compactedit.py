"""Edits of a compact node's parameters (`bn cpt set` on a noisy-OR, noisy-MAX or ranked node).

A noisy node's file reads as a `Sheet` whose two "parent" columns are `parent` and `state`: a
link is the row of one parent state, the leak the row `leak,,...`. A ranked node's file reads as
a `Sheet` with the columns `parent` and `weight` and no probabilities. Both are written back
through the `Workspace` (unchanged rows byte for byte); the whole model is checked on commit, so
a link that no longer sums to 1 or a weight that is not positive is refused as in `bn check`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from bn.csvfiles import RESERVED, CSVSyntaxError, csv_records
from bn.edit.sheet import Row, Sheet
from bn.edit.tables import edit_rows, parse_ess_option
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, param
from bn.files import MODEL_TOML
from bn.forms import FUNCTIONS, LEAK, NoisyMax, Ranked
from bn.names import choose
from bn.numbers import DECIMAL, computed_number, format_number


def compact_sheet(ws: Workspace, node: str) -> Sheet:
    """A compact node's file as a `Sheet` (the model must be valid: the form says its layout)."""
    form = ws.valid_model()[node].form
    path = f"{node}.csv"
    return form_sheet(ws.text(path) or "", path, "ranked" if isinstance(form, Ranked) else "noisy")


def form_sheet(text: str, path: str, form: str) -> Sheet:
    """The text of a compact node's file as a `Sheet`: a noisy node's with the "parent" columns
    `parent` and `state`, a ranked node's (`form` "ranked") with `parent` and `weight`."""
    if form == "ranked":
        return _ranked_sheet(text, path, Path(path).stem)
    return Sheet.parse(text.encode(), path)


def _ranked_sheet(text: str, path: str, node: str) -> Sheet:
    """A ranked node's file `parent,weight[,ess][,note]` as a Sheet: parents `parent`, `weight`."""
    try:
        records = csv_records(text)
    except CSVSyntaxError as error:  # the model is valid, so this cannot happen; say so plainly
        raise BNError(f"{path}:{error.line}: not valid CSV: {error.reason}") from None
    lines = text.split("\n")
    first, last, header = records[0]
    header = [h.strip() for h in header]
    at = {c: header.index(c) for c in RESERVED if c in header}
    rows, previous = [], last
    for start, end, cells in records[1:]:
        cells = [c.strip() for c in cells]
        ess = cells[at["ess"]] if "ess" in at else ""
        note = cells[at["note"]] if "note" in at else ""
        raw = "\n".join(lines[start - 1 : end])
        rows.append(Row(cells[:2], [], ess, note, lines[previous : start - 1], raw, start))
        previous = end
    return Sheet(
        node=node,
        parents=["parent", "weight"],
        states=[],
        extras=[c for c in header[2:] if c in RESERVED],
        rows=rows,
        head=lines[: first - 1],
        tail=lines[previous:],
        header_raw="\n".join(lines[first - 1 : last]),
    )


def set_compact(
    ws: Workspace,
    node: str,
    when: Mapping[str, str],
    probs: Sequence[str] | None,
    named: Mapping[str, str],
    ess: str | None,
    note: str | None,
) -> list[str]:
    """`bn cpt set` on a compact node: a noisy node's links and leak, a ranked node's weights,
    variance and their ess (README: compact tables)."""
    form = ws.valid_model()[node].form
    path = f"{node}.csv"
    if isinstance(form, Ranked):
        return _set_ranked(ws, node, form, when, probs, named, ess, note)
    assert isinstance(form, NoisyMax)
    sheet = compact_sheet(ws, node)
    rows = [r for r in sheet.rows if _matches(r, _link(form, node, when))]
    lines = edit_rows(sheet, path, rows, probs, named, ess, note, _row_label)
    ws.write(path, sheet.text())
    return lines


def _link(form: NoisyMax, node: str, when: Mapping[str, str]) -> tuple[str, str] | None:
    """The link (parent, state) or leak that `when` names; None for every row."""
    if not when:
        return None
    hint = f"a link is one parent state: {param('when')} PARENT=STATE, or {param('when')} leak"
    if len(when) > 1:
        raise BNError(f"{node} is {form.form}: {hint}")
    [(name, state)] = when.items()
    if name == LEAK and not state:
        return (LEAK, "")
    parent = choose(name, form.parents, f"'{name}' is not a parent of {node}", "parents")
    states = form.parent_states[form.parents.index(parent)]
    state = choose(state, states, f"'{state}' is not a state of {parent}", f"states of {parent}")
    if state == form.parent_absent[form.parents.index(parent)]:
        raise BNError(
            f"{parent}={state} is {parent}'s absent state: it has no link ({node} is {form.form})"
        )
    return (parent, state)


def _matches(row: Row, link: tuple[str, str] | None) -> bool:
    return link is None or tuple(row.parents) == link


def _row_label(row: Row) -> str:
    parent, state = row.parents
    return "leak" if (parent, state) == (LEAK, "") else f"link {parent}={state}"


def _set_ranked(
    ws: Workspace,
    node: str,
    form: Ranked,
    when: Mapping[str, str],
    probs: Sequence[str] | None,
    named: Mapping[str, str],
    ess: str | None,
    note: str | None,
) -> list[str]:
    """A ranked node: `weight=W` (with `when` naming the parent), `variance=V` (without)."""
    hint = (
        f"set a weight with {param('when')} PARENT weight=W, the variance with variance=V "
        f"({param('ess')} goes with either, {param('note')} with a weight)"
    )
    if probs is not None:
        raise BNError(f"{node} is a ranked node: it has weights, not probabilities; {hint}")
    unknown = [k for k in named if k not in ("weight", "variance")]
    if unknown or (when and "variance" in named) or (not when and "weight" in named):
        raise BNError(f"{node} is a ranked node: {hint}")
    if not named and ess is None and note is None:
        raise BNError(f"nothing to set: {hint}")
    if not when:
        return _set_variance(ws, node, form, named.get("variance"), ess, note)
    if len(when) > 1 or next(iter(when.values())):
        raise BNError(f"{node} is a ranked node: {param('when')} names one parent; {hint}")
    name = next(iter(when))
    parent = choose(name, form.parents, f"'{name}' is not a parent of {node}", "parents")
    path = f"{node}.csv"
    sheet = compact_sheet(ws, node)
    row = next(r for r in sheet.rows if r.parents[0] == parent)
    moves = []
    if "weight" in named:
        weight = _positive(named["weight"], "weight")
        moves.append(f"weight {row.parents[1]} -> {weight}")
        row.parents = [parent, weight]
    if ess is not None:
        sheet.ensure("ess")
        row.ess = parse_ess_option(ess)
        moves.append(f"ess {row.ess or 'exact'}")
    if note is not None:
        sheet.ensure("note")
        row.note = note
        moves.append("note set")
    ws.write(path, sheet.text())
    return [f"{path}: weight of {parent}: {', '.join(moves)}"]


def _set_variance(
    ws: Workspace, node: str, form: Ranked, variance: str | None, ess: str | None, note: str | None
) -> list[str]:
    if note is not None:
        raise BNError(
            f"{node}'s variance is in {MODEL_TOML} and has no note; a note goes with a weight "
            f"({param('when')} PARENT)"
        )
    doc = TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)
    moves = []
    if variance is not None:
        value = float(_positive(variance, "variance"))
        doc.set_value(("nodes", node), "variance", value)
        moves.append(f"variance {computed_number(form.variance)} -> {computed_number(value)}")
    if ess is not None:
        given = parse_ess_option(ess)
        if given:
            number = float(given)
            doc.set_value(
                ("nodes", node), "variance_ess", int(number) if number.is_integer() else number
            )
        elif doc.has(("nodes", node, "variance_ess")):
            doc.delete(("nodes", node, "variance_ess"))
        old = "exact" if math.isnan(form.variance_ess) else computed_number(form.variance_ess)
        moves.append(f"variance_ess {old} -> {given or 'exact'}")
    ws.write(MODEL_TOML, doc.result())
    return [f"{MODEL_TOML}: [nodes.{node}] {', '.join(moves)}"]


def _positive(text: str, what: str) -> str:
    value = float(text) if DECIMAL.match(text.strip()) else math.nan
    if not (math.isfinite(value) and value > 0):
        raise BNError(f"{what} '{text}' is not a positive number")
    return format_number(value)


def set_ranked_function(
    ws: Workspace, node: str, function: str, mix: Sequence[float] | None = None
) -> list[str]:
    """A ranked node's `function` (and, for mixminmax, `mix`) in model.toml."""
    form = ws.valid_model()[node].form
    if not isinstance(form, Ranked):
        raise BNError(f"{node} is not a ranked node: it has no function")
    if function not in FUNCTIONS:
        raise BNError(f"'{function}' is not a ranked function: use one of {', '.join(FUNCTIONS)}")
    doc = TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)
    moves = []
    if function != form.function:
        doc.set_value(("nodes", node), "function", function)
        moves.append(f"function {form.function} -> {function}")
    if mix is not None:
        low, high = (float(m) for m in mix)
        if not (math.isfinite(low) and math.isfinite(high) and low > 0 and high > 0):
            raise BNError(f"{node}: the weights of min and max must be positive numbers")
        doc.set_value(("nodes", node), "mix", [low, high])
        old = ", ".join(computed_number(m) for m in form.mix)
        moves.append(f"mix [{old}] -> [{computed_number(low)}, {computed_number(high)}]")
    if not moves:
        return [f"{MODEL_TOML}: [nodes.{node}] function is {function} already"]
    ws.write(MODEL_TOML, doc.result())
    return [f"{MODEL_TOML}: [nodes.{node}] {', '.join(moves)}"]
