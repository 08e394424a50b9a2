"""What a network file says (`Parsed`) -> a checked `Model`, and the located problems on the way.

Every reader ends in `convert`: names become valid ids (unique ignoring case, the original kept as
the label), state names are kept exactly, and every row is checked. The readers share the rest:
`structure_problems` (undeclared nodes, missing tables, cycles), `fail` and `failure` (errors
that name the file and line).

Row sums: a row whose sum is within `KEEP` = 1e-12 of 1 is kept exactly as written; a row off by
more, up to `RENORMALISE` = 1e-3, is divided by its sum and reported (public networks are rounded:
alarm and sachs rows are off by up to 1e-7), so every imported table is exactly stochastic; beyond
1e-3 the row is an error.

>>> valid_id("Tuberculosis or cancer"), valid_id("2nd test"), valid_id("ess")
('Tuberculosis_or_cancer', 'n_2nd_test', 'ess_')
"""

from __future__ import annotations

import graphlib
import itertools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.csvfiles import ID_PATTERN, RESERVED
from bn.errors import FileFormatError, ModelError, Problem, param
from bn.model import Model, Node
from bn.numbers import format_number

if TYPE_CHECKING:
    from bn.interop import Format

KEEP = 1e-12
RENORMALISE = 1e-3
PLACEHOLDER_NAMES = {"", "unknown", "untitled", "bn_model", "mynetwork", "anonymousbn", "unnamed"}


@dataclass
class Variable:
    """One node as a file states it, before its name becomes an id."""

    name: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    table: np.ndarray  # shape (*parent cards, card), or flat in that order
    label: str = ""
    line: int | None = None


@dataclass
class Parsed:
    """What a network file says, in bn's table layout."""

    name: str
    variables: list[Variable]
    notes: list[str] = field(default_factory=list)
    forms: list[Any] = field(default_factory=list)  # XDSL noisy-MAX nodes (bn.interop.noisymax)


@dataclass(frozen=True)
class Renormalised:
    node: str
    parents: dict[str, str]
    total: float


@dataclass(frozen=True)
class Imported:
    """A model read from a network file, with what the conversion changed."""

    model: Model
    source: Path
    format: Format
    renamed: dict[str, str]  # original name -> id
    renormalised: tuple[Renormalised, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of `bn import --json`."""
        return {
            "source": str(self.source),
            "format": self.format.name,
            "model": str(self.model.path) if self.model.path else None,
            "nodes": len(self.model),
            "arcs": sum(len(n.parents) for n in self.model),
            "renamed": dict(self.renamed),
            "renormalised": [
                {"node": r.node, "parents": r.parents, "sum": r.total} for r in self.renormalised
            ],
            "notes": list(self.notes),
        }


def convert(parsed: Parsed, form: Format, source: Path, renormalise: bool = True) -> Imported:
    """What a file says as a checked `Model`: valid ids, states kept, every row checked.

    With `renormalise`, rows off by more than `KEEP` (up to `RENORMALISE`) are divided by their
    sum; without it (to compare an export with its model) they are kept as read.
    """
    file = source.name
    declared = {v.name: v for v in parsed.variables}
    problems = [p for v in parsed.variables for p in _state_problems(v, file)]
    problems += structure_problems(
        file,
        declared,
        {v.name: v.parents for v in parsed.variables},
        {v.name: v.line for v in parsed.variables},
    )
    if len(declared) < len(parsed.variables):
        problems.append(Problem(file, None, "a node is declared twice"))
    if problems:
        raise failure(file, form.title, problems)
    ids = unique_ids([v.name for v in parsed.variables])
    renamed = {v.name: ids[v.name] for v in parsed.variables if ids[v.name] != v.name}
    nodes: list[Node] = []
    fixed: list[Renormalised] = []
    for var in parsed.variables:
        found = len(problems)
        table = _checked_table(var, declared, file, problems, fixed, ids, renormalise)
        if len(problems) > found:
            continue  # its rows are listed; a Node would refuse the table
        label = var.label or (var.name if var.name in renamed else "")
        try:
            node = Node(
                id=ids[var.name],
                states=var.states,
                parents=tuple(ids[p] for p in var.parents),
                table=table,
                label="" if label == ids[var.name] else label,
            )
        except ModelError as error:
            problems += [Problem(file, var.line, p.message, p.hint) for p in error.problems]
            continue
        nodes.append(node)
    if problems:
        raise failure(file, form.title, problems)
    try:
        model = Model(
            tuple(nodes),
            title=parsed.name if parsed.name.lower() not in PLACEHOLDER_NAMES else source.stem,
            sources=({"title": f"{source.name} ({form.title} file imported with bn import)"},),
        )
    except ModelError as error:  # not expected after the checks above; located all the same
        problems = [Problem(file, None, p.message, p.hint) for p in error.problems]
        raise failure(file, form.title, problems) from None
    return Imported(model, source, form, renamed, tuple(fixed), tuple(parsed.notes))


def valid_id(name: str) -> str:
    """A node id (a letter, then letters, digits, _; not 'ess' or 'note') made from any name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_name).strip("_") or "node"
    if not text[0].isalpha():
        text = "n_" + text
    return text + "_" if text in RESERVED else text


