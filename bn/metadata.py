"""`model.toml`: the checks of its [model] and [nodes.<id>] tables, and where its keys are; the
reading of every TOML file of a model (`read_toml`).

The node tables themselves are checked by `bn.tablecheck`; this module checks what `model.toml` says
about them (labels, aliases, state descriptions, targets) and finds the line of each TOML key, so
that every problem in a TOML file (`scenarios.toml` too) can point at its line.
"""

from __future__ import annotations

import functools
import pickle
import re
import tomllib
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from bn.csvfiles import RawTable, decode_text, read_text
from bn.errors import Problem
from bn.files import MODEL_TOML
from bn.model import Model
from bn.names import suggest

Add = Callable[..., None]  # reports a TOML problem at a key path

MODEL_KEYS = (
    "title",
    "description",
    "sources",
    "targets",
    "horizon",
    "headline",
    "limitations",
    "decision_order",
)
NODE_KEYS = (
    "label",
    "description",
    "aliases",
    "states",
    "observable",
    "kind",
)  # kind: bn.decisioncheck
TABLES = ("model", "nodes", "calibration", "forecasts")  # [[forecasts]]: bn.outcomes checks them
FORM_KEYS = (
    "form",
    "absent",
    "parent_absent",
    "levels",
    "function",
    "variance",
    "variance_ess",
    "mix",
)  # bn.formcheck


def read_toml(path: Path, problems: list[Problem]) -> dict[str, Any]:
    """`model.toml` (or `scenarios.toml`) as a dict; {} when it is missing, {} with a problem
    when it cannot be read or is malformed."""
    if not path.exists():
        return {}
    text = read_text(path, problems)
    return {} if text is None else parse_toml(text, path.name, problems)


@functools.lru_cache(maxsize=16)
def _parsed(text: str) -> bytes:
    """A TOML text parsed, pickled so that every caller gets its own copy to change. One command
    reads model.toml for several checks, and tomllib (pure Python) parses it in milliseconds."""
    return pickle.dumps(tomllib.loads(text))


def parse_toml(text: str, name: str, problems: list[Problem]) -> dict[str, Any]:
    """A TOML file's text as a dict; {} with a problem (at its line) when it is malformed.

    >>> problems = []
    >>> parse_toml('[model]\\ntitle = "x"\\n', "model.toml", problems), problems
    ({'model': {'title': 'x'}}, [])
    >>> parse_toml("[model]\\ntitle = \\n", "model.toml", problems), problems[0].where
    ({}, 'model.toml:2')
    """
    try:
        document: dict[str, Any] = pickle.loads(_parsed(text))
        return document
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        line = int(match.group(1)) if match else None
        problems.append(
            Problem(
                name,
                line,
                f"malformed TOML: {error}",
                "TOML syntax: [table] headers, key = value, strings in double quotes, "
                'lists in brackets (aliases = ["a", "b"]); see https://toml.io',
            )
        )
        return {}


def plain_text(path: Path) -> str:
    """A TOML file's text for locating lines only (its problems are reported by `read_toml`)."""
    if not path.is_file():
        return ""
    return decode_text(path.read_bytes(), path.name, []) or ""


def alias_map(meta: Mapping[str, Any]) -> dict[str, str]:
    """Alias -> node id, as far as model.toml is well formed (its problems are reported apart)."""
    nodes = meta.get("nodes", {})
    found: dict[str, str] = {}
    for node_id, entry in nodes.items() if isinstance(nodes, Mapping) else ():
        aliases = entry.get("aliases", []) if isinstance(entry, Mapping) else []
        for alias in aliases if isinstance(aliases, list) else []:
            found.setdefault(str(alias), node_id)
    return found


