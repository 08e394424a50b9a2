"""Compact forms of a node's table: noisy-OR, noisy-MAX and ranked nodes, and their expansion.

Pure data and arithmetic (no files): `bn.formcheck` reads a compact node file into one of these,
`Node.form` keeps it, and the node's `table` is its expansion, so the engine sees a full table.

**Noisy-MAX** (Díez 1993; Henrion 1989 for the leak). The child's states are levels ordered away
from its absent state, which is its first or last state. Each parent state other than the
parent's absent state has a link distribution over the child's states: what that parent alone,
in that state, produces when every other cause (the leak too) is absent. The leak is what the
causes outside the model produce. The child is the largest level any cause produces:

    P(child <= y | x) = C_leak(y) * prod_i C_i(y | x_i)

where C is a link's cumulative distribution along the levels, and C_i = 1 for x_i absent.
**Noisy-OR** is the same with a two-state child: P(absent | x) = (1 - leak) * prod (1 - p_i)
over the present parents.

>>> noisy = NoisyMax("noisy-or", ("no", "yes"), "no", ("a", "b"), (("off", "on"), ("off", "on")),
...     ("off", "off"), (("a", "on"), ("b", "on"), ("leak", "")),
...     np.array([[0.2, 0.8], [0.4, 0.6], [0.9, 0.1]]))
>>> [round(float(p), 6) for p in noisy.expand()[1, 1]]  # (1 - 0.1) * 0.2 * 0.4 = 0.072
[0.072, 0.928]

**Ranked nodes** (Fenton, Neil and Caballero 2007). Each ordinal state of n is an interval of
[0, 1] of width 1/n, the first state lowest; a parent in state k stands for its interval's
midpoint (k + 0.5) / n. The child is a normal around a weighted function of its parents with the
given variance, truncated to [0, 1]; a row of the table is the normal's mass on each interval.

>>> ranked = Ranked("wmean", ("low", "high"), ("a",), (("low", "high"),), np.array([1.0]), 0.01)
>>> [round(float(p), 4) for p in ranked.expand()[1]]  # mean 0.75, sd 0.1: 0.0062 below 0.5
[0.0062, 0.9938]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

NOISY = ("noisy-or", "noisy-max")
FUNCTIONS = ("wmean", "wmin", "wmax", "mixminmax")
FORMS = (*NOISY, "ranked")
LEAK = "leak"


def _frozen(values: object) -> np.ndarray:
    array: np.ndarray = np.array(values, dtype=float)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False)
class NoisyMax:
    """A noisy-OR or noisy-MAX node: one link distribution per present parent state, and a leak.

    `labels[r]` names row r of `rows` as (parent, parent state); the leak is the last row,
    labelled ("leak", ""). `ess[r]` is row r's equivalent sample size (NaN: exact).
    """

    form: str
    states: tuple[str, ...]
    absent: str
    parents: tuple[str, ...]
    parent_states: tuple[tuple[str, ...], ...]
    parent_absent: tuple[str, ...]
    labels: tuple[tuple[str, str], ...]
    rows: np.ndarray
    ess: np.ndarray = field(default_factory=lambda: _frozen(math.nan))
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", _frozen(self.rows))
        ess = np.broadcast_to(np.asarray(self.ess, dtype=float), (len(self.labels),)).copy()
        object.__setattr__(self, "ess", _frozen(ess))
        notes = tuple(self.notes) + ("",) * (len(self.labels) - len(self.notes))
        object.__setattr__(self, "notes", notes[: len(self.labels)])

    @property
    def levels(self) -> list[int]:
        """The child's state indices from its absent state upwards."""
        order = list(range(len(self.states)))
        return order if self.states.index(self.absent) == 0 else order[::-1]

    def expand(self, rows: np.ndarray | None = None) -> np.ndarray:
        """The full table, `table[x_1, ..., x_k, y]`; `rows` (default: the node's own) may have
        leading batch axes, which the table then has too."""
        rows = self.rows if rows is None else np.asarray(rows, dtype=float)
        levels = self.levels
        cum = np.cumsum(rows[..., levels], axis=-1)
        cum[..., -1] = 1.0  # each link is a distribution: the top level closes it exactly
        batch = rows.shape[:-2]
        k = len(self.parents)
        where = {label: r for r, label in enumerate(self.labels)}
        total = cum[..., where[(LEAK, "")], :].reshape(*batch, *([1] * k), len(levels))
        for i, (parent, states) in enumerate(zip(self.parents, self.parent_states, strict=True)):
            factor = np.ones((*batch, len(states), len(levels)))
            for s, state in enumerate(states):
                if state != self.parent_absent[i]:
                    factor[..., s, :] = cum[..., where[(parent, state)], :]
            shape = [1] * k
            shape[i] = len(states)
            total = total * factor.reshape(*batch, *shape, len(levels))
        probs = np.diff(total, axis=-1, prepend=0.0)
        table = np.empty_like(probs)
        table[..., levels] = probs
        return np.clip(table, 0.0, 1.0)

    def row_of(self, parent: str, state: str) -> int:
        return self.labels.index((parent, state))


