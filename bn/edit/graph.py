"""Structural edits of nodes and edges: `bn node rename|remove|add-parent|remove-parent`.

Each function takes a `Workspace`, finds what to change through the model's graph
(`workspace.structure()`: on an invalid model only numbers may be wrong, see `bn.edit`), records
every file it changes (the node's own file, its children's, the overlays' copies, `model.toml`,
`scenarios.toml`) and returns lines describing what it did; `workspace.commit()` then validates
the whole new model and writes it atomically. The state edits (`bn state ...`, in
`bn.edit.states`) work the same way and share the helpers here. What each edit preserves (tested
in tests/test_edit_graph.py against the engine):

- `rename_node`, `add_parent`: every posterior, under every scenario;
- `remove_node(marginalize=True)`: the joint distribution of the remaining nodes (by arc
  reversal: each child gains X's parents, and later children the earlier ones, so that summing X
  out is exact);
- `remove_parent` with its default weights P(PARENT | the node's other parents): the node's
  marginal and its joint with its other parents.

Merged rows (remove-parent, marginalize) keep the distinct notes of the rows they came from with
weight > 0, joined with " / ", and the smallest ess among those rows (a blank ess, exact, when none
had one): a row that contributes nothing, such as an impossible combination, passes on nothing.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import ID_PATTERN, RESERVED, SUM_TOLERANCE, parse_ess, scenario_tables
from bn.edit import compactgraph
from bn.edit.averaging import conditional, parse_weights
from bn.edit.sheet import Row, Sheet, probability
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, ModelError, Problem, param
from bn.evidence import KIND_NAMES
from bn.files import MODEL_TOML, SCENARIOS_TOML
from bn.model import Model
from bn.names import suggest
from bn.numbers import computed_number

KINDS = tuple(KIND_NAMES.values())  # the evidence keys of a scenario


def row_values(row: Row, path: str) -> np.ndarray:
    """A row's probabilities, for an edit that computes with them; `BNError` if a cell is not a
    probability or the row does not sum to 1 (the model may be invalid: see `bn.edit`)."""
    values = [probability(c) for c in row.probs]
    if any(v is None for v in values):
        raise BNError(
            f"{path}:{row.line}: a cell is not a probability (a decimal from 0 to 1); this edit "
            "computes with the row, so fix it first"
        )
    total = math.fsum(v or 0.0 for v in values)
    if abs(total - 1) > SUM_TOLERANCE:
        raise BNError(
            f"{path}:{row.line}: the row sums to {total:.10g}, not 1; this edit computes with "
            "the row, so fix it first (`bn cpt normalize`)"
        )
    return np.array(values, dtype=float)


def _by_combo(sheet: Sheet) -> dict[tuple[str, ...], Row]:
    return {tuple(r.parents): r for r in sheet.rows}


def _merge(
    rows: Sequence[Row], weights: Sequence[float], total: np.ndarray, placed: set[int], path: str
) -> Row:
    """A row made from `rows` weighted by `weights` (its probabilities `total`).

    It keeps the distinct notes and the smallest ess of the source rows that have weight > 0: a row
    that contributes nothing (an impossible combination) gives it nothing, neither its note nor its
    ess. When the contributing rows are all written the same, their text is kept. Every source
    row's comments go to the first merged row it is a source of (`placed` remembers).
    """
    used = [r for r, w in zip(rows, weights, strict=True) if w > 0] or list(rows)
    texts = {tuple(r.probs) for r in used}
    probs = list(used[0].probs) if len(texts) == 1 else [computed_number(v) for v in total]
    notes = [r.note for r in used if r.note]
    ess = []
    for row in used:
        value = parse_ess(row.ess)
        if isinstance(value, str):
            raise BNError(
                f"{path}:{row.line}: ess '{row.ess}' is {value}; this edit computes the new "
                "rows' ess from it, so fix it first"
            )
        if not np.isnan(value):
            ess.append(value)
    comments = []
    for row in {id(r): r for r in rows}.values():
        if id(row) not in placed:
            placed.add(id(row))
            comments += row.comments
    return Row(
        [],
        probs,
        computed_number(min(ess)) if ess else "",
        " / ".join(dict.fromkeys(notes)),
        comments,
    )


def _rebuild(sheet: Sheet, parents: Sequence[str], rows: Sequence[Row]) -> None:
    """Replace a sheet's parents and rows (adding ess/note columns if the rows need them)."""
    sheet.parents = list(parents)
    sheet.rows = list(rows)
    if any(r.note for r in rows):
        sheet.ensure("note")
    if any(r.ess for r in rows):
        sheet.ensure("ess")


