"""Influence diagrams in and out: Hugin NET both ways, and XDSL files saved by GeNIe."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, ROOT, run, run_json
from decide_oracle import pyagrum_solve, random_diagram

from bn.analysis.decide import Solution, solve
from bn.influence import Diagram
from bn.interop.influence_net import diagram_net, read_diagram_net
from bn.interop.influence_xdsl import diagram_files, read_diagram_xdsl, same_diagram
from bn.validate import load_diagram

OIL = ROOT / "examples" / "oil-wildcatter"
NUCLEAR = ROOT / "examples" / "nuclear-decisions"
INFLUENCE = DATA / "influence"


def policies(solution: Solution) -> list[tuple[str, tuple[tuple[str, str], ...], str | None]]:
    return [
        (p.node, tuple(sorted(r.given.items())), r.best) for p in solution.decisions for r in p.rows
    ]


def assert_same_solution(a: Diagram, b: Diagram) -> None:
    """Same MEU (1e-9), same best option on every row, same expected utilities (1e-9)."""
    first, second = solve(a), solve(b)
    assert abs(first.meu - second.meu) < 1e-9
    assert policies(first) == policies(second)
    for p, q in zip(first.decisions, second.decisions, strict=True):
        for r, s in zip(p.rows, q.rows, strict=True):
            for option, value in r.expected_utility.items():
                other = s.expected_utility[option]
                assert (value is None and other is None) or abs(value - other) < 1e-9


def labels(diagram: Diagram) -> dict[str, str]:
    return {n.id: n.label for n in diagram.network} | {u.id: u.label for u in diagram.utilities}


@pytest.mark.parametrize("path", [OIL, NUCLEAR])
def test_net_round_trip_is_identical(path: Path, tmp_path: Path) -> None:
    """bn -> NET -> bn gives the same nodes, options, parents, labels, numbers and title (notes and
    descriptions have no place in NET)."""
    net = tmp_path / "model.net"
    result = run("export", "--model", str(path), "--to", str(net))
    assert result.exit_code == 0, result.stderr
    text = net.read_text(encoding="utf-8")
    assert "\ndecision " in text and "\nutility " in text
    data = run_json("import", str(net), "--out", str(tmp_path / "back"))
    original, back = load_diagram(path), load_diagram(tmp_path / "back")
    assert data["format"] == "net" and data["decisions"] == list(original.order)
    assert same_diagram(original, back, tolerance=0.0) == ""
    assert labels(back) == labels(original) and back.title == original.title
    assert_same_solution(original, back)


def test_random_diagrams_net_round_trip_against_pyagrum() -> None:
    """Read back from NET, the same diagram; solved by pyAgrum, the same MEU where every decision
    influences a utility (pyAgrum errs on the others: see test_decide.test_random_against_pyagrum)."""
    from test_decide import influences_every_utility

    rng = np.random.default_rng(5)
    compared = 0
    for _ in range(30):
        diagram = random_diagram(rng, 4, 2)
        back = read_diagram_net(diagram_net(diagram), "x.net")
        assert same_diagram(diagram, back, tolerance=0.0) == ""
        assert_same_solution(diagram, back)
        if influences_every_utility(diagram):
            assert abs(pyagrum_solve(back).MEU()["mean"] - solve(diagram).meu) < 1e-9
            compared += 1
    assert compared >= 8


def test_genie_file_imports_as_genie_lays_it_out(tmp_path: Path) -> None:
    """pinball.xdsl, saved by GeNIe: parents listed in an order of GeNIe's, a six-parent utility.
    Its `<utilities>` run with the first parent slowest: checked here by indexing the file's own
    numbers by hand, and the whole diagram against pyAgrum."""
    file = INFLUENCE / "pinball.xdsl"
    data = run_json("import", str(file), "--out", str(tmp_path / "pinball"))
    assert data["decisions"] == ["BusinessDecision", "Location", "Setting"]
    diagram = load_diagram(tmp_path / "pinball")
    assert diagram.network["RentalRate"].label == "Rental  Rate"
    text = file.read_text(encoding="latin-1")
    values = [float(v) for v in re.search(r"<utilities>(.*)</utilities>", text).group(1).split()]
    cards = (3, 2, 2, 3, 2, 3)  # BusinessDecision RentalRate Location Setting Fun RevenueLevel

    def u(*index: int) -> float:
        flat = 0
        for i, n in zip(index, cards, strict=True):
            flat = flat * n + i
        return values[flat]

    rent, fun, revenue = [0.25, 0.75], [[0.8, 0.2], [0.5, 0.5], [0.2, 0.8]], [0.185, 0.63, 0.185]

    def eu(business: int, location: int, setting: int) -> float:
        return sum(
            rent[r] * fun[setting][f] * revenue[v] * u(business, r, location, setting, f, v)
            for r in range(2)
            for f in range(2)
            for v in range(3)
        )

    solution = solve(diagram)
    best = max(max(eu(b, loc, s) for loc in range(2) for s in range(3)) for b in range(3))
    assert solution.meu == pytest.approx(best, abs=1e-9)
    assert solution.meu == pytest.approx(0.25 * 490 + 0.75 * 205, abs=1e-9)  # rent them out
    setting = solution.decisions[2]
    row = next(
        r for r in setting.rows if r.given == {"BusinessDecision": "Vending", "Location": "Bar"}
    )
    assert row.expected_utility["Low"] == pytest.approx(eu(0, 0, 2), abs=1e-9)
    assert row.expected_utility["High"] == pytest.approx(eu(0, 0, 0), abs=1e-9)
    assert abs(pyagrum_solve(diagram).MEU()["mean"] - solution.meu) < 1e-9


def test_genie_file_to_net_and_back(tmp_path: Path) -> None:
    """XDSL saved by GeNIe -> bn -> NET -> bn: the same diagram, MEU and policies."""
    run_json("import", str(INFLUENCE / "pinball.xdsl"), "--out", str(tmp_path / "a"))
    net = tmp_path / "pinball.net"
    assert run("export", "--model", str(tmp_path / "a"), "--to", str(net)).exit_code == 0
    run_json("import", str(net), "--out", str(tmp_path / "b"))
    a, b = load_diagram(tmp_path / "a"), load_diagram(tmp_path / "b")
    assert diagram_files(a) == diagram_files(b)
    assert_same_solution(a, b)


def test_our_xdsl_matches_genie_layout() -> None:
    """bn's XDSL has the elements of GeNIe's file in GeNIe's order: `<decision>` with `<state>`s
    then `<parents>`, `<cpt>` with states, parents, probabilities, `<utility>` with parents then
    `<utilities>`; reading bn's text of the GeNIe diagram gives the diagram again."""
    from bn.interop.influence_xdsl import diagram_xdsl

    genie = read_diagram_xdsl((INFLUENCE / "pinball.xdsl").read_text("latin-1"), "pinball.xdsl")
    ours = diagram_xdsl(genie)

    def children(text: str, tag: str) -> list[str]:
        import xml.etree.ElementTree as etree

        found = etree.fromstring(text.encode("latin-1")).find(f"nodes/{tag}[parents]")
        return [c.tag for c in found] if found is not None else []

    theirs = (INFLUENCE / "pinball.xdsl").read_text("latin-1")
    for tag in ("decision", "cpt", "utility"):
        assert children(ours, tag) == children(theirs, tag)
    assert same_diagram(read_diagram_xdsl(ours, "x.xdsl"), genie, tolerance=0.0) == ""


