"""Named scenarios (`scenarios.toml` in the model directory): evidence, interventions and overlays.

```toml
[scenarios.metaculus_low]
description = "Metaculus community forecast for kaboom (Oct 2022)"
source = "metaculus2022"
soft = { kaboom = { yes = 0.05 } }          # also: evidence, do, likelihood (same shapes)
overlay = "overlays/samotsvety"             # CSVs replacing some nodes' tables
```

`apply(model, name)` returns the model with the overlay's tables in place and the scenario's evidence;
further evidence given on the command line goes on top (`Evidence.combine`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bn.csvfiles import (
    CSVSyntaxError,
    RawTable,
    csv_rows,
    form_entry,
    node_files,
    parse_table,
    read_text,
)
from bn.errors import EvidenceError, ModelError, Problem, param
from bn.evidence import KIND_NAMES, Evidence
from bn.files import MODEL_TOML, SCENARIOS_TOML
from bn.formcheck import form_of, levels_of, parse_compact
from bn.metadata import TomlLines, check_keys, plain_text, read_toml
from bn.model import Model, Node
from bn.names import suggest
from bn.tablecheck import check_tables

KINDS = {name: field for field, name in KIND_NAMES.items()}  # key in scenarios.toml -> field
KEYS = ("description", "source", *KINDS, "overlay")  # every key of a [scenarios.NAME] table
FILE = SCENARIOS_TOML
SHAPES = {  # how each kind of evidence is written, for hints
    "hard": 'evidence = { node = "state" }: what was observed, by node id or alias',
    "do": 'do = { node = "state" }: what the scenario sets, by node id or alias',
    "likelihood": "likelihood = { node = { state = weight, ... } } weighs every state (numbers "
    ">= 0, not all 0), or node = [w1, w2, ...] with one weight per state, in order",
    "soft": "soft = { node = { state = p, ... } } is the node's new distribution (numbers >= 0 "
    "summing to 1; states left out share the rest), or node = [p1, p2, ...] for every state",
}
SHAPES_OVERLAY = 'overlay = "overlays/NAME": a folder of node CSVs, relative to the model directory'


@dataclass(frozen=True)
class Scenario:
    """One named scenario as written in `scenarios.toml`."""

    name: str
    description: str = ""
    source: str = ""
    evidence: Evidence = field(default_factory=Evidence)
    overlay: str = ""


def load_scenarios(model: Model) -> dict[str, Scenario]:
    """The model's scenarios in file order ({} when it has no `scenarios.toml`).

    Raises `ModelError` with every error `read_scenarios` finds.
    """
    scenarios, problems = read_scenarios(model)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ModelError(errors)
    return scenarios


def check_scenarios(model: Model) -> list[Problem]:
    """Every problem of the model's `scenarios.toml` and its overlays, without raising.

    >>> import bn
    >>> check_scenarios(bn.load(bn.packaged_model_path()))
    []
    """
    return read_scenarios(model)[1]


def read_scenarios(model: Model) -> tuple[dict[str, Scenario], list[Problem]]:
    """The scenarios that could be read, in file order, and every problem, without raising.

    Each scenario is checked on its own, so one run reports them all: its keys and their types,
    the names and states its evidence gives (resolved as `apply` resolves them, with the same
    messages) and its overlay (validated like the model). No query is run: whether evidence is
    possible is only known when it is asked.

    >>> import bn
    >>> scenarios, problems = read_scenarios(bn.load(bn.packaged_model_path()))
    >>> list(scenarios)[:2], problems
    (['baseline', 'metaculus_low'], [])
    """
    scenarios, problems = _read_scenarios(model)
    return dict(scenarios), list(problems)


@functools.lru_cache(maxsize=8)
def _read_scenarios(model: Model) -> tuple[dict[str, Scenario], tuple[Problem, ...]]:
    # Cached per model object (models are immutable and hash by identity): one command checks the
    # scenarios when it loads the model, then asks for them again (apply, compare).
    if model.path is None:
        return {}, ()
    path = model.path / FILE
    problems: list[Problem] = []
    document = read_toml(path, problems)
    if problems:
        return {}, tuple(problems)
    where = TomlLines(plain_text(path))

    def add(at: Sequence[str], message: str, hint: str, severity: str = "error") -> None:
        problems.append(Problem(FILE, where.line(*at), message, hint, severity))

    for key in document:
        if key != "scenarios":
            add(
                [key],
                f"unknown table [{key}] in {FILE}",
                f"{suggest(key, ['scenarios'])}{FILE} has one [scenarios.NAME] table per scenario",
                "warning",
            )
    table = document.get("scenarios", {})
    if not isinstance(table, Mapping):
        add(["scenarios"], "scenarios must be a table", "write one [scenarios.NAME] per scenario")
        return {}, tuple(problems)
    entries = {name: _check_entry(name, entry, add) for name, entry in table.items()}
    overlays = {f: overlay_nodes(model, f) for _, f in entries.values() if f}
    for name, (evidence, folder) in entries.items():
        view = model.with_nodes(overlays[folder][0]) if folder else model
        for key, text in _evidence_errors(view, evidence) if evidence is not None else []:
            message, hint = _split(text, key)
            at = ["scenarios", name, key] if key else ["scenarios", name]
            add(at, f"scenario '{name}' in {FILE}: {message}", hint)
    for folder, (_, found) in overlays.items():
        names = [name for name, (_, f) in entries.items() if f == folder]
        for p in found:
            if p.file == FILE:  # the folder is missing: one problem per scenario, at its line
                for name in names:
                    add(["scenarios", name, "overlay"], f"scenario '{name}': {p.message}", p.hint)
            else:
                who = "scenario" + "s" * (len(names) > 1) + " " + ", ".join(f"'{n}'" for n in names)
                problems.append(replace(p, message=f"{who}: {p.message}"))
    scenarios = {
        name: Scenario(
            name=name,
            description=str(table[name].get("description", "")),
            source=str(table[name].get("source", "")),
            evidence=evidence,
            overlay=folder,
        )
        for name, (evidence, folder) in entries.items()
        if evidence is not None
    }
    return scenarios, tuple(problems)


def get_scenario(model: Model, name: str) -> Scenario:
    scenarios = load_scenarios(model)
    if name not in scenarios:
        choices = ", ".join(scenarios) or f"(the model has no {FILE})"
        raise EvidenceError(
            f"unknown scenario '{name}'; {suggest(name, scenarios)}scenarios: {choices}"
        )
    return scenarios[name]


def apply(model: Model, name: str) -> tuple[Model, Evidence]:
    """The model with the scenario's overlay applied, and the scenario's (resolved) evidence."""
    scenario = get_scenario(model, name)
    if scenario.overlay:
        model = overlay(model, scenario.overlay)
    try:
        evidence = scenario.evidence.resolved(model)
    except EvidenceError as error:
        # render(param) keeps the parameters the message names for the face to spell
        raise EvidenceError(f"scenario '{name}' in {FILE}: {error.render(param)}") from None
    return model, evidence


def baseline(model: Model, extra: Evidence) -> tuple[Model, Evidence, str | None]:
    """What scenarios are compared with: the scenario named `baseline` if the model has one, else
    the model with no scenario; `extra` evidence on top either way. The name, or None."""
    name = "baseline" if "baseline" in load_scenarios(model) else None
    return (*pose(model, name, extra), name)


def pose(model: Model, name: str | None, extra: Evidence) -> tuple[Model, Evidence]:
    """The question a scenario asks with `extra` evidence on top (a node in `extra` wins)."""
    base = Evidence()
    if name:
        model, base = apply(model, name)
    return model, base.combine(extra.resolved(model)).resolved(model)


def overlay(model: Model, directory: str | Path) -> Model:
    """Replace the tables of the nodes that `directory` has CSVs for, validated like the model."""
    nodes, problems = overlay_nodes(model, directory)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise ModelError(errors)
    return model.with_nodes(nodes)


def overlay_nodes(model: Model, directory: str | Path) -> tuple[list[Node], list[Problem]]:
    """The overlay's nodes and its problems (never raises); read once per model and folder."""
    nodes, problems = _overlay_nodes(model, str(directory))
    return list(nodes), list(problems)


