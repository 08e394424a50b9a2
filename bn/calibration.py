"""Calibration targets as data: the published judgements a model is built to reproduce.

`model.toml` lists them, each as a `[[calibration]]` table:

    [[calibration]]
    query = "nato_response=conventional_strike | nuclear_use=yes"   # or "NODE=STATE"
    value = 0.80
    tolerance = 0.0005          # optional; this is the default
    source = "tegmark2022"      # a source id or any text
    solve = [                   # the free cells that may move to meet it
      { node = "nato_response", when = { nuclear_use = "yes", western_resolve = "wavering" }, state = "conventional_strike" },
    ]

A free cell of a noisy-OR or noisy-MAX node is a cell of one of its links, `when = { parent =
"state" }`, or of its leak, `when = "leak"` (`Cell.link`); a ranked node has no free cells.

This module reads and checks them (names, states, types, every problem with its line);
`bn.analysis.calibrate` evaluates them on the engine and re-solves the free cells.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bn.errors import BNError, Problem
from bn.files import MODEL_TOML
from bn.forms import LEAK, NoisyMax, Ranked
from bn.metadata import TomlLines, check_keys, plain_text, read_toml
from bn.model import Model
from bn.names import find, suggest

KEYS = ("query", "value", "tolerance", "source", "solve")
CELL_KEYS = ("node", "when", "state")
TOLERANCE = 0.0005


@dataclass(frozen=True)
class Cell:
    """One free cell: the probability of `state` in the row of `node` where its parents are `when`."""

    node: str
    when: tuple[tuple[str, str], ...]  # (parent, state) for every parent, in the node's order
    state: str
    link: bool = False  # a noisy node's link: `when` is one (parent, state), or (("leak", ""),)

    def label(self) -> str:
        if self.link:
            [(parent, state)] = self.when
            return f"{self.node}={self.state} | " + (
                LEAK if parent == LEAK else f"link {parent}={state}"
            )
        given = ", ".join(f"{p}={s}" for p, s in self.when)
        return f"{self.node}={self.state}" + (f" | {given}" if given else "")

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "when": dict(self.when), "state": self.state}


@dataclass(frozen=True)
class Target:
    """P(node = state | given) should be `value` (within `tolerance`); `cells` may move to meet it."""

    query: str
    node: str
    state: str
    given: Mapping[str, str]
    value: float
    tolerance: float = TOLERANCE
    source: str = ""
    cells: tuple[Cell, ...] = ()
    line: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def read_targets(model: Model) -> tuple[list[Target], list[Problem]]:
    """The `[[calibration]]` targets of the model's model.toml, and every problem with them."""
    problems: list[Problem] = []
    if model.path is None or not (model.path / MODEL_TOML).is_file():
        return [], problems
    path = model.path / MODEL_TOML
    document = read_toml(path, problems)
    entries = document.get("calibration", [])
    where = TomlLines(plain_text(path))
    targets = []
    if not isinstance(entries, list):
        problems.append(
            Problem(
                MODEL_TOML,
                where.line("calibration"),
                "calibration must be an array of tables",
                "write each target as its own [[calibration]] table",
            )
        )
        return [], problems
    for index, entry in enumerate(entries):
        at = ["calibration", str(index)]

        def add(path: Sequence[str], message: str, hint: str = "", severity: str = "error") -> None:
            problems.append(Problem(MODEL_TOML, where.line(*path), message, hint, severity))

        target = _target(model, entry, at, add, where.line(*at))
        if target is not None:
            targets.append(target)
    return targets, problems


def _target(
    model: Model,
    entry: Any,
    at: list[str],
    add: Callable[..., None],
    line: int | None,
) -> Target | None:
    name = f"calibration target {int(at[1]) + 1}"
    if not isinstance(entry, Mapping):
        add(at, f"{name} must be a table", "write [[calibration]] then query = ..., value = ...")
        return None
    check_keys(entry, KEYS, f"[[calibration]] ({name})", at, add)
    query = entry.get("query")
    if not isinstance(query, str):
        add([*at, "query"], f"{name} needs a query string", 'query = "NODE=STATE | NODE=STATE"')
        return None
    try:
        node, state, given = parse_query(model, query)
    except BNError as error:
        add([*at, "query"], f"{name}: {error}", 'query = "NODE=STATE | NODE=STATE, ..."')
        return None
    value: Any = entry.get("value")
    if not _number(value) or not 0 <= value <= 1:
        add([*at, "value"], f"{name} ({query}) needs a value from 0 to 1", "value = 0.3")
        return None
    tolerance: Any = entry.get("tolerance", TOLERANCE)
    if not _number(tolerance) or tolerance <= 0:
        add(
            [*at, "tolerance"], f"{name}: tolerance must be a positive number", "tolerance = 0.0005"
        )
        tolerance = TOLERANCE
    source = entry.get("source", "")
    if not isinstance(source, str):
        add([*at, "source"], f"{name}: source must be a string", 'source = "tegmark2022"')
        source = ""
    cells = []
    solve = entry.get("solve", [])
    if not isinstance(solve, list):
        add([*at, "solve"], f"{name}: solve must be a list of cells", _CELL_HINT)
        solve = []
    for number, raw in enumerate(solve, 1):
        cell = _cell(model, raw, [*at, "solve"], f"{name}, cell {number}", add)
        if cell is not None:
            cells.append(cell)
    return Target(
        query, node, state, given, float(value), float(tolerance), source, tuple(cells), line
    )


