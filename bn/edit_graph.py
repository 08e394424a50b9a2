"""Structural edits: `bn node rename|remove|add-parent|remove-parent` and `bn state add|rename|remove`.

Each function takes a `bn.edit.Workspace` over a valid model, records every file it changes (the
node's own file, its children's, the overlays' copies, `model.toml`, `scenarios.toml`) and returns
lines describing what it did; `workspace.commit()` then validates the whole new model and writes it
atomically. What each edit preserves (tested in tests/test_edit.py against the engine):

- `rename_node`, `add_parent`, `add_state`, `rename_state`: every posterior, under every scenario;
- `remove_node(marginalize=True)`: the joint distribution of the remaining nodes (by arc
  reversal: each child gains X's parents, and later children the earlier ones, so that summing X
  out is exact);
- `remove_parent` with its default weights P(PARENT | the node's other parents): the node's
  marginal and its joint with its other parents;
- `remove_state(into=OTHER)`: P(OTHER) afterwards is P(OTHER) + P(STATE) before.

Merged rows (remove-parent, marginalize) keep the distinct notes of the rows they came from, joined
with " / ", and the smallest ess among them (a blank ess, exact, when none had one).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import ID_PATTERN, RESERVED
from bn.edit import MODEL_TOML, SCENARIOS_TOML, Row, Sheet, Workspace, number, probability
from bn.errors import BNError
from bn.model import Model
from bn.tomledit import TomlDoc

KINDS = ("evidence", "do", "likelihood", "soft")


def _floats(row: Row, path: str) -> np.ndarray:
    values = [probability(c) for c in row.probs]
    if any(v is None for v in values):
        raise BNError(f"{path}:{row.line}: a cell is not a number")
    return np.array(values, dtype=float)


def _by_combo(sheet: Sheet) -> dict[tuple[str, ...], Row]:
    return {tuple(r.parents): r for r in sheet.rows}


def _merge(rows: Sequence[Row], total: np.ndarray, placed: set[int]) -> Row:
    """A row made from `rows` (its probabilities `total`), with their notes and smallest ess.

    When the source rows are all written the same, their text is kept. A source row's comments
    go to the first merged row it contributes to (`placed` remembers).
    """
    texts = {tuple(r.probs) for r in rows}
    probs = list(rows[0].probs) if len(texts) == 1 else [number(v) for v in total]
    notes = [r.note for r in rows if r.note]
    ess = [v for r in rows if r.ess and (v := probability(r.ess)) is not None]
    comments = []
    for row in {id(r): r for r in rows}.values():
        if id(row) not in placed:
            placed.add(id(row))
            comments += row.comments
    return Row(
        [],
        probs,
        number(min(ess)) if ess else "",
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


def _children_copies(ws: Workspace, model: Model, node: str) -> Iterator[str]:
    for child in model.children(node):
        yield from ws.copies(child)


def _scenarios(ws: Workspace, model: Model) -> Iterator[tuple[str, str, str, str, Any]]:
    """(scenario, kind, key as written, node id, value) for each node a scenario names."""
    import tomllib

    text = ws.text(SCENARIOS_TOML)
    table = tomllib.loads(text).get("scenarios", {}) if text else {}
    for name, entry in table.items():
        for kind in KINDS:
            for key, value in (entry.get(kind) or {}).items():
                if key in model:
                    yield name, kind, key, model.resolve(key), value


def _docs(ws: Workspace) -> tuple[TomlDoc | None, TomlDoc | None]:
    model_text, scenario_text = ws.text(MODEL_TOML), ws.text(SCENARIOS_TOML)
    return (
        TomlDoc(model_text, MODEL_TOML) if model_text is not None else None,
        TomlDoc(scenario_text, SCENARIOS_TOML) if scenario_text is not None else None,
    )


def _save_docs(ws: Workspace, *docs: TomlDoc | None) -> None:
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
    model = ws.valid_model()
    old = model.resolve(name)
    if new == old:
        raise BNError(f"{old} is already called {new}")
    _new_id(model, new, old)
    lines = []
    for path in ws.copies(old):
        sheet = ws.sheet(path)
        sheet.node = new
        target = str(Path(path).with_name(f"{new}.csv"))
        ws.delete(path)
        ws.write(target, sheet.text())
        lines.append(f"renamed {path} -> {target}")
    for path in _children_copies(ws, model, old):
        sheet = ws.sheet(path)
        sheet.parents[sheet.parents.index(old)] = new
        ws.save(path)
        lines.append(f"{path}: parent column {old} -> {new}")
    meta, scenarios = _docs(ws)
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
        for scenario, kind, key, node, _ in list(_scenarios(ws, model)):
            if node == old and not _is_alias(model, old, key):
                scenarios.rename_key(("scenarios", scenario, kind, key), new)
    _save_docs(ws, meta, scenarios)
    return lines


def remove_node(ws: Workspace, name: str, marginalize: bool = False) -> list[str]:
    """Remove a node; with `marginalize`, sum it out of its children exactly."""
    model = ws.valid_model()
    node = model.resolve(name)
    children = model.children(node)
    if len(model) == 1:
        raise BNError(f"{node} is the model's only node")
    if children and not marginalize:
        raise BNError(
            f"{node} has children ({', '.join(children)}): use --marginalize to sum it out of "
            f"their tables, or first `bn node remove-parent CHILD {node}` for each"
        )
    used = sorted({s for s, _, _, n, _ in _scenarios(ws, model) if n == node})
    if used:
        raise BNError(
            f"scenario(s) {', '.join(used)} in {SCENARIOS_TOML} use {node}: remove it from them first"
        )
    lines = _eliminate(ws, model, node) if marginalize else []
    for path in ws.copies(node):
        ws.delete(path)
        lines.append(f"deleted {path}")
    meta, _ = _docs(ws)
    if meta is not None:
        if meta.has(("nodes", node)):
            meta.delete(("nodes", node))
        drop = [i for i, t in enumerate(model.targets) if t in model and model.resolve(t) == node]
        if drop and len(drop) == len(model.targets):
            meta.delete(("model", "targets"))
        for index in reversed(drop):
            meta.delete(("model", "targets", index))
    _save_docs(ws, meta)
    return lines


Factor = tuple[list[str], np.ndarray]


def _factor(sheet: Sheet, model: Model, path: str) -> Factor:
    """A sheet's table as an array with one axis per parent, then the node's."""
    array = np.zeros([model[p].card for p in sheet.parents] + [len(sheet.states)])
    for row in sheet.rows:
        index = tuple(
            model[p].states.index(s) for p, s in zip(sheet.parents, row.parents, strict=True)
        )
        array[index] = _floats(row, path)
    return [*sheet.parents, sheet.node], array


def _einsum(output: Sequence[str], *factors: Factor) -> np.ndarray:
    names = list(dict.fromkeys([*output, *(v for f in factors for v in f[0])]))
    letter = {
        n: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"[i] for i, n in enumerate(names)
    }
    spec = ",".join("".join(letter[v] for v in f[0]) for f in factors)
    result: np.ndarray = np.einsum(
        f"{spec}->{''.join(letter[v] for v in output)}", *(f[1] for f in factors)
    )
    return result


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
            x, (parents, table) = _reverse(x, _factor(old, model, own(child)), node)
            out = f"{folder}/{child}.csv" if folder else f"{child}.csv"
            if folder and own(child) != out and np.array_equal(table, main[child]):
                continue
            if not folder:
                main[child] = table
            lines.append(_write_reversed(ws, model, old, out, parents[:-1], table, node))
    return lines


def _write_reversed(
    ws: Workspace,
    model: Model,
    old: Sheet,
    out: str,
    parents: Sequence[str],
    table: np.ndarray,
    node: str,
) -> str:
    """Write a child's new table; each row keeps the notes and ess of the rows it came from."""
    sheet = Sheet(old.node, list(old.parents), list(old.states), list(old.extras), [])
    sheet.head, sheet.tail, sheet.quote_notes = old.head, old.tail, old.quote_notes
    rows_by = _by_combo(old)
    placed: set[int] = set()
    rows = []
    for index in itertools.product(*(range(model[p].card) for p in parents)):
        assign = {p: model[p].states[i] for p, i in zip(parents, index, strict=True)}
        sources = [
            rows_by[tuple(assign[p] if p != node else s for p in old.parents)]
            for s in model[node].states
        ]
        row = _merge(sources, table[index], placed)
        row.parents = list(assign.values())
        rows.append(row)
    _rebuild(sheet, parents, rows)
    ws.write(out, sheet.text())
    added = [p for p in parents if p not in old.parents]
    return f"{out}: summed {node} out" + (f"; new parent(s) {', '.join(added)}" if added else "")


