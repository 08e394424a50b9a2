"""`bn learn` and `bn sample` against the acceptance items of their issue: EM against pyAgrum's
BNLearner, the `--json` schemas, bad data files, the Python API, and the analyst's path end to
end (update a copy of the flagship from observed cases, read `bn diff`, check against pgmpy)."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from bnlearn import pyagrum_net
from conftest import CHAIN, DATA, FLAGSHIP, run

import bn
from bn.learn import fit, log_likelihood
from bn.learndata import cases
from bn.model import Model

LEARN_KEYS = {"model", "data", "rows", "prior", "ess", "em", "nodes", "written"}
NODE_KEYS = {"node", "rows_learnt", "cases_used"}
EM_KEYS = {"iterations", "log_likelihood"}
SAMPLE_KEYS = {"output", "n", "seed", "method", "columns"}


def files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def asia(tmp_path_factory: pytest.TempPathFactory) -> Model:
    out = tmp_path_factory.mktemp("asia") / "asia"
    assert run("import", str(DATA / "asia.bif"), "--out", str(out)).exit_code == 0
    return bn.load(out)


def from_pyagrum(start: Model, net: Any) -> Model:
    """A pyAgrum network's tables as bn's (*parents, states) arrays, in bn's state orders."""
    nodes = []
    for node in start:
        cpt = net.cpt(node.id)
        order = list(reversed(cpt.names))  # toarray's axes: the last name first
        values = np.array(cpt.toarray())
        for axis, var in enumerate(order):
            labels = list(net.variable(var).labels())
            values = np.take(values, [labels.index(s) for s in start[var].states], axis=axis)
        values = np.transpose(values, [order.index(a) for a in [*node.parents, node.id]])
        nodes.append(replace(node, table=values))
    return start.with_nodes(nodes)


def test_em_agrees_with_pyagrums_bnlearner_step_by_step_and_is_not_below_it(asia: Model) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum
    rng = np.random.default_rng(5)
    frame = asia.sample(400, seed=11).astype(str)
    frame = frame.mask((rng.random(frame.shape) < 0.1), "")  # 10% of cells missing
    frame["either"] = ""  # and a latent node
    start = asia.with_nodes(
        replace(
            n,
            table=rng.dirichlet(np.ones(n.card), size=math.prod(n.parent_shape)).reshape(
                n.table.shape
            ),
        )
        for n in asia
    )
    ours = fit(start, frame, prior="none", em=True, max_iterations=300, tolerance=1e-12)
    history = ours.em["history"] if ours.em else []
    observed = cases(asia, frame)

    def theirs(iterations: int) -> tuple[Model, int]:
        learner = gum.BNLearner(frame.replace("", "?"), pyagrum_net(start))
        learner.useEMWithDiffCriterion(1e-12, noise=0.0)  # no perturbation: the same start
        learner.EMsetMaxIter(iterations)
        net = learner.learnParameters(pyagrum_net(start))
        return from_pyagrum(start, net), learner.EMnbrIterations()

    for k in (1, 2, 5):  # the same EM: the same log-likelihood after k iterations
        model, done = theirs(k)
        assert done == k
        assert log_likelihood(model, observed) == pytest.approx(history[k], abs=1e-6)
    final, done = theirs(300)
    assert ours.em is not None and ours.em["log_likelihood"] == history[-1]
    assert log_likelihood(ours.model, observed) >= log_likelihood(final, observed) - 1e-6
    assert len(history) - 1 >= done  # pyAgrum stopped earlier on its own criterion


def test_learn_json_has_exactly_the_documented_keys(tmp_path: Path) -> None:
    data = tmp_path / "cases.csv"
    data.write_text("kaboom,nato_response,KABOOM\nyes,strike,yes\nno,,no\nno,limited,\n")
    for extra, em in (((), None), (("--em",), EM_KEYS)):
        result = run("learn", str(data), "--model", str(CHAIN), "--dry-run", "--json", *extra)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert set(report) == LEARN_KEYS
        assert report["rows"] == 3 and report["data"] == str(data) and report["written"] == []
        assert report["nodes"] and all(set(n) == NODE_KEYS for n in report["nodes"])
        if em is None:
            assert report["em"] is None
        else:
            assert set(report["em"]) == em and report["em"]["iterations"] >= 1