def children_copies(ws: Workspace, model: Model, node: str) -> Iterator[str]:
    """Every file holding a table of one of `node`'s children, and every decision and utility
    file naming it as a parent."""
    from bn.edit.influence import influence_children

    for child in model.children(node):
        yield from ws.copies(child)
    yield from influence_children(ws, node)


def scenario_uses(ws: Workspace, model: Model) -> Iterator[tuple[str, str, str, str, Any]]:
    """(scenario, kind, key as written, node id, value) for each node a scenario names."""
    for name, entry in scenario_tables(ws.toml(SCENARIOS_TOML)).items():
        for kind in KINDS:
            given = entry.get(kind) or {}
            for key, value in given.items() if isinstance(given, Mapping) else ():
                if key in model:
                    yield name, kind, key, model.resolve(key), value


def toml_docs(ws: Workspace) -> tuple[TomlDoc | None, TomlDoc | None]:
    """model.toml and scenarios.toml (as they stand in the workspace) for textual editing."""
    model_text, scenario_text = ws.text(MODEL_TOML), ws.text(SCENARIOS_TOML)
    return (
        TomlDoc(model_text, MODEL_TOML) if model_text is not None else None,
        TomlDoc(scenario_text, SCENARIOS_TOML) if scenario_text is not None else None,
    )


def save_docs(ws: Workspace, *docs: TomlDoc | None) -> None:
    """Record the TOML documents that an edit changed."""
    for doc in docs:
        if doc is not None and doc.text != ws.text(doc.file):
            ws.write(doc.file, doc.result())


def _is_alias(model: Model, node: str, name: str) -> bool:
    return name in model[node].aliases


def _new_id(model: Model, new: str, old: str = "") -> None:
    if not ID_PATTERN.match(new) or new in RESERVED:
        raise BNError(
            f"'{new}' is not a valid node id: start with a letter, then letters, digits or _ "
            "(use a label or alias for display)"
        )
    clash = [n.id for n in model if n.id != old and n.id.lower() == new.lower()]
    if clash or (new in model and model.resolve(new) != old):
        owner = clash[0] if clash else model.resolve(new)
        raise BNError(f"'{new}' already names node {owner}")


# --- nodes ---------------------------------------------------------------------------------------


def rename_node(ws: Workspace, name: str, new: str, keep_alias: bool = False) -> list[str]:
    """Rename a node: its file, every header naming it, model.toml, scenarios and overlays."""
    from bn.edit.influence import rename_in_order, rename_utility

    model = ws.structure()
    old = ws.resolve(name)
    if new == old:
        raise BNError(f"{old} is already called {new}")
    _new_id(model, new, old)
    _new_id_among_utilities(ws, new, old)
    if ws.kind(old) == "utility":
        meta, _ = toml_docs(ws)
        lines = rename_utility(ws, old, new, meta)
        save_docs(ws, meta)
        return lines
    lines = []
    for path in ws.copies(old):
        if ws.compact(path):
            lines.append(compactgraph.rename_own(ws, old, new))
            continue
        sheet = ws.sheet(path)
        sheet.node = new
        target = str(Path(path).with_name(f"{new}.csv"))
        ws.delete(path)
        ws.write(target, sheet.text())
        ws.moved(path, target, old, new)
        lines.append(f"renamed {path} -> {target}")
    for path in children_copies(ws, model, old):
        if ws.compact(path):
            lines.append(compactgraph.rename_parent(ws, Path(path).stem, old, new))
            continue
        sheet = ws.sheet(path)
        sheet.parents[sheet.parents.index(old)] = new
        ws.save(path)
        lines.append(f"{path}: parent column {old} -> {new}")
    meta, scenarios = toml_docs(ws)
    if meta is not None:
        aliases = list(model[old].aliases)
        if meta.has(("nodes", old)):
            meta.rename_key(("nodes", old), new)
        if new in aliases:
            meta.delete(("nodes", new, "aliases", aliases.index(new)))
            aliases.remove(new)
        if keep_alias:
            if meta.has(("nodes", new, "aliases")):
                meta.append(("nodes", new, "aliases"), old)
            else:
                meta.set_value(("nodes", new), "aliases", [old])
        for index, target in enumerate(model.targets):
            if (
                target in model
                and model.resolve(target) == old
                and not _is_alias(model, old, target)
            ):
                meta.set_string(("model", "targets", index), new)
    if scenarios is not None:
        for scenario, kind, key, node, _ in list(scenario_uses(ws, model)):
            if node == old and not _is_alias(model, old, key):
                scenarios.rename_key(("scenarios", scenario, kind, key), new)
    rename_in_order(ws, meta, old, new)
    save_docs(ws, meta, scenarios)
    return lines