def unique_ids(names: Sequence[str]) -> dict[str, str]:
    """Valid ids for names, unique ignoring case; valid names that collide with none keep theirs.

    >>> unique_ids(["Smoke", "smoke", "smoke_2", "x y"])
    {'Smoke': 'Smoke', 'smoke_2': 'smoke_2', 'smoke': 'smoke_3', 'x y': 'x_y'}
    """
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if ID_PATTERN.match(name) and name not in RESERVED and name.lower() not in taken:
            ids[name] = name
            taken.add(name.lower())
    for name in (n for n in names if n not in ids):
        base = valid_id(name)
        candidate, k = base, 2
        while candidate.lower() in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate.lower())
        ids[name] = candidate
    return ids


def _state_problems(var: Variable, file: str) -> list[Problem]:
    where = f"node {var.name}"
    problems = [] if var.states else [Problem(file, var.line, f"{where} has no states")]
    problems += [
        Problem(file, var.line, f"{where}: state name {s!r} cannot be kept exactly")
        for s in var.states
        if not s or s != s.strip() or "\n" in s or "\r" in s
    ]
    twice = sorted({s for s in var.states if var.states.count(s) > 1})
    if twice:
        problems.append(Problem(file, var.line, f"{where} lists state(s) twice: {twice}"))
    return problems


def structure_problems(
    file: str,
    declared: Iterable[str],
    parents: Mapping[str, Sequence[str]],
    lines: Mapping[str, int | None],
) -> list[Problem]:
    """Undeclared nodes, nodes without a table, and cycles."""
    names = set(declared)
    problems = [
        Problem(file, lines.get(child), f"the table of {child} names undeclared {v}")
        for child, given in parents.items()
        for v in [child, *given]
        if v not in names
    ]
    problems += [
        Problem(file, lines.get(n), f"node {n} has no probability table")
        for n in names
        if n not in parents
    ]
    if not problems:
        try:
            graphlib.TopologicalSorter(parents).prepare()
        except graphlib.CycleError as error:
            cycle = error.args[1]
            problems.append(
                Problem(
                    file,
                    lines.get(cycle[0]),
                    f"the graph has a cycle: {' -> '.join(cycle)}",
                    "a Bayesian network is acyclic: remove one of these arcs",
                )
            )
    return problems


def _checked_table(
    var: Variable,
    declared: Mapping[str, Variable],
    file: str,
    problems: list[Problem],
    fixed: list[Renormalised],
    ids: Mapping[str, str],
    renormalise: bool,
) -> np.ndarray:
    """The table in bn's shape, each row checked (and renormalised: see the module docstring)."""
    shape = (*(len(declared[p].states) for p in var.parents), len(var.states))
    table = np.array(var.table, dtype=float)
    if table.size != math.prod(shape):
        expected = f"{' x '.join(map(str, shape))} = {math.prod(shape)}"
        problems.append(miscount(file, var.line, var.name, table.size, expected))
        return np.full(shape, 1.0 / shape[-1])
    table = table.reshape(shape)
    for combo in itertools.product(*(range(n) for n in shape[:-1])):
        row = table[combo]
        given = {ids[p]: declared[p].states[i] for p, i in zip(var.parents, combo, strict=True)}
        where = ", ".join(f"{p}={s}" for p, s in given.items())
        where = f"{var.name} given {where}" if given else var.name
        total = math.fsum(row) if np.all(np.isfinite(row)) else math.nan
        if not (row >= 0).all() or not abs(total - 1) <= RENORMALISE:
            values = " ".join(format_number(v) if np.isfinite(v) else "?" for v in row)
            problems.append(
                Problem(
                    file,
                    var.line,
                    f"the row of {where} sums to {total:.10g}, not 1: {values}",
                    "each row holds probabilities between 0 and 1 that sum to 1",
                )
            )
        elif abs(total - 1) > KEEP and renormalise:
            table[combo] = row / total
            fixed.append(Renormalised(ids[var.name], given, total))
    return table


def miscount(file: str, line: int | None, node: str, count: int, expected: object) -> Problem:
    """A table with the wrong number of numbers."""
    return Problem(file, line, f"{node}: {count} numbers, {expected} expected")


def fail(file: str, line: int | None, message: str, hint: str = "") -> FileFormatError:
    """One located problem as an error: `file:line: error: message`."""
    return FileFormatError(str(Problem(file, line, message, hint)))


def unsupported(file: str, line: int | None, node: str, what: str, hint: str) -> FileFormatError:
    """A node of a kind bn does not model (continuous, decision, utility, ...)."""
    return fail(file, line, f"{node} is {what}: unsupported", hint)


def failure(file: str, form: str, problems: Sequence[Problem]) -> FileFormatError:
    """All the problems found in a file, as one error."""
    head = f"cannot import {file} as {form}: {len(problems)} problem(s)"
    return FileFormatError("\n".join([head, *(p.render(param) for p in problems)]))