def test_sample_json_and_text_name_the_method(tmp_path: Path) -> None:
    out = tmp_path / "given.csv"
    for method, said in (("rejection", "rejection"), ("weighting", "likelihood weighting")):
        args = [
            "sample",
            "-n",
            "200",
            "-e",
            "kaboom=yes",
            "--method",
            method,
            "--model",
            str(CHAIN),
        ]
        shown = run(*args, "-o", str(out))
        assert shown.exit_code == 0, shown.output
        assert shown.stdout == f"wrote 200 case(s) to {out} ({said}, seed 0)\n"
        report = json.loads(run(*args, "-o", str(out), "--json").stdout)
        assert set(report) == SAMPLE_KEYS
        assert report["method"] == said and report["n"] == 200 and report["seed"] == 0
        header = out.read_text().splitlines()[0].split(",")
        assert header == report["columns"]
        assert ("weight" in header) == (method == "weighting")
        assert said in run(*args).stderr  # to stdout: the method is said on stderr
    plain = json.loads(run("sample", "-n", "5", "--model", str(CHAIN), "--json").stdout)
    assert plain["method"] == "forward" and plain["output"] is None


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        (
            "garbage.csv",
            bytes(np.random.default_rng(0).integers(128, 256, 300, dtype=np.uint8)),
            "garbage.csv: not a table of cases: not UTF-8 text",
        ),
        ("empty.csv", b"", "empty.csv: not a table of cases: the file is empty"),
        ("text.parquet", b"nuclear_use\nyes\n", "text.parquet: not a table of cases:"),
    ],
)
def test_a_file_that_is_not_a_table_is_refused(
    tmp_path: Path, name: str, content: bytes, said: str
) -> None:
    model = tmp_path / "m"
    shutil.copytree(CHAIN, model)
    before = files(model)
    data = tmp_path / name
    data.write_bytes(content)
    result = run("learn", str(data), "--model", str(model))
    assert result.exit_code == 2 and said in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert files(model) == before


def test_ragged_rows_and_bad_states_are_reported_together_with_their_lines(tmp_path: Path) -> None:
    model = tmp_path / "m"
    shutil.copytree(CHAIN, model)
    before = files(model)
    data = tmp_path / "bad.csv"
    # line 4 is blank and line 5's quoted cell holds a line break: the lines are the file's
    data.write_text('kaboom,KABOOM\nyes,yes\nno\n\n"maybe\nso",no\nno,no,no\nyes,nope\n')
    result = run("learn", str(data), "--model", str(model))
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [
        "bad.csv:3: error: 1 cell(s), but the header names 2 column(s)",
        "bad.csv:7: error: 3 cell(s), but the header names 2 column(s)",
        "bad.csv:5: error: column kaboom: 'maybe",
        "bad.csv:8: error: column KABOOM: 'nope' is not a state of nuclear_war",
    ]
    assert "the data has 4 problem(s)" in result.stderr
    assert files(model) == before


def test_python_api_fit_and_sample_equal_the_cli(tmp_path: Path) -> None:
    model = bn.load(CHAIN)
    frame = model.sample(300, seed=4)
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(model.ids)
    assert frame.equals(model.sample(300, seed=4)) and not frame.equals(model.sample(300, seed=5))
    out = tmp_path / "cases.csv"
    assert (
        run("sample", "-n", "300", "--seed", "4", "--model", str(CHAIN), "-o", str(out)).exit_code
        == 0
    )
    on_disk = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert on_disk.equals(frame.astype(str))
    given = model.sample(50, seed=1, evidence={"kaboom": "yes"})
    assert (given["nuclear_use"] == "yes").all() and "weight" in given
    for prior, ess, em in (("model", None, False), ("bdeu", 3.0, False), ("k2", None, True)):
        learnt = model.fit(frame.astype(str), prior=prior, ess=ess, em=em)
        assert isinstance(learnt, Model) and learnt is not model
        target = tmp_path / f"{prior}-{em}"
        args = ["learn", str(out), "--model", str(CHAIN), "-o", str(target), "--prior", prior]
        args += ["--ess", str(ess)] * (ess is not None) + ["--em"] * em
        assert run(*args).exit_code == 0
        written = bn.load(target)
        for node in model:
            assert np.abs(written[node.id].table - learnt[node.id].table).max() <= 1e-14
            assert np.allclose(written[node.id].ess, learnt[node.id].ess, equal_nan=True)
    assert bn.load(CHAIN)["nuclear_use"].table.tolist() == [0.7, 0.3]  # the model is unchanged