def _new_id_among_utilities(ws: Workspace, new: str, old: str) -> None:
    """A new id must not be a utility's either (the graph does not list utilities)."""
    for path in ws.node_paths():
        other = Path(path).stem
        if other != old and other.lower() == new.lower():
            raise BNError(f"'{new}' already names node {other}")


def remove_node(ws: Workspace, name: str, marginalize: bool = False) -> list[str]:
    """Remove a node; with `marginalize`, sum it out of its children exactly."""
    from bn.edit.influence import drop_from_order, remove_uses

    model = ws.structure()
    node = ws.resolve(name)
    if ws.kind(node) == "utility":
        meta, _ = toml_docs(ws)
        ws.delete(f"{node}.csv")
        if meta is not None and meta.has(("nodes", node)):
            meta.delete(("nodes", node))
        save_docs(ws, meta)
        return [f"deleted {node}.csv"]
    children = model.children(node)
    if len(model) == 1:
        raise BNError(f"{node} is the model's only node")
    if children and marginalize and ws.kind(node) == "decision":
        raise BNError(
            f"{node} is a decision: it has no probabilities to sum it out of {', '.join(children)} "
            f"with; first `bn node remove-parent CHILD {node}` for each (or `bn decide --do` to fix it)"
        )
    if children and not marginalize:
        raise BNError(
            f"{node} has children ({', '.join(children)}): use {param('marginalize')} to sum it out of "
            f"their tables, or first `bn node remove-parent CHILD {node}` for each"
        )
    used = sorted({s for s, _, _, n, _ in scenario_uses(ws, model) if n == node})
    if used:
        raise BNError(
            f"scenario(s) {', '.join(used)} in {SCENARIOS_TOML} use {node}: remove it from them first"
        )
    lines = _eliminate(ws, model, node) if marginalize else []
    lines += remove_uses(ws, node)
    for path in ws.copies(node):
        ws.delete(path)
        lines.append(f"deleted {path}")
    meta, _ = toml_docs(ws)
    drop_from_order(ws, meta, node)
    if meta is not None:
        if meta.has(("nodes", node)):
            meta.delete(("nodes", node))
        drop = [i for i, t in enumerate(model.targets) if t in model and model.resolve(t) == node]
        if drop and len(drop) == len(model.targets):
            meta.delete(("model", "targets"))
        for index in reversed(drop):
            meta.delete(("model", "targets", index))
    save_docs(ws, meta)
    return lines


Factor = tuple[list[str], np.ndarray]


def _factor(sheet: Sheet, model: Model, path: str) -> Factor:
    """A sheet's table as an array with one axis per parent, then the node's."""
    for parent in sheet.parents:
        if parent not in model.ids:
            raise ModelError(
                [
                    Problem(
                        path,
                        None,
                        f"parent column '{parent}' names no node",
                        f"{suggest(parent, model.ids)}nodes: {', '.join(model.ids)}",
                    )
                ]
            )
    array = np.zeros([model[p].card for p in sheet.parents] + [len(sheet.states)])
    for row in sheet.rows:
        index = tuple(
            _state_position(model, p, s, path, row.line)
            for p, s in zip(sheet.parents, row.parents, strict=True)
        )
        array[index] = row_values(row, path)
    return [*sheet.parents, sheet.node], array


def _state_position(model: Model, parent: str, state: str, path: str, line: int) -> int:
    states = model[parent].states
    if state not in states:
        raise ModelError(
            [
                Problem(
                    path,
                    line or None,
                    f"'{state}' is not a state of parent {parent}",
                    f"{suggest(state, states)}states of {parent}: {', '.join(states)}",
                )
            ]
        )
    return states.index(state)