def add_parent(ws: Workspace, name: str, parent_name: str) -> list[str]:
    """Add PARENT to NODE's parents: each row is copied across PARENT's states (no change in meaning)."""
    model = ws.valid_model()
    node, parent = model.resolve(name), model.resolve(parent_name)
    if parent == node:
        raise BNError(f"{node} cannot be its own parent")
    if parent in model[node].parents:
        raise BNError(f"{parent} is already a parent of {node}")
    if node in model.ancestors([parent]):
        raise BNError(f"{node} is an ancestor of {parent}: adding the edge would create a cycle")
    lines = []
    for path in ws.copies(node):
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


def parse_weights(text: str, states: Sequence[str]) -> np.ndarray:
    """`--weights 0.2,0.8` or `--weights yes=0.2,no=0.8` as a normalised vector over `states`."""
    from bn.edit import _choose

    weights = np.zeros(len(states))
    items = [i.strip() for i in text.split(",") if i.strip()]
    named = all("=" in i for i in items)
    if not named and len(items) != len(states):
        raise BNError(f"--weights needs {len(states)} numbers ({', '.join(states)}) or STATE=w")
    for index, item in enumerate(items):
        state, _, value = item.rpartition("=") if named else ("", "", item)
        position = _choose(state.strip(), states, "state") if named else index
        number_ = probability(value)
        if number_ is None or number_ < 0:
            raise BNError(f"--weights: '{value}' is not a non-negative number")
        weights[position] = number_
    if weights.sum() <= 0:
        raise BNError("--weights are all zero")
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def remove_parent(
    ws: Workspace, name: str, parent_name: str, weights: str | None = None
) -> list[str]:
    """Drop PARENT from NODE's parents, averaging NODE's rows over PARENT's states.

    The weights default to P(PARENT | NODE's other parents) under the model (each overlay's copy
    uses the model with that overlay), which keeps NODE's marginal exactly.
    """
    from bn.scenarios import overlay

    model = ws.valid_model()
    node, parent = model.resolve(name), model.resolve(parent_name)
    if parent not in model[node].parents:
        raise BNError(
            f"{parent} is not a parent of {node} (parents: {', '.join(model[node].parents)})"
        )
    given = parse_weights(weights, model[parent].states) if weights else None
    lines = []
    for path in ws.copies(node):
        sheet = ws.sheet(path)
        folder = str(Path(path).parent)
        view = overlay(model, folder) if folder != "." else model
        others = [p for p in sheet.parents if p != parent]
        cards = [model[p].card for p in others]
        if given is None:
            table = _conditional(view, parent, others)
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
            weights = np.moveaxis(table, 0, -1)[index]
            total = np.sum([w * _floats(r, path) for r, w in zip(sources, weights, strict=True)], 0)
            row = _merge(sources, total, placed)
            row.parents = list(combo)
            rows.append(row)
        _rebuild(sheet, others, rows)
        ws.save(path)
        how = "given weights" if given is not None else f"P({parent} | {', '.join(others) or '-'})"
        lines.append(f"{path}: removed parent {parent}, rows averaged with {how}")
    return lines


