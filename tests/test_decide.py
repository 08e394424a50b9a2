"""Influence diagrams: the format, `bn check`, `solve` and `evpi`, against pyAgrum and brute force."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run, run_json
from decide_oracle import brute_force, pyagrum_best, pyagrum_solve, random_diagram

from bn.analysis.decide import Solution, evpi, policy_network, solve
from bn.engine import condition
from bn.errors import EvidenceError, ModelError
from bn.evidence import Evidence
from bn.influence import Diagram
from bn.validate import check, check_diagram, load, load_diagram

OIL = ROOT / "examples" / "oil-wildcatter"
NUCLEAR = ROOT / "examples" / "nuclear-decisions"


def influences_every_utility(diagram: Diagram) -> bool:
    """Whether every decision is an ancestor of some utility (see `test_random_against_pyagrum`)."""
    reach = set()
    for u in diagram.utilities:
        reach |= diagram.network.ancestors(u.parents)
    return all(d.id in reach for d in diagram.decisions)


def reached(diagram: Diagram, solution: Solution, node: str, given: dict[str, str]) -> float:
    """P(given) when every decision follows its optimal policy (pyAgrum's policies agree with
    bn's only where this is positive: elsewhere any option is optimal)."""
    if not given:
        return 1.0
    network = policy_network(diagram, solution)
    table = condition(network, solution.evidence).joint(list(given))
    index = tuple(network[n].states.index(s) for n, s in given.items())
    return float(table[index])


def test_oil_wildcatter_raiffa() -> None:
    """Raiffa (1968): test (MEU 22.5), drill unless the structure is diffuse."""
    diagram = load_diagram(OIL)
    solution = solve(diagram)
    assert solution.meu == pytest.approx(22.5, abs=1e-12)
    test, drill = solution.decisions
    assert (test.node, test.order, test.rows[0].best) == ("test", 1, "yes")
    assert test.rows[0].expected_utility == pytest.approx({"no": 20.0, "yes": 22.5})
    best = {(r.given["test"], r.given["seismic"]): r.best for r in drill.rows if r.probability}
    assert best == {
        ("no", "none"): "yes",
        ("yes", "closed"): "yes",
        ("yes", "open"): "yes",
        ("yes", "diffuse"): "no",
    }


def test_oil_wildcatter_against_pyagrum() -> None:
    diagram = load_diagram(OIL)
    ie = pyagrum_solve(diagram)
    solution = solve(diagram)
    assert abs(ie.MEU()["mean"] - solution.meu) < 1e-9
    for policy in solution.decisions:
        options = diagram.network[policy.node].states
        for row in policy.rows:
            if reached(diagram, solution, policy.node, row.given) > 0:
                assert pyagrum_best(ie, policy.node, row.given, options) == row.best


def test_evpi_oil_is_known_before_testing() -> None:
    """Knowing the oil before testing: 0.3 x 50 + 0.2 x 200 = 55, less 22.5."""
    diagram = load_diagram(OIL)
    (info,) = evpi(diagram, "test")
    assert (info.node, info.evpi, info.meu) == ("oil", pytest.approx(32.5), pytest.approx(55.0))
    ie = pyagrum_solve(diagram, extra_arcs=(("oil", "test"),))
    assert abs(ie.MEU()["mean"] - info.meu) < 1e-9


def test_evidence_before_the_decisions() -> None:
    diagram = load_diagram(OIL)
    solution = solve(diagram, Evidence(do={"test": "yes"}))
    assert [p.node for p in solution.decisions] == ["drill"]
    assert solution.meu == pytest.approx(22.5)
    given = solve(diagram, Evidence(do={"test": "yes"}, hard={"seismic": "closed"}))
    assert given.meu == pytest.approx(77.5)
    with pytest.raises(EvidenceError, match="test can still influence it"):
        solve(diagram, Evidence(hard={"seismic": "closed"}))
    with pytest.raises(EvidenceError, match="chosen, not observed"):
        solve(diagram, Evidence(hard={"test": "yes"}))


@pytest.mark.parametrize("seed", range(60))
def test_random_against_pyagrum(seed: int) -> None:
    """MEU and every possible, untied policy row equal pyAgrum's, to 1e-9.

    pyAgrum 3.3 returns a lower MEU on some diagrams where a decision influences no utility (11
    of 200 such seeds; brute-force enumeration agrees with bn there, see the next test), so the
    comparison with pyAgrum is made where every decision influences a utility.
    """
    rng = np.random.default_rng(seed)
    diagram = random_diagram(rng, int(rng.integers(3, 6)), int(rng.integers(1, 4)))
    while not influences_every_utility(diagram):
        diagram = random_diagram(rng, int(rng.integers(3, 6)), int(rng.integers(1, 4)))
    ie = pyagrum_solve(diagram)
    solution = solve(diagram)
    assert abs(ie.MEU()["mean"] - solution.meu) < 1e-9
    for policy in solution.decisions:
        options = diagram.network[policy.node].states
        for row in policy.rows:
            values = sorted(v for v in row.expected_utility.values() if v is not None)
            untied = len(values) > 1 and values[-1] - values[-2] > 1e-9
            if untied and reached(diagram, solution, policy.node, row.given) > 1e-9:
                assert pyagrum_best(ie, policy.node, row.given, options) == row.best


@pytest.mark.parametrize("seed", range(25))
def test_random_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    diagram = random_diagram(rng, 3, 2)
    expected = brute_force(diagram)
    if expected is None:
        pytest.skip("too many policies to enumerate")
    assert solve(diagram).meu == pytest.approx(expected, abs=1e-9)


def test_brute_force_with_evidence() -> None:
    rng = np.random.default_rng(7)
    for _ in range(10):
        diagram = random_diagram(rng, 4, 2)
        after = set().union(*(diagram.descendants(d) for d in diagram.order))
        free = [n for n in diagram.chance_ids() if n not in after]
        if not free:
            continue
        evidence = Evidence(hard={free[0]: "s1"})
        try:
            meu = solve(diagram, evidence).meu
        except EvidenceError:
            continue  # impossible evidence
        expected = brute_force(diagram, evidence)
        if expected is not None:
            assert meu == pytest.approx(expected, abs=1e-9)
        if influences_every_utility(diagram):
            ie = pyagrum_solve(diagram, {free[0]: "s1"})
            assert abs(ie.MEU()["mean"] - meu) < 1e-9


def test_plain_commands_refuse_a_diagram() -> None:
    model, problems = check(OIL)
    assert model is None
    assert "influence diagram" in problems[-1].message
    with pytest.raises(ModelError, match="bn decide"):
        load(OIL)


def copy(tmp_path: Path) -> Path:
    target = tmp_path / "oil"
    shutil.copytree(OIL, target)
    return target


def messages(path: Path) -> list[str]:
    diagram, problems = check_diagram(path)
    assert diagram is None
    return [f"{p.where}: {p.message}" for p in problems if p.severity == "error"]


def test_check_decision_with_rows(tmp_path: Path) -> None:
    path = copy(tmp_path)
    (path / "drill.csv").write_text("test,seismic,drill=no,drill=yes\nno,none,0.5,0.5\n")
    assert messages(path) == [
        'drill.csv:2: drill is a decision (kind = "decision" in model.toml): it has no '
        "probabilities, so its file has no rows"
    ]


def test_check_utility_problems(tmp_path: Path) -> None:
    path = copy(tmp_path)
    (path / "payoff.csv").write_text(
        "drill,oil,utility\nno,dry,0\nno,wett,0\nyes,dry,lots\nyes,wet,50\nyes,soaking,200\n"
    )
    found = messages(path)
    assert "payoff.csv:3: 'wett' is not a state of parent oil" in found
    assert "payoff.csv:4: utility 'lots' is not a number" in found


def test_check_missing_utility_row(tmp_path: Path) -> None:
    path = copy(tmp_path)
    (path / "payoff.csv").write_text("drill,oil,utility\nno,dry,0\n")
    (found,) = messages(path)
    assert found.startswith("payoff.csv:1: 5 missing row(s): drill=no, oil=wet;")


def test_check_utility_has_no_children(tmp_path: Path) -> None:
    path = copy(tmp_path)
    (path / "later.csv").write_text("payoff,later=a,later=b\n")
    assert any("names a utility; utilities have no children" in m for m in messages(path))


def test_check_decisions_must_be_ordered(tmp_path: Path) -> None:
    path = copy(tmp_path)
    (path / "drill.csv").write_text("seismic,drill=no,drill=yes\n")
    (path / "seismic.csv").write_text(
        "oil,seismic=closed,seismic=open,seismic=diffuse,seismic=none\n"
        "dry,0.1,0.3,0.6,0\nwet,0.3,0.4,0.3,0\nsoaking,0.5,0.4,0.1,0\n"
    )
    (found,) = messages(path)
    assert "decisions drill and test are not ordered" in found or "test and drill" in found
    toml = (path / "model.toml").read_text()
    toml = toml.replace("[model]\n", '[model]\ndecision_order = ["test", "drill"]\n')
    (path / "model.toml").write_text(toml)
    diagram, _ = check_diagram(path)
    assert diagram is not None and diagram.order == ("test", "drill")


def test_check_order_against_the_graph(tmp_path: Path) -> None:
    path = copy(tmp_path)
    toml = (path / "model.toml").read_text()
    toml = toml.replace("[model]\n", '[model]\ndecision_order = ["drill", "test"]\n')
    (path / "model.toml").write_text(toml)
    (found,) = messages(path)
    assert found.startswith("model.toml:2: decision_order puts drill before test")


def test_check_kind_mismatch(tmp_path: Path) -> None:
    path = copy(tmp_path)
    toml = (path / "model.toml").read_text().replace('kind = "utility"', 'kind = "utlity"', 1)
    (path / "model.toml").write_text(toml)
    assert any("kind 'utlity' is not a kind of node" in m for m in messages(path))


def test_cli_decide_json() -> None:
    data = run_json("decide", "--model", str(OIL))
    assert data["meu"] == pytest.approx(22.5)
    assert data["method"].startswith("exact: variable elimination under the no-forgetting")
    test, drill = data["decisions"]
    assert (test["node"], test["order"], test["policy"][0]["best"]) == ("test", 1, "yes")
    row = next(r for r in drill["policy"] if r["given"] == {"test": "yes", "seismic": "closed"})
    assert row["best"] == "yes"
    assert row["expected_utility"] == pytest.approx({"no": -10.0, "yes": 77.5})
    assert data["evidence"] == {} and data["do"] == {}


def test_cli_decide_text_and_evidence() -> None:
    result = run("decide", "--model", str(OIL), "--do", "test=yes", "-e", "seismic=closed")
    assert result.exit_code == 0, result.stderr
    assert "maximum expected utility: 77.5" in result.stdout
    assert "no-forgetting" in result.stdout
    bad = run("decide", "--model", str(OIL), "-e", "seismic=closed")
    assert bad.exit_code == 2 and "test can still influence it" in bad.stderr
    assert "--do test=OPTION" in bad.stderr


def test_cli_query_needs_do_or_policy() -> None:
    bad = run("query", "oil", "--model", str(OIL))
    assert bad.exit_code == 2
    assert "--do DECISION=OPTION" in bad.stderr and "--policy optimal" in bad.stderr
    data = run_json("query", "drill", "--model", str(OIL), "--policy", "optimal")
    assert data["posteriors"]["drill"]["yes"] == pytest.approx(0.59)
    data = run_json("query", "seismic", "--model", str(OIL), "--do", "test=no", "--do", "drill=no")
    assert data["posteriors"]["seismic"]["none"] == pytest.approx(1.0)


def test_cli_voi_decision() -> None:
    data = run_json("voi", "--decision", "test", "--model", str(OIL))
    assert data["evpi"] == {"oil": pytest.approx(32.5)}
    assert data["meu"] == pytest.approx(22.5)


@pytest.mark.parametrize(
    "args",
    [
        ("sensitivity", "oil=wet"),
        ("explain", "oil=wet"),
        ("uncertainty", "oil=wet", "-n", "100"),
        ("scenarios",),
        ("voi", "oil"),
        ("sample", "-n", "5"),
    ],
)
def test_cli_other_commands_refuse_a_diagram(args: tuple[str, ...]) -> None:
    result = run(*args, "--model", str(OIL))
    assert result.exit_code == 2, result.stdout
    assert "influence diagram" in result.stderr


def test_cli_check_counts_decisions() -> None:
    result = run("check", "--model", str(OIL))
    assert result.exit_code == 0
    assert "2 chance nodes, 2 decision(s), 2 utility node(s)" in result.stdout


def test_nuclear_decisions_against_pyagrum() -> None:
    diagram = load_diagram(NUCLEAR)
    solution = solve(diagram)
    ie = pyagrum_solve(diagram)
    assert abs(ie.MEU()["mean"] - solution.meu) < 1e-9
    fixed = solve(diagram, Evidence(do={"nato_response": "conventional_strike"}))
    assert fixed.decisions[0].rows[0].best == "yes"


@pytest.mark.parametrize("path", [OIL, NUCLEAR])
def test_export_xdsl_round_trip(path: Path, tmp_path: Path) -> None:
    from bn.interop.influence_xdsl import read_diagram_xdsl, same_diagram

    out = tmp_path / "model.xdsl"
    result = run("export", "--model", str(path), "--to", str(out))
    assert result.exit_code == 0, result.stderr
    text = out.read_text(encoding="utf-8")
    assert "<decision id=" in text and "<utility id=" in text
    diagram = load_diagram(path)
    back = read_diagram_xdsl(text, out.name)
    assert same_diagram(diagram, back) == ""
    assert solve(back).meu == pytest.approx(solve(diagram).meu, abs=1e-9)


def test_export_other_formats_refuse_decisions(tmp_path: Path) -> None:
    result = run("export", "--model", str(OIL), "--to", str(tmp_path / "oil.bif"))
    assert result.exit_code == 2
    assert "exported as GeNIe XDSL" in result.stderr


def test_draw_decisions(tmp_path: Path) -> None:
    out = tmp_path / "oil.dot"
    data = run_json("draw", "--model", str(OIL), "-o", str(out))
    nodes = {n["id"]: n for n in data["spec"]["nodes"]}
    assert nodes["test"]["kind"] == "decision" and nodes["test"]["best"] == "yes"
    eus = {s["name"]: s["expected_utility"] for s in nodes["test"]["states"]}
    assert eus == {"no": pytest.approx(20.0), "yes": pytest.approx(22.5)}
    assert nodes["drill"]["best"] is None and nodes["drill"]["policy_rows"] == 8
    utilities = {u["id"]: u["expected"] for u in data["spec"]["utilities"]}
    assert sum(utilities.values()) == pytest.approx(data["spec"]["meu"])
    assert utilities["test_cost"] == pytest.approx(-10.0)
    text = out.read_text()
    assert "shape=diamond" in text and "yes (best)" in text
    edges = {(e["source"], e["target"]) for e in data["spec"]["edges"]}
    assert ("seismic", "drill") in edges and ("oil", "payoff") in edges


@pytest.mark.parametrize("path", [OIL, NUCLEAR])
def test_import_export_xdsl_round_trip(path: Path, tmp_path: Path) -> None:
    from bn.interop.influence_xdsl import same_diagram

    xdsl = tmp_path / "model.xdsl"
    assert run("export", "--model", str(path), "--to", str(xdsl)).exit_code == 0
    data = run_json("import", str(xdsl), "--out", str(tmp_path / "back"))
    assert data["decisions"] == list(load_diagram(path).order)
    back = load_diagram(tmp_path / "back")
    assert same_diagram(load_diagram(path), back) == ""
    assert back.title == load_diagram(path).title
    assert solve(back).meu == pytest.approx(solve(load_diagram(path)).meu, abs=1e-12)


def test_random_diagrams_xdsl_round_trip() -> None:
    from bn.interop.influence_xdsl import diagram_xdsl, read_diagram_xdsl, same_diagram

    rng = np.random.default_rng(3)
    for _ in range(20):
        diagram = random_diagram(rng, 4, 2)
        back = read_diagram_xdsl(diagram_xdsl(diagram), "x.xdsl")
        assert same_diagram(diagram, back) == ""
        assert solve(back).meu == pytest.approx(solve(diagram).meu, abs=1e-12)


def test_meu_sensitivity_against_pyagrum() -> None:
    from dataclasses import replace

    from bn.analysis.decide_sensitivity import meu_sensitivity

    diagram = load_diagram(OIL)
    base, cells = meu_sensitivity(diagram)
    assert base.meu == pytest.approx(22.5)
    top = cells[0]
    assert (top.node, top.state, top.low, top.high) == ("oil", "soaking", 0.1, 0.3)
    for theta, meu in ((top.low, top.meu_low), (top.high, top.meu_high)):
        oil = diagram.network["oil"]
        table = np.array([0.5, 0.3]) / 0.8 * (1 - theta)
        moved = replace(oil, table=np.array([*table, theta]))
        changed = diagram.with_network(diagram.network.with_nodes([moved]))
        assert abs(pyagrum_solve(changed).MEU()["mean"] - meu) < 1e-9


def test_cli_sensitivity_meu_json() -> None:
    data = run_json("sensitivity", "--meu", "--model", str(OIL))
    assert data["meu"] == pytest.approx(22.5)
    first = data["cells"][0]
    assert first["node"] == "oil" and first["policy_changes"] is True
    bad = run("sensitivity", "oil=wet", "--meu", "--model", str(OIL))
    assert bad.exit_code == 2


def test_meu_uncertainty_draws(tmp_path: Path) -> None:
    """Each draw is a solve of the drawn tables: the first draws agree with solving them again."""
    from bn.analysis.decide_sensitivity import meu_uncertainty

    diagram = load_diagram(NUCLEAR)
    fixed = Evidence(do={"nato_response": "conventional_strike"})
    result = meu_uncertainty(diagram, fixed, n=50, seed=1)
    again = meu_uncertainty(diagram, fixed, n=50, seed=1)
    assert np.array_equal(result.draws, again.draws)
    assert result.point == pytest.approx(solve(diagram, fixed).meu)
    assert result.uncertain_rows > 0 and np.std(result.draws) > 0
    assert sum(result.first_best.values()) == pytest.approx(1.0)
    data = run_json(
        "uncertainty", "--meu", "-n", "100", "--model", str(NUCLEAR), "--do",
        "nato_response=conventional_strike",
    )  # fmt: skip
    assert data["n"] == 100 and data["target"] == "meu"


@pytest.mark.parametrize("path", [OIL, NUCLEAR])
def test_export_bifxml_loads_in_pyagrum(path: Path, tmp_path: Path) -> None:
    """bn's BIFXML is read by pyAgrum's own loader, and solves to the same MEU."""
    import pyagrum as gum

    out = tmp_path / "model.bifxml"
    assert run("export", "--model", str(path), "--to", str(out)).exit_code == 0
    loaded = gum.loadID(str(out))
    ie = gum.ShaferShenoyLIMIDInference(loaded)
    diagram = load_diagram(path)
    ie.addNoForgettingAssumption(list(diagram.order))
    ie.makeInference()
    assert abs(ie.MEU()["mean"] - solve(diagram).meu) < 1e-9


def test_import_bifxml_saved_by_pyagrum(tmp_path: Path) -> None:
    """A file written by pyAgrum's saveBIFXML (root decisions without a DEFINITION, parents in
    its own order) imports, and solves to the MEU; pyAgrum writes its numbers rounded (about 8
    digits, PITFALLS), hence the tolerance."""
    from decide_oracle import to_pyagrum

    rng = np.random.default_rng(11)
    for i in range(5):
        diagram = random_diagram(rng, 4, 2)
        file = tmp_path / f"d{i}.bifxml"
        to_pyagrum(diagram).saveBIFXML(str(file))
        data = run_json("import", str(file), "--out", str(tmp_path / f"d{i}"))
        assert data["decisions"] == list(diagram.order)
        back = load_diagram(tmp_path / f"d{i}")
        assert solve(back).meu == pytest.approx(solve(diagram).meu, rel=1e-6, abs=1e-6)


def test_a_chance_table_of_a_decision_model_is_edited_like_any_other(tmp_path: Path) -> None:
    model = tmp_path / "oil"
    shutil.copytree(OIL, model)
    edit = run("cpt", "set", "oil", "--probs", "0.4,0.4,0.2", "--model", str(model))
    assert edit.exit_code == 0, edit.output
    assert "still has" not in edit.stderr  # no error is reported where there is none
    assert load_diagram(model).network["oil"].table.tolist() == [0.4, 0.4, 0.2]
    assert run("check", "--model", str(model)).exit_code == 0