@dataclass(frozen=True, eq=False)
class Ranked:
    """A ranked node: a truncated normal on [0, 1] around f(parents) with variance `variance`.

    `function` is one of wmean, wmin, wmax (weights per parent) or mixminmax (`mix` gives the
    weights of the minimum and of the maximum). `ess[i]` is weight i's equivalent sample size
    and `variance_ess` the variance's (NaN: exact); `bn uncertainty` draws from them.
    """

    function: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    parent_states: tuple[tuple[str, ...], ...]
    weights: np.ndarray
    variance: float
    mix: tuple[float, float] = (1.0, 1.0)
    notes: tuple[str, ...] = ()
    ess: np.ndarray = field(default_factory=lambda: _frozen(math.nan))
    variance_ess: float = math.nan

    def __post_init__(self) -> None:
        object.__setattr__(self, "weights", _frozen(self.weights))
        ess = np.broadcast_to(np.asarray(self.ess, dtype=float), (len(self.parents),)).copy()
        object.__setattr__(self, "ess", _frozen(ess))
        notes = tuple(self.notes) + ("",) * (len(self.parents) - len(self.notes))
        object.__setattr__(self, "notes", notes[: len(self.parents)])

    def means(
        self, weights: np.ndarray | None = None, mix: Sequence[float] | None = None
    ) -> np.ndarray:
        """The centre f(parents) of each row, shape of the parent combinations."""
        w = self.weights if weights is None else np.asarray(weights, dtype=float)
        grids = np.meshgrid(
            *((np.arange(len(s)) + 0.5) / len(s) for s in self.parent_states), indexing="ij"
        )
        x = np.stack(grids, axis=-1)  # (..., k): each parent's midpoint
        low, high = mix or self.mix
        return centre(self.function, x, w, (low, high))

    def expand(
        self,
        weights: np.ndarray | None = None,
        variance: float | None = None,
        mix: Sequence[float] | None = None,
    ) -> np.ndarray:
        """The full table: each row the truncated normal's mass on the child's intervals."""
        sigma = math.sqrt(self.variance if variance is None else variance)
        return interval_masses(self.means(weights, mix), sigma, len(self.states))

    def expand_draws(self, weights: np.ndarray, variances: np.ndarray) -> np.ndarray:
        """The full tables of n parameter draws at once: `weights` (n, k), `variances` (n,);
        shape (n, *parent shape, card). Each is `expand(weights[i], variances[i])`, vectorised."""
        k = len(self.parents)
        grids = np.meshgrid(
            *((np.arange(len(s)) + 0.5) / len(s) for s in self.parent_states), indexing="ij"
        )
        x = np.stack(grids, axis=-1)[None]  # (1, ..., k)
        w = np.asarray(weights, dtype=float).reshape(-1, *([1] * k), k)
        mu = centre(self.function, x, w, self.mix)  # (n, ...)
        sigma = np.sqrt(np.asarray(variances, dtype=float)).reshape(-1, *([1] * k))
        return _masses(mu, sigma, len(self.states))


def centre(function: str, x: np.ndarray, w: np.ndarray, mix: tuple[float, float]) -> np.ndarray:
    """Fenton, Neil and Caballero's (2007) functions of the parents' values `x[..., i]`.

    >>> x = np.array([0.25, 0.75])
    >>> float(centre("wmean", x, np.array([1.0, 3.0]), (1, 1)))
    0.625
    >>> float(centre("wmin", x, np.array([3.0, 1.0]), (1, 1)))  # (3 * 0.25 + 0.75) / 4
    0.375
    >>> float(centre("mixminmax", x, np.array([1.0, 1.0]), (1, 3)))  # (0.25 + 3 * 0.75) / 4
    0.625
    """
    k = x.shape[-1]
    if function == "wmean":
        return np.asarray((x * w).sum(axis=-1) / w.sum(axis=-1))
    if function in ("wmin", "wmax"):
        others = x.sum(axis=-1, keepdims=True) - x
        each = (w * x + others) / (w + k - 1)
        return np.asarray(each.min(axis=-1) if function == "wmin" else each.max(axis=-1))
    low, high = mix
    return np.asarray((low * x.min(axis=-1) + high * x.max(axis=-1)) / (low + high))