def _einsum(output: Sequence[str], *factors: Factor) -> np.ndarray:
    """The product of the factors summed over every variable not in `output`, axes in that order.

    By broadcasting rather than `np.einsum`, whose subscripts are 52 letters: the product here
    spans every variable at once, so no contraction order would keep a step under 52 of them.
    """
    names = list(dict.fromkeys([*output, *(v for f in factors for v in f[0])]))
    try:
        product = np.ones([1] * len(names))
        for variables, array in factors:
            order = sorted(range(len(variables)), key=lambda i: names.index(variables[i]))
            shape = [1] * len(names)
            for i in order:
                shape[names.index(variables[i])] = array.shape[i]
            product = product * np.transpose(array, order).reshape(shape)
    except ValueError as error:  # more axes than a numpy array can have
        raise BNError(
            f"the edit needs a table over {len(names)} nodes at once, more than numpy can hold "
            f"({error})"
        ) from None
    summed: np.ndarray = product.sum(axis=tuple(range(len(output), len(names))))
    return summed


def _reverse(x: Factor, child: Factor, node: str) -> tuple[Factor, Factor]:
    """Arc reversal (Shachter 1986): node -> child becomes child -> node.

    The child's new table is sum over node of P(child | its parents) P(node | its parents); it
    gains node's parents. Node's new table is its posterior given its parents, the child and the
    child's other parents (its prior where the child's new row is 0). The joint is unchanged.
    """
    others = [p for p in child[0][:-1] if p != node]
    parents = others + [q for q in x[0][:-1] if q not in others]
    name = child[0][-1]
    joint = _einsum([*parents, node, name], x, child)
    summed = joint.sum(axis=len(parents))
    everything = [*parents, node, name]
    prior = _einsum(everything, x, (everything, np.ones(joint.shape)))
    with np.errstate(invalid="ignore", divide="ignore"):
        posterior = np.where(summed[..., None, :] > 0, joint / summed[..., None, :], prior)
    x_parents = [*x[0][:-1], *(p for p in parents if p not in x[0][:-1]), name]
    new_x = (
        [*x_parents, node],
        _einsum([*x_parents, node], ([*parents, node, name], posterior)),
    )
    return new_x, ([*parents, name], summed)


def _eliminate(ws: Workspace, model: Model, node: str) -> list[str]:
    """Remove node from the graph exactly: reverse its arcs to its children, in topological order.

    Each child gains node's parents and, from the second child on, the earlier children and their
    parents (node's removal makes them depend on each other). Overlays that override node or a
    child get their own copy of every child whose new table differs from the model's.
    """
    children = [n.id for n in model if node in n.parents]
    main: dict[str, np.ndarray] = {}
    lines = []
    for folder in ["", *ws.overlays()]:

        def own(name: str, folder: str = folder) -> str:
            path = f"{folder}/{name}.csv"
            return path if folder and ws.bytes(path) is not None else f"{name}.csv"

        if folder and not any(own(n) != f"{n}.csv" for n in [node, *children]):
            continue
        sheets = {n: ws.sheet(own(n)) for n in [node, *children]}
        x = _factor(sheets[node], model, own(node))
        for child in children:
            old = sheets[child]
            weights = x  # P(node | its parents and the children reversed so far): the rows' weights
            x, (parents, table) = _reverse(x, _factor(old, model, own(child)), node)
            out = f"{folder}/{child}.csv" if folder else f"{child}.csv"
            if folder and own(child) != out and np.array_equal(table, main[child]):
                continue
            if not folder:
                main[child] = table
            lines.append(
                _write_reversed(ws, model, (own(child), old), out, parents[:-1], table, weights)
            )
    return lines


def _write_reversed(
    ws: Workspace,
    model: Model,
    source: tuple[str, Sheet],
    out: str,
    parents: Sequence[str],
    table: np.ndarray,
    weights: Factor,
) -> str:
    """Write a child's new table; each row keeps the notes and ess of the rows it came from with
    weight > 0 (`weights`: the removed node's factor, its own axis last). `source` is the child's
    table as read: its path and sheet."""
    old_path, old = source
    sheet = Sheet(old.node, list(old.parents), list(old.states), list(old.extras), [])
    sheet.head, sheet.tail, sheet.quote_notes = old.head, old.tail, old.quote_notes
    rows_by = _by_combo(old)
    placed: set[int] = set()
    rows = []
    given, factor = weights
    node = given[-1]
    for index in itertools.product(*(range(model[p].card) for p in parents)):
        assign = {p: model[p].states[i] for p, i in zip(parents, index, strict=True)}
        sources = [
            rows_by[tuple(assign[p] if p != node else s for p in old.parents)]
            for s in model[node].states
        ]
        position = tuple(index[list(parents).index(p)] for p in given[:-1])
        row = _merge(sources, factor[position].tolist(), table[index], placed, old_path)
        row.parents = list(assign.values())
        rows.append(row)
    _rebuild(sheet, parents, rows)
    ws.write(out, sheet.text())
    added = [p for p in parents if p not in old.parents]
    return f"{out}: summed {node} out" + (f"; new parent(s) {', '.join(added)}" if added else "")


