"""`bn learn` on compact nodes (noisy-OR, noisy-MAX, ranked): the full table is learnt as any
node's, then the node's own form is refitted to it, each row weighted by its prior weight plus its
cases; the node stays compact and every number is checked against an independent computation."""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run

import bn
from bn.forms import NoisyMax, Ranked
from bn.model import Model

EXAMPLE = ROOT / "examples" / "compact"


@pytest.fixture
def compact(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "compact"))


def family_cases(model: Model, name: str, scale: float = 1000.0) -> pd.DataFrame:
    """One weighted case per (parents, state) of `name`, weighted in proportion to its table:
    counts that are exactly the table, times `scale` per parent combination."""
    node = model[name]
    rows = []
    for combo in itertools.product(*(range(len(s)) for s in node.parent_states)):
        for s, state in enumerate(node.states):
            case = {p: node.parent_states[i][combo[i]] for i, p in enumerate(node.parents)}
            rows.append({**case, name: state, "weight": scale * node.table[combo][s]})
    return pd.DataFrame(rows)


def learn(model: Path, data: pd.DataFrame, tmp_path: Path, *args: str) -> dict[str, object]:
    path = tmp_path / "cases.csv"
    data.to_csv(path, index=False)
    result = run("learn", str(path), "--model", str(model), "--json", *args)
    assert result.exit_code == 0, result.stderr
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_a_table_of_the_form_gives_back_its_parameters(compact: Path, tmp_path: Path) -> None:
    """Counts exactly proportional to the expanded table, no prior: the refit is exact, for the
    noisy-MAX node and for the ranked one (whose form has no ess, so prior model would hold it)."""
    before = bn.load(compact)
    data = family_cases(before, "outage").merge(family_cases(before, "response"), how="outer")
    report = learn(compact, data, tmp_path, "--nodes", "outage,response", "--prior", "none")
    after = bn.load(compact)
    nodes = {n["node"]: n for n in report["nodes"]}  # type: ignore[attr-defined]
    assert nodes["outage"]["form"] == "noisy-max" and nodes["response"]["form"] == "ranked"
    assert max(n["max_abs_error"] for n in nodes.values()) <= 1e-9
    old, new = before["outage"].form, after["outage"].form
    assert isinstance(old, NoisyMax) and isinstance(new, NoisyMax)
    assert new.labels == old.labels
    assert np.abs(new.rows - old.rows).max() <= 1e-9
    ranked_old, ranked_new = before["response"].form, after["response"].form
    assert isinstance(ranked_old, Ranked) and isinstance(ranked_new, Ranked)
    assert np.ptp(ranked_new.weights / ranked_old.weights) <= 1e-6
    assert ranked_new.variance == pytest.approx(ranked_old.variance, rel=1e-6)
    assert run("check", "--model", str(compact)).exit_code == 0


def test_links_are_learnt_from_sampled_cases(compact: Path, tmp_path: Path) -> None:
    """Cases sampled from a model whose power=failed link is 0.5 instead of 0.95: with no prior,
    the learnt link is within four binomial standard errors of 0.5, and the other links and the
    leak stay near their values; each link's ess grows by the cases with its parent state."""
    truth = tmp_path / "truth"
    shutil.copytree(compact, truth)
    edit = run("cpt", "set", "outage", "--when", "power=failed", "yes=0.5", "--model", str(truth))
    assert edit.exit_code == 0, edit.stderr
    data = bn.load(truth).sample(40_000, seed=3)
    report = learn(compact, data, tmp_path, "--nodes", "outage")
    learnt = bn.load(compact)["outage"].form
    assert isinstance(learnt, NoisyMax)
    where = {label: r for r, label in enumerate(learnt.labels)}
    failed = int((data["power"] == "failed").sum())
    yes = learnt.states.index("yes")
    link = learnt.rows[where[("power", "failed")], yes]
    # the expert's prior (ess 20 at 0.95) pulls a little: compare with the posterior it implies
    assert abs(link - 0.5) <= 4 * np.sqrt(0.25 / failed) + 20 * 0.45 / failed
    truth_form = bn.load(truth)["outage"].form
    assert isinstance(truth_form, NoisyMax)
    assert np.abs(learnt.rows - truth_form.rows).max() <= 0.05
    assert learnt.ess[where[("power", "failed")]] == pytest.approx(np.mean(truth_form.ess) + failed)
    assert learnt.ess[where[("leak", "")]] == pytest.approx(np.mean(truth_form.ess) + len(data))
    assert "learnt from cases.csv" in learnt.notes[where[("power", "failed")]]
    (node,) = report["nodes"]  # type: ignore[misc]
    # rows with few cases keep much of the expert's 0.95 in the learnt full table, which the
    # single refitted link cannot follow: the largest cell difference is there
    assert node["form"] == "noisy-max" and 0 < node["max_abs_error"] < 0.45


def test_the_refit_is_the_weighted_least_squares_optimum(compact: Path, tmp_path: Path) -> None:
    """Independent of the fitting code: moving any one link or the leak a little, in either
    direction, does not lower the sum over rows of (cases + prior weight) x squared error
    against the learnt full table (recomputed here from counts and the expert's pseudo-counts)."""
    before = bn.load(compact)
    data = before.sample(5_000, seed=11)
    data.loc[data["power"] == "degraded", "outage"] = "yes"  # not of the form any more
    learn(compact, data, tmp_path, "--nodes", "outage")
    form = bn.load(compact)["outage"].form
    assert isinstance(form, NoisyMax)
    node = before["outage"]
    family = [*node.parents, "outage"]
    codes = [data[f].map({s: i for i, s in enumerate(before[f].states)}) for f in family]
    counts = np.zeros(node.table.shape)
    np.add.at(counts, tuple(c.to_numpy() for c in codes), 1.0)
    assert isinstance(node.form, NoisyMax)
    prior = np.mean(node.form.ess)
    weight = counts.sum(axis=-1) + prior
    table = (counts + prior * node.table) / weight[..., None]

    def cost(rows: np.ndarray) -> float:
        return float(np.sum(weight[..., None] * (form.expand(rows) - table) ** 2))

    best = cost(form.rows)
    yes = form.states.index("yes")
    for r in range(len(form.labels)):
        for step in (-1e-4, 1e-4):
            rows = form.rows.copy()
            rows[r, yes] = np.clip(rows[r, yes] + step, 0, 1)
            rows[r, 1 - yes] = 1 - rows[r, yes]
            assert cost(rows) >= best - 1e-9, (form.labels[r], step)


def test_prior_model_holds_an_exact_form_and_em_refuses_compact(
    compact: Path, tmp_path: Path
) -> None:
    before = {p.name: p.read_bytes() for p in compact.iterdir()}
    data = bn.load(compact).sample(500, seed=1)
    report = learn(compact, data, tmp_path, "--nodes", "response", "--dry-run")
    (node,) = report["nodes"]  # type: ignore[misc]
    assert node["rows_learnt"] == 0 and "form" not in node  # no ess: exact, held
    path = tmp_path / "cases.csv"
    refused = run("learn", str(path), "--model", str(compact), "--em", "--nodes", "outage")
    assert refused.exit_code == 2 and "bn learn --em does not fit compact forms" in refused.stderr
    assert {p.name: p.read_bytes() for p in compact.iterdir()} == before
