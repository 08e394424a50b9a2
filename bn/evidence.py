"""The four kinds of evidence, how they are written on the command line, and what they mean.

- hard evidence `node=state`: the node was observed in that state;
- likelihood (virtual) evidence `node=w1,w2,...`: a report whose likelihood ratio over the node's
  states is w1 : w2 : ... (Pearl's method; only ratios matter);
- soft (fixed-marginal, Jeffrey) evidence `node=p1,p2,...`: after the update the node's marginal *is*
  p1, p2, ...; applied after all other evidence, conditionals given the node stay as they were;
- interventions `do(node=state)`: graph surgery; the node is set, its incoming edges are cut.

Weights and distributions may name states: `kaboom=yes:0.07`. For soft evidence, unnamed states share
the rest in proportion to their posterior under the other evidence; likelihoods must name every state.

>>> parse_assignment("kaboom=yes")
('kaboom', 'yes')
>>> parse_weights("kaboom=yes:0.07")
('kaboom', {'yes': 0.07})
>>> parse_weights("starlink=0.2,0.3,0.5")
('starlink', [0.2, 0.3, 0.5])
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bn.errors import EvidenceError
from bn.numbers import parse_decimal

if TYPE_CHECKING:
    from bn.model import Model

Weights = Mapping[str, float] | Sequence[float]

# Each kind of evidence: its field in `Evidence` -> its name in scenarios.toml, JSON and output.
KIND_NAMES = {"hard": "evidence", "do": "do", "likelihood": "likelihood", "soft": "soft"}


def parse_assignment(text: str) -> tuple[str, str]:
    """`node=state` -> (node, state)."""
    node, sep, state = text.partition("=")
    if not sep or not node.strip() or not state.strip():
        raise EvidenceError(f"'{text}' is not of the form NODE=STATE")
    return node.strip(), state.strip()


def parse_weights(text: str) -> tuple[str, dict[str, float] | list[float]]:
    """`node=0.2,0.8` (one number per state, in order) or `node=yes:0.07,no:0.93` (named states)."""

    def number(cell: str) -> float:
        value = parse_decimal(cell)
        if value is None:
            raise EvidenceError(
                f"'{text}': '{cell}' is not a number; write NODE=w1,w2,... or NODE=state:w,..."
            )
        return value

    node, values = parse_assignment(text)
    items = [v.strip() for v in values.split(",")]
    if not any(":" in item for item in items):
        return node, [number(v) for v in items]
    named: dict[str, float] = {}
    for item in items:
        state, sep, cell = item.rpartition(":")
        if not sep or not state.strip():
            raise EvidenceError(f"'{text}': '{item}' is not of the form state:weight")
        named[state.strip()] = number(cell)
    return node, named


def parse_target(model: Model, text: str) -> tuple[str, str]:
    """`NODE=STATE` (or just `NODE`, meaning its `Node.event`) -> canonical (node id, state).

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> parse_target(m, "KABOOM"), parse_target(m, "kaboom=No")
    (('nuclear_war', 'yes'), ('nuclear_use', 'no'))
    """
    name, state = parse_assignment(text) if "=" in text else (text.strip(), "")
    node = model[name]
    state = state or node.event
    return node.id, node.states[node.state_index(state)]


@dataclass(frozen=True)
class Evidence:
    """Everything known or done, keyed by node. `resolved(model)` checks it and makes it canonical."""

    hard: Mapping[str, str] = field(default_factory=dict)
    do: Mapping[str, str] = field(default_factory=dict)
    likelihood: Mapping[str, Weights] = field(default_factory=dict)
    soft: Mapping[str, Weights] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.hard or self.do or self.likelihood or self.soft)

    def nodes(self) -> set[str]:
        return {*self.hard, *self.do, *self.likelihood, *self.soft}

    def items(self) -> Iterator[tuple[str, str, Any]]:
        """Every piece as (kind, node, value), kind being the field name (`hard`, `do`, ...).

        >>> list(Evidence(hard={"a": "x"}, soft={"b": {"y": 0.1}}).items())
        [('hard', 'a', 'x'), ('soft', 'b', {'y': 0.1})]
        """
        for kind in KIND_NAMES:
            for node, value in getattr(self, kind).items():
                yield kind, node, value

    def kind_of(self, node: str) -> str | None:
        """Which kind of evidence names `node` (a field name), or None."""
        return next((kind for kind, name, _ in self.items() if name == node), None)

    def without(self, node: str) -> Evidence:
        """This evidence with every piece about `node` removed.

        >>> Evidence(hard={"a": "x", "b": "y"}).without("a").hard
        {'b': 'y'}
        """
        parts = {k: {n: v for n, v in getattr(self, k).items() if n != node} for k in KIND_NAMES}
        return Evidence(**parts)

    def combine(self, other: Evidence) -> Evidence:
        """This evidence with `other` on top (a node named in `other` takes `other`'s word)."""
        mentioned = other.nodes()

        def keep(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any]:
            return {**{k: v for k, v in mine.items() if k not in mentioned}, **theirs}

        return Evidence(
            hard=keep(self.hard, other.hard),
            do=keep(self.do, other.do),
            likelihood=keep(self.likelihood, other.likelihood),
            soft=keep(self.soft, other.soft),
        )

    def resolved(self, model: Model) -> Evidence:
        """Canonical node ids and state names; likelihoods and soft evidence as {state: value}.

        Soft evidence that names only some states keeps only those; the engine fills in the rest.
        """
        seen: dict[str, str] = {}

        def claim(name: str, kind: str) -> str:
            node_id = model.resolve(name)
            if node_id in seen:
                raise EvidenceError(
                    f"{node_id} is given twice ({seen[node_id]} and {kind}); give one kind per node"
                )
            seen[node_id] = kind
            return node_id

        def state(node_id: str, name: str) -> str:
            node = model[node_id]
            return node.states[node.state_index(name)]

        hard = {claim(k, "evidence"): state(model.resolve(k), v) for k, v in self.hard.items()}
        do = {claim(k, "do"): state(model.resolve(k), v) for k, v in self.do.items()}
        likelihood = {
            claim(k, "likelihood"): self._weights(model, k, v, "likelihood")
            for k, v in self.likelihood.items()
        }
        soft = {claim(k, "soft"): self._weights(model, k, v, "soft") for k, v in self.soft.items()}
        return Evidence(hard=hard, do=do, likelihood=likelihood, soft=soft)

    @staticmethod
    def _weights(model: Model, name: str, values: Weights, kind: str) -> dict[str, float]:
        node = model[name]
        if isinstance(values, Mapping):
            named = {node.states[node.state_index(s)]: float(w) for s, w in values.items()}
        else:
            if len(values) != node.card:
                raise EvidenceError(
                    f"{kind} evidence on {node.id} gives {len(values)} numbers but {node.id} has "
                    f"{node.card} states ({', '.join(node.states)})"
                )
            named = dict(zip(node.states, (float(v) for v in values), strict=True))
        bad = [f"{s}={w}" for s, w in named.items() if not (math.isfinite(w) and w >= 0)]
        if bad:
            raise EvidenceError(f"{kind} evidence on {node.id}: negative or invalid {bad}")
        if kind == "likelihood":
            missing = [s for s in node.states if s not in named]
            if missing:
                raise EvidenceError(
                    f"likelihood evidence on {node.id} must weigh every state; missing: "
                    f"{', '.join(missing)}"
                )
            if not any(named.values()):
                raise EvidenceError(f"likelihood evidence on {node.id} is zero for every state")
        else:
            total = sum(named.values())
            complete = len(named) == node.card
            if total > 1 + 1e-9 or (complete and abs(total - 1) > 1e-6):
                raise EvidenceError(
                    f"soft evidence on {node.id} must be a distribution; its values sum to {total:g}"
                )
        return {s: named[s] for s in node.states if s in named}

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts for JSON output."""
        return {
            "evidence": dict(self.hard),
            "do": dict(self.do),
            "likelihood": {k: _named(v) for k, v in self.likelihood.items()},
            "soft": {k: _named(v) for k, v in self.soft.items()},
        }

    def describe(self) -> list[str]:
        """One human-readable line per item, for echoing what a result was conditioned on."""

        def weights(values: Weights) -> str:
            items = values.items() if isinstance(values, Mapping) else enumerate(values)
            return ", ".join(f"{s}:{w:g}" for s, w in items)

        return [
            *(f"{k} = {v}" for k, v in self.hard.items()),
            *(f"do({k} = {v})" for k, v in self.do.items()),
            *(f"likelihood {k}: {weights(v)}" for k, v in self.likelihood.items()),
            *(f"soft {k}: {weights(v)}" for k, v in self.soft.items()),
        ]


def _named(values: Weights) -> dict[str, float] | list[float]:
    return dict(values) if isinstance(values, Mapping) else list(values)
