"""State edits: `bn state add|rename|remove`, keeping every dependent file consistent.

Each function takes a `Workspace`, finds what to change through the model's graph
(`workspace.structure()`: on an invalid model only numbers may be wrong, see `bn.edit`), records
every file it changes (the node's own file and its overlay copies, its children's, `model.toml`,
`scenarios.toml`) and returns lines describing what it did; `workspace.commit()` then validates
the whole new model and writes it atomically. What each edit preserves (tested in
tests/test_edit_states.py against the engine):

- `add_state`, `rename_state`: every posterior, under every scenario;
- `remove_state(into=OTHER)`: P(OTHER) afterwards is P(OTHER) + P(STATE) before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bn.edit import compactgraph
from bn.edit.graph import children_copies, row_values, save_docs, scenario_uses, toml_docs
from bn.edit.influence import add_state_rows
from bn.edit.sheet import Row
from bn.edit.toml import TomlDoc
from bn.edit.workspace import Workspace
from bn.errors import BNError, param
from bn.files import MODEL_TOML
from bn.model import Model
from bn.numbers import computed_number


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
    model = ws.structure()
    node = model.resolve(name)
    state = _new_state(model, node, state)
    states = list(model[node].states)
    position = states.index(states[model[node].state_index(after)]) + 1 if after else len(states)
    source = states[model[node].state_index(like)] if like else None
    new_states = [*states[:position], state, *states[position:]]
    lines = []
    for path in ws.copies(node):
        if ws.compact(path):
            lines.append(compactgraph.add_own_state(ws, node, position, state))
            continue
        sheet = ws.sheet(path)
        sheet.states.insert(position, state)
        for row in sheet.rows:
            row.probs.insert(position, "0")
        ws.save(path)
        what = "an option" if ws.kind(node) == "decision" else "probability 0 in every row"
        lines.append(f"{path}: added state {state} ({what})")
    for path in children_copies(ws, model, node):
        if ws.compact(path):
            child = Path(path).stem
            lines.append(compactgraph.add_parent_state(ws, child, node, state, source, new_states))
            continue
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        template = source or states[0]
        new_rows = []
        if sheet.utility:  # a utility's rows for the new state: copies, there is no uniform value
            new_rows = add_state_rows(sheet, column, template, state)
            sheet.place(
                new_rows, [new_states if p == node else model[p].states for p in sheet.parents]
            )
            ws.save(path)
            lines.append(
                f"{path}: {len(new_rows)} row(s) for {node}={state} (copied from {node}={template})"
            )
            continue
        for row in sheet.rows:
            if row.parents[column] != template:
                continue
            parents = [*row.parents]
            parents[column] = state
            if source:
                new_rows.append(row.copy(parents=parents))
            else:
                card = len(sheet.states)
                new_rows.append(Row(parents, [computed_number(1 / card)] * card))
        states_of = [new_states if p == node else model[p].states for p in sheet.parents]
        sheet.place(new_rows, states_of)
        ws.save(path)
        how = f"copied from {node}={source}" if source else "uniform"
        lines.append(f"{path}: {len(new_rows)} row(s) for {node}={state} ({how})")
    if description:
        meta, _ = toml_docs(ws)
        meta = meta or TomlDoc("", MODEL_TOML)
        meta.set_value(("nodes", node, "states"), state, description)
        ws.write(MODEL_TOML, meta.result())
    return lines


def rename_state(ws: Workspace, name: str, old: str, new: str) -> list[str]:
    """Rename a state everywhere: headers, children's rows, model.toml, scenarios, overlays."""
    model = ws.structure()
    node = model.resolve(name)
    index = model[node].state_index(old)
    old = model[node].states[index]
    new = _new_state(model, node, new, old)
    if new == old:
        raise BNError(f"{node}'s state is already called {new}")
    lines = []
    for path in ws.copies(node):
        if ws.compact(path):
            lines.append(compactgraph.rename_own_state(ws, node, index, old, new))
            continue
        sheet = ws.sheet(path)
        sheet.states[index] = new
        ws.save(path)
        ws.moved(path, path, f"{node}={old}", f"{node}={new}")
        lines.append(f"{path}: state {old} -> {new}")
    for path in children_copies(ws, model, node):
        if ws.compact(path):
            line = compactgraph.rename_parent_state(ws, Path(path).stem, node, old, new)
            lines += [line] if line else []
            continue
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        for row in sheet.rows:
            if row.parents[column] == old:
                row.parents[column] = new
        ws.save(path)
        lines.append(f"{path}: rows for {node}={old} now {node}={new}")
    meta, scenarios = toml_docs(ws)
    if meta is not None and meta.has(("nodes", node, "states", old)):
        meta.rename_key(("nodes", node, "states", old), new)
    if scenarios is not None:
        for scenario, kind, key, owner, value in list(scenario_uses(ws, model)):
            if owner != node:
                continue
            where = ("scenarios", scenario, kind, key)
            if kind in ("evidence", "do") and _state_is(model, node, value, index):
                scenarios.set_string(where, new)
            elif isinstance(value, Mapping):
                for state in value:
                    if _state_is(model, node, state, index):
                        scenarios.rename_key((*where, state), new)
    save_docs(ws, meta, scenarios)
    return lines


