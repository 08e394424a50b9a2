"""Exact inference over compiled contraction plans (`bn.plan`), with an optional batch axis.

A query is a sum over the joint distribution, P(x, e) = sum prod_i P(x_i | pa_i) * lambda(x):
1. interventions replace the node's table by a point mass and cut its incoming edges (graph surgery);
2. only the ancestors of the targets and of the evidence take part (other nodes sum to one);
3. hard evidence slices every table that mentions the node (the axis disappears);
4. likelihood vectors multiply into their node's own table;
5. the factors split into parts that share no variable: a part without a target (d-separated
   from the targets by hard evidence) only scales P(evidence); under hard evidence alone its log
   total is kept per model and evidence (`bn.factors`), as is the layout of the factors;
6. the parts' shapes pick cached plans; one forward and one backward sweep over each give every
   target's marginal and log P(evidence) (scaled, so nothing underflows).

Tables and likelihood vectors may carry a leading batch axis (shape (B, *parents, states) and
(B, states)): the answer then has one row per parameter set or case, from the same sweeps. Soft
(Jeffrey) evidence is turned into the likelihood vector that makes the node's marginal equal the given
one (one step for one soft node; Newton steps for several, see `_soft_weights`). `condition` applies
evidence once for any number of questions; each public function resolves the evidence once.

>>> import bn
>>> m = bn.load(bn.packaged_model_path())
>>> r = query(m, ["KABOOM"], m.evidence(hard={"kaboom": "yes"}))
>>> round(r.posteriors["nuclear_war"]["yes"], 2)
0.56
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import EvidenceError
from bn.evidence import Evidence
from bn.factors import Tables, constant, query_factors
from bn.model import Model, Node
from bn.plan import compile_plan, compile_query, solve

if TYPE_CHECKING:
    import pandas as pd

MAX_JOINT_CELLS = 1_000_000  # a joint table larger than this is no answer a person can read


def intervene(model: Model, do: Mapping[str, str]) -> Model:
    """Graph surgery: each `do` node becomes a root fixed at the given state."""
    if not do:
        return model
    cut = []
    for name, state in do.items():
        node = model[name]
        point = np.zeros(node.card)
        point[node.state_index(state)] = 1.0
        cut.append(
            replace(node, parents=(), table=point, ess=np.array(np.nan), notes=(), parent_states=())
        )
    return model.with_nodes(cut)


def _forward(
    model: Model,
    keep: Sequence[str],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> tuple[np.ndarray, np.ndarray]:
    """P(keep, evidence) as (table, log scale): the answer is exp(log scale) * table."""
    weights, log_peak = _peaked(weights)
    factors, arrays, _ = query_factors(model, keep, hard, weights, tables)
    if not factors:  # nothing observed or kept: the total probability, 1 per parameter set
        return np.ones(_batch_shape(model, tables)), np.zeros(())
    table, log_scale = compile_plan(factors, tuple(keep)).contract(arrays)
    return table, log_scale + log_peak


def _peaked(weights: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Likelihood vectors with a peak above 1 divided by it (the plans count on factors of
    probabilities, see `bn.plan`), and the sum of the logs of those peaks (per batch element)."""
    scaled: dict[str, np.ndarray] = {}
    log_peak: np.ndarray = np.zeros(())
    for name, vector in weights.items():
        vector = np.asarray(vector, dtype=float)
        peak = vector.max(axis=-1)
        if np.any(peak > 1):
            peak = np.maximum(peak, 1.0)
            vector = vector / peak[..., np.newaxis]
            log_peak = log_peak + np.log(peak)
        scaled[name] = vector
    return scaled, log_peak


