"""Learning a model's tables from observed cases: Dirichlet priors, an expert model as the prior,
and expectation maximisation (EM) for missing values.

The structure comes from the model; only the tables change. Each row of a node's table is the
posterior mean of a Dirichlet: `(prior pseudo-counts + counts) / total`.

- `prior="model"`: an expert's row with probabilities p and `ess` w gives pseudo-counts w·p, so a
  row with ess 15 moves less than one with ess 2. A row with no `ess` is exact and is not learnt
  (unless `ess` is given: then it is the weight of every row without one).
- `prior="bdeu"`: `ess` / (rows × states) per cell (BDeu); `prior="k2"`: one per cell;
  `prior="none"`: maximum likelihood (no pseudo-counts).

A learnt row gets `ess` = prior weight + the row's count, and a note saying what it was learnt from;
a row with no data keeps its prior (the model's row, or the uniform row of BDeu and K2). Without
`em`, a case with a missing value in a node's family is left out of that family's counts. With
`em`, missing values (and nodes with no column at all) are filled in by EM on the exact engine,
batched over cases: each E-step is one contraction per family over all incomplete cases.

>>> import bn, pandas as pd
>>> chain = bn.load("tests/data/chain")
>>> data = pd.DataFrame({"nuclear_use": ["yes", "no", "no", "no"]})
>>> learnt = fit(chain, data, prior="k2")
>>> learnt.model["nuclear_use"].table.round(3).tolist()
[0.667, 0.333]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.errors import BNError, param
from bn.forms import LEAK, NoisyMax, Ranked
from bn.learndata import Cases, cases
from bn.model import Model, Node
from bn.names import find, suggest

if TYPE_CHECKING:
    import pandas as pd

PRIORS = ("model", "bdeu", "k2", "none")
CHUNK = 4096  # cases per batched contraction in the E-step (memory bounded)


@dataclass(frozen=True)
class NodeReport:
    """What learning did to one node's table."""

    node: str
    rows_learnt: int
    cases_used: float
    rows_without_data: int
    rows_held: int  # exact rows of the model prior, not learnt
    form: str | None = None  # a compact node: its form, refitted to the learnt table ...
    max_abs_error: float | None = None  # ... this far from it

    def to_dict(self) -> dict[str, Any]:
        data = {"node": self.node, "rows_learnt": self.rows_learnt, "cases_used": self.cases_used}
        if self.form is not None:
            data |= {"form": self.form, "max_abs_error": self.max_abs_error}
        return data


@dataclass(frozen=True)
class Learnt:
    """A model with learnt tables, and how it was learnt (the JSON of `bn learn --json`)."""

    model: Model
    nodes: tuple[NodeReport, ...]
    rows: int
    prior: str
    ess: float | None
    em: Mapping[str, Any] | None = None
    incomplete: Mapping[str, int] = field(default_factory=dict)  # node -> cases left out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "prior": self.prior,
            "ess": self.ess,
            "em": dict(self.em) if self.em is not None else None,
            "nodes": [n.to_dict() for n in self.nodes],
        }


def fit(
    model: Model,
    data: pd.DataFrame | Cases,
    prior: str = "model",
    ess: float | None = None,
    em: bool = False,
    nodes: Sequence[str] | None = None,
    max_iterations: int = 100,
    tolerance: float = 1e-8,
    source: str = "data",
    progress: Callable[[int, int], None] | None = None,
) -> Learnt:
    """Learn the tables of `nodes` (default: every node with data) from `data` (see the module);
    `progress(iteration, max_iterations)` is called after each EM iteration."""
    if prior not in PRIORS:
        raise BNError(
            f"{param('prior')} '{prior}' is not a prior; {suggest(prior, PRIORS)}"
            f"priors: {', '.join(PRIORS)}"
        )
    if ess is not None and not (math.isfinite(ess) and ess > 0):
        raise BNError(f"{param('ess')} {ess:g} is not a positive number")
    if prior == "bdeu" and ess is None:
        ess = 1.0
    observed = data if isinstance(data, Cases) else cases(model, data, source)
    names = _chosen(model, observed, nodes, em)
    pseudo = {n: _pseudo_counts(model[n], prior, ess) for n in names}
    if em:
        counts, history = _em(model, observed, names, pseudo, max_iterations, tolerance, progress)
        summary: dict[str, Any] | None = {
            "iterations": len(history) - 1,
            "log_likelihood": history[-1],
            "history": history,
        }
        incomplete: dict[str, int] = {}
    else:
        counts = {n: _counts(model, observed, n) for n in names}
        summary = None
        incomplete = {n: _left_out(model, observed, n) for n in names}
    learnt_nodes, reports = [], []
    for name in names:
        node, report = _learnt_node(model[name], counts[name], pseudo[name], prior, observed.source)
        learnt_nodes.append(node)
        reports.append(report)
    return Learnt(
        model.with_nodes(learnt_nodes),
        tuple(reports),
        observed.size,
        prior,
        ess,
        summary,
        {n: k for n, k in incomplete.items() if k},
    )


