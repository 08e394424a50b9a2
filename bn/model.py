"""The model as immutable data: nodes with named states, parents and a conditional probability table.

Nothing here reads files or runs inference; `bn.csvfiles` builds models and `bn.engine` queries them.

>>> rain = Node("rain", ("no", "yes"), (), np.array([0.8, 0.2]))
>>> wet = Node("wet", ("dry", "wet"), ("rain",), np.array([[0.9, 0.1], [0.2, 0.8]]))
>>> m = Model((rain, wet))
>>> m["wet"].row(("yes",))
(0.2, 0.8)
>>> m.children("rain")
('wet',)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import EvidenceError, ModelError
from bn.forms import NoisyMax, Ranked
from bn.names import choose, find, suggest

if TYPE_CHECKING:
    import pandas as pd

    from bn.engine import QueryResult
    from bn.evidence import Evidence


def _frozen(values: Any, dtype: type = float) -> np.ndarray:
    array: np.ndarray = np.array(values, dtype=dtype)
    array.flags.writeable = False
    return array


def state_of(node: str, states: Sequence[str], state: str) -> str:
    """The state of `node` that `state` names (see `bn.names`), or an `EvidenceError`."""
    return choose(
        state, states, f"'{state}' is not a state of {node}", f"states of {node}", EvidenceError
    )


@dataclass(frozen=True, eq=False)
class Node:
    """A discrete node and its table: `table[i, j, ..., s]` = P(node=s | parents = (i, j, ...)).

    `ess` (same shape as the parent combinations) holds each row's equivalent sample size, NaN
    where the row is exact; `notes` holds each row's note in row-major parent order. A compact
    node (noisy-OR, noisy-MAX, ranked) keeps its parameters in `form`; `table` is their expansion.
    """

    id: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    table: np.ndarray
    ess: np.ndarray = field(default_factory=lambda: _frozen(math.nan))
    notes: tuple[str, ...] = ()
    label: str = ""
    description: str = ""
    aliases: tuple[str, ...] = ()
    state_descriptions: Mapping[str, str] = field(default_factory=dict)
    parent_states: tuple[tuple[str, ...], ...] = ()  # filled in by Model
    form: NoisyMax | Ranked | None = None  # the compact form `table` expands (`bn.forms`)

    def __post_init__(self) -> None:
        table = _frozen(self.table)
        object.__setattr__(self, "table", table)
        self._check_table()
        shape = table.shape[:-1]
        ess = np.broadcast_to(np.asarray(self.ess, dtype=float), shape).copy()
        object.__setattr__(self, "ess", _frozen(ess))
        rows = math.prod(shape)
        notes = tuple(self.notes) + ("",) * (rows - len(self.notes))
        object.__setattr__(self, "notes", notes[:rows])
        if not self.label:
            object.__setattr__(self, "label", self.id)
        object.__setattr__(
            self, "state_descriptions", MappingProxyType(dict(self.state_descriptions))
        )

    def _check_table(self) -> None:
        """A table must have one axis per parent plus one for the node, and rows that are
        distributions; anything else would fail later, deep inside a contraction."""
        table = self.table
        if table.ndim != len(self.parents) + 1 or table.shape[-1] != len(self.states):
            raise ModelError(
                f"{self.id}: table of shape {table.shape} for {len(self.parents)} parent(s) and "
                f"{len(self.states)} state(s)"
            )
        if self.parent_states and table.shape[:-1] != tuple(len(s) for s in self.parent_states):
            raise ModelError(
                f"{self.id}: table shape {table.shape} does not match its parents' states"
            )
        if not np.all(np.isfinite(table)) or np.any(table < 0):
            raise ModelError(f"{self.id}: probabilities must be finite and non-negative")
        sums = table.sum(axis=-1)
        if np.any(np.abs(sums - 1) > 1e-6):
            worst = float(sums.flat[int(np.argmax(np.abs(sums - 1)))])
            raise ModelError(f"{self.id}: a row sums to {worst:.10g}, not 1")

    @property
    def card(self) -> int:
        return len(self.states)

    @property
    def event(self) -> str:
        """The state a question means when it names only the node: `yes` if there is one, else
        the last state (by convention the event of interest)."""
        return "yes" if "yes" in self.states else self.states[-1]

    @property
    def parent_shape(self) -> tuple[int, ...]:
        return tuple(self.table.shape[:-1])

    def state_index(self, state: str) -> int:
        """Index of `state`, accepting a unique case-insensitive match; a helpful error otherwise."""
        if state in self.states:
            return self.states.index(state)
        return self.states.index(state_of(self.id, self.states, state))

    def rows(self) -> Iterator[tuple[tuple[int, ...], np.ndarray]]:
        """Each parent combination (as state indices, row-major) with its probability row."""
        for combo in itertools.product(*(range(n) for n in self.parent_shape)):
            yield combo, self.table[combo]

    def row(self, parent_states: Sequence[str]) -> tuple[float, ...]:
        """The probability row for one combination of parent state names."""
        if len(parent_states) != len(self.parents):
            raise EvidenceError(
                f"{self.id} has {len(self.parents)} parent(s): {', '.join(self.parents)}"
            )
        index = tuple(
            states.index(state_of(parent, states, state))
            for states, state, parent in zip(
                self.parent_states, parent_states, self.parents, strict=True
            )
        )
        return tuple(float(p) for p in self.table[index])

    def row_label(self, combo: Sequence[int]) -> tuple[str, ...]:
        """Parent state names of a row given as state indices."""
        return tuple(states[i] for states, i in zip(self.parent_states, combo, strict=True))


@dataclass(frozen=True, eq=False)
class Model:
    """A Bayesian network: nodes in topological order plus descriptive metadata.

    Node ids and aliases are accepted wherever a node is named (`model["kaboom"]`).
    """

    nodes: tuple[Node, ...]
    title: str = ""
    description: str = ""
    sources: tuple[Mapping[str, Any], ...] = ()
    targets: tuple[str, ...] = ()
    path: Path | None = None
    _index: Mapping[str, Node] = field(init=False, repr=False)  # derived: id -> node
    _names: Mapping[str, str] = field(init=False, repr=False)  # derived: id or alias -> id

    def __post_init__(self) -> None:
        index = {n.id: n for n in self.nodes}
        ordered = _topological(self.nodes, index)
        linked = tuple(
            replace(n, parent_states=tuple(index[p].states for p in n.parents)) for n in ordered
        )
        object.__setattr__(self, "nodes", linked)
        object.__setattr__(self, "sources", tuple(MappingProxyType(dict(s)) for s in self.sources))
        object.__setattr__(self, "_index", {n.id: n for n in linked})
        names = {n.id: n.id for n in linked}
        for n in linked:
            for alias in n.aliases:
                names.setdefault(alias, n.id)
        object.__setattr__(self, "_names", names)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(n.id for n in self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lookup(name) is not None

    def __getitem__(self, name: str) -> Node:
        node = self._index.get(name)  # an id: the engine's lookups, on every query
        return node if node is not None else self._index[self.resolve(name)]

    def _lookup(self, name: str) -> str | None:
        exact = self._names.get(name)
        if exact is not None:
            return exact
        found = find(name, self._names)
        if found is not None:
            return self._names[found]
        # An id and its own alias may differ only by case (nuclear_war, NUCLEAR_WAR): one node.
        folded = {self._names[k] for k in self._names if k.lower() == name.lower()}
        return folded.pop() if len(folded) == 1 else None

    def resolve(self, name: str) -> str:
        """The canonical id of a node id or alias (exact first, then a unique case-insensitive match)."""
        if name in self._index:
            return name
        found = self._lookup(name)
        if found is None:
            raise EvidenceError(
                f"unknown node '{name}'; {suggest(name, self._names)}"
                f"nodes: {', '.join(self._describe_names())}"
            )
        return found

    def _describe_names(self) -> list[str]:
        return [f"{n.id} ({', '.join(n.aliases)})" if n.aliases else n.id for n in self.nodes]

    def children(self, name: str) -> tuple[str, ...]:
        node_id = self.resolve(name)
        return tuple(n.id for n in self.nodes if node_id in n.parents)

    def ancestors(self, names: Iterable[str]) -> set[str]:
        """The given nodes and all their ancestors."""
        seen: set[str] = set()
        stack = [self.resolve(n) for n in names]
        while stack:
            node_id = stack.pop()
            if node_id not in seen:
                seen.add(node_id)
                stack.extend(self._index[node_id].parents)
        return seen

    def default_targets(self) -> tuple[str, ...]:
        """The model's declared targets, else its leaves."""
        if self.targets:
            return tuple(self.resolve(t) for t in self.targets)
        return tuple(n.id for n in self.nodes if not self.children(n.id))

    def with_nodes(self, replacements: Iterable[Node]) -> Model:
        """A new model in which the given nodes replace those with the same id."""
        new = {n.id: n for n in replacements}
        unknown = set(new) - set(self._index)
        if unknown:
            raise ModelError(f"cannot replace unknown node(s): {', '.join(sorted(unknown))}")
        return replace(self, nodes=tuple(new.get(n.id, n) for n in self.nodes))

    def query(
        self,
        targets: Sequence[str] | str = (),
        evidence: Mapping[str, str] | None = None,
        *,
        do: Mapping[str, str] | None = None,
        likelihood: Mapping[str, Any] | None = None,
        soft: Mapping[str, Any] | None = None,
    ) -> QueryResult:
        """Posterior marginals of `targets` (default: the model's targets) under any kind of evidence.

        >>> import bn
        >>> m = bn.load(bn.packaged_model_path())
        >>> round(m.query("KABOOM").posteriors["nuclear_war"]["yes"], 3)
        0.168
        """
        from bn.engine import query
        from bn.evidence import Evidence

        given = Evidence(
            hard=evidence or {}, do=do or {}, likelihood=likelihood or {}, soft=soft or {}
        )
        names = [targets] if isinstance(targets, str) else list(targets)
        return query(self, names or list(self.default_targets()), given)

    def fit(
        self,
        data: pd.DataFrame,
        prior: str = "model",
        ess: float | None = None,
        em: bool = False,
    ) -> Model:
        """This model with its tables learnt from `data` (a DataFrame of cases; see `bn.learn`)."""
        from bn.learn import fit

        return fit(self, data, prior=prior, ess=ess, em=em).model

    def sample(
        self, n: int, seed: int = 0, evidence: Mapping[str, str] | None = None
    ) -> pd.DataFrame:
        """`n` cases drawn from the model (see `bn.sampling`); with `evidence`, weighted."""
        from bn.evidence import Evidence
        from bn.sampling import sample

        return sample(self, n, seed=seed, evidence=Evidence(hard=evidence or {}))[0]

    def evidence(self, **kinds: Any) -> Evidence:
        """An `Evidence` resolved against this model (ids, states, weights checked)."""
        from bn.evidence import Evidence

        return Evidence(**kinds).resolved(self)

    def query_cases(
        self, frame: pd.DataFrame, targets: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """One row of answers per case of hard evidence (see `bn.cases.query_cases`).

        >>> import bn, pandas as pd
        >>> m = bn.load(bn.packaged_model_path())
        >>> m.query_cases(pd.DataFrame({"kaboom": ["yes"]}), ["KABOOM"])["nuclear_war=yes"].round(2)
        0    0.56
        Name: nuclear_war=yes, dtype: float64
        """
        from bn.cases import query_cases

        return query_cases(self, frame, targets)


def _topological(nodes: Sequence[Node], index: Mapping[str, Node]) -> list[Node]:
    """Nodes ordered parents-first, keeping the given order where the graph allows."""
    order: list[Node] = []
    state: dict[str, int] = {}

    def visit(node: Node, path: list[str]) -> None:
        if state.get(node.id) == 2:
            return
        if state.get(node.id) == 1:
            cycle = [*path[path.index(node.id) :], node.id]
            raise ModelError(f"the graph has a cycle: {' -> '.join(cycle)}")
        state[node.id] = 1
        for parent in node.parents:
            if parent not in index:
                raise ModelError(f"{node.id} names an unknown parent '{parent}'")
            visit(index[parent], [*path, node.id])
        state[node.id] = 2
        order.append(node)

    for node in nodes:
        visit(node, [])
    return order
