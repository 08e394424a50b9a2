"""Compact nodes on the edit path: `bn cpt show` of a compact node, `bn cpt expand`, `bn cpt fit`.

`expand` replaces a compact node's file by its full table and drops the form's keys from
model.toml; `fit` does the opposite with the closest form (`bn.analysis.fitforms`). Both go
through the `Workspace`, so they are checked and written as every other edit is.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np

from bn.analysis.fitforms import Fit, fit_noisy, fit_ranked
from bn.csvfiles import compact_text, form_entry, node_metadata, table_text
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, param
from bn.files import MODEL_TOML
from bn.forms import FORMS, NoisyMax, Ranked
from bn.metadata import FORM_KEYS
from bn.model import Node
from bn.numbers import computed_number


def compact_node(ws: Workspace, name: str) -> Node | None:
    """The node if model.toml declares it compact (the model must then be valid), else None."""
    node = ws.resolve(name)
    if not node_metadata(ws.toml(MODEL_TOML), node).get("form"):
        return None
    return ws.valid_model()[node]


def parameters(form: NoisyMax | Ranked) -> dict[str, Any]:
    """A form's parameters as data (the `parameters` of `bn cpt fit --json` and `cpt show`)."""
    if isinstance(form, Ranked):
        out: dict[str, Any] = {
            "function": form.function,
            "weights": {p: float(w) for p, w in zip(form.parents, form.weights, strict=True)},
            "variance": float(form.variance),
            "levels": list(form.states),
            "ess": {p: _ess(e) for p, e in zip(form.parents, form.ess, strict=True)},
            "variance_ess": _ess(form.variance_ess),
        }
        if form.function == "mixminmax":
            out["mix"] = list(form.mix)
        return out
    rows = [
        {
            "parent": parent,
            "state": state,
            "probabilities": dict(zip(form.states, map(float, row), strict=True)),
            "ess": _ess(ess),
            "note": note,
        }
        for (parent, state), row, ess, note in zip(
            form.labels, form.rows, form.ess, form.notes, strict=True
        )
    ]
    return {
        "absent": form.absent,
        "parent_absent": dict(zip(form.parents, form.parent_absent, strict=True)),
        "links": rows[:-1],
        "leak": rows[-1],
    }


def _ess(ess: float) -> float | None:
    return None if math.isnan(ess) else float(ess)


def show_compact(node: Node) -> dict[str, Any]:
    """A compact node as data (`bn cpt show --json`)."""
    assert node.form is not None
    return {
        "node": node.id,
        "file": f"{node.id}.csv",
        "label": node.label,
        "aliases": list(node.aliases),
        "form": node.form.form if isinstance(node.form, NoisyMax) else "ranked",
        "parents": list(node.parents),
        "states": list(node.states),
        "parameters": parameters(node.form),
        "expanded_rows": int(np.prod(node.parent_shape)),
        "valid": True,
    }


def _aligned(table: list[list[str]], numeric: set[int]) -> list[str]:
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return [
        "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()
        for cells in table
    ]


def _title(node: Node) -> str:
    title = node.id if node.label == node.id else f"{node.id}: {node.label}"
    return title + (f" (alias {', '.join(node.aliases)})" if node.aliases else "")


def compact_lines(node: Node) -> list[str]:
    """A compact node's parameters aligned for reading."""
    form = node.form
    assert form is not None
    full = int(np.prod(node.parent_shape))
    if isinstance(form, Ranked):
        head = (
            f"ranked node: {form.function} of {len(form.parents)} parent(s), variance "
            f"{computed_number(form.variance)}, levels {', '.join(form.states)} "
            f"({full} rows expanded)"
        )
        if math.isfinite(form.variance_ess):
            head += f" (ess {computed_number(form.variance_ess)})"
        if form.function == "mixminmax":
            head += f"; mix min {computed_number(form.mix[0])}, max {computed_number(form.mix[1])}"
        table = [["parent", "weight", "ess", "note"]]
        table += [
            [p, computed_number(float(w)), "" if math.isnan(e) else computed_number(float(e)), n]
            for p, w, e, n in zip(form.parents, form.weights, form.ess, form.notes, strict=True)
        ]
        return [_title(node), head, *_aligned(table, {1, 2})]
    absent = ", ".join(f"{p}={s}" for p, s in zip(form.parents, form.parent_absent, strict=True))
    head = (
        f"{form.form}: {len(form.labels) - 1} link(s) and a leak instead of {full} rows; "
        f"absent: {node.id}={form.absent}; parents absent: {absent}"
    )
    table = [["parent", "state", "|", *form.states, "|", "ess", "note"]]
    for (parent, state), row, ess, note in zip(
        form.labels, form.rows, form.ess, form.notes, strict=True
    ):
        ess_text = "" if math.isnan(ess) else computed_number(float(ess))
        cells = [parent, state, "|", *(computed_number(float(p)) for p in row), "|", ess_text]
        table.append([*cells, note])
    numeric = set(range(3, 3 + len(form.states))) | {4 + len(form.states)}
    return [_title(node), head, *_aligned(table, numeric)]


def show_expanded(node: Node) -> dict[str, Any]:
    """A compact node with its full table (`bn cpt show --expanded --json`): `rows` as a full
    table's `bn cpt show --json` gives them (without ess, note and line, which a computed row has
    not), and `table`, the same numbers as one nested list indexed by parent states."""
    rows = [
        {
            "when": dict(zip(node.parents, node.row_label(combo), strict=True)),
            "probabilities": dict(zip(node.states, map(float, row), strict=True)),
        }
        for combo, row in node.rows()
    ]
    return {**show_compact(node), "rows": rows, "table": node.table.tolist()}


