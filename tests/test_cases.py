"""Batched evidence: `bn query --cases`, `Model.query_cases` and the dask path, against single
queries; and numerics far below 1e-300."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bnlearn import load_bnlearn
from conftest import FLAGSHIP, run, run_json

import bn
from bn.cases import query_cases, query_cases_dask, read_dask
from bn.csvfiles import write_model
from bn.engine import posterior, query
from bn.evidence import Evidence
from bn.model import Model, Node
from bn.plan import compile_plan, compile_query


def random_cases(model: Model, count: int, seed: int) -> pd.DataFrame:
    """Cases with 5 to 8 observed nodes each, states drawn at random (some rows impossible)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(count):
        chosen = rng.choice(model.ids, size=int(rng.integers(5, 9)), replace=False)
        rows.append({n: str(rng.choice(model[n].states)) for n in chosen})
    return pd.DataFrame(rows, columns=list(model.ids)).fillna("")


def test_cases_equal_single_queries() -> None:
    model = load_bnlearn("alarm")
    frame = random_cases(model, 60, seed=1)
    out = model.query_cases(frame, list(model.ids))
    assert list(out["case"]) == list(range(1, 61))
    impossible = 0
    for row, cells in frame.iterrows():
        hard = {n: s for n, s in cells.items() if s}
        answer = out.iloc[int(row)]  # type: ignore[call-overload]
        try:
            single = query(model, list(model.ids), Evidence(hard=hard))
        except bn.EvidenceError:
            assert "impossible" in answer["error"]
            assert math.isnan(answer[f"{model.ids[0]}={model[model.ids[0]].states[0]}"])
            impossible += 1
            continue
        assert answer["error"] == ""
        assert answer["probability_of_evidence"] == pytest.approx(
            single.probability_of_evidence, rel=1e-12
        )
        for node, dist in single.posteriors.items():
            for state, p in dist.items():
                assert abs(answer[f"{node}={state}"] - p) <= 1e-12
    assert impossible < 60


def test_cases_cli_writes_every_format(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "case,kaboom,starlink,KABOOM\nfirst,yes,,\nsecond,,cut,\nthird,,,\nfourth,no,,yes\n"
    )
    text = run("query", "--cases", str(cases), "KABOOM", "--model", str(FLAGSHIP))
    assert text.exit_code == 0, text.stderr
    header = text.stdout.splitlines()[0]
    assert header == (
        '"case","nuclear_war=no","nuclear_war=yes","probability_of_evidence",'
        '"log_probability_of_evidence","error"'
    )
    frames = []
    for suffix in ("csv", "parquet", "json"):
        target = tmp_path / f"out.{suffix}"
        result = run("query", "--cases", str(cases), "KABOOM", "-o", str(target),
                     "--model", str(FLAGSHIP))  # fmt: skip
        assert result.exit_code == 0, result.stderr
        read = {"csv": pd.read_csv, "parquet": pd.read_parquet, "json": pd.read_json}[suffix]
        frames.append(read(target))
    for frame in frames:
        assert [str(c) for c in frame["case"]] == ["first", "second", "third", "fourth"]
        np.testing.assert_allclose(frame["nuclear_war=yes"], frames[0]["nuclear_war=yes"])
        assert "impossible" in frame["error"][3] and math.isnan(frame["nuclear_war=yes"][3])
    model = bn.load(FLAGSHIP)
    expected = query(model, ["KABOOM"], Evidence(hard={"starlink": "cut"}))
    assert frames[1]["nuclear_war=yes"][1] == pytest.approx(
        expected.posteriors["nuclear_war"]["yes"], abs=1e-12
    )