def default_prior(model: Model) -> str:
    """`model` when some row carries an ess (the expert said how firm it is), else `bdeu`."""
    return "model" if any(np.isfinite(node.ess).any() for node in model) else "bdeu"


def _chosen(model: Model, observed: Cases, nodes: Sequence[str] | None, em: bool) -> list[str]:
    """The nodes to learn. A compact node (noisy-OR, noisy-MAX, ranked) learns its full table,
    and its form is refitted to it (`_learnt_compact`); EM leaves compact nodes as they are
    (see `compact_nodes`), and naming one with EM is an error."""
    if nodes:
        chosen = list(dict.fromkeys(model.resolve(n) for n in nodes))
        for name in chosen:
            if em and model[name].form is not None:
                raise BNError(
                    f"{name} is a compact node: bn learn --em does not fit compact forms; "
                    f"learn it without --em, or run bn cpt expand {name} first"
                )
        return chosen
    if em:  # every node a case tells something about: with a column, or latent beside one
        return [n.id for n in model if n.form is None]
    return [n.id for n in model if n.id in observed.codes]


def compact_nodes(model: Model, data: Cases) -> list[str]:
    """The compact nodes with a column in `data` that EM leaves as they are (and says so)."""
    return [n.id for n in model if n.form is not None and n.id in data.codes]


def _pseudo_counts(node: Node, prior: str, ess: float | None) -> np.ndarray:
    """Pseudo-counts of the prior, shape of the table; NaN rows are exact (held as they are)."""
    shape = node.table.shape
    if prior == "k2":
        return np.ones(shape)
    if prior == "none":
        return np.zeros(shape)
    if prior == "bdeu":
        assert ess is not None
        return np.full(shape, ess / math.prod(shape))
    row_ess = node.ess
    if node.form is not None:  # each expanded row weighs as much as the form's parameters
        known = node.form.ess[~np.isnan(node.form.ess)]
        row_ess = np.full(node.parent_shape, np.mean(known) if known.size else math.nan)
    weight = row_ess if ess is None else np.where(np.isnan(row_ess), ess, row_ess)
    result: np.ndarray = node.table * weight[..., None]
    return result


def _counts(model: Model, observed: Cases, name: str) -> np.ndarray:
    """Weighted counts of each (parents, node) combination over the cases that observe all of it."""
    node = model[name]
    family = [*node.parents, node.id]
    if not all(f in observed.codes for f in family):
        return np.zeros(node.table.shape)
    columns = [observed.codes[f] for f in family]
    weights = None if observed.unweighted else observed.weights
    if observed.missing.intersection(family):
        complete = np.logical_and.reduce([c >= 0 for c in columns])
        columns = [c[complete] for c in columns]
        weights = observed.weights[complete]
    flat = np.ravel_multi_index(columns, node.table.shape)
    counts = np.bincount(flat, weights=weights, minlength=math.prod(node.table.shape))
    result: np.ndarray = counts.reshape(node.table.shape).astype(float)
    return result


def _left_out(model: Model, observed: Cases, name: str) -> int:
    node = model[name]
    family = [*node.parents, node.id]
    if not any(f in observed.codes for f in family):
        return 0
    if all(f in observed.codes for f in family) and not observed.missing.intersection(family):
        return 0
    missing = np.zeros(observed.size, dtype=bool)
    for f in family:
        missing |= observed.codes[f] < 0 if f in observed.codes else True
    return int(missing.sum())


def _mean(node: Node, counts: np.ndarray, pseudo: np.ndarray) -> np.ndarray:
    """The posterior-mean table: rows with no weight at all keep the node's row (or uniform)."""
    total = counts + np.nan_to_num(pseudo)
    sums = total.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = np.where(sums > 0, total / sums, node.table)
    exact = np.isnan(pseudo[..., 0])
    result: np.ndarray = np.where(exact[..., None], node.table, table)
    return result


