"""Helpers for the edit tests: the chain with scenarios and an overlay, running an edit (and one
that must be refused), snapshots of a directory, and oracles (a brute-force joint distribution,
every posterior under every scenario)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import CHAIN, run

import bn
from bn.model import Model

SCENARIOS = """\
# Scenarios used by the edit tests: every kind of evidence, ids and aliases, and an overlay.
[scenarios.observed]  # hard evidence through an alias
evidence = { kaboom = "yes" }

[scenarios.forced]
do = { nato_response = "strike" }

[scenarios.rumour]
likelihood = { nuclear_use = { no = 1.0, yes = 3.0 } }

[scenarios.forecast]
soft = { KABOOM = [0.9, 0.1] }

[scenarios.alt]
description = "another expert's table for nuclear_war"
overlay = "overlays/alt"
evidence = { nato_response = "limited" }
"""

OVERLAY = """\
# alt: a more pessimistic expert
nuclear_use,nato_response,nuclear_war=no,nuclear_war=yes,note
no,limited,1,0,none
no,strike,0.9,0.1,"background risk, even without kaboom"
yes,limited,0.8,0.2,some risk after a weak answer
yes,strike,0.1,0.9,the spiral
"""


def edit(directory: Path, *args: str) -> Any:
    result = run(*args, "--model", str(directory))
    assert result.exit_code == 0, result.output + result.stderr
    return result


def refused(directory: Path, *args: str) -> str:
    """Run a command that must fail, and check that no file changed by a single byte."""
    before = snapshot(directory)
    result = run(*args, "--model", str(directory))
    assert result.exit_code == 2, result.output
    assert snapshot(directory) == before
    return result.stderr


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file's content, but the writers' lock file (there while a workspace is open)."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != ".bn-lock"
    }


def brute_joint(model: Model) -> tuple[tuple[str, ...], np.ndarray]:
    """P(all nodes) as the product of every table broadcast over all axes: the oracle here."""
    ids = model.ids
    joint = np.ones([model[i].card for i in ids])
    for node in model:
        axes = [ids.index(a) for a in (*node.parents, node.id)]
        table = np.transpose(node.table, np.argsort(axes))
        shape = [joint.shape[a] if a in axes else 1 for a in range(len(ids))]
        joint = joint * table.reshape(shape)
    return ids, joint


def marginal(model: Model, names: list[str], joint: Any = None) -> np.ndarray:
    """The joint of `names` (axes in that order) summed from the full joint."""
    ids, full = joint or brute_joint(model)
    keep = [ids.index(n) for n in names]
    summed = full.sum(axis=tuple(i for i in range(len(ids)) if i not in keep))
    order = sorted(keep)
    return np.transpose(summed, [order.index(k) for k in keep])


def answers(directory: Path) -> dict[tuple[str, str, str], float]:
    """Every node's posterior with no evidence and under every scenario."""
    from bn.engine import query
    from bn.scenarios import apply, load_scenarios

    model = bn.load(directory)
    out = {}
    for name in ["", *load_scenarios(model)]:
        view, evidence = (model, bn.Evidence()) if not name else apply(model, name)
        result = query(view, list(view.ids), evidence)
        for node, dist in result.posteriors.items():
            for state, p in dist.items():
                out[(name, node, state)] = p
    return out


def same_answers(
    before: dict[tuple[str, str, str], float],
    after: dict[tuple[str, str, str], float],
    rename: dict[tuple[str, str], tuple[str, str]] | None = None,
) -> None:
    rename = rename or {}
    moved = {}
    for (scenario, node, state), p in before.items():
        node2, state2 = rename.get((node, state), (node, state))
        moved[(scenario, node2, state2)] = p
    assert moved.keys() <= after.keys()
    for key, p in moved.items():
        assert after[key] == pytest.approx(p, abs=1e-12), key


def make_model(tmp_path: Path) -> Path:
    """The chain with scenarios and an overlay, in a scratch directory (the `model` fixture)."""
    target = tmp_path / "chain"
    shutil.copytree(CHAIN, target)
    (target / "scenarios.toml").write_text(SCENARIOS)
    (target / "overlays" / "alt").mkdir(parents=True)
    (target / "overlays" / "alt" / "nuclear_war.csv").write_text(OVERLAY)
    assert bn.check(target)[0] is not None
    return target
