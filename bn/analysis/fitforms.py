"""The compact form (noisy-OR, noisy-MAX, ranked) closest to a full table, and how close it is.

The criterion is least squares on the table's cells. Noisy forms start from their closed form
(the leak is the row with every parent absent; a link is the row with only that parent present,
divided by the leak along the cumulative levels), which is exact for a table of that form;
otherwise, and for ranked nodes always, Levenberg-Marquardt (scipy) refines the parameters.
`max_abs_error` is the largest cell difference; `kl` is the mean over the table's rows of
KL(given row || fitted row), in nats.

>>> from bn.forms import NoisyMax
>>> import numpy as np
>>> form = NoisyMax("noisy-or", ("no", "yes"), "no", ("a",), (("off", "on"),), ("off",),
...     (("a", "on"), ("leak", "")), np.array([[0.3, 0.7], [0.9, 0.1]]))
>>> fit = fit_noisy(form.expand(), "noisy-or", form.states, "no", form.parents,
...     form.parent_states, form.parent_absent)
>>> fit.max_abs_error <= 1e-12, [round(float(p), 12) for p in fit.form.rows[0]]
(True, [0.3, 0.7])
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from bn.forms import FUNCTIONS, LEAK, NoisyMax, Ranked

EXACT = 1e-13  # a closed form this close needs no refinement


@dataclass(frozen=True)
class Fit:
    form: NoisyMax | Ranked
    max_abs_error: float
    kl: float
    criterion: str = "least squares"


def errors(table: np.ndarray, fitted: np.ndarray) -> tuple[float, float]:
    """The largest cell difference and the mean row KL(table || fitted) in nats."""
    worst = float(np.max(np.abs(table - fitted)))
    rows_p = table.reshape(-1, table.shape[-1])
    rows_q = fitted.reshape(-1, table.shape[-1])
    kls = []
    for p, q in zip(rows_p, rows_q, strict=True):
        total = 0.0
        for a, b in zip(p, q, strict=True):
            if a > 0:
                total += math.inf if b <= 0 else float(a * math.log(a / b))
        kls.append(max(total, 0.0))
    return worst, float(np.mean(kls))


def fit_noisy(
    table: np.ndarray,
    form: str,
    states: tuple[str, ...],
    absent: str,
    parents: tuple[str, ...],
    parent_states: tuple[tuple[str, ...], ...],
    parent_absent: tuple[str, ...],
    weights: np.ndarray | None = None,
) -> Fit:
    """The noisy-OR / noisy-MAX parameters closest to `table` (least squares; with `weights`, one
    per row of the table, each row's squared errors weighted, as `bn learn` weighs by cases)."""
    labels = [
        (p, s)
        for p, ss, off in zip(parents, parent_states, parent_absent, strict=True)
        for s in ss
        if s != off
    ]
    labels.append((LEAK, ""))
    shell = NoisyMax(
        form,
        states,
        absent,
        parents,
        parent_states,
        parent_absent,
        tuple(labels),
        np.full((len(labels), len(states)), 1 / len(states)),
    )
    levels = shell.levels
    cum = np.cumsum(table[..., levels], axis=-1)
    base = tuple(ss.index(off) for ss, off in zip(parent_states, parent_absent, strict=True))
    leak = cum[base]
    rows = []
    for parent, state in labels[:-1]:
        i = parents.index(parent)
        index = list(base)
        index[i] = parent_states[i].index(state)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(leak > 0, cum[tuple(index)] / leak, 1.0)
        rows.append(_distribution(ratio))
    rows.append(_distribution(leak))
    start = np.array(rows)
    closed = _with_rows(shell, start)
    worst, _ = errors(table, closed.expand())
    if worst > EXACT:
        closed = _refine_noisy(table, shell, start, _root_weights(table, weights))
    rounded = _with_rows(shell, _round(closed.rows[:, levels]))
    return Fit(rounded, *errors(table, rounded.expand()), _criterion(weights))


def refit(form: NoisyMax | Ranked, table: np.ndarray, weights: np.ndarray | None = None) -> Fit:
    """The parameters of `form`'s kind (the same absent states, or the same ranked function)
    closest to `table`, with the form's ess and notes kept."""
    if isinstance(form, Ranked):
        fit = fit_ranked(
            table, form.states, form.parents, form.parent_states, [form.function], weights
        )
        assert isinstance(fit.form, Ranked)
        kept = replace(fit.form, ess=form.ess, variance_ess=form.variance_ess, notes=form.notes)
        return replace(fit, form=kept)
    fit = fit_noisy(
        table,
        form.form,
        form.states,
        form.absent,
        form.parents,
        form.parent_states,
        form.parent_absent,
        weights,
    )
    assert isinstance(fit.form, NoisyMax)
    where = {label: r for r, label in enumerate(fit.form.labels)}  # the file's order of links
    return replace(fit, form=replace(form, rows=fit.form.rows[[where[x] for x in form.labels]]))


def _root_weights(table: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    """Square roots of the row weights, broadcast over the states (residuals are multiplied)."""
    if weights is None:
        return np.ones(table.shape)
    return np.broadcast_to(np.sqrt(np.asarray(weights, dtype=float))[..., None], table.shape)


def _criterion(weights: np.ndarray | None) -> str:
    return "least squares" if weights is None else "least squares weighted by each row's cases"


def _round(values: np.ndarray) -> np.ndarray:
    """Probabilities to 15 decimal places, as bn writes every computed number (0.3, not
    0.30000000000000004), and a fitted 3e-20 as 0 rather than as 20 zeros and 15 digits."""
    return np.array([float(f"{round(v, 15):.15g}") for v in np.ravel(values)]).reshape(
        np.shape(values)
    )


def _distribution(cumulative: np.ndarray) -> list[float]:
    """A distribution along the levels from a cumulative one (clipped to be one)."""
    c = np.maximum.accumulate(np.clip(cumulative, 0.0, 1.0))
    c[-1] = 1.0
    return list(np.diff(c, prepend=0.0))


def _with_rows(shell: NoisyMax, level_rows: np.ndarray) -> NoisyMax:
    """The form with rows given along the levels, put back in the child's state order."""
    rows = np.empty_like(level_rows)
    rows[:, shell.levels] = level_rows
    return NoisyMax(
        shell.form,
        shell.states,
        shell.absent,
        shell.parents,
        shell.parent_states,
        shell.parent_absent,
        shell.labels,
        rows,
        shell.ess,
        shell.notes,
    )


def _refine_noisy(
    table: np.ndarray, shell: NoisyMax, start: np.ndarray, root: np.ndarray
) -> NoisyMax:
    from scipy.optimize import least_squares

    n, card = start.shape
    logits0 = np.log(np.clip(start, 1e-9, 1.0)).ravel()

    def rows_of(theta: np.ndarray) -> np.ndarray:
        z = theta.reshape(n, card)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return np.asarray(e / e.sum(axis=1, keepdims=True))

    def residual(theta: np.ndarray) -> np.ndarray:
        return np.asarray((root * (_with_rows(shell, rows_of(theta)).expand() - table)).ravel())

    result = least_squares(residual, logits0, method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-15)
    best = _with_rows(shell, rows_of(result.x))
    first = _with_rows(shell, start)

    def cost(form: NoisyMax) -> float:
        return float(np.sum((root * (form.expand() - table)) ** 2))

    return best if cost(best) <= cost(first) else first


def fit_ranked(
    table: np.ndarray,
    states: tuple[str, ...],
    parents: tuple[str, ...],
    parent_states: tuple[tuple[str, ...], ...],
    functions: Sequence[str] = FUNCTIONS,
    weights: np.ndarray | None = None,
) -> Fit:
    """The ranked-node parameters (function, weights, variance) closest to `table` (least
    squares, each row's errors weighted by `weights` where given)."""
    root = _root_weights(table, weights)
    best: tuple[float, Fit] | None = None
    for function in functions:
        fit = _fit_ranked_function(table, function, states, parents, parent_states, root)
        assert isinstance(fit.form, Ranked)
        cost = (
            fit.max_abs_error
            if weights is None
            else float(np.sum((root * (fit.form.expand() - table)) ** 2))
        )
        if best is None or cost < best[0]:
            best = (cost, replace(fit, criterion=_criterion(weights)))
    assert best is not None  # functions is never empty
    return best[1]


def _fit_ranked_function(
    table: np.ndarray,
    function: str,
    states: tuple[str, ...],
    parents: tuple[str, ...],
    parent_states: tuple[tuple[str, ...], ...],
    root: np.ndarray,
) -> Fit:
    from scipy.optimize import least_squares

    k = len(parents)
    mixed = function == "mixminmax"
    shell = Ranked(function, states, parents, parent_states, np.ones(k), 0.01)

    # Parameters, as logarithms: wmean's weights but the first (only ratios matter), or
    # wmin's and wmax's weights, or mixminmax's max weight (min weight 1); then the variance.
    free = 1 if mixed else k - 1 if function == "wmean" else k

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, float, tuple[float, float]]:
        theta = np.clip(theta, -40.0, 40.0)
        variance = float(np.exp(theta[-1]))
        if mixed:
            return np.ones(k), variance, (1.0, float(np.exp(theta[0])))
        weights = np.exp(theta[:-1])
        if function == "wmean":
            weights = np.concatenate([[1.0], weights])
        return weights, variance, (1.0, 1.0)

    def residual(theta: np.ndarray) -> np.ndarray:
        weights, variance, mix = unpack(theta)
        with np.errstate(all="ignore"):
            out = (root * (shell.expand(weights, variance, mix) - table)).ravel()
        return np.asarray(np.nan_to_num(out, nan=1.0))

    best = None
    for guess in itertools.islice(itertools.product((0.0, 1.0, -1.0), repeat=free), 12):
        for spread in (0.01, 0.1, 0.001):
            start = np.array([*guess, math.log(spread)])
            method = "lm" if table.size >= start.size else "trf"
            result = least_squares(
                residual, start, method=method, xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=4000
            )
            if best is None or result.cost < best.cost:
                best = result
            if best.cost < 1e-28:
                break
        if best is not None and best.cost < 1e-28:
            break
    assert best is not None
    weights, variance, mix = unpack(best.x)
    if function == "wmean":
        weights = weights / weights.min()  # only the ratios matter
    weights, (variance, low, high) = _round(weights), _round(np.array([variance, *mix]))
    form = Ranked(function, states, parents, parent_states, weights, variance, (low, high))
    return Fit(form, *errors(table, form.expand()))