def expanded_lines(node: Node) -> list[str]:
    """A node's full table aligned (a compact node's expansion)."""
    table = [[*node.parents, "|", *node.states]]
    for combo, row in node.rows():
        table.append([*node.row_label(combo), "|", *(computed_number(float(p)) for p in row)])
    k = len(node.parents)
    return [_title(node), *_aligned(table, set(range(k + 1, k + 1 + node.card)))]


def expand(ws: Workspace, name: str) -> list[str]:
    """Replace a compact node by its full table (the form's keys leave model.toml)."""
    node = compact_node(ws, name)
    if node is None:
        raise BNError(f"{ws.resolve(name)} is a full table already (model.toml declares no form)")
    path = f"{node.id}.csv"
    old = ws.text(path) or ""
    comments = "".join(line + "\n" for line in old.split("\n") if line.startswith("#"))
    ws.write(path, comments + table_text(replace(node, form=None)))
    doc = TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)
    for key in FORM_KEYS:
        if doc.has(("nodes", node.id, key)):
            doc.delete(("nodes", node.id, key))
    ws.write(MODEL_TOML, doc.result())
    rows = int(np.prod(node.parent_shape))
    lines = [f"{path}: {node.id}'s {_form_name(node)} form expanded into {rows} row(s)"]
    if isinstance(node.form, NoisyMax) and not np.all(np.isnan(node.form.ess)):
        lines.append(f"{path}: the links' ess do not carry over to the full rows (rows are exact)")
    return lines


def _form_name(node: Node) -> str:
    form = node.form
    return form.form if isinstance(form, NoisyMax) else "ranked"


def fit(ws: Workspace, name: str, form: str, function: str | None = None) -> tuple[Fit, list[str]]:
    """Fit the closest `form` to a node's full table and write it as that compact node."""
    model = ws.valid_model()
    node = model[name]
    if form not in FORMS:
        raise BNError(f"{param('form')} '{form}' is not a form; forms: {', '.join(FORMS)}")
    if node.form is not None:
        raise BNError(f"{node.id} is compact already ({_form_name(node)}): bn cpt expand it first")
    if not node.parents:
        raise BNError(f"{node.id} has no parents: a root's table is already one row")
    meta = node_metadata(ws.toml(MODEL_TOML), node.id)
    if form == "ranked":
        functions = [function] if function else ["wmean", "wmin", "wmax", "mixminmax"]
        result = fit_ranked(node.table, node.states, node.parents, node.parent_states, functions)
    else:
        if form == "noisy-or" and node.card != 2:
            raise BNError(f"noisy-or needs two states; {node.id} has {node.card}: use noisy-max")
        absent = str(meta.get("absent", node.states[0]))
        if absent not in (node.states[0], node.states[-1]):
            absent = node.states[0]
        result = fit_noisy(
            node.table,
            form,
            node.states,
            absent,
            node.parents,
            node.parent_states,
            tuple(s[0] for s in node.parent_states),
        )
    rows = int(np.prod(node.parent_shape))
    fitted = f"{result.criterion}: max abs error {result.max_abs_error:.3g}"
    result = replace(result, form=_with_ess(result.form, node.ess))
    path = f"{node.id}.csv"
    write_form(
        ws, node.id, result.form, f"Fitted by bn cpt fit to the {rows}-row table ({fitted})."
    )
    count = len(result.form.labels) if isinstance(result.form, NoisyMax) else len(node.parents)
    lines = [
        f"{path}: {rows} row(s) -> {form} with {count} row(s) "
        f"({fitted}, mean KL {result.kl:.3g} nats)"
    ]
    if any(node.notes):
        lines.append(f"  the {rows} rows' notes are not carried over (git history keeps them)")
    return result, lines


def write_form(
    ws: Workspace, node_id: str, form: NoisyMax | Ranked, comment: str | None = None
) -> None:
    """Write a node as `form`: its CSV (the file's comments kept, `comment` added) and the form's
    keys in its `[nodes.<id>]` table of model.toml."""
    path = f"{node_id}.csv"
    old = ws.text(path) or ""
    comments = "".join(line + "\n" for line in old.split("\n") if line.startswith("#"))
    if comment:
        comments += f"# {comment}\n"
    ws.write(path, comments + compact_text(node_id, form))
    doc = TomlDoc(ws.text(MODEL_TOML) or "", MODEL_TOML)
    for key in FORM_KEYS:
        if doc.has(("nodes", node_id, key)):
            doc.delete(("nodes", node_id, key))
    for key, value in form_entry(form).items():
        doc.set_value(("nodes", node_id), key, value)
    ws.write(MODEL_TOML, doc.result())


def _with_ess(form: NoisyMax | Ranked, row_ess: np.ndarray) -> NoisyMax | Ranked:
    """A fitted form whose parameters carry the mean ess of the rows they were fitted from, so
    `bn sensitivity` and `bn uncertainty` still treat them as judgements (rows without an ess
    are exact, and so are the parameters). `bn cpt set --ess` changes them."""
    known = row_ess[~np.isnan(row_ess)]
    if known.size == 0:
        return form
    ess = float(f"{float(np.mean(known)):.3g}")
    if isinstance(form, Ranked):
        return replace(form, ess=np.full(len(form.parents), ess), variance_ess=ess)
    return replace(form, ess=np.full(len(form.labels), ess))


def fit_json(node: str, result: Fit) -> dict[str, Any]:
    form = result.form
    return {
        "node": node,
        "form": form.form if isinstance(form, NoisyMax) else "ranked",
        "criterion": result.criterion,
        "parameters": parameters(form),
        "max_abs_error": result.max_abs_error,
        "kl": result.kl,
    }