def _learnt_node(
    node: Node, counts: np.ndarray, pseudo: np.ndarray, prior: str, source: str
) -> tuple[Node, NodeReport]:
    if node.form is not None:
        return _learnt_compact(node, counts, pseudo, prior, source)
    table = _mean(node, counts, pseudo)
    row_counts = counts.sum(axis=-1)
    exact = np.isnan(pseudo[..., 0])
    prior_weight = np.nan_to_num(pseudo).sum(axis=-1)
    if prior != "model":  # BDeu and K2 rows with no data are the prior's uniform rows
        empty = (row_counts == 0) & ~exact
        table = np.where(empty[..., None], 1 / node.card, table)
    weight = prior_weight + row_counts
    ess = np.where(exact | (weight == 0), np.nan, weight)
    notes = []
    for flat, old in enumerate(node.notes):
        index = np.unravel_index(flat, row_counts.shape)
        if exact[index]:
            notes.append(old)
            continue
        count = float(row_counts[index])
        said = (
            f"learnt from {source}: {count:.6g} case(s), prior {prior}"
            if count
            else f"no case in {source}: prior {prior} kept"
        )
        notes.append(f"{old} [{said}]" if old else said)
    learnt = replace(node, table=table, ess=ess, notes=tuple(notes))
    learnt_rows = int(((row_counts > 0) & ~exact).sum())
    report = NodeReport(
        node.id,
        learnt_rows,
        float(row_counts.sum()),
        int(((row_counts == 0) & ~exact).sum()),
        int(exact.sum()),
    )
    return learnt, report


def _learnt_compact(
    node: Node, counts: np.ndarray, pseudo: np.ndarray, prior: str, source: str
) -> tuple[Node, NodeReport]:
    """A compact node learns its full table as any node does; then its form (the same absent
    states, or the same ranked function) is refitted to that table by least squares, each row
    weighted by its prior weight plus its cases. A parameter's ess grows by the cases that bear
    on it: a link's by the cases with its parent state, the leak's, a weight's and the
    variance's by every case. A form without an ess (and no `--ess`) is exact: held."""
    from bn.analysis.fitforms import refit

    assert node.form is not None
    row_counts = counts.sum(axis=-1)
    exact = np.isnan(pseudo[..., 0])
    if exact.all():
        return node, NodeReport(node.id, 0, float(row_counts.sum()), 0, int(exact.size))
    table = _mean(node, counts, pseudo)
    if prior != "model":  # rows with no data are the prior's uniform rows
        table = np.where((row_counts == 0)[..., None], 1 / node.card, table)
    prior_weight = np.nan_to_num(pseudo).sum(axis=-1)
    fit = refit(node.form, table, prior_weight + row_counts)
    form, base, total = fit.form, float(prior_weight.mean()), float(row_counts.sum())
    if isinstance(form, NoisyMax):
        bearing = [
            total
            if parent == LEAK
            else float(
                row_counts.take(
                    form.parent_states[form.parents.index(parent)].index(state),
                    axis=form.parents.index(parent),
                ).sum()
            )
            for parent, state in form.labels
        ]
    else:
        bearing = [total] * len(form.parents)
    said = [
        f"learnt from {source}: {count:.6g} case(s), prior {prior}"
        if count
        else f"no case in {source}: prior {prior} kept"
        for count in bearing
    ]
    notes = tuple(
        f"{old} [{new}]" if old else new for old, new in zip(form.notes, said, strict=True)
    )
    ess = base + np.array(bearing)
    if isinstance(form, Ranked):
        form = replace(form, ess=ess, notes=notes, variance_ess=base + total)
    else:
        form = replace(form, ess=ess, notes=notes)
    learnt = replace(node, table=form.expand(), form=form)
    report = NodeReport(
        node.id,
        int((row_counts > 0).sum()),
        total,
        int((row_counts == 0).sum()),
        0,
        "ranked" if isinstance(form, Ranked) else form.form,
        fit.max_abs_error,
    )
    return learnt, report


# --- expectation maximisation -------------------------------------------------------------------


