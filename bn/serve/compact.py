"""What-if edits of a compact node's parameters in the page, made in memory, and saved through
the edit path (`save`); and two helpers of the page's answers: which node is compact, every
node's posterior from one query.

A compact node (noisy-OR, noisy-MAX, ranked) is edited by its parameters, not by the cells of
its expanded table: the edit changes the form and the node's table is expanded again, so every
answer is the one the file would give with the new parameters. The edits travel in the page's
URL as `cpt=` JSON, beside the table edits of full nodes:

- `{"node": N, "link": "PARENT=STATE", "probabilities": {STATE: P}}` a link (or `"leak"`);
  the states not given share the rest of the row in proportion, as in `bn cpt set`;
- `{"node": N, "weight": PARENT, "value": W}` a ranked node's weight of one parent;
- `{"node": N, "variance": V}`, `{"node": N, "function": F}`, `{"node": N, "mix": [LOW, HIGH]}`.

>>> import bn
>>> from pathlib import Path
>>> m = bn.load(Path(bn.__file__).parent.parent / "examples" / "compact")
>>> edited = apply(m, {"node": "outage", "link": "power=failed", "probabilities": {"yes": 0.5}})
>>> [round(float(p), 4) for p in edited["outage"].form.rows[1]]
[0.5, 0.5]
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import SUM_TOLERANCE
from bn.errors import BNError
from bn.evidence import Evidence
from bn.forms import FUNCTIONS, LEAK, NoisyMax, Ranked
from bn.model import Model, Node

KEYS = ("link", "weight", "variance", "function", "mix")


def is_compact_edit(edit: Mapping[str, Any]) -> bool:
    """Whether `edit` changes a compact node's parameters (else it is a table edit)."""
    return any(key in edit for key in KEYS)


def apply(model: Model, edit: Mapping[str, Any]) -> Model:
    """`model` with one compact edit made: the node's form changed and its table re-expanded."""
    node = model[model.resolve(str(edit["node"]))]
    form = node.form
    if form is None:
        raise BNError(
            f"{node.id} is a full table, not a compact node: edit its cells "
            '({"node", "when", "probabilities"})'
        )
    if isinstance(form, NoisyMax):
        new: NoisyMax | Ranked = _link(node, form, edit)
    else:
        new = _ranked(node, form, edit)
    table = new.expand()
    table.flags.writeable = False
    return model.with_nodes([replace(node, form=new, table=table)])


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BNError(f"{what}: '{value}' is not a number")
    try:
        number = float(value)
    except ValueError:
        raise BNError(f"{what}: '{value}' is not a number") from None
    if not math.isfinite(number):
        raise BNError(f"{what}: '{value}' is not a finite number")
    return number


def _link(node: Node, form: NoisyMax, edit: Mapping[str, Any]) -> NoisyMax:
    if not isinstance(edit.get("link"), str) or set(edit) - {"node", "link", "probabilities"}:
        raise BNError(
            f"{node.id} is {form.form}: edit a link as "
            '{"node", "link": "PARENT=STATE" or "leak", "probabilities": {STATE: P}}'
        )
    name = edit["link"]
    parent, _, state = name.partition("=")
    label = (LEAK, "") if name == LEAK else (parent, state)
    if label not in form.labels:
        links = ", ".join(f"{p}={s}" if p != LEAK else LEAK for p, s in form.labels)
        raise BNError(f"{node.id} has no link '{name}': its links are {links}")
    given = edit.get("probabilities")
    if not isinstance(given, dict) or not given:
        raise BNError(f"{node.id}, link {name}: give probabilities as {{STATE: P}}")
    values: dict[int, float] = {}
    for state, value in given.items():
        if state not in form.states:
            raise BNError(
                f"'{state}' is not a state of {node.id}: its states are {', '.join(form.states)}"
            )
        p = _number(value, f"{node.id}={state}, link {name}")
        if not 0 <= p <= 1:
            raise BNError(f"{node.id}={state}, link {name}: {value} is not in [0, 1]")
        values[form.states.index(state)] = p
    r = form.labels.index(label)
    rows = np.array(form.rows)
    rows[r] = _rescaled(rows[r], values, f"{node.id}, link {name}")
    return replace(form, rows=rows)


def _rescaled(row: np.ndarray, values: Mapping[int, float], what: str) -> np.ndarray:
    """Given states take their values; the others share the rest in proportion to their old
    values (equally when those are all 0)."""
    total = math.fsum(values.values())
    rest = [i for i in range(len(row)) if i not in values]
    if (not rest and abs(total - 1) > SUM_TOLERANCE) or total > 1 + SUM_TOLERANCE:
        raise BNError(f"{what}: the probabilities sum to {total:.10g}, not 1")
    out = row.copy()
    for i, p in values.items():
        out[i] = p
    old = math.fsum(row[i] for i in rest)
    for i in rest:
        out[i] = (1 - total) * (row[i] / old if old > 0 else 1 / len(rest))
    clipped: np.ndarray = np.clip(out, 0.0, 1.0)
    return clipped