@functools.lru_cache(maxsize=32)
def _overlay_nodes(model: Model, directory: str) -> tuple[tuple[Node, ...], tuple[Problem, ...]]:
    nodes, problems = _read_overlay(model, directory)
    return tuple(nodes), tuple(problems)


def _read_overlay(model: Model, directory: str | Path) -> tuple[list[Node], list[Problem]]:
    """The nodes an overlay directory replaces (metadata kept), and its problems, without raising.

    Problems name files relative to the model directory (`overlays/x/node.csv`); the nodes are
    [] when any problem is an error. An overlay may give a node other parents, but not other
    states unless it also replaces every child of that node.
    """
    path = (model.path or Path(".")) / directory
    if not path.is_dir():
        return [], [_missing_folder(model, str(directory))]
    problems: list[Problem] = []
    tables, forms = _overlay_tables(model, path, problems)
    for table in tables:
        if table.node not in model.ids:
            hint = f"{suggest(table.node, model.ids)}nodes: {', '.join(model.ids)}"
            if table.node in model:
                hint = f"files are named by node id: rename it {model.resolve(table.node)}.csv"
            problems.append(
                Problem(table.file, None, f"{table.node} is not a node of the model", hint)
            )
    tables = [t for t in tables if t.node in model.ids]
    names = {t.node for t in tables}
    known = [RawTable(f"{n.id}.csv", n.id, n.parents, n.states) for n in model if n.id not in names]
    toml_text = plain_text(model.path / MODEL_TOML) if model.path else ""
    nodes = check_tables(tables, problems, {"nodes": forms}, known=known, toml_text=toml_text)
    for table in tables:
        old = model[table.node].states
        orphans = [c for c in model.children(table.node) if c not in names]
        if table.states != old and orphans:
            problems.append(
                Problem(
                    table.file,
                    table.header_line,
                    f"the overlay changes the states of {table.node} but not the table of its "
                    f"child {', '.join(orphans)}",
                    f"keep the states of {table.node} ({', '.join(old)}), or add "
                    f"{', '.join(c + '.csv' for c in orphans)} to the overlay",
                )
            )
    folder = Path(directory).as_posix()
    # a compact node's form keys are the model's own: their problems stay at model.toml's lines
    problems = [
        p if p.file == MODEL_TOML else replace(p, file=f"{folder}/{p.file}") for p in problems
    ]
    if nodes is None or any(p.severity == "error" for p in problems):
        return [], problems
    return [_keep_metadata(model[n.id], n) for n in nodes], problems