def _conditional(model: Model, parent: str, others: Sequence[str]) -> np.ndarray:
    """P(parent | others) with shape (card(parent), *cards(others)); the prior where P(others)=0."""
    from bn.engine import contract

    joint = contract(model, [parent, *others])
    prior = contract(model, [parent])
    prior = prior / prior.sum()
    mass = joint.sum(axis=0, keepdims=True)
    shape = (-1,) + (1,) * len(others)
    with np.errstate(invalid="ignore", divide="ignore"):
        table: np.ndarray = np.where(mass > 0, joint / mass, prior.reshape(shape))
    return table


# --- states --------------------------------------------------------------------------------------


def _new_state(model: Model, node: str, state: str, old: str = "") -> str:
    state = state.strip()
    if not state:
        raise BNError("a state name cannot be empty")
    clash = [s for s in model[node].states if s != old and s.lower() == state.lower()]
    if clash:
        raise BNError(f"{node} already has a state '{clash[0]}'")
    return state


def add_state(
    ws: Workspace,
    name: str,
    state: str,
    after: str | None = None,
    like: str | None = None,
    description: str = "",
) -> list[str]:
    """Add a state with probability 0 in every row; children get rows for it (copies or uniform)."""
    model = ws.valid_model()
    node = model.resolve(name)
    state = _new_state(model, node, state)
    states = list(model[node].states)
    position = states.index(states[model[node].state_index(after)]) + 1 if after else len(states)
    source = states[model[node].state_index(like)] if like else None
    new_states = [*states[:position], state, *states[position:]]
    lines = []
    for path in ws.copies(node):
        sheet = ws.sheet(path)
        sheet.states.insert(position, state)
        for row in sheet.rows:
            row.probs.insert(position, "0")
        ws.save(path)
        lines.append(f"{path}: added state {state} (probability 0 in every row)")
    for path in _children_copies(ws, model, node):
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        template = source or states[0]
        new_rows = []
        for row in sheet.rows:
            if row.parents[column] != template:
                continue
            parents = [*row.parents]
            parents[column] = state
            if source:
                new_rows.append(row.copy(parents=parents))
            else:
                card = len(sheet.states)
                new_rows.append(Row(parents, [number(1 / card)] * card))
        states_of = [new_states if p == node else model[p].states for p in sheet.parents]
        sheet.place(new_rows, states_of)
        ws.save(path)
        how = f"copied from {node}={source}" if source else "uniform"
        lines.append(f"{path}: {len(new_rows)} row(s) for {node}={state} ({how})")
    if description:
        meta, _ = _docs(ws)
        meta = meta or TomlDoc("", MODEL_TOML)
        meta.set_value(("nodes", node, "states"), state, description)
        ws.write(MODEL_TOML, meta.result())
    return lines


