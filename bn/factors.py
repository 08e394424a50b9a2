"""The factors of a query, and what the engine keeps per model between queries.

`query_factors` gives each relevant node's table times its likelihood vector, hard evidence sliced away,
with the shapes that key the plans (`bn.plan`). Under hard evidence alone (most queries) two things
depend only on the query's names and on the evidence, and are kept per model (in weak-keyed
dictionaries: they go with their model; models are immutable, their tables read-only):
- the layout: which tables take part and which of their axes are sliced. It depends on which
  nodes are observed, not on their states, so a query with other states only slices the tables.
- the constants: the log totals of the parts without a target (hard evidence d-separates them
  from the targets; they only scale P(evidence), and a zero there makes the evidence impossible).
  They depend on the observed states too; a query repeated, or asking for another target under
  the same evidence (a page clicked through), does not contract those parts again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

from bn.model import Model
from bn.paths import BATCH
from bn.plan import Factor

Tables = Mapping[str, np.ndarray]
T = TypeVar("T")


Layout = tuple[tuple[Factor, ...], tuple[tuple[np.ndarray, tuple[str | None, ...] | None], ...]]
_LAYOUTS: weakref.WeakKeyDictionary[Model, dict[Hashable, tuple[Layout, dict[str, int]]]]
_LAYOUTS = weakref.WeakKeyDictionary()
LAYOUTS = 512  # layouts kept per model before they are forgotten


def query_factors(
    model: Model,
    names: Sequence[str],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> tuple[tuple[Factor, ...], list[np.ndarray], dict[str, int]]:
    """The factors of a contraction: each relevant node's table times its likelihood vector, hard
    evidence sliced away; with the shapes (the plan's cache key) and each node's factor position.

    Only the ancestors of `names` and of the evidence take part: the rest sums to one. Under hard
    evidence alone (most queries) which tables take part and which of their axes are sliced
    depends on the names and the observed nodes, not on their states: that layout is kept per
    model, and a query only slices the tables.
    """
    if weights or tables:
        return _build(model, names, hard, weights, tables)
    key = (tuple(names), frozenset(hard))
    (shapes, sources), position = _kept(
        _LAYOUTS, LAYOUTS, model, key, lambda: _layout(model, names, hard)
    )
    everything = slice(None)
    arrays = [
        table if axes is None else table[tuple(everything if a is None else hard[a] for a in axes)]
        for table, axes in sources
    ]
    return shapes, arrays, position


def _layout(
    model: Model, names: Sequence[str], hard: Mapping[str, int]
) -> tuple[Layout, dict[str, int]]:
    """The factors' shapes under this hard-evidence pattern and, for each factor, its node's table
    with the axes to slice (an observed node's name, None for an axis kept)."""
    shapes, _, position = _build(model, names, hard, {}, {})
    sources = []
    for name in position:  # in factor order
        node = model[name]
        axes = (*node.parents, name)
        sliced = tuple(a if a in hard else None for a in axes)
        sources.append((node.table, sliced if any(sliced) else None))
    return (shapes, tuple(sources)), position


def _build(
    model: Model,
    names: Sequence[str],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> tuple[tuple[Factor, ...], list[np.ndarray], dict[str, int]]:
    """`query_factors` from scratch."""
    relevant = model.ancestors([*names, *hard, *weights])
    shapes: list[Factor] = []
    arrays: list[np.ndarray] = []
    position: dict[str, int] = {}
    everything = slice(None)
    for node in model.nodes:
        name = node.id
        if name not in relevant:
            continue
        table = node.table
        batched = False
        if tables and name in tables:
            table = np.asarray(tables[name], dtype=float)
            batched = table.ndim == len(node.parents) + 2
        vector = weights.get(name) if weights else None
        if vector is not None:
            vector = np.asarray(vector, dtype=float)
            if vector.ndim == 2:
                vector = vector.reshape(vector.shape[0], *(1,) * len(node.parents), -1)
                table = (table if batched else table[np.newaxis]) * vector
                batched = True
            else:
                table = table * vector
        variables = (*node.parents, name)
        if hard and not hard.keys().isdisjoint(variables):
            index = [hard.get(v, everything) for v in variables]
            table = table[(everything, *index) if batched else tuple(index)]
            variables = tuple(v for v in variables if v not in hard)
        if batched:
            variables = (BATCH, *variables)
        position[name] = len(arrays)
        shapes.append((variables, table.shape))
        arrays.append(table)
    return tuple(shapes), arrays, position


_CONSTANTS: weakref.WeakKeyDictionary[Model, dict[Hashable, np.ndarray]]
_CONSTANTS = weakref.WeakKeyDictionary()
CONSTANTS = 4096  # evidence sets whose constants are kept per model before they are forgotten


def constant(model: Model, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """The log total of a query's parts without a target, computed once per `key` (the query's
    names and its hard evidence with the states) and kept with the model."""
    return _kept(_CONSTANTS, CONSTANTS, model, key, compute)


def _kept(
    store: weakref.WeakKeyDictionary[Model, dict[Hashable, T]],
    limit: int,
    model: Model,
    key: Hashable,
    compute: Callable[[], T],
) -> T:
    """`store[model][key]`, computed on first use; a model's entries are all forgotten once there
    are `limit` of them."""
    kept = store.setdefault(model, {})
    if key not in kept:
        if len(kept) >= limit:
            kept.clear()
        kept[key] = compute()
    return kept[key]
