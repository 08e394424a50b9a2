"""Contraction paths (`bn.paths`): every candidate search gives a path the plan runs right, the
random greedy search survives the problems cotengrust's own simplification panics on, and the
junction tree is the same in every process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import opt_einsum
import pytest
from bnlearn import load_bnlearn

from bn import paths, plan
from bn.factors import query_factors
from bn.paths import BATCH

Problem = tuple[tuple[plan.Factor, ...], list[np.ndarray]]


def _problem(seed: int, batch: int = 0) -> Problem:
    """Random factors over 14 variables, with what the engine's factors have: repeated scopes
    (likelihoods on one node), one-variable factors and variables summed within one factor."""
    rng = np.random.default_rng(seed)
    sizes = {f"v{i}": int(rng.integers(2, 4)) for i in range(14)}
    names = list(sizes)
    scopes = [
        tuple(rng.choice(names, size=int(rng.integers(1, 4)), replace=False)) for _ in range(16)
    ]
    scopes += [scopes[0], scopes[3], (names[5],), (names[5],)]
    factors, arrays = [], []
    for scope in scopes:
        full = ((BATCH,) if batch else ()) + tuple(str(v) for v in scope)
        shape = ((batch,) if batch else ()) + tuple(sizes[str(v)] for v in scope)
        factors.append((full, shape))
        arrays.append(rng.uniform(0.1, 1.0, size=shape))
    return tuple(factors), arrays


def _subscripts(factors: tuple[plan.Factor, ...]) -> tuple[str, list[tuple[int, ...]]]:
    symbol = {
        v: opt_einsum.get_symbol(i)
        for i, v in enumerate(dict.fromkeys(v for n, _ in factors for v in n))
    }
    out = symbol.get(BATCH, "")
    text = ",".join("".join(symbol[v] for v in names) for names, _ in factors) + "->" + out
    return text, [sizes for _, sizes in factors]


CANDIDATES: dict[str, Callable[[str, list[tuple[int, ...]], list[tuple[str, ...]]], Any]] = {
    "greedy": lambda text, shapes, live: "greedy",
    "random greedy": lambda text, shapes, live: paths._random_greedy(text, shapes, 1, 32),
    "junction tree": lambda text, shapes, live: paths._junction_tree_path(live),
    "search": lambda text, shapes, live: paths.search(text, shapes, live),
}


@pytest.mark.parametrize("batch", [0, 3])
@pytest.mark.parametrize("name", list(CANDIDATES))
def test_every_candidate_path_gives_the_same_marginals(
    name: str, batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    factors, arrays = _problem(7, batch)
    text, shapes = _subscripts(factors)
    live = [names for names, _ in factors]
    path, _ = opt_einsum.contract_path(
        text, *shapes, shapes=True, optimize=CANDIDATES[name](text, shapes, live)
    )
    monkeypatch.setattr(plan, "search", lambda *_: [tuple(c) for c in path])
    compiled = plan.compile_plan.__wrapped__(factors, ())
    targets = [(0, factors[0][0][-1]), (len(factors) - 1, factors[-1][0][-1])]
    marginals, log_total = compiled.marginals(arrays, targets)
    total = np.einsum(text, *arrays)
    np.testing.assert_allclose(np.exp(log_total), total, rtol=1e-12)
    for (position, variable), found in zip(targets, marginals, strict=True):
        symbol = text.split("->")[0].split(",")[position][factors[position][0].index(variable)]
        out = ("" if not batch else text.split("->")[1]) + symbol
        expected = np.einsum(text.split("->")[0] + "->" + out, *arrays)
        expected /= expected.sum(axis=-1, keepdims=True)
        np.testing.assert_allclose(found, expected, rtol=1e-12)


@pytest.mark.parametrize(("deep", "searches"), [(1e9, ["auto"]), (0.0, ["auto", "auto-hq"])])
def test_a_few_factors_get_dynamic_programming_only_when_their_path_is_costly(
    deep: float, searches: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dynamic programming took 150 ms on the flagship's batched plan in `bn uncertainty` and
    found no faster path: it runs only where opt_einsum's first path costs more than `DEEP`."""
    factors, arrays = (part[:8] for part in _problem(3, 0))
    text, shapes = _subscripts(factors)
    asked: list[str] = []
    contract_path = opt_einsum.contract_path

    def spy(*args: Any, optimize: Any, **kwargs: Any) -> Any:
        asked.append(optimize)
        return contract_path(*args, optimize=optimize, **kwargs)

    monkeypatch.setattr(paths, "DEEP", deep)
    monkeypatch.setattr(opt_einsum, "contract_path", spy)
    path = paths.search(text, shapes, [names for names, _ in factors])
    assert asked == searches
    np.testing.assert_allclose(
        opt_einsum.contract(text, *arrays, optimize=path), np.einsum(text, *arrays), rtol=1e-12
    )


def test_a_lone_contraction_in_a_path_moves_that_tensor_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """opt_einsum's linear paths may sum one tensor alone, which puts it last; the plan must
    follow, or it multiplies other pairs than the path chose (on munin: out of memory)."""
    factors = ((("x", "y"), (2, 3)), (("y",), (3,)), (("y", "z"), (3, 2)))
    monkeypatch.setattr(plan, "search", lambda *_: [(0,), (0, 1), (0, 1)])
    compiled = plan.compile_plan.__wrapped__(factors, ())
    assert [(step.x, step.y) for step in compiled.steps] == [(1, 2), (0, 3)]


def test_random_greedy_survives_the_problems_cotengrust_simplifies_wrongly() -> None:
    """pathfinder under hard evidence: cotengrust 0.2.1's own simplification panicked on two
    thirds of these parts; every path must now be complete and valid."""
    model = load_bnlearn("pathfinder")
    rng = np.random.default_rng(1)
    searched = 0
    for size in range(1, 9):
        drawn: dict[str, int] = {}
        for node in model.nodes:
            row = node.table[tuple(drawn[p] for p in node.parents)]
            drawn[node.id] = int(rng.choice(node.card, p=row))
        hard = {str(n): drawn[str(n)] for n in rng.choice(model.ids, size=size, replace=False)}
        free = [n for n in model.ids if n not in hard]
        factors, _, _ = query_factors(model, free, hard, {}, {})
        for part in plan.components(factors):
            chosen = tuple(factors[p] for p in part)
            if len(chosen) <= 12:
                continue
            text, shapes = _subscripts(chosen)
            path = paths._random_greedy(text, shapes, 0, paths.REPEATS)
            _, info = opt_einsum.contract_path(text, *shapes, shapes=True, optimize=path)
            assert len(info.contraction_list) == len(path)
            assert info.contraction_list[-1][2].endswith("->" + text.split("->")[1])
            searched += 1
    assert searched >= 8


def test_the_junction_tree_is_the_same_in_every_process() -> None:
    script = (
        "import sys; sys.path.insert(0, 'tests')\n"
        "from test_paths import _problem\n"
        "from bn.paths import _junction_tree_path\n"
        "print(_junction_tree_path([n for n, _ in _problem(3)[0]]))\n"
    )
    found = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(found) == 1, found