class TomlLines:
    """Where each table and key of a TOML text is, so that model.toml problems have a line.

    An array of tables is numbered from 0: the second `[[calibration]]` is ("calibration", "1").

    >>> where = TomlLines('[model]\\ntitle = "x"\\n\\n[nodes.rain]\\naliases = ["r"]\\n')
    >>> where.line("nodes", "rain", "aliases"), where.line("nodes", "rain", "label")
    (5, 4)
    >>> TomlLines('[[c]]\\nq = 1\\n[[c]]\\nq = 2\\n').line("c", "1", "q")
    4
    """

    TABLE = re.compile(r"\[\s*([^\[\]]+?)\s*\]\s*(?:#.*)?\Z")
    ARRAY = re.compile(r"\[\[\s*([^\[\]]+?)\s*\]\]\s*(?:#.*)?\Z")
    NAME = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
    KEY = re.compile(rf"({NAME}(?:\s*\.\s*{NAME})*)\s*=")
    PART = re.compile(r""""([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+)""")

    def __init__(self, text: str) -> None:
        self.text = text

    @functools.cached_property
    def keys(self) -> dict[tuple[str, ...], int]:
        """Each table and key: its line. Read on the first `line` asked (most checks find nothing)."""
        keys: dict[tuple[str, ...], int] = {}
        table: tuple[str, ...] = ()
        counts: dict[tuple[str, ...], int] = {}
        for number, line in enumerate(self.text.split("\n"), 1):
            stripped = line.strip()
            array = self.ARRAY.match(stripped)
            if array:
                name = self._path(array.group(1))
                counts[name] = counts.get(name, -1) + 1
                table = (*name, str(counts[name]))
                keys.setdefault(table, number)
                continue
            header = self.TABLE.match(stripped)
            if header and not stripped.startswith("[["):
                table = self._path(header.group(1))
                keys.setdefault(table, number)
                continue
            key = self.KEY.match(stripped)
            if key:
                keys.setdefault(table + self._path(key.group(1)), number)
        return keys

    def _path(self, dotted: str) -> tuple[str, ...]:
        return tuple("".join(parts) for parts in self.PART.findall(dotted))

    def line(self, *path: str) -> int | None:
        """The line of the key, else of the nearest enclosing table or key that is written."""
        while path:
            if path in self.keys:
                return self.keys[path]
            path = path[:-1]
        return None


def check_metadata(
    meta: Mapping[str, Any],
    by_id: Mapping[str, RawTable],
    broken: Collection[str],
    problems: list[Problem],
    where: TomlLines,
) -> None:
    """`model.toml`: the shape of [model] and [nodes.<id>], aliases, state descriptions."""

    def add(path: Sequence[str], message: str, hint: str, severity: str = "error") -> None:
        problems.append(Problem(MODEL_TOML, where.line(*path), message, hint, severity))

    for key in meta:
        if key not in TABLES:
            add(
                [key],
                f"unknown table [{key}] in model.toml",
                f"{suggest(key, TABLES)}model.toml has [model], [nodes.<id>], [[calibration]] "
                "and [[forecasts]]",
                "warning",
            )
    ids = sorted({*by_id, *broken})
    nodes = meta.get("nodes", {})
    aliases_of: dict[str, str] = {}
    if not isinstance(nodes, Mapping):
        add(["nodes"], "nodes must be a table of node tables", "write [nodes.<id>] tables")
        nodes = {}
    for node_id, entry in nodes.items():
        at = ["nodes", node_id]
        if node_id not in by_id and node_id not in broken:
            add(
                at,
                f"[nodes.{node_id}] describes no node (there is no {node_id}.csv)",
                f"{suggest(node_id, ids)}nodes: {', '.join(ids)}",
                "warning",
            )
            continue
        if not isinstance(entry, Mapping):
            add(
                at,
                f"[nodes.{node_id}] must be a table",
                f"write [nodes.{node_id}] then key = value",
            )
            continue
        check_keys(entry, (*NODE_KEYS, *FORM_KEYS), f"[nodes.{node_id}]", at, add)
        for key in ("label", "description"):
            if key in entry and not isinstance(entry[key], str):
                add([*at, key], f"[nodes.{node_id}] {key} must be a string", f'{key} = "..."')
        if "observable" in entry and not isinstance(entry["observable"], bool):
            add(
                [*at, "observable"],
                f"[nodes.{node_id}] observable must be true or false",
                "observable = true: an analyst can observe the node in time to act (bn voi)",
            )
        aliases = entry.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            add(
                [*at, "aliases"],
                f"aliases of {node_id} must be a list of strings",
                f'for example: aliases = ["{node_id.lower()}_alias"]',
            )
            aliases = []
        for alias in aliases:
            clash = alias if alias in by_id or alias in broken else ""
            if not alias.strip() or "=" in alias or alias != alias.strip():
                add(
                    [*at, "aliases"],
                    f"alias '{alias}' of {node_id} cannot be typed as a node name",
                    "an alias is a name such as kaboom: not empty, no '=', no surrounding spaces",
                )
            elif clash and clash != node_id:
                add(
                    [*at, "aliases"],
                    f"alias '{alias}' of {node_id} is the id of another node",
                    "aliases must differ from node ids; remove or rename it",
                )
            elif aliases_of.get(alias, node_id) != node_id:
                add(
                    [*at, "aliases"],
                    f"alias '{alias}' of {node_id} is already an alias of {aliases_of[alias]}",
                    "aliases must be unique across the model; remove or rename one",
                )
            else:
                aliases_of[alias] = node_id
        states = entry.get("states", {})
        if not isinstance(states, Mapping):
            add([*at, "states"], f"[nodes.{node_id}] states must be a table", "state = text")
        elif not all(isinstance(text, str) for text in states.values()):
            add([*at, "states"], f"[nodes.{node_id}.states] values must be strings", 'yes = "..."')
        elif node_id in by_id:
            for state in states:
                if state not in by_id[node_id].states:
                    add(
                        [*at, "states", state],
                        f"[nodes.{node_id}.states] describes '{state}', not a state of {node_id}",
                        f"{suggest(state, by_id[node_id].states)}"
                        f"states of {node_id}: {', '.join(by_id[node_id].states)}",
                    )
    _check_head(meta.get("model", {}), ids, aliases_of, add)