def contract(
    model: Model,
    keep: Sequence[str],
    *,
    hard: Mapping[str, int] | None = None,
    weights: Mapping[str, np.ndarray] | None = None,
    tables: Tables | None = None,
) -> np.ndarray:
    """Unnormalised P(keep, evidence): shape `cards(keep)`, or `(B, *cards(keep))` when batched.

    `hard` maps node ids to observed state indices, `weights` maps node ids to likelihood vectors
    (shape (card,) or (B, card)), `tables` overrides node tables (optionally with a batch axis).
    A kept node may not also be in `hard`. Tiny probabilities underflow here; `posterior` and
    `Conditioned.joint` normalise without leaving the scaled domain.
    """
    table, log_scale = _forward(model, keep, hard or {}, weights or {}, tables or {})
    scale = np.exp(log_scale).reshape(np.shape(log_scale) + (1,) * len(keep))
    return np.asarray(table * scale)


def sweep(
    model: Model,
    names: Sequence[str],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Normalised marginals of the unobserved `names` and log P(evidence), from cached plans.

    The factors split into parts that share no variable (`compile_query`): a part without a target
    only scales P(evidence). A part with one target runs a forward sweep that keeps it (a third of
    the work of both sweeps); a part with several runs one forward and one backward sweep.
    """
    weights, log_peak = _peaked(weights)
    factors, arrays, position = query_factors(model, names, hard, weights, tables)
    if not factors:
        return {}, np.zeros(_batch_shape(model, tables))
    parts = compile_query(factors, tuple((position[n], n) for n in names))
    rest = [part for part in parts if not part.targets]
    if not rest or weights or tables:
        found, log_total = solve(parts, arrays)
        return found, log_total + log_peak
    # hard evidence alone: the parts without a target are constants of it, kept with the model
    key = (tuple(names), frozenset(hard.items()))
    log_constant = constant(model, key, lambda: solve(rest, arrays)[1])
    found, log_total = solve([part for part in parts if part.targets], arrays)
    return found, log_total + log_constant


def _joint(
    model: Model,
    free: Sequence[str],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> np.ndarray:
    """P(free | evidence), normalised in the scaled domain (NaN where the evidence is impossible)."""
    table, _ = _forward(model, free, hard, weights, tables)
    axes = tuple(range(table.ndim - len(free), table.ndim))
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised: np.ndarray = table / table.sum(axis=axes, keepdims=True)
    return normalised


def _batch_shape(model: Model, tables: Tables) -> tuple[int, ...]:
    for name, table in tables.items():
        if table.ndim == len(model[name].parents) + 2:
            return (table.shape[0],)
    return ()


@dataclass(frozen=True)
class Posterior:
    """Posterior marginals as arrays: `marginals[node]` has shape (card,) or (B, card).

    `log_probability_of_evidence` stays exact where `probability_of_evidence` underflows to 0.
    """

    marginals: dict[str, np.ndarray]
    probability_of_evidence: np.ndarray  # shape () or (B,)
    soft_weights: dict[str, np.ndarray] = field(default_factory=dict)
    log_probability_of_evidence: np.ndarray = field(default_factory=lambda: np.zeros(()))


def posterior(
    model: Model,
    targets: Sequence[str],
    evidence: Evidence,
    *,
    tables: Tables | None = None,
) -> Posterior:
    """Marginals of each target under `evidence` (see `condition`), all from one compiled plan.

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> r = posterior(m, ["nuclear_war"], Evidence(hard={"kaboom": "yes"}))
    >>> r.marginals["nuclear_war"].round(2), float(r.probability_of_evidence)
    (array([0.44, 0.56]), 0.3...)
    """
    return _posterior(model, targets, evidence.resolved(model), tables or {})


def _posterior(
    model: Model, targets: Sequence[str], evidence: Evidence, tables: Tables
) -> Posterior:
    ids = list(dict.fromkeys(model.resolve(t) for t in targets))
    given, found = _condition(model, evidence, tables, ids)
    marginals = {}
    for t in ids:
        if t in given.hard:
            marginal = np.zeros(model[t].card)
            marginal[given.hard[t]] = 1.0
        else:
            marginal = found[t]  # a new array of its own
        shape = (*given.mass.shape, model[t].card)
        if marginal.shape != shape:
            marginal = np.broadcast_to(marginal, shape).copy()
        marginals[t] = marginal
        if given.log_mass.ndim:  # parameter sets under which the evidence is impossible: NaN
            marginals[t][~np.isfinite(given.log_mass)] = np.nan
    return Posterior(marginals, given.mass, dict(given.soft), given.log_mass)


@dataclass(frozen=True)
class Conditioned:
    """A model with its evidence applied once, ready for any number of questions.

    `model` is after graph surgery; `hard` holds observed and set states as indices; `weights` the
    likelihood vectors, soft evidence's included; `mass` is P(hard and likelihood evidence), with
    the batch axis when `tables` carry one, and `log_mass` its logarithm (exact where `mass`
    underflows).
    """

    model: Model
    hard: Mapping[str, int]
    weights: Mapping[str, np.ndarray]
    tables: Tables
    mass: np.ndarray
    soft: Mapping[str, np.ndarray]
    log_mass: np.ndarray = field(default_factory=lambda: np.zeros(()))

    def joint(self, targets: Sequence[str]) -> np.ndarray:
        """P(targets | evidence): one axis per target (after any batch axis); point masses for
        observed or set targets; NaN for parameter sets under which the evidence is impossible."""
        free = [t for t in targets if t not in self.hard]
        table = _joint(self.model, free, self.hard, self.weights, self.tables)
        table = np.broadcast_to(table, (*self.mass.shape, *table.shape[table.ndim - len(free) :]))
        offset = self.mass.ndim
        for position, target in enumerate(targets):
            if target in self.hard:
                point = np.zeros(self.model[target].card)
                point[self.hard[target]] = 1.0
                shape = [1] * (table.ndim + 1)
                shape[offset + position] = -1
                table = np.expand_dims(table, offset + position) * point.reshape(shape)
        result: np.ndarray = table
        return result


def condition(model: Model, evidence: Evidence, *, tables: Tables | None = None) -> Conditioned:
    """Apply `evidence` (resolved here if it is not yet) to `model`, once.

    Raises `EvidenceError` when the evidence has probability zero; in a batch, the parameter sets
    under which it is impossible answer NaN instead.
    """
    return _condition(model, evidence.resolved(model), tables or {}, [])[0]


def _condition(
    model: Model, evidence: Evidence, tables: Tables, targets: Sequence[str]
) -> tuple[Conditioned, dict[str, np.ndarray]]:
    """`condition` for resolved evidence, with the marginals of `targets` from the same sweeps."""
    surgery, hard, weights, kept = _prepare(model, evidence, tables)
    free = [t for t in targets if t not in hard]
    soft_names = list(evidence.soft)
    found, log_mass = sweep(surgery, soft_names or free, hard, weights, kept)
    batch = _batch_shape(model, tables) if tables else ()
    if batch != np.shape(log_mass):
        log_mass = np.broadcast_to(log_mass, np.broadcast_shapes(batch, np.shape(log_mass)))
    if log_mass.ndim == 0 and not np.isfinite(log_mass):
        raise EvidenceError(
            "the evidence is impossible under the model (probability 0): "
            + "; ".join(evidence.describe())
        )
    soft = _soft_weights(surgery, evidence, hard, weights, kept, found)
    if soft:
        found, _ = sweep(surgery, free, hard, {**weights, **soft}, kept)
    mass = np.exp(log_mass)
    given = Conditioned(surgery, hard, {**weights, **soft}, kept, mass, soft, log_mass)
    return given, found


def prepare(
    model: Model, evidence: Evidence, tables: Tables | None = None
) -> tuple[Model, dict[str, int], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Surgery for do(), then hard evidence (and do) as state indices, likelihoods as vectors, and
    the tables that still apply (a do() node's own table is replaced by the surgery)."""
    return _prepare(model, evidence.resolved(model), tables or {})


def _prepare(
    model: Model, evidence: Evidence, tables: Tables
) -> tuple[Model, dict[str, int], dict[str, np.ndarray], dict[str, np.ndarray]]:
    model = intervene(model, evidence.do)
    kept = {k: v for k, v in tables.items() if k not in evidence.do}
    hard = {k: model[k].states.index(v) for k, v in {**evidence.hard, **evidence.do}.items()}
    weights = {
        k: np.array([w[s] for s in model[k].states])  # type: ignore[call-overload]
        for k, w in evidence.likelihood.items()
    }
    return model, hard, weights, kept


def _soft_weights(
    model: Model,
    evidence: Evidence,
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
    priors: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Likelihood vectors that give each soft-evidence node its required marginal (Jeffrey's rule).

    `priors` are the soft nodes' marginals under the other evidence.

    With one soft node this is one step, lambda = r / q. With several, the answer is the distribution
    closest in KL to the current one that has all the required marginals: it starts from one sweep
    of Jeffrey's rule per node (iterative proportional fitting) and finishes with Newton steps on
    log lambda, which converge in a few iterations even where the nodes are strongly dependent and
    plain proportional fitting would crawl.
    """
    if not evidence.soft:
        return {}
    wanted: dict[str, np.ndarray] = {}
    for name, given in evidence.soft.items():
        if not isinstance(given, Mapping):
            raise EvidenceError(f"soft evidence on {name} must be resolved against the model")
        wanted[name] = _complete(model[name], given, priors[name])
    soft = {name: np.ones_like(r) for name, r in wanted.items()}
    for name, r in wanted.items():  # one sweep of proportional fitting
        q = sweep(model, [name], hard, {**weights, **soft}, tables)[0][name]
        impossible = np.any(((r > 0) & (q <= 0)).reshape(-1, r.shape[-1]), axis=0)
        if impossible.any():
            state = model[name].states[int(np.argmax(impossible))]
            raise EvidenceError(
                f"soft evidence puts probability on {name}={state}, which is impossible "
                "given the other evidence"
            )
        soft[name] = soft[name] * np.divide(r, q, out=np.zeros_like(q * r), where=q > 0)
    if len(wanted) == 1:
        return soft
    return _newton(model, wanted, soft, hard, weights, tables)


def _newton(
    model: Model,
    wanted: Mapping[str, np.ndarray],
    soft: dict[str, np.ndarray],
    hard: Mapping[str, int],
    weights: Mapping[str, np.ndarray],
    tables: Tables,
) -> dict[str, np.ndarray]:
    """Damped Newton steps on log lambda until every soft node has its marginal (to 1e-13).

    The gradient of log Z(lambda) - sum r log lambda is q - r (the current marginals minus the
    required ones) and its Hessian is the covariance of the nodes' state indicators, built from
    the pairwise joints. States with lambda = 0 (required probability 0) stay at 0.
    """
    names = list(wanted)
    target = np.concatenate([wanted[n] for n in names], axis=-1)

    def state(lam: Mapping[str, np.ndarray]) -> tuple[np.ndarray, float]:
        found = sweep(model, names, hard, {**weights, **lam}, tables)[0]
        q = np.concatenate([found[n] for n in names], axis=-1)
        return q, float(np.max(np.abs(q - target)))

    q, gap = state(soft)
    sizes = [wanted[n].shape[-1] for n in names]
    starts = np.cumsum([0, *sizes])
    for _ in range(100):
        if gap < 1e-13:
            return soft
        both = {**weights, **soft}
        hessian = np.zeros((*q.shape[:-1], q.shape[-1], q.shape[-1]))
        for i, a in enumerate(names):
            qa = q[..., starts[i] : starts[i + 1]]
            for j, b in enumerate(names):
                qb = q[..., starts[j] : starts[j + 1]]
                if i == j:
                    pair = np.einsum("...s,st->...st", qa, np.eye(sizes[i]))
                elif i < j:
                    pair = _joint(model, [a, b], hard, both, tables)
                else:
                    continue
                block = pair - qa[..., :, None] * qb[..., None, :]
                hessian[..., starts[i] : starts[i + 1], starts[j] : starts[j + 1]] = block
                hessian[..., starts[j] : starts[j + 1], starts[i] : starts[i + 1]] = np.swapaxes(
                    block, -1, -2
                )
        step = -(np.linalg.pinv(hessian, hermitian=True) @ (q - target)[..., None])[..., 0]
        for _ in range(30):  # halve the step until the marginals get closer
            trial = {
                n: soft[n] * np.exp(step[..., starts[i] : starts[i + 1]])
                for i, n in enumerate(names)
            }
            q_trial, gap_trial = state(trial)
            if gap_trial < gap:
                soft, q, gap = trial, q_trial, gap_trial
                break
            step = step / 2
        else:
            break
    if gap < 1e-9:
        return soft
    raise EvidenceError(
        "the soft evidence cannot all hold at once (the required marginals contradict each other "
        "or the other evidence): " + ", ".join(names)
    )


def _complete(node: Node, given: Mapping[str, float], prior: np.ndarray) -> np.ndarray:
    """The full soft-evidence distribution: unnamed states share the rest in proportion to `prior`."""
    named = np.array([s in given for s in node.states])
    r = np.array([given.get(s, 0.0) for s in node.states])
    rest = 1.0 - r.sum()
    if named.all() or rest <= 1e-12:
        return np.broadcast_to(r / r.sum(), prior.shape).copy()
    share = np.where(named, 0.0, prior)
    total = share.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise EvidenceError(
            f"soft evidence on {node.id} leaves {rest:g} for states that are impossible: name them all"
        )
    completed: np.ndarray = r + rest * share / total
    return completed


@dataclass(frozen=True)
class QueryResult:
    """The answer to a query: posterior marginals by canonical node id and state, plus context."""

    model: str
    targets: tuple[str, ...]
    evidence: Evidence
    posteriors: dict[str, dict[str, float]]
    probability_of_evidence: float
    log_probability_of_evidence: float

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn query --json`."""
        return {
            "model": self.model,
            "targets": list(self.targets),
            **self.evidence.to_dict(),
            "probability_of_evidence": self.probability_of_evidence,
            "log_probability_of_evidence": self.log_probability_of_evidence,
            "posteriors": self.posteriors,
        }

    def to_frame(self) -> pd.DataFrame:
        """A long table: one row per (node, state) with its probability."""
        import pandas as pd

        rows = [
            (node, state, p) for node, dist in self.posteriors.items() for state, p in dist.items()
        ]
        return pd.DataFrame(rows, columns=["node", "state", "probability"])


def query(model: Model, targets: Sequence[str], evidence: Evidence) -> QueryResult:
    """Resolve names once, run the posterior of every target, and package the answer."""
    evidence = evidence.resolved(model)
    ids = tuple(dict.fromkeys(model.resolve(t) for t in targets))
    if not ids:
        raise EvidenceError("no target: name at least one node")
    result = _posterior(model, ids, evidence, {})
    posteriors = {
        t: {s: float(p) for s, p in zip(model[t].states, result.marginals[t], strict=True)}
        for t in ids
    }
    return QueryResult(
        model=model.title or (model.path.name if model.path else "model"),
        targets=ids,
        evidence=evidence,
        posteriors=posteriors,
        probability_of_evidence=float(result.probability_of_evidence),
        log_probability_of_evidence=float(result.log_probability_of_evidence),
    )


def joint(model: Model, targets: Sequence[str], evidence: Evidence) -> np.ndarray:
    """The posterior joint of `targets` as an array with one axis per target (see `condition`)."""
    ids = [model.resolve(t) for t in targets]
    cells = math.prod(model[t].card for t in ids)
    if cells > MAX_JOINT_CELLS:
        raise EvidenceError(
            f"the joint of {len(ids)} nodes has {cells:,} cells (at most {MAX_JOINT_CELLS:,}): "
            "ask about fewer nodes at once"
        )
    return condition(model, evidence).joint(ids)


def joint_rows(
    model: Model, targets: Sequence[str], evidence: Evidence
) -> tuple[tuple[str, ...], tuple[tuple[Any, ...], ...]]:
    """The posterior joint of `targets` as (variables, rows of states then probability)."""
    ids = tuple(model.resolve(t) for t in targets)
    table = joint(model, ids, evidence)
    rows = []
    for index in np.ndindex(*table.shape):
        states = [model[t].states[i] for t, i in zip(ids, index, strict=True)]
        rows.append((*states, float(table[index])))
    return ids, tuple(rows)