def _phi_between(a: float, b: float) -> float:
    """P(a < Z < b) for a standard normal Z, accurate in either tail."""
    if a >= 0:
        return 0.5 * (math.erfc(a / math.sqrt(2)) - math.erfc(b / math.sqrt(2)))
    return 0.5 * (math.erfc(-b / math.sqrt(2)) - math.erfc(-a / math.sqrt(2)))


def interval_masses(mu: np.ndarray, sigma: float, n: int) -> np.ndarray:
    """Rows of a normal(mu, sigma) truncated to [0, 1], as masses on n equal intervals.

    >>> [round(float(p), 6) for p in interval_masses(np.array(0.5), 1e-3, 3)]
    [0.0, 1.0, 0.0]
    """
    mu = np.asarray(mu, dtype=float)
    edges = np.linspace(0.0, 1.0, n + 1)
    out = np.empty((*mu.shape, n))
    for index in np.ndindex(mu.shape):
        m = float(mu[index])
        z = (edges - m) / sigma
        masses = np.array([_phi_between(z[j], z[j + 1]) for j in range(n)])
        total = masses.sum()
        if total > 0:
            out[index] = masses / total
        else:  # the normal lies too far outside [0, 1]: all on the nearest end
            out[index] = 0.0
            out[(*index, 0 if m < 0.5 else n - 1)] = 1.0
    return out


def _masses(mu: np.ndarray, sigma: np.ndarray, n: int) -> np.ndarray:
    """`interval_masses` for arrays of centres and standard deviations (broadcast together).

    >>> row = _masses(np.array([0.3, 0.9]), np.array([0.2, 0.05]), 3)
    >>> bool(np.allclose(row, [interval_masses(np.array(0.3), 0.2, 3),
    ...                        interval_masses(np.array(0.9), 0.05, 3)], atol=1e-15))
    True
    """
    from scipy.special import erfc

    mu, sigma = np.broadcast_arrays(np.asarray(mu, float), np.asarray(sigma, float))
    z = (np.linspace(0.0, 1.0, n + 1) - mu[..., None]) / sigma[..., None] / math.sqrt(2)
    a, b = z[..., :-1], z[..., 1:]
    masses = 0.5 * np.where(a >= 0, erfc(a) - erfc(b), erfc(-b) - erfc(-a))
    total = masses.sum(axis=-1, keepdims=True)
    out = np.divide(masses, total, out=np.zeros_like(masses), where=total > 0)
    none = total[..., 0] <= 0  # the normal lies too far outside [0, 1]: all on the nearest end
    out[none & (mu < 0.5), 0] = 1.0
    out[none & (mu >= 0.5), n - 1] = 1.0
    return np.asarray(out)


def ranked_range(kind: str, value: float, ess: float | None) -> tuple[float, float]:
    """The 5-95% interval of a ranked node's weight (Gamma(ess, value / ess): mean `value`) or
    variance (scaled inverse chi-squared with ess degrees of freedom and scale `value`, the
    variance of a normal seen in ess observations); without ess, half to twice the value.

    >>> ranked_range("weight", 2.0, None)
    (1.0, 4.0)
    >>> [round(x, 3) for x in ranked_range("weight", 2.0, 10)]
    [1.085, 3.141]
    >>> [round(x, 4) for x in ranked_range("variance", 0.02, 20)]
    [0.0127, 0.0369]
    """
    if ess is None:
        return (value / 2, value * 2)
    from scipy.special import gammaincinv  # the Gamma quantile; scipy.stats costs 0.6 s

    if kind == "weight":
        low, high = gammaincinv(ess, [0.05, 0.95]) * value / ess
    else:  # ess * value / chi2(ess), chi2(k) = 2 Gamma(k / 2)
        high, low = ess * value / (2 * gammaincinv(ess / 2, [0.05, 0.95]))
    return (float(low), float(high))