def test_an_analyst_updates_the_flagship_and_every_number_agrees_with_pgmpy(tmp_path: Path) -> None:
    """The issue's "done when": observed cases from a world where Starlink is cut more often."""
    copy = tmp_path / "cpts"
    shutil.copytree(FLAGSHIP, copy)
    expert = bn.load(copy)
    world = expert.with_nodes([replace(expert["starlink"], table=np.array([0.3, 0.4, 0.3]))])
    observed = tmp_path / "observed.csv"
    world.sample(2000, seed=7).to_csv(observed, index=False)
    result = run("learn", str(observed), "--model", str(copy))
    assert result.exit_code == 0, result.output
    diff = run("diff", str(FLAGSHIP), str(copy))
    assert diff.exit_code == 0
    assert "available 0.6 → 0.300748" in diff.stdout  # starlink moved towards the world's 0.3
    report = json.loads(run("diff", str(FLAGSHIP), str(copy), "--json").stdout)
    moved = {t["node"]: t["cells"] for t in report["tables"]}
    starlink = {c["column"]: (c["old"], c["new"]) for c in moved["starlink"]}
    assert starlink["cut"][0] == 0.1 and starlink["cut"][1] == pytest.approx(0.3025, abs=1e-3)
    assert starlink["ess"] == (5.0, 2005.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.estimators import BayesianEstimator
        from pgmpy.models import DiscreteBayesianNetwork

        data = pd.read_csv(observed, dtype=str, keep_default_na=False)
        network = DiscreteBayesianNetwork([(p, n.id) for n in expert for p in n.parents])
        network.add_nodes_from(expert.ids)
        estimator = BayesianEstimator(
            network, data, state_names={n.id: list(n.states) for n in expert}
        )
        learnt = bn.load(copy)
        checked = 0
        for node in expert:
            weight = np.nan_to_num(node.ess, nan=1.0)  # rows without an ess are exact: kept
            theirs = list(estimator.estimate_cpd(node.id, prior_type="K2").variables[1:])
            counts = (node.table * weight[..., None]).transpose(
                [*[node.parents.index(p) for p in theirs], len(node.parents)]
            )  # pgmpy's order of the parents (its state orders are bn's: state_names)
            pseudo = np.moveaxis(counts, -1, 0).reshape(node.card, -1)
            cpd = estimator.estimate_cpd(node.id, prior_type="dirichlet", pseudo_counts=pseudo)
            assert list(cpd.variables[1:]) == theirs
            values = cpd.get_values()  # (states, rows) with the parents in cpd's order
            order = [cpd.variable, *cpd.variables[1:]]
            values = values.reshape([len(cpd.state_names[v]) for v in order])
            for axis, var in enumerate(order):
                index = [cpd.state_names[var].index(s) for s in expert[var].states]
                values = np.take(values, index, axis=axis)
            values = np.moveaxis(values, 0, -1).transpose(
                [*[list(cpd.variables[1:]).index(p) for p in node.parents], len(node.parents)]
            )
            exact = np.isnan(node.ess)
            expected = np.where(exact[..., None], node.table, values)
            assert np.abs(learnt[node.id].table - expected).max() <= 1e-12, node.id
            changed = (learnt[node.id].table != node.table).any(axis=-1)
            cells = [c for c in moved.get(node.id, []) if c["column"] in node.states]
            rows = {json.dumps(c["when"], sort_keys=True) for c in cells}
            assert len(rows) == int(changed.sum()), node.id  # bn diff lists every row that moved
            checked += int((~exact).sum())
    assert checked > 100


def test_em_draws_a_progress_bar_on_a_terminal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    import bn.cli.learn as learn_cli
    from bn.cli.common import ProgressBar

    data = tmp_path / "cases.csv"
    data.write_text("kaboom,KABOOM\nyes,\n,no\nno,no\n")
    model = tmp_path / "m"  # a copy, in case a run writes
    shutil.copytree(CHAIN, model)
    before = files(model)
    args = ["learn", str(data), "--model", str(model), "--em", "--dry-run"]
    assert "EM iterations" not in run(*args).stderr  # not a terminal: no bar
    monkeypatch.setattr(learn_cli, "is_terminal", lambda: True)
    monkeypatch.setattr(learn_cli, "ProgressBar", functools.partial(ProgressBar, delay=0.0))
    shown = run(*args)
    assert shown.exit_code == 0
    assert "\rEM iterations ██████████ 100%" in shown.stderr  # converged: the bar is full
    assert shown.stderr.endswith("\r")  # and erased at the end
    monkeypatch.setattr(learn_cli, "ProgressBar", ProgressBar)  # the default delay, 1 s:
    assert "EM iterations" not in run(*args).stderr  # a run this short draws nothing
    monkeypatch.setattr(learn_cli, "ProgressBar", functools.partial(ProgressBar, delay=0.0))
    assert "EM iterations" not in run(*[a for a in args if a != "--em"]).stderr  # no EM, no bar
    assert files(model) == before


def test_compact_nodes_are_refitted_and_em_leaves_them_and_says_so(tmp_path: Path) -> None:
    """Without --em a compact node learns like any other and stays compact (the numbers are
    checked in tests/test_learn_compact.py); EM leaves compact nodes as they are and says so,
    and naming one with --em is an error before any work."""
    model = tmp_path / "compact"
    shutil.copytree(FLAGSHIP.parent / "examples" / "compact", model)
    data = tmp_path / "cases.csv"
    assert run("sample", "-n", "500", "--model", str(model), "-o", str(data)).exit_code == 0
    before = files(model)
    named = run("learn", str(data), "--model", str(model), "--nodes", "power,outage", "--em")
    assert named.exit_code == 2 and "outage is a compact node" in named.stderr
    assert files(model) == before
    for prior, compact in (("model", {"outage"}), ("k2", {"outage", "response"})):
        result = run("learn", str(data), "--model", str(model), "--prior", prior, "--json")
        assert result.exit_code == 0, result.output
        nodes = json.loads(result.stdout)["nodes"]
        refitted = {n["node"] for n in nodes if "form" in n}
        assert "power" in {n["node"] for n in nodes} and refitted == compact, prior
        shutil.rmtree(model)
        shutil.copytree(FLAGSHIP.parent / "examples" / "compact", model)
    text = run("learn", str(data), "--model", str(model), "--dry-run").stdout
    assert "noisy-max refitted, max abs error" in text
    em = run("learn", str(data), "--model", str(model), "--em", "--dry-run").stdout
    assert "outage: a compact node, not learnt by EM" in em