def _overlay_tables(
    model: Model, path: Path, problems: list[Problem]
) -> tuple[list[RawTable], dict[str, dict[str, Any]]]:
    """The overlay's tables, and the form keys of those written as compact parameters.

    The file of a node that the model holds in a compact form, written in that form's layout
    (`parent,state,...` for noisy-OR and noisy-MAX, `parent,weight,...` for ranked), gives the
    node's parameters in the scenario; the form's keys (absent, parent_absent, levels,
    function, variance, mix) are the model's. Written as a full table, it replaces the form.
    """
    tables, forms = [], {}
    for file in node_files(path):
        text = read_text(file, problems)
        if text is None:
            continue
        node = model[file.stem] if file.stem in model.ids else None
        header = _compact_header(model, text)
        if node is not None and node.form is None and header is not None:
            problems.append(
                Problem(
                    file.name,
                    header[0],
                    f"{node.id} is a full table in the model, so its overlay is one too",
                    f"write its full table (parents, then {node.id}=<state> columns); an overlay "
                    "gives compact parameters only to a node whose form model.toml declares",
                )
            )
            continue
        if node is None or node.form is None or header is None:
            raw = parse_table(text, file.name, problems)
        else:
            entry = form_entry(node.form)
            raw = parse_compact(text, file.name, form_of(entry), problems, levels_of(entry))
            if raw is not None and "parent_absent" in entry:  # the parents the overlay gives
                absent = entry["parent_absent"]
                entry["parent_absent"] = {p: absent[p] for p in raw.parents if p in absent}
            forms[node.id] = entry
        if raw is not None:
            tables.append(raw)
    return tables, forms