def add_parent(ws: Workspace, name: str, parent_name: str) -> list[str]:
    """Add PARENT to NODE's parents: each row is copied across PARENT's states (no change in meaning)."""
    model = ws.structure()
    node, parent = model.resolve(name), model.resolve(parent_name)
    if parent == node:
        raise BNError(f"{node} cannot be its own parent")
    if parent in model[node].parents:
        raise BNError(f"{parent} is already a parent of {node}")
    if node in model.ancestors([parent]):
        raise BNError(f"{node} is an ancestor of {parent}: adding the edge would create a cycle")
    lines = []
    for path in ws.copies(node):
        if ws.compact(path):
            lines.append(compactgraph.add_parent(ws, node, parent, model[parent].states))
            continue
        sheet = ws.sheet(path)
        rows = []
        for row in sheet.rows:
            for i, state in enumerate(model[parent].states):
                rows.append(
                    row.copy(parents=[*row.parents, state], comments=row.comments if i == 0 else [])
                )
        _rebuild(sheet, [*sheet.parents, parent], rows)
        ws.save(path)
        lines.append(f"{path}: added parent {parent} ({len(rows)} rows)")
    return lines


def remove_parent(
    ws: Workspace, name: str, parent_name: str, weights: str | None = None
) -> list[str]:
    """Drop PARENT from NODE's parents, averaging NODE's rows over PARENT's states.

    The weights default to P(PARENT | NODE's other parents) under the model (each overlay's copy
    uses the model with that overlay), which keeps NODE's marginal exactly; they need a valid
    model, given weights only valid rows of NODE.
    """
    from bn.scenarios import overlay

    model = ws.structure()
    node, parent = model.resolve(name), model.resolve(parent_name)
    if parent not in model[node].parents:
        raise BNError(
            f"{parent} is not a parent of {node} (parents: {', '.join(model[node].parents)})"
        )
    given = parse_weights(weights, model[parent].states, parent) if weights else None
    if given is None and ws.kind(parent) == "decision":
        raise BNError(
            f"{parent} is a decision: its options are chosen, so there is no P({parent}) to "
            f"average {node}'s rows with; give {param('weights')} (1,0,... for the option taken)"
        )
    if given is None and ws.model is None:
        raise BNError(
            f"the default weights P({parent} | ...) are computed from the whole model, which has "
            f"{ws.remaining_errors} error(s) (run bn check): fix them first, or give {param('weights')}"
        )
    lines = []
    for path in ws.copies(node):
        if ws.compact(path):
            lines.append(compactgraph.remove_parent(ws, node, parent, given))
            continue
        sheet = ws.sheet(path)
        folder = str(Path(path).parent)
        others = [p for p in sheet.parents if p != parent]
        cards = [model[p].card for p in others]
        if given is None:
            view = overlay(model, folder) if folder != "." else model
            table = conditional(view, parent, others)
        else:
            table = np.broadcast_to(given.reshape(-1, *[1] * len(others)), (len(given), *cards))
        by_combo = _by_combo(sheet)
        placed: set[int] = set()
        rows = []
        for combo in itertools.product(*(model[p].states for p in others)):
            assign = dict(zip(others, combo, strict=True))
            sources = [
                by_combo[tuple(assign.get(p, s) if p != parent else s for p in sheet.parents)]
                for s in model[parent].states
            ]
            index = tuple(model[p].states.index(s) for p, s in zip(others, combo, strict=True))
            shares = np.moveaxis(table, 0, -1)[index]
            total = np.sum(
                [w * row_values(r, path) for r, w in zip(sources, shares, strict=True)], 0
            )
            row = _merge(sources, shares.tolist(), total, placed, path)
            row.parents = list(combo)
            rows.append(row)
        _rebuild(sheet, others, rows)
        ws.save(path)
        how = "given weights" if given is not None else f"P({parent} | {', '.join(others) or '-'})"
        lines.append(f"{path}: removed parent {parent}, rows averaged with {how}")
    return lines