def likelihoods(model: Model, observed: Cases, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Hard evidence of the cases `rows` as one-hot likelihood vectors on a batch axis (all ones
    where a value is missing), so that every case goes through one contraction."""
    vectors = {}
    for name, codes in observed.codes.items():
        card = model[name].card
        chosen = codes[rows]
        vector = np.ones((len(rows), card))
        seen = chosen >= 0
        vector[seen] = np.eye(card)[chosen[seen]]
        vectors[name] = vector
    return vectors


def log_likelihood(model: Model, observed: Cases) -> float:
    """Σ weight × ln P(case) over the cases: the quantity EM climbs."""
    from bn.engine import contract

    total = 0.0
    for start in range(0, observed.size, CHUNK):
        rows = np.arange(start, min(start + CHUNK, observed.size))
        mass = contract(model, [], weights=likelihoods(model, observed, rows))
        with np.errstate(divide="ignore"):
            total += float(
                np.sum(observed.weights[rows] * np.log(np.broadcast_to(mass, rows.shape)))
            )
    return total


def _expected_counts(model: Model, observed: Cases, names: Sequence[str]) -> dict[str, np.ndarray]:
    """E-step: complete cases counted directly; each incomplete case adds its posterior over the
    family, from one batched contraction per family and chunk of cases."""
    from bn.engine import contract

    result = {}
    for name in names:
        node = model[name]
        family = [*node.parents, node.id]
        counts = _counts(model, observed, name)
        complete = np.ones(observed.size, dtype=bool)
        for f in family:
            complete &= observed.codes[f] >= 0 if f in observed.codes else False
        rows_all = np.flatnonzero(~complete)
        for start in range(0, len(rows_all), CHUNK):
            rows = rows_all[start : start + CHUNK]
            joint = contract(model, family, weights=likelihoods(model, observed, rows))
            joint = np.broadcast_to(joint, (len(rows), *node.table.shape))
            mass = joint.reshape(len(rows), -1).sum(axis=1)
            possible = mass > 0
            share = observed.weights[rows][possible] / mass[possible]
            counts = counts + np.tensordot(share, joint[possible], axes=(0, 0))
        result[name] = counts
    return result


def _em(
    model: Model,
    observed: Cases,
    names: Sequence[str],
    pseudo: Mapping[str, np.ndarray],
    max_iterations: int,
    tolerance: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, np.ndarray], list[float]]:
    current = model
    history = [log_likelihood(current, observed)]
    if not math.isfinite(history[0]):
        raise BNError(
            "a case is impossible under the starting model (probability 0): EM cannot start; "
            "give the rows involved some probability, or leave the case out"
        )
    counts: dict[str, np.ndarray] = {}
    total = max(1, max_iterations)
    for iteration in range(1, total + 1):
        counts = _expected_counts(current, observed, names)
        current = current.with_nodes(
            replace(current[n], table=_mean(current[n], counts[n], pseudo[n])) for n in names
        )
        history.append(log_likelihood(current, observed))
        converged = abs(history[-1] - history[-2]) <= tolerance * max(1.0, abs(history[-2]))
        if progress is not None:
            progress(total if converged else iteration, total)
        if converged:
            break
    # The tables of the last M-step are `_mean(node, counts, pseudo)`: the caller rebuilds them.
    return counts, history


# --- writing ------------------------------------------------------------------------------------


def write(learnt: Learnt, directory: Path, dry_run: bool = False) -> dict[str, str | None]:
    """Write the learnt rows into the model directory through the edit path (all-or-nothing,
    comments and untouched rows kept); the files changed (as `Workspace.commit` returns them)."""
    from bn.edit.forms import write_form
    from bn.edit.workspace import Workspace
    from bn.numbers import computed_number

    with Workspace(directory) as ws:  # the writers' lock, released however the edit ends
        for report in learnt.nodes:
            node = learnt.model[report.node]
            path = f"{node.id}.csv"
            if node.form is not None:
                if report.form is not None:  # refitted (not held exact)
                    write_form(ws, node.id, node.form)
                continue
            sheet = ws.sheet(path)
            for row in sheet.rows:
                combo = tuple(
                    states.index(find(text, states) or text)
                    for states, text in zip(node.parent_states, row.parents, strict=True)
                )
                probs = [computed_number(p) for p in node.table[combo]]
                flat = int(np.ravel_multi_index(combo, node.parent_shape)) if combo else 0
                ess = float(node.ess[combo])
                note = node.notes[flat]
                if note == row.note and [float(p) for p in probs] == [float(p) for p in row.probs]:
                    continue  # an exact row, held as it is
                if not math.isnan(ess):
                    sheet.ensure("ess")
                if note:
                    sheet.ensure("note")
                row.probs = probs
                row.ess = "" if math.isnan(ess) else computed_number(ess)
                row.note = note
            ws.save(path)
        return ws.commit(dry_run=dry_run)


def write_copy(learnt: Learnt, source: Path, target: Path) -> dict[str, str | None]:
    """The model directory `source` copied to the new directory `target` with the learnt rows:
    built under a temporary name beside `target`, renamed into place when complete."""
    import shutil
    import tempfile

    if target.exists():
        raise BNError(f"{target} already exists: choose a new directory for {param('output')}")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        copy = scratch / "model"
        shutil.copytree(source, copy, ignore=shutil.ignore_patterns(".*"))
        changes = write(learnt, copy)
        copy.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return changes