def _ranked(node: Node, form: Ranked, edit: Mapping[str, Any]) -> Ranked:
    keys = set(edit) - {"node"}
    if keys == {"weight", "value"}:
        parent = str(edit["weight"])
        if parent not in form.parents:
            raise BNError(
                f"{parent} is not a parent of {node.id}: its parents are {', '.join(form.parents)}"
            )
        weight = _number(edit["value"], f"{node.id}, weight of {parent}")
        if weight <= 0:
            raise BNError(f"{node.id}, weight of {parent}: {edit['value']} is not positive")
        weights = np.array(form.weights)
        weights[form.parents.index(parent)] = weight
        return replace(form, weights=weights)
    if keys == {"variance"}:
        variance = _number(edit["variance"], f"{node.id}, variance")
        if variance <= 0:
            raise BNError(f"{node.id}, variance: {edit['variance']} is not positive")
        return replace(form, variance=variance)
    if keys == {"function"}:
        if edit["function"] not in FUNCTIONS:
            raise BNError(
                f"{node.id}: '{edit['function']}' is not a ranked function: "
                f"use one of {', '.join(FUNCTIONS)}"
            )
        return replace(form, function=str(edit["function"]))
    if keys == {"mix"}:
        mix = edit["mix"]
        if not isinstance(mix, list) or len(mix) != 2:
            raise BNError(f"{node.id}, mix: give [LOW, HIGH], the weights of min and max")
        low, high = (_number(w, f"{node.id}, mix") for w in mix)
        if low <= 0 or high <= 0:
            raise BNError(f"{node.id}, mix: the weights of min and max must be positive")
        return replace(form, mix=(low, high))
    raise BNError(
        f"{node.id} is a ranked node: edit it as "
        '{"node", "weight": PARENT, "value": W}, {"node", "variance": V}, '
        '{"node", "function": F} or {"node", "mix": [LOW, HIGH]}'
    )


def compact_id(root: Path, name: str) -> str | None:
    """The id of node `name` if model.toml declares it compact, else None."""
    from bn.edit.forms import compact_node
    from bn.edit.workspace import Workspace

    node = compact_node(Workspace(root, wait=None), name)
    return None if node is None else node.id


def every_node(
    model: Model, evidence: Evidence, found: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Every node's posterior from a query's answer: a node fixed by evidence or do() (which
    the answer leaves out) is certain of its state."""
    every = dict(found)
    for node_id, value in {**evidence.hard, **evidence.do}.items():
        every.setdefault(node_id, {s: float(s == value) for s in model[node_id].states})
    return every


def save(root: Path, name: str, edit: Any) -> tuple[list[str], dict[str, str | None], int, Node]:
    """Write one compact edit (the page's `cpt=` form, `"node"` optional) into the model's files
    through the edit path (`bn cpt set` on the node's parameters, checked, all-or-nothing):
    the messages, the files changed, the errors left and the node as written."""
    from bn.edit.compactedit import set_compact, set_ranked_function
    from bn.edit.workspace import Workspace

    if not isinstance(edit, dict):
        raise BNError("the body must be a JSON object: one compact edit as the page makes it")
    edit = {k: v for k, v in edit.items() if k != "node"}
    with Workspace(root) as ws:  # the writers' lock, as every bn edit takes it
        node = ws.resolve(name)
        form = ws.valid_model()[node].form
        page = {k: v for k, v in edit.items() if k not in ("ess", "note")}
        apply(ws.valid_model(), {**page, "node": node})  # the page's checks and messages
        ess = None if edit.get("ess") is None else _text(edit.get("ess"), "ess")
        note = None if edit.get("note") is None else str(edit["note"])
        if "link" in edit:
            link = str(edit["link"])
            parent, _, state = link.partition("=")
            when = {LEAK: ""} if link == LEAK else {parent: state}
            named = {str(s): _text(p, s) for s, p in edit["probabilities"].items()}
            lines = set_compact(ws, node, when, None, named, ess, note)
        elif "weight" in edit:
            named = {"weight": _text(edit["value"], "weight")}
            lines = set_compact(ws, node, {str(edit["weight"]): ""}, None, named, ess, note)
        elif "variance" in edit:
            named = {"variance": _text(edit["variance"], "variance")}
            lines = set_compact(ws, node, {}, None, named, ess, None)
        else:  # `apply` takes nothing else, and only for a ranked node
            assert isinstance(form, Ranked)
            function = str(edit.get("function", form.function))
            lines = set_ranked_function(ws, node, function, edit.get("mix"))
        changes = ws.commit()
        errors = ws.remaining_errors
    from bn.edit.forms import compact_node

    saved = compact_node(Workspace(root, wait=None), node)
    assert saved is not None
    return lines, changes, errors, saved


def _text(value: Any, what: str) -> str:
    """A JSON number as the text `bn cpt set` reads (the shortest that reads back the same)."""
    return repr(_number(value, what))