def rename_state(ws: Workspace, name: str, old: str, new: str) -> list[str]:
    """Rename a state everywhere: headers, children's rows, model.toml, scenarios, overlays."""
    model = ws.valid_model()
    node = model.resolve(name)
    index = model[node].state_index(old)
    old = model[node].states[index]
    new = _new_state(model, node, new, old)
    if new == old:
        raise BNError(f"{node}'s state is already called {new}")
    lines = []
    for path in ws.copies(node):
        sheet = ws.sheet(path)
        sheet.states[index] = new
        ws.save(path)
        lines.append(f"{path}: state {old} -> {new}")
    for path in _children_copies(ws, model, node):
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        for row in sheet.rows:
            if row.parents[column] == old:
                row.parents[column] = new
        ws.save(path)
        lines.append(f"{path}: rows for {node}={old} now {node}={new}")
    meta, scenarios = _docs(ws)
    if meta is not None and meta.has(("nodes", node, "states", old)):
        meta.rename_key(("nodes", node, "states", old), new)
    if scenarios is not None:
        for scenario, kind, key, owner, value in list(_scenarios(ws, model)):
            if owner != node:
                continue
            where = ("scenarios", scenario, kind, key)
            if kind in ("evidence", "do") and _state_is(model, node, value, index):
                scenarios.set_string(where, new)
            elif isinstance(value, Mapping):
                for state in value:
                    if _state_is(model, node, state, index):
                        scenarios.rename_key((*where, state), new)
    _save_docs(ws, meta, scenarios)
    return lines


def _state_is(model: Model, node: str, name: Any, index: int) -> bool:
    try:
        return isinstance(name, str) and model[node].state_index(name) == index
    except BNError:
        return False


def remove_state(ws: Workspace, name: str, state: str, into: str | None = None) -> list[str]:
    """Remove a state: its probability is spread over the others (or moved `into` one)."""
    model = ws.valid_model()
    node = model.resolve(name)
    states = model[node].states
    index = model[node].state_index(state)
    state = states[index]
    target = model[node].state_index(into) if into else None
    if target == index:
        raise BNError("--into must name another state")
    if len(states) < 2:
        raise BNError(f"{node} has only one state")
    meta, scenarios = _docs(ws)
    for scenario, kind, key, owner, value in list(_scenarios(ws, model)):
        if owner != node:
            continue
        if kind in ("evidence", "do") and _state_is(model, node, value, index):
            if target is None or scenarios is None:
                raise BNError(
                    f"scenario '{scenario}' sets {key}={value}: use --into to move it to another "
                    "state, or edit scenarios.toml"
                )
            scenarios.set_string(("scenarios", scenario, kind, key), states[target])
        elif kind in ("likelihood", "soft") and (
            not isinstance(value, Mapping) or any(_state_is(model, node, s, index) for s in value)
        ):
            raise BNError(
                f"scenario '{scenario}' gives {kind} evidence on {key} that involves {state}: "
                "edit scenarios.toml first"
            )
    lines = []
    for path in ws.copies(node):
        sheet = ws.sheet(path)
        for row in sheet.rows:
            row.probs = _without(row, index, target, path)
        del sheet.states[index]
        ws.save(path)
        lines.append(
            f"{path}: removed state {state}"
            + (f" (moved into {states[target]})" if target is not None else " (rows rescaled)")
        )
    for path in _children_copies(ws, model, node):
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        dropped = [r for r in sheet.rows if r.parents[column] == state]
        for row in dropped:
            sheet.drop(row)
        ws.save(path)
        lines.append(f"{path}: removed {len(dropped)} row(s) for {node}={state}")
    if meta is not None and meta.has(("nodes", node, "states", state)):
        meta.delete(("nodes", node, "states", state))
    _save_docs(ws, meta, scenarios)
    return lines


def _without(row: Row, index: int, target: int | None, path: str) -> list[str]:
    values = _floats(row, path)
    cells = list(row.probs)
    if values[index] == 0:
        del cells[index]
        return cells
    if target is not None:
        cells[target] = number(values[target] + values[index])
        del cells[index]
        return cells
    rest = math.fsum(values) - values[index]
    if rest <= 0:
        raise BNError(
            f"{path}:{row.line}: the row puts all its probability on the state being removed; "
            "use --into to say where it goes"
        )
    return [number(v / rest) for i, v in enumerate(values) if i != index]