_CELL_HINT = 'solve = [{ node = "n", when = { parent = "state" }, state = "yes" }]'


def _cell(
    model: Model, raw: Any, at: list[str], name: str, add: Callable[..., None]
) -> Cell | None:
    if not isinstance(raw, Mapping):
        add(at, f"{name} must be a table", _CELL_HINT)
        return None
    check_keys(raw, CELL_KEYS, name, at, add)
    node_name, state, when = raw.get("node"), raw.get("state"), raw.get("when", {})
    if (
        not isinstance(node_name, str)
        or not isinstance(state, str)
        or not (isinstance(when, Mapping) or when == LEAK)
    ):
        add(at, f"{name} needs node and state strings (and a when table)", _CELL_HINT)
        return None
    try:
        node = model[node_name]
        state = node.states[node.state_index(state)]
    except BNError as error:
        add(at, f"{name}: {error}", _CELL_HINT)
        return None
    if isinstance(node.form, Ranked):
        add(
            at,
            f"{name}: {node.id} is a ranked node, whose weights and variance are not "
            "calibration cells",
            "solve a cell of a full table or a link of a noisy node; or write the node as "
            f"its full table (bn cpt expand {node.id})",
        )
        return None
    if isinstance(node.form, NoisyMax):
        return _link_cell(node.form, node.id, when, state, at, name, add)
    if not isinstance(when, Mapping):  # "leak" names a link of a noisy node only
        add(at, f"{name}: {node.id} is a full table: when is a table of its parents", _CELL_HINT)
        return None
    parents = {}
    for parent, value in when.items():
        found = find(str(parent), node.parents)
        if found is None:
            add(
                at,
                f"{name}: '{parent}' is not a parent of {node.id}",
                f"{suggest(str(parent), node.parents)}parents of {node.id}: "
                + (", ".join(node.parents) or "none"),
            )
            return None
        try:
            parents[found] = model[found].states[model[found].state_index(str(value))]
        except BNError as error:
            add(at, f"{name}: {error}", _CELL_HINT)
            return None
    missing = [p for p in node.parents if p not in parents]
    if missing:
        add(
            at,
            f"{name}: when must name every parent of {node.id} (missing {', '.join(missing)})",
            "a cell is one row's probability of one state",
        )
        return None
    return Cell(node.id, tuple((p, parents[p]) for p in node.parents), state)


def _link_cell(
    form: NoisyMax,
    node: str,
    when: Any,
    state: str,
    at: list[str],
    name: str,
    add: Callable[..., None],
) -> Cell | None:
    """A free cell of a noisy node: of one link (`when = { parent = "state" }`) or of the leak
    (`when = "leak"`); the link's other cells are rescaled as a full row's are."""
    hint = (
        f'{node} is {form.form}: a cell is of one link, when = {{ parent = "state" }} with '
        'one parent in a present state, or of the leak, when = "leak"'
    )
    if when == LEAK:
        return Cell(node, ((LEAK, ""),), state, link=True)
    if not isinstance(when, Mapping) or len(when) != 1:
        add(at, f"{name}: {node} is {form.form}: when names one link or the leak", hint)
        return None
    [(parent, value)] = when.items()
    found = find(str(parent), form.parents)
    if found is None or (found, str(value)) not in form.labels:
        add(
            at,
            f"{name}: {node} has no link {parent}={value}",
            hint + "; links: " + ", ".join(f"{p}={s}" for p, s in form.labels if p != LEAK),
        )
        return None
    return Cell(node, ((found, str(value)),), state, link=True)


def parse_query(model: Model, text: str) -> tuple[str, str, dict[str, str]]:
    """`NODE=STATE` or `NODE=STATE | NODE=STATE, ...` -> (node id, state, {given node: state}).

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> parse_query(m, "KABOOM=yes | kaboom=yes, nato_response=conventional_strike")
    ('nuclear_war', 'yes', {'nuclear_use': 'yes', 'nato_response': 'conventional_strike'})
    """
    head, _, tail = text.partition("|")
    node, state = _assignment(model, head)
    given: dict[str, str] = {}
    for part in (p for p in tail.split(",") if p.strip()):
        other, value = _assignment(model, part)
        given[other] = value
    return node, state, given


def _assignment(model: Model, text: str) -> tuple[str, str]:
    name, sep, state = text.partition("=")
    if not sep or not name.strip() or not state.strip():
        raise BNError(f"'{text.strip()}' is not of the form NODE=STATE")
    node = model[name.strip()]
    return node.id, node.states[node.state_index(state.strip())]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