def _compact_header(model: Model, text: str) -> tuple[int, str] | None:
    """The line of a compact form's header (`parent,state` or `parent,weight`) and its second
    column, or None for any other header."""
    try:
        records = csv_rows(text)
    except CSVSyntaxError:
        return None  # parse_table says where
    if not records:
        return None
    line, cells = records[0]
    head = [c.strip() for c in cells[:2]]
    if head not in (["parent", "state"], ["parent", "weight"]) or set(head) <= set(model.ids):
        return None  # (with nodes named so, a full table's header may read so too)
    return line, head[1]


def _missing_folder(model: Model, directory: str) -> Problem:
    root = model.path or Path(".")
    folders = sorted(
        {
            p.parent.relative_to(root).as_posix()
            for g in ("*/*.csv", "*/*/*.csv")
            for p in root.glob(g)
        }
    )
    hint = "overlay is a folder of node CSVs, relative to the model directory"
    if folders:
        hint = f"{suggest(directory, folders)}{hint}; folders with CSVs: {', '.join(folders)}"
    return Problem(FILE, None, f"overlay directory '{directory}' not found", hint)


def _check_entry(name: str, entry: Any, add: Callable[..., None]) -> tuple[Evidence | None, str]:
    """One scenario's keys and value types; its evidence (None if malformed) and overlay."""
    at = ["scenarios", name]
    if not isinstance(entry, Mapping):
        add(at, f"[scenarios.{name}] must be a table", f"write [scenarios.{name}] then key = value")
        return None, ""
    check_keys(entry, KEYS, f"[scenarios.{name}]", at, add, "error")
    for key in ("description", "source"):
        if key in entry and not isinstance(entry[key], str):
            add(
                [*at, key],
                f"scenario '{name}': {key} must be a string",
                f'{key} = "..."',
                "warning",
            )
    folder = entry.get("overlay", "")
    if not isinstance(folder, str):
        add([*at, "overlay"], f"scenario '{name}': overlay must be a string", SHAPES_OVERLAY)
        folder = ""
    kinds: dict[str, dict[str, Any]] = {}
    for key, kind in KINDS.items():
        if key not in entry:
            continue
        value = entry[key]
        wrong = _wrong_shape(kind, value)
        if wrong:
            add([*at, key], f"scenario '{name}': {key} {wrong}", SHAPES[kind])
        else:
            kinds[kind] = dict(value)
    malformed = len(kinds) < sum(k in entry for k in KINDS)
    return (None if malformed else Evidence(**kinds)), folder


def _wrong_shape(kind: str, value: Any) -> str:
    """What is wrong with the shape of one kind of evidence ('' if nothing)."""
    if not isinstance(value, Mapping):
        return "must be a table of node = value"
    for node, given in value.items():
        if kind in ("hard", "do"):
            if not isinstance(given, str):
                return f"on {node} must be a state name, not {given!r}"
            continue
        numbers = list(given.values()) if isinstance(given, Mapping) else given
        if not isinstance(numbers, list) or not all(
            isinstance(x, int | float) and not isinstance(x, bool) for x in numbers
        ):
            return f"on {node} must be a table of state = number or a list of numbers"
    return ""


def _evidence_errors(model: Model, evidence: Evidence) -> list[tuple[str, str]]:
    """(scenario key, message) for each item of `evidence` that does not fit the model."""
    errors = []
    for key, kind in KINDS.items():
        for node, value in getattr(evidence, kind).items():
            try:
                Evidence(**{kind: {node: value}}).resolved(model)
            except EvidenceError as error:
                errors.append((key, str(error)))
    if not errors:
        try:
            evidence.resolved(model)  # a node given twice
        except EvidenceError as error:
            errors.append(("", str(error)))
    return errors


def _split(text: str, key: str) -> tuple[str, str]:
    """An `Evidence.resolved` message as (what is wrong, how to fix it: the valid choices)."""
    head, _, tail = text.partition("; ")
    if ":" in tail or tail.startswith("give"):
        return head, tail
    return text, SHAPES.get(KINDS.get(key, ""), "give each node one kind of evidence")


def _keep_metadata(old: Node, new: Node) -> Node:
    return replace(
        new,
        label=old.label,
        description=old.description,
        aliases=old.aliases,
        state_descriptions=old.state_descriptions,
    )