def test_bad_cells_are_all_reported_before_any_work(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("kaboom,starlnk,KABOOM\nyess,cut,no\nyes,,maybe\n")
    result = run("query", "--cases", str(cases), "--model", str(FLAGSHIP))
    assert result.exit_code == 2
    assert "3 bad cell(s)" in result.stderr
    assert "column 'starlnk'" in result.stderr and "did you mean 'starlink'" in result.stderr
    assert "row 1, column 'kaboom': 'yess' is not a state of nuclear_use" in result.stderr
    assert "row 2, column 'KABOOM': 'maybe'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cases_refuse_other_evidence_flags(tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text("kaboom\nyes\n")
    result = run("query", "--cases", str(cases), "-e", "starlink=cut", "--model", str(FLAGSHIP))
    assert result.exit_code == 2 and "takes its evidence from the file" in result.stderr


def test_dask_equals_in_process(tmp_path: Path) -> None:
    model = bn.load(FLAGSHIP)
    frame = random_cases(model, 40, seed=3)
    frame.iloc[:25].to_parquet(tmp_path / "a.parquet")
    frame.iloc[25:].to_parquet(tmp_path / "b.parquet")
    out = tmp_path / "out.parquet"
    result = run("query", "--cases", str(tmp_path / "*.parquet"), "--all", "--dask",
                 "-o", str(out), "--model", str(FLAGSHIP))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    on_dask = pd.read_parquet(out)
    in_process = query_cases(model, frame, list(model.ids))
    assert list(on_dask.columns) == list(in_process.columns)
    assert [int(c) for c in on_dask["case"]] == list(in_process["case"])
    pd.testing.assert_frame_equal(
        on_dask.drop(columns="case"), in_process.drop(columns="case"), check_exact=True
    )


def test_dask_reports_bad_cells_with_rows_across_files(tmp_path: Path) -> None:
    pd.DataFrame({"kaboom": ["yes", "no"]}).to_csv(tmp_path / "a.csv", index=False)
    pd.DataFrame({"kaboom": ["no", "yess"]}).to_csv(tmp_path / "b.csv", index=False)
    model = bn.load(FLAGSHIP)
    with pytest.raises(bn.EvidenceError, match=r"row 4, column 'kaboom': 'yess'"):
        query_cases_dask(model, read_dask(str(tmp_path / "*.csv")), ["KABOOM"])


def test_dask_on_a_scheduler(tmp_path: Path) -> None:
    from distributed import LocalCluster

    model = bn.load(FLAGSHIP)
    frame = random_cases(model, 10, seed=4)
    frame.to_csv(tmp_path / "a.csv", index=False)
    out = tmp_path / "out.csv"
    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        result = run("query", "--cases", str(tmp_path / "a.csv"), "--dask", "--scheduler",
                     cluster.scheduler_address, "-o", str(out), "--model", str(FLAGSHIP))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = query_cases(model, frame)
    got = pd.read_csv(out)
    np.testing.assert_allclose(got["nuclear_war=yes"], expected["nuclear_war=yes"], rtol=1e-15)


def long_chain(size: int, stay: float, card: int) -> Model:
    """x0 -> x1 -> ... : each node keeps its parent's state with probability `stay`."""
    states = tuple(f"s{k}" for k in range(card))
    table = np.full((card, card), (1 - stay) / (card - 1))
    np.fill_diagonal(table, stay)
    nodes = [Node("x0", states, (), np.full(card, 1 / card))]
    nodes += [Node(f"x{i}", states, (f"x{i - 1}",), table) for i in range(1, size)]
    return Model(tuple(nodes))


def test_no_underflow_below_1e_300(tmp_path: Path) -> None:
    """Every other node of a 801-node chain observed in s0: P(evidence) = 0.1 * 0.111^400."""
    stay, card = 0.2, 10
    model = long_chain(801, stay, card)
    hard = {f"x{i}": "s0" for i in range(0, 801, 2)}
    two_steps = stay**2 + (1 - stay) ** 2 / (card - 1)
    expected_log = math.log(1 / card) + 400 * math.log(two_steps)
    assert expected_log < math.log(1e-300)
    result = posterior(model, ["x1", "x401"], Evidence(hard=hard))
    assert float(result.probability_of_evidence) == 0.0  # underflows, as any float would
    assert float(result.log_probability_of_evidence) == pytest.approx(expected_log, rel=1e-12)
    inner = stay**2 / two_steps  # P(x = s0 | both neighbours s0)
    assert result.marginals["x401"][0] == pytest.approx(inner, abs=1e-12)
    write_model(model, tmp_path / "chain")
    flags = [f"-e{n}={s}" for n, s in hard.items()]
    data = run_json("query", "x1", *flags, "--model", str(tmp_path / "chain"))
    assert data["log_probability_of_evidence"] == pytest.approx(expected_log, rel=1e-12)
    assert data["posteriors"]["x1"]["s0"] == pytest.approx(inner, abs=1e-12)


def test_plans_are_cached_across_queries_and_models() -> None:
    model = load_bnlearn("alarm")
    evidence = Evidence(hard={"HR": "LOW", "BP": "HIGH"})
    posterior(model, list(model.ids), evidence)
    before, searched = compile_query.cache_info(), compile_plan.cache_info().misses
    # Another copy of the model with other tables and the same observation pattern: no search.
    copy = model.with_nodes([Node("HR", model["HR"].states, model["HR"].parents,
                                  np.flip(model["HR"].table, axis=-1))])  # fmt: skip
    posterior(copy, list(model.ids), Evidence(hard={"HR": "HIGH", "BP": "LOW"}))
    after = compile_query.cache_info()
    assert after.misses == before.misses and after.hits > before.hits
    assert compile_plan.cache_info().misses == searched