def test_hand_written_hugin_file(tmp_path: Path) -> None:
    """Hugin's own layout (`%` comments after rows, `discrete node`, `HR_` attributes, empty
    labels): Raiffa's 22.5, and pyAgrum's answer."""
    data = run_json("import", str(INFLUENCE / "oil_hugin.net"), "--out", str(tmp_path / "oil"))
    assert data["decisions"] == ["Test", "Drill"]
    diagram = load_diagram(tmp_path / "oil")
    payoff = next(u for u in diagram.utilities if u.id == "Payoff")
    assert payoff.values.tolist() == [[0, 0, 0], [-70, 50, 200]]
    assert diagram.decision("Drill").parents == ("Test", "Seismic")
    assert diagram.network["Test"].label == "Test"  # an empty label: the id
    assert solve(diagram).meu == pytest.approx(22.5, abs=1e-12)
    assert abs(pyagrum_solve(diagram).MEU()["mean"] - 22.5) < 1e-9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("data = ( 0.5 0.3 0.2 );", "data = ( 0.5 0.3 );"),
            "oil_hugin.net:64: error: Oil: 2 numbers",
        ),
        (("potential (Oil)\n{\n    data = ( 0.5 0.3 0.2 );\n}", ""), "Oil has no 'data"),
        (
            ("(TestCost | Test)", "(TestCost | Tset)"),
            "oil_hugin.net:77: error: TestCost has parent",
        ),
        (("0.5 0.3 0.2", "0.5 0.3 0.5"), "Oil: a row of its table does not sum to 1"),
        (("decision Drill", "continuous node Drill"), "'continuous node'"),
    ],
)
def test_bad_net_is_refused_and_nothing_written(
    change: tuple[str, str], message: str, tmp_path: Path
) -> None:
    text = (INFLUENCE / "oil_hugin.net").read_text().replace(*change)
    file = tmp_path / "oil_hugin.net"
    file.write_text(text)
    result = run("import", str(file), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_import_force_refuses_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    stranger = tmp_path / "photos"
    stranger.mkdir()
    (stranger / "cat.jpg").write_bytes(b"\xff\xd8")
    result = run("import", str(INFLUENCE / "oil_hugin.net"), "--out", str(stranger), "--force")
    assert result.exit_code == 2 and "not a model directory" in result.stderr
    assert (stranger / "cat.jpg").exists()


def test_import_force_replaces_a_model_as_one_edit(tmp_path: Path) -> None:
    out = tmp_path / "oil"
    run_json("import", str(INFLUENCE / "oil_hugin.net"), "--out", str(out))
    (out / "extra.csv").write_text("x=a,x=b\n0.5,0.5\n")
    again = run("import", str(INFLUENCE / "pinball.xdsl"), "--out", str(out), "--force")
    assert again.exit_code == 0, again.stderr
    assert not (out / "extra.csv").exists() and load_diagram(out).order[0] == "BusinessDecision"
