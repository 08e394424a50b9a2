"""Influence diagrams as immutable data: decisions, utilities, and the chance network they act on.

A decision is a node whose state (its option) is chosen, knowing its informational parents; a
utility is a function of its parents, and several utilities add up. The file format (README,
"Decisions and utilities"): a decision is `kind = "decision"` in its `[nodes.<id>]` table of
`model.toml` plus a CSV that is only a header, its informational parents and one `<id>=<option>`
column per option; a utility is a CSV whose header is its parents then a `utility` column (and an
optional `note`), with one row per parent combination. This module parses the utility files and
holds the data; `bn.decisioncheck` checks them, `bn.analysis.decide` solves the diagram.

>>> rain = Node("rain", ("no", "yes"), (), np.array([0.7, 0.3]))
>>> umbrella = Decision("umbrella", ("leave", "take"), ())
>>> comfort = Utility("comfort", ("rain", "umbrella"), np.array([[100.0, 80.0], [0.0, 70.0]]))
>>> d = Diagram.build((rain,), (umbrella,), (comfort,))
>>> d.network["umbrella"].table.tolist()  # a decision enters the network as an unweighted root
[0.5, 0.5]
>>> d.fixed({"umbrella": "take"})["umbrella"].table.tolist()
[0.0, 1.0]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import CSVSyntaxError, csv_rows
from bn.errors import EvidenceError, ModelError, Problem
from bn.model import Model, Node

UTILITY = "utility"  # the value column of a utility file
KINDS = ("chance", "decision", "utility")


@dataclass
class RawUtility:
    """A utility node's CSV file as written: parents, and rows of (line, parent cells, value, note)."""

    file: str
    node: str
    parents: tuple[str, ...]
    rows: list[tuple[int, tuple[str, ...], str, str]] = field(default_factory=list)
    header_line: int = 1


def utility_header(text: str) -> bool:
    """Whether a node file's header has a `utility` column (so the file is a utility's).

    >>> utility_header("# cost\\ntest,utility,note\\nyes,-10,\\n"), utility_header("x=a,x=b\\n1,0\\n")
    (True, False)
    """
    try:
        records = csv_rows(text)
    except CSVSyntaxError:
        return False
    return bool(records) and UTILITY in (c.strip() for c in records[0][1])


def parse_utility(text: str, name: str, problems: list[Problem]) -> RawUtility | None:
    """Parse a utility file: `parent,...,utility[,note]`, one row per parent combination.

    >>> raw = parse_utility("test,utility\\nyes,-10\\nno,0\\n", "cost.csv", [])
    >>> raw.parents, raw.rows[0]
    (('test',), (2, ('yes',), '-10', ''))
    """
    try:
        records = csv_rows(text)
    except CSVSyntaxError as error:
        problems.append(Problem(name, error.line, f"not valid CSV: {error.reason}", error.hint))
        return None
    node = Path(name).stem
    header_line, header = records[0]
    header = [h.strip() for h in header]
    at = header.index(UTILITY)
    parents, rest = header[:at], header[at + 1 :]
    bad = [c for c in parents if not c or "=" in c or c in ("ess", "note")]
    if bad or rest not in ([], ["note"]) or len(set(parents)) != len(parents):
        problems.append(
            Problem(
                name,
                header_line,
                f"the header of utility {node} is {','.join(header)}",
                "a utility file's header is its parents (node ids), then utility, then an "
                "optional note: e.g. drill,oil,utility,note; a utility has no probability "
                "columns and no ess",
            )
        )
        return None
    raw = RawUtility(name, node, tuple(parents), [], header_line)
    for line, record in records[1:]:
        if len(record) != len(header):
            problems.append(
                Problem(
                    name,
                    line,
                    f"the row has {len(record)} cells but the header has {len(header)} "
                    f"({', '.join(header)})",
                    'one cell per header column; quote cells that contain commas ("a, b")',
                )
            )
            continue
        note = record[at + 1] if rest else ""
        raw.rows.append((line, tuple(c.strip() for c in record[:at]), record[at].strip(), note))
    return raw


@dataclass(frozen=True)
class Decision:
    """A decision: its options, and the informational parents known when it is made."""

    id: str
    options: tuple[str, ...]
    parents: tuple[str, ...]
    label: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    option_descriptions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Utility:
    """A utility node: `values[i, j, ...]` is the utility when its parents are in states i, j, ...

    Several utilities add up; `notes` holds each row's note in row-major parent order.
    """

    id: str
    parents: tuple[str, ...]
    values: np.ndarray
    notes: tuple[str, ...] = ()
    label: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=float)
        if values.ndim != len(self.parents) or not np.all(np.isfinite(values)):
            raise ModelError(f"{self.id}: utility table of shape {values.shape} is not valid")
        values.flags.writeable = False
        object.__setattr__(self, "values", values)
        if not self.label:
            object.__setattr__(self, "label", self.id)