def _check_head(head: Any, ids: Sequence[str], aliases: Mapping[str, str], add: Add) -> None:
    """The [model] table: title, description, sources, targets."""
    if not isinstance(head, Mapping):
        add(["model"], "model must be a table", 'write [model] then title = "..."')
        return
    check_keys(head, MODEL_KEYS, "[model]", ["model"], add)
    for key in ("title", "description"):
        if key in head and not isinstance(head[key], str):
            add(["model", key], f"[model] {key} must be a string", f'{key} = "..."')
    for key in ("headline", "limitations"):
        value = head.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            add(["model", key], f"[model] {key} must be a list of strings", f'{key} = ["..."]')
    sources = head.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str | Mapping) for s in sources):
        add(
            ["model", "sources"],
            "[model] sources must be a list of strings or tables",
            'sources = ["Tegmark (2022)"], or [[model.sources]] tables with title = "..."',
        )
    targets = head.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        add(["model", "targets"], "[model] targets must be a list of node names", 'targets = ["x"]')
        return
    names = {*ids, *aliases}
    folded = {n.lower() for n in names}
    for target in targets:
        if target not in names and target.lower() not in folded:
            add(
                ["model", "targets"],
                f"target '{target}' names no node",
                f"{suggest(target, sorted(names))}nodes: {_describe(ids, aliases)}",
            )


def _describe(ids: Sequence[str], aliases: Mapping[str, str]) -> str:
    """Node ids with their aliases: 'rain (r), wet'."""
    parts = []
    for node_id in ids:
        own = [a for a, owner in aliases.items() if owner == node_id]
        parts.append(f"{node_id} ({', '.join(own)})" if own else node_id)
    return ", ".join(parts)


def check_keys(
    table: Mapping[str, Any],
    allowed: Sequence[str],
    name: str,
    at: list[str],
    add: Add,
    severity: str = "warning",
) -> None:
    """One problem per key of `table` (the TOML table `name`, at key path `at`) not in `allowed`."""
    for key in table:
        if key not in allowed:
            add(
                [*at, key],
                f"unknown key '{key}' in {name}",
                f"{suggest(key, allowed)}keys: {', '.join(allowed)}",
                severity,
            )


def observable_nodes(model: Model) -> tuple[str, ...] | None:
    """The nodes `model.toml` marks `observable = true`, in model order; None when no node of the
    model's model.toml has the key (then every node is a candidate for `bn voi`)."""
    if model.path is None or not (model.path / MODEL_TOML).is_file():
        return None
    nodes = read_toml(model.path / MODEL_TOML, []).get("nodes", {})
    if not isinstance(nodes, Mapping):
        return None
    flags = {k: v.get("observable") for k, v in nodes.items() if isinstance(v, Mapping)}
    if not any(isinstance(v, bool) for v in flags.values()):
        return None
    return tuple(n.id for n in model if flags.get(n.id) is True)


def model_lists(model: Model) -> dict[str, list[str]]:
    """The [model] lists that say how to present the model: `headline` (scenarios shown beside
    the baseline) and `limitations`; [] for each one model.toml does not give."""
    found: dict[str, list[str]] = {"headline": [], "limitations": []}
    if model.path is None or not (model.path / MODEL_TOML).is_file():
        return found
    head = read_toml(model.path / MODEL_TOML, []).get("model", {})
    for key in found:
        value = head.get(key, []) if isinstance(head, Mapping) else []
        if isinstance(value, list):
            found[key] = [str(v) for v in value]
    return found