def _state_is(model: Model, node: str, name: Any, index: int) -> bool:
    try:
        return isinstance(name, str) and model[node].state_index(name) == index
    except BNError:
        return False


def remove_state(ws: Workspace, name: str, state: str, into: str | None = None) -> list[str]:
    """Remove a state: its probability is spread over the others (or moved `into` one)."""
    model = ws.structure()
    node = model.resolve(name)
    states = model[node].states
    index = model[node].state_index(state)
    state = states[index]
    target = model[node].state_index(into) if into else None
    if target == index:
        raise BNError(f"{param('into')} must name another state")
    if len(states) < 2:
        raise BNError(f"{node} has only one state")
    _, scenarios = toml_docs(ws)  # model.toml is read below, after the compact edits
    for scenario, kind, key, owner, value in list(scenario_uses(ws, model)):
        if owner != node:
            continue
        if kind in ("evidence", "do") and _state_is(model, node, value, index):
            if target is None or scenarios is None:
                raise BNError(
                    f"scenario '{scenario}' sets {key}={value}: use {param('into')} to move it to another "
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
        if ws.compact(path):
            lines.append(compactgraph.remove_own_state(ws, node, index, target))
            continue
        sheet = ws.sheet(path)
        for row in sheet.rows:
            row.probs = _without(row, index, target, path)
        del sheet.states[index]
        ws.save(path)
        how = f" (moved into {states[target]})" if target is not None else " (rows rescaled)"
        lines.append(f"{path}: removed state {state}" + (how if sheet.rows else ""))
    for path in children_copies(ws, model, node):
        if ws.compact(path):
            lines.append(compactgraph.remove_parent_state(ws, Path(path).stem, node, state))
            continue
        sheet = ws.sheet(path)
        column = sheet.parents.index(node)
        dropped = [r for r in sheet.rows if r.parents[column] == state]
        for row in dropped:
            sheet.drop(row)
        ws.save(path)
        lines.append(f"{path}: removed {len(dropped)} row(s) for {node}={state}")
    meta, _ = toml_docs(ws)  # as the compact edits above left it
    if meta is not None and meta.has(("nodes", node, "states", state)):
        meta.delete(("nodes", node, "states", state))
    save_docs(ws, meta, scenarios)
    return lines


def _without(row: Row, index: int, target: int | None, path: str) -> list[str]:
    values = row_values(row, path)
    cells = list(row.probs)
    if values[index] == 0:
        del cells[index]
        return cells
    if target is not None:
        cells[target] = computed_number(values[target] + values[index])
        del cells[index]
        return cells
    rest = math.fsum(values) - values[index]
    if rest <= 0:
        raise BNError(
            f"{path}:{row.line}: the row puts all its probability on the state being removed; "
            f"use {param('into')} to say where it goes"
        )
    return [computed_number(v / rest) for i, v in enumerate(values) if i != index]