@dataclass(frozen=True, eq=False)
class Diagram:
    """An influence diagram: the chance network, the decisions in order, the utilities.

    In `network` every decision is a root with an unweighted table (a placeholder that no answer
    depends on); `fixed` turns the diagram into a plain network by setting each decision.
    """

    network: Model
    decisions: tuple[Decision, ...]
    utilities: tuple[Utility, ...]

    @classmethod
    def build(
        cls,
        chance: Iterable[Node],
        decisions: Sequence[Decision],
        utilities: Sequence[Utility],
        **model: Any,
    ) -> Diagram:
        """A diagram from its chance nodes, decisions (in the order they are made), utilities."""
        roots = [
            Node(
                d.id,
                d.options,
                (),
                np.full(len(d.options), 1 / len(d.options)),
                label=d.label,
                description=d.description,
                aliases=d.aliases,
                state_descriptions=d.option_descriptions,
            )
            for d in decisions
        ]
        network = Model((*roots, *chance), **model)
        known = set(network.ids)
        for utility in utilities:
            missing = [p for p in utility.parents if p not in known]
            if missing:
                raise ModelError(f"utility {utility.id} names unknown parent(s) {missing}")
            shape = tuple(network[p].card for p in utility.parents)
            if utility.values.shape != shape:
                raise ModelError(f"utility {utility.id}: shape {utility.values.shape} != {shape}")
        return cls(network, tuple(decisions), tuple(utilities))

    @property
    def title(self) -> str:
        net = self.network
        return net.title or (net.path.name if net.path else "model")

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(d.id for d in self.decisions)

    def decision(self, name: str) -> Decision:
        """The decision that `name` (an id or alias) names; an `EvidenceError` otherwise."""
        node = self.network.resolve(name)
        for d in self.decisions:
            if d.id == node:
                return d
        raise EvidenceError(
            f"{node} is not a decision; decisions: {', '.join(self.order) or '(none)'}"
        )

    def is_decision(self, name: str) -> bool:
        return name in self.order

    def chance_ids(self) -> tuple[str, ...]:
        return tuple(n for n in self.network.ids if n not in self.order)

    def descendants(self, name: str) -> set[str]:
        """Nodes reachable from `name` along the arcs of the network and informational arcs."""
        children: dict[str, list[str]] = {n: [] for n in self.network.ids}
        for node in self.network:
            for p in node.parents:
                children[p].append(node.id)
        for d in self.decisions:
            for p in d.parents:
                children[p].append(d.id)
        seen: set[str] = set()
        stack = list(children[name])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(children[n])
        return seen

    def fixed(self, choices: Mapping[str, str | tuple[Sequence[str], np.ndarray]]) -> Model:
        """The network with each named decision set: to an option (a root fixed at it), or to a
        policy `(given, table)`: `table` has an axis per node in `given` (what is known when the
        decision is made) and one for the options, each row a distribution over the options.

        Decisions not named keep their placeholder table; callers name every decision.
        """
        nodes = []
        for name, choice in choices.items():
            d = self.decision(name)
            if isinstance(choice, str):
                table = np.zeros(len(d.options))
                table[self.network[d.id].state_index(choice)] = 1.0
                parents: tuple[str, ...] = ()
            else:
                parents, table = tuple(choice[0]), np.asarray(choice[1], dtype=float)
            base = self.network[d.id]
            nodes.append(replace(base, parents=parents, table=table, parent_states=()))
        return self.network.with_nodes(nodes)

    def with_network(self, network: Model) -> Diagram:
        """The same decisions and utilities on other tables (a scenario's overlay)."""
        return replace(self, network=network)

    def with_information(self, decision: str, extra: Sequence[str]) -> Diagram:
        """This diagram with `extra` chance nodes known when `decision` is made."""
        d = self.decision(decision)
        more = tuple(p for p in extra if p not in d.parents)
        changed = replace(d, parents=(*d.parents, *more))
        return replace(
            self, decisions=tuple(changed if x.id == d.id else x for x in self.decisions)
        )


def combinations(model: Model, names: Sequence[str]) -> Iterable[tuple[int, ...]]:
    """Every combination of the named nodes' states, as indices, first name slowest."""
    return itertools.product(*(range(model[n].card) for n in names))
