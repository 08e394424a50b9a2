"""`bn import` / `bn export`: every format pgmpy reads and writes, round trips, pgmpy's pitfalls,
and bad files. Tables are checked against pyAgrum's own parser, against tables written out by hand
from each format's specification, and against the numbers in the files themselves.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import DATA, run, run_json

import bn
from bn.errors import BNError, FileFormatError
from bn.interop import (
    FORMATS,
    export_network,
    format_for,
    import_network,
    network_text,
    read_network,
)
from bn.interop.pgmpy_fixes import read_variables
from bn.model import Model, Node

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # SWIG's, at import
    import pyagrum as gum

NETWORKS = ["asia", "cancer", "sachs", "child", "alarm"]
EXTENSIONS = {"bif": "bif", "xmlbif": "xml", "xdsl": "xdsl", "net": "net", "uai": "uai"}


@pytest.fixture(scope="module")
def reference() -> dict[str, Model]:
    """Each reference network imported once (the parse is what is tested here)."""
    return {name: read_network(DATA / f"{name}.bif").model for name in NETWORKS}


def assert_same(a: Model, b: Model, labels: bool = True, tolerance: float = 1e-12) -> None:
    """Same nodes, states in the same order, parents, (labels) and tables within tolerance."""
    assert sorted(a.ids) == sorted(b.ids)
    for node in a:
        other = b[node.id]
        assert other.states == node.states, node.id
        assert other.parents == node.parents, node.id
        if labels:
            assert other.label == node.label, node.id
        assert np.max(np.abs(other.table - node.table)) <= tolerance, node.id


def pyagrum_row(net: gum.BayesNet, node: Node, combo: tuple[int, ...]) -> np.ndarray:
    given = {
        p: node.parent_states[i][c]
        for i, (p, c) in enumerate(zip(node.parents, combo, strict=True))
    }
    return np.array(net.cpt(node.id)[given] if given else net.cpt(node.id)[:])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# --- formats --------------------------------------------------------------------------------


def test_format_from_extension_or_option() -> None:
    assert format_for("a/b.XDSL").name == "xdsl"
    assert format_for("model.bifxml").name == "xmlbif"
    assert format_for("model.txt", "net").name == "net"
    with pytest.raises(FileFormatError, match=r"use fmt \(bif, xmlbif, xdsl, net, uai\)"):
        format_for("model.txt")


def test_cli_rejects_unknown_extension(tmp_path: Path) -> None:
    result = run("import", str(write(tmp_path / "m.txt", "x")), "--out", str(tmp_path / "m"))
    assert result.exit_code == 2
    assert "cannot tell the format" in result.stderr
    assert not (tmp_path / "m").exists()


# --- import of the reference networks -------------------------------------------------------


@pytest.mark.parametrize("name", ["asia", "cancer", "sachs", "alarm"])
def test_import_agrees_with_pyagrum_parser(name: str, reference: dict[str, Model]) -> None:
    """pyAgrum parses these files itself (at single precision): same states, same numbers."""
    model = reference[name]
    net = gum.loadBN(str(DATA / f"{name}.bif"))
    assert sorted(model.ids) == sorted(net.names())
    for node in model:
        assert node.states == tuple(net.variable(node.id).labels())
        assert set(node.parents) == {net.variable(p).name() for p in net.parents(node.id)}
        for combo, row in node.rows():
            # 3e-8: float32 in pyAgrum; 1e-7: rows renormalised by bn import (alarm, sachs)
            assert np.allclose(pyagrum_row(net, node, combo), row, atol=2e-7, rtol=0)


def test_child_keeps_state_names_and_rows_exactly(tmp_path: Path) -> None:
    """pyAgrum cannot parse child.bif; its rows are checked against the file's text."""
    out = tmp_path / "child"
    run_json("import", str(DATA / "child.bif"), "--out", str(out))
    model = bn.load(out)
    assert model["LowerBodyO2"].states == ("<5", "5-12", "12+")
    assert model["ChestXray"].states[-1] == "Asy/Patch"
    assert ">=7.5" in model["RUQO2"].states or ">=7.5" in model["CO2Report"].states
    lower = model["LowerBodyO2"]
    assert lower.parents == ("HypDistrib", "HypoxiaInO2")
    assert lower.row(("Equal", "Severe")) == (0.5, 0.4, 0.1)  # line 125
    assert lower.row(("Unequal", "Moderate")) == (0.5, 0.45, 0.05)  # line 127
    assert model["Age"].row(("TGA", "yes")) == (0.8, 0.15, 0.05)  # line 158


def test_imported_alarm_passes_bn_check_with_rows_renormalised(tmp_path: Path) -> None:
    out = tmp_path / "alarm"
    report = run_json("import", str(DATA / "alarm.bif"), "--out", str(out))
    assert report["nodes"] == 37 and report["arcs"] == 46 and report["format"] == "bif"
    assert report["renamed"] == {}
    # six rows of alarm are rounded by up to 1e-7: divided by their sums, and listed
    assert len(report["renormalised"]) == 6
    assert all(1e-12 < abs(r["sum"] - 1) <= 1e-6 for r in report["renormalised"])
    assert {r["node"] for r in report["renormalised"]} == {"HREKG", "HRSAT"}
    check = run("check", "--model", str(out))
    assert check.exit_code == 0, check.output
    model = bn.load(out)
    for node in model:
        assert np.allclose(node.table.sum(axis=-1), 1, atol=1e-15, rtol=0)
    # rows that sum to 1 are kept exactly as written
    assert (out / "PRESS.csv").read_text().splitlines()[1] == "NORMAL,TRUE,ZERO,0.97,0.01,0.01,0.01"


def test_row_sums(tmp_path: Path) -> None:
    text = """network t {{
}}
variable a {{
  type discrete [ 3 ] {{ x, y, z }};
}}
probability ( a ) {{
  table {};
}}
"""
    exact = read_network(write(tmp_path / "exact.bif", text.format("0.1, 0.2, 0.7")))
    assert exact.renormalised == () and exact.model["a"].table.tolist() == [0.1, 0.2, 0.7]
    rounded = read_network(write(tmp_path / "rounded.bif", text.format("0.333, 0.333, 0.333")))
    assert rounded.renormalised[0].total == pytest.approx(0.999)
    assert np.allclose(rounded.model["a"].table, 1 / 3, atol=1e-16)
    with pytest.raises(FileFormatError, match=r"bad.bif:3: error: the row of a sums to 0.9"):
        read_network(write(tmp_path / "bad.bif", text.format("0.2, 0.2, 0.5")))


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("name", ["asia", "child", "alarm"])
def test_round_trip(fmt: str, name: str, reference: dict[str, Model], tmp_path: Path) -> None:
    """import, export, import, export, import: the same model each time (UAI: after the first
    import from UAI, which names nodes and states by position)."""
    first = tmp_path / f"first.{EXTENSIONS[fmt]}"
    second = tmp_path / f"second.{EXTENSIONS[fmt]}"
    export_network(reference[name], first)
    model2 = read_network(first).model
    export_network(model2, second)
    model3 = read_network(second).model
    assert_same(model2, model3)
    if FORMATS[fmt].names:
        assert_same(reference[name], model2)
    else:
        assert [n.card for n in model2] == [n.card for n in reference[name]]
        assert model2["var_0"].states == ("s0", "s1")


@pytest.mark.parametrize("fmt", ["bif", "xmlbif", "xdsl", "net"])
def test_round_trip_through_cli_keeps_labels_and_odd_names(fmt: str, tmp_path: Path) -> None:
    source = write(tmp_path / "odd.xml", ODD_NAMES)
    first = tmp_path / "first"
    run_json("import", str(source), "--out", str(first))
    target = tmp_path / f"exported.{EXTENSIONS[fmt]}"
    exported = run_json("export", "--model", str(first), "--to", str(target))
    assert exported["format"] == fmt and exported["nodes"] == 6
    second = tmp_path / "second"
    run_json("import", str(target), "--out", str(second))
    assert_same(bn.load(first), bn.load(second))


# --- names ----------------------------------------------------------------------------------

ODD_NAMES = """<?xml version="1.0"?>
<BIF VERSION="0.3"><NETWORK><NAME>odd names</NAME>
<VARIABLE TYPE="nature"><NAME>Smoke</NAME><OUTCOME>yes</OUTCOME><OUTCOME>no</OUTCOME>
  <PROPERTY>position = (10, 20)</PROPERTY></VARIABLE>
<VARIABLE TYPE="nature"><NAME>smoke</NAME><OUTCOME>yes</OUTCOME><OUTCOME>no</OUTCOME></VARIABLE>
<VARIABLE TYPE="nature"><NAME>Tuberculosis or cancer</NAME>
  <OUTCOME>NA</OUTCOME><OUTCOME>None</OUTCOME><OUTCOME>&lt;5</OUTCOME></VARIABLE>
<VARIABLE TYPE="nature"><NAME>2nd test</NAME><OUTCOME>pos</OUTCOME><OUTCOME>neg</OUTCOME>
  <PROPERTY>label = Second test, after a positive first</PROPERTY></VARIABLE>
<VARIABLE TYPE="nature"><NAME>ess</NAME><OUTCOME>a</OUTCOME><OUTCOME>b</OUTCOME></VARIABLE>
<VARIABLE TYPE="nature"><NAME>smoke_2</NAME><OUTCOME>a</OUTCOME><OUTCOME>b</OUTCOME></VARIABLE>
<DEFINITION><FOR>Smoke</FOR><TABLE>0.4 0.6</TABLE></DEFINITION>
<DEFINITION><FOR>smoke</FOR><TABLE>0.5 0.5</TABLE></DEFINITION>
<DEFINITION><FOR>Tuberculosis or cancer</FOR><GIVEN>Smoke</GIVEN>
  <TABLE>0.1 0.2 0.7 0.3 0.3 0.4</TABLE></DEFINITION>
<DEFINITION><FOR>2nd test</FOR><GIVEN>Tuberculosis or cancer</GIVEN>
  <TABLE>0.9 0.1 0.2 0.8 0.5 0.5</TABLE></DEFINITION>
<DEFINITION><FOR>ess</FOR><TABLE>0.25 0.75</TABLE></DEFINITION>
<DEFINITION><FOR>smoke_2</FOR><TABLE>0.125 0.875</TABLE></DEFINITION>
</NETWORK></BIF>
"""


def test_names_become_unique_ids_and_states_stay_exact(tmp_path: Path) -> None:
    out = tmp_path / "odd"
    report = run_json("import", str(write(tmp_path / "odd.xml", ODD_NAMES)), "--out", str(out))
    # valid names keep their ids first; the others are made valid and unique ignoring case
    assert report["renamed"] == {
        "smoke": "smoke_3",
        "Tuberculosis or cancer": "Tuberculosis_or_cancer",
        "2nd test": "n_2nd_test",
        "ess": "ess_",
    }
    model = bn.load(out)
    assert sorted(model.ids) == sorted(
        ["Smoke", "smoke_3", "smoke_2", "Tuberculosis_or_cancer", "n_2nd_test", "ess_"]
    )
    assert len({i.lower() for i in model.ids}) == 6
    assert model["smoke_3"].label == "smoke"
    assert model["Tuberculosis_or_cancer"].label == "Tuberculosis or cancer"
    assert model["n_2nd_test"].label == "Second test, after a positive first"  # the file's label
    assert model["Tuberculosis_or_cancer"].states == ("NA", "None", "<5")
    # XMLBIF lists the FOR state fastest: row for Smoke=no is the second triple
    assert model["Tuberculosis_or_cancer"].row(("no",)) == (0.3, 0.3, 0.4)
    answer = run_json("query", "n_2nd_test", "-e", "Tuberculosis_or_cancer=NA", "--model", str(out))
    assert answer["posteriors"]["n_2nd_test"] == {"pos": 0.9, "neg": 0.1}


# --- pgmpy's pitfalls -----------------------------------------------------------------------

SHUFFLED_BIF = """network cancer {
}
variable Pollution {
  type discrete [ 2 ] { low, high };
}
variable Smoker {
  type discrete [ 2 ] { True, False };
}
variable Cancer {
  type discrete [ 2 ] { True, False };
}
probability ( Pollution ) {
  table 0.9, 0.1;
}
probability ( Smoker ) {
  table 0.3, 0.7;
}
probability ( Cancer | Pollution, Smoker ) {
  (high, False) 0.02, 0.98;
  (low, True) 0.03, 0.97;
  (high, True) 0.05, 0.95;
  (low, False) 0.001, 0.999;
}"""


def test_bif_rows_in_any_order_are_matched_by_state_name(tmp_path: Path) -> None:
    """pgmpy issue #1053: rows were once placed by position, not by their parent states.
    (The file also ends without a newline, which pgmpy's block pattern needs.)"""
    cancer = read_network(write(tmp_path / "c.bif", SHUFFLED_BIF)).model["Cancer"]
    assert cancer.row(("high", "False")) == (0.02, 0.98)
    assert cancer.row(("low", "True")) == (0.03, 0.97)
    assert cancer.row(("high", "True")) == (0.05, 0.95)
    assert cancer.row(("low", "False")) == (0.001, 0.999)


def test_bif_table_form_lists_the_child_slowest(tmp_path: Path) -> None:
    text = """network t {
}
variable A {
  type discrete [ 2 ] { a0, a1 };
}
variable B {
  type discrete [ 3 ] { b0, b1, b2 };
}
probability ( A ) {
  table 0.3, 0.7;
}
probability ( B | A ) {
  table 0.1, 0.2, 0.3, 0.4, 0.6, 0.4;
}
"""
    path = write(tmp_path / "t.bif", text)
    node = read_network(path).model["B"]
    assert node.row(("a0",)) == (0.1, 0.3, 0.6)
    assert node.row(("a1",)) == (0.2, 0.4, 0.4)
    net = gum.loadBN(str(path))  # pyAgrum reads it the same way
    assert np.allclose(pyagrum_row(net, node, (1,)), [0.2, 0.4, 0.4])


def genie_xdsl(probabilities: str) -> str:
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<smile version="1.0" id="Network1" numsamples="10000" discsamples="10000">
  <nodes>
    <cpt id="A">
      <state id="a1" /><state id="a2" /><state id="a3" />
      <probabilities>0.2 0.3 0.5</probabilities>
    </cpt>
    <cpt id="B">
      <state id="b1" /><state id="b2" />
      <probabilities>0.6 0.4</probabilities>
    </cpt>
    <cpt id="C">
      <state id="c1" /><state id="c2" /><state id="c3" />
      <parents>A B</parents>
      <probabilities>{probabilities}</probabilities>
    </cpt>
    <deterministic id="D">
      <state id="low" /><state id="high" />
      <parents>B</parents>
      <resultingstates>high low</resultingstates>
    </deterministic>
  </nodes>
  <extensions>
    <genie version="1.0" app="GeNIe 4.0.1922.0" name="Network1">
      <node id="A"><name>Alpha (first parent)</name><position>10 10 82 58</position></node>
      <node id="B"><name>B</name><position>110 10 182 58</position></node>
    </genie>
  </extensions>
</smile>
"""


def test_xdsl_values_run_with_the_last_parent_fastest(tmp_path: Path) -> None:
    """SMILE lists a CPT by parent configurations, first parent slowest, each configuration's
    states together (the layout BayesNets.jl's readxdsl undoes by reversing the parents).
    The numbers here are spread over lines and spaces, as hand-edited files have them."""
    rows = [[0.1 + 0.01 * k, 0.2, 0.7 - 0.01 * k] for k in range(6)]
    text = "\n        ".join("  ".join(str(round(v, 2)) for v in row) for row in rows)
    model = read_network(write(tmp_path / "g.xdsl", genie_xdsl(text))).model
    c = model["C"]
    for k, (i, j) in enumerate(itertools.product(range(3), range(2))):
        assert np.allclose(c.table[i, j], rows[k], atol=1e-15)
    assert model["A"].label == "Alpha (first parent)"
    # a deterministic node becomes its 0/1 table
    assert model["D"].row(("b1",)) == (0.0, 1.0) and model["D"].row(("b2",)) == (1.0, 0.0)


def test_xmlbif_export_keeps_state_names(reference: dict[str, Model], tmp_path: Path) -> None:
    """pgmpy's XMLBIFWriter turns '<5' into '_5' and 'Asy/Patch' into 'Asy_Patch'."""
    path = tmp_path / "child.xml"
    export_network(reference["child"], path)
    text = path.read_text()
    assert "<OUTCOME>&lt;5</OUTCOME>" in text and "<OUTCOME>Asy/Patch</OUTCOME>" in text
    assert "_5<" not in text and "Asy_Patch" not in text
    assert read_network(path).model["LowerBodyO2"].states == ("<5", "5-12", "12+")


def test_net_export_writes_every_digit(tmp_path: Path) -> None:
    """pgmpy's NETWriter rounds to 8 decimals."""
    third = 1 / 3
    node = Node("x", ("a", "b", "c"), (), np.array([third, third, 1 - 2 * third]))
    path = tmp_path / "x.net"
    export_network(Model((node,)), path)
    assert "0.3333333333333333" in path.read_text()
    assert read_network(path).model["x"].table.tolist() == node.table.tolist()


HUGIN_NET = """% A Hugin file: comments start with %
net
{
    node_size = (80 40);
}

node Disease
{
    label = "Disease (the cause)";
    position = (100 200);
    states = ("very high" "low (rare)" "none");
}

discrete node Test
{
    label = "Test result";
    states = ("positive" "negative");
}

potential (Disease)
{
    data = ( 0.2 0.3 0.5 );   % priors
}

potential (Test | Disease)
{
    data = (( 0.9 0.1 )      %  Disease=very high
            ( 0.6 0.4 )      %  Disease=low (rare)
            ( 0.05 0.95 ));  %  Disease=none
}
"""


def test_hugin_net_with_comments_and_spaces_in_state_names(tmp_path: Path) -> None:
    """Hugin files use % comments (pgmpy's NET reader stops at them) and quoted state names that
    may hold spaces and parentheses (pgmpy's NET reader splits them)."""
    model = read_network(write(tmp_path / "h.net", HUGIN_NET)).model
    assert model["Disease"].states == ("very high", "low (rare)", "none")
    assert model["Disease"].label == "Disease (the cause)"
    assert model["Test"].row(("low (rare)",)) == (0.6, 0.4)
    assert model["Test"].row(("none",)) == (0.05, 0.95)


def test_net_written_by_pyagrum(tmp_path: Path) -> None:
    """pyAgrum writes % comments after each row of a table; parents first-slowest."""
    net = gum.fastBN("a{x|y|z}->c{lo|mid|hi}<-b{p|q};c->d")
    net.generateCPTs()
    path = tmp_path / "g.net"
    gum.saveBN(net, str(path))
    assert "%" in path.read_text()
    model = read_network(path).model
    for node in model:
        assert set(node.parents) == {net.variable(p).name() for p in net.parents(node.id)}
        for combo, row in node.rows():
            assert np.allclose(pyagrum_row(net, node, combo), row, atol=1e-7)


@pytest.mark.parametrize("ext", ["bif", "bifxml"])
def test_files_written_by_pyagrum_import(ext: str, tmp_path: Path) -> None:
    net = gum.fastBN("a{x|y|z}->c{lo|mid|hi}<-b{p|q};c->d;a->d")
    net.generateCPTs()
    path = tmp_path / f"g.{ext}"
    gum.saveBN(net, str(path))  # quoted network name (BIF), extra PROPERTY elements (XMLBIF)
    model = read_network(path).model
    for node in model:
        for combo, row in node.rows():
            assert np.allclose(pyagrum_row(net, node, combo), row, atol=1e-6)


SPEC_UAI = """BAYES
3
2 3 2
3
1 0
2 0 1
3 1 0 2
# comment
2
0.3 0.7
6
0.1 0.2 0.7 0.5 0.25 0.25
12
9e-01 0.1 0.8 0.2 0.7 0.3 0.6 0.4 0.5 0.5 0.4 0.6
"""


def test_uai_tables_follow_the_specification(tmp_path: Path) -> None:
    """The last variable of a scope varies fastest and the child is last (UAI 2008 format).
    pgmpy's UAIReader puts the child first, takes parents in arbitrary order and reads no
    exponents (9e-01)."""
    imported = read_network(write(tmp_path / "spec.uai", SPEC_UAI))
    model = imported.model
    assert imported.notes and "s0, s1" in imported.notes[0]
    assert model["var_1"].parents == ("var_0",) and model["var_1"].states == ("s0", "s1", "s2")
    assert model["var_1"].row(("s1",)) == (0.5, 0.25, 0.25)
    node = model["var_2"]
    assert node.parents == ("var_1", "var_0")
    values = [0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.5, 0.5, 0.4, 0.6]
    flat = iter(values)
    for v1 in range(3):
        for v0 in range(2):
            assert node.table[v1, v0].tolist() == [next(flat), next(flat)]


def read_uai_by_hand(text: str) -> tuple[list[int], list[list[int]], list[np.ndarray]]:
    """A reader written from the specification alone: C order over each scope."""
    tokens = iter(text.split())
    assert next(tokens) == "BAYES"
    cards = [int(next(tokens)) for _ in range(int(next(tokens)))]
    scopes = [
        [int(next(tokens)) for _ in range(int(next(tokens)))] for _ in range(int(next(tokens)))
    ]
    tables = []
    for scope in scopes:
        size = int(next(tokens))
        values = np.array([float(next(tokens)) for _ in range(size)])
        tables.append(values.reshape([cards[v] for v in scope]))
    return cards, scopes, tables


def test_uai_export_follows_the_specification(reference: dict[str, Model], tmp_path: Path) -> None:
    model = reference["alarm"]
    path = tmp_path / "alarm.uai"
    exported = export_network(model, path)
    assert "node names" in exported.dropped and "state names" in exported.dropped
    cards, scopes, tables = read_uai_by_hand(path.read_text())
    ids = list(model.ids)  # UAI numbers the variables in the model's order
    for scope, table in zip(scopes, tables, strict=True):
        node = model[ids[scope[-1]]]
        assert [ids[v] for v in scope[:-1]] == list(node.parents)
        assert cards[scope[-1]] == node.card
        assert np.array_equal(table, node.table)


@pytest.mark.parametrize("ext", ["bif", "net", "bifxml"])
def test_exports_read_by_pyagrum(ext: str, reference: dict[str, Model], tmp_path: Path) -> None:
    model = reference["alarm"]
    path = tmp_path / f"alarm.{ext}"
    export_network(model, path)
    net = gum.loadBN(str(path))
    for node in model:
        assert tuple(net.variable(node.id).labels()) == node.states
        for combo, row in node.rows():
            assert np.allclose(pyagrum_row(net, node, combo), row, atol=1e-7, rtol=0)


# --- bad files ------------------------------------------------------------------------------


def failing_import(tmp_path: Path, name: str, text: str) -> str:
    """Import a bad file: exit 2, a message naming the file, and nothing written."""
    source = write(tmp_path / name, text)
    out = tmp_path / "out"
    result = run("import", str(source), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert name in result.stderr
    assert not out.exists() and leftovers(tmp_path) == []
    return result.stderr


def test_truncated_bif(tmp_path: Path) -> None:
    text = (DATA / "alarm.bif").read_text()[:9000]
    message = failing_import(tmp_path, "alarm.bif", text)
    assert "alarm.bif:303: error: the file ends inside the block 'probability ( VENTLUNG" in message
    assert "truncated" in message


def test_bif_syntax_error_names_the_line(tmp_path: Path) -> None:
    lines = (DATA / "asia.bif").read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.strip().startswith("(yes) 0.05"))
    lines[row] = lines[row].replace("0.05", "0.O5")
    message = failing_import(tmp_path, "asia.bif", "\n".join(lines))
    assert f"asia.bif:{row + 1}: error: '0.O5' is not a number" in message


def test_bif_missing_row_and_unknown_state(tmp_path: Path) -> None:
    text = SHUFFLED_BIF.replace("  (low, True) 0.03, 0.97;\n", "").replace(
        "(high, True)", "(hi, True)"
    )
    message = failing_import(tmp_path, "c.bif", text)
    assert "'hi' is not a state of Pollution (low, high)" in message
    assert "missing row(s): (high, True; low, True)" in message.replace("); (", "; ")


def test_cycle(tmp_path: Path) -> None:
    text = SHUFFLED_BIF.replace(
        "probability ( Smoker ) {\n  table 0.3, 0.7;",
        "probability ( Smoker | Cancer ) {\n  (True) 0.3, 0.7;\n  (False) 0.5, 0.5;",
    )
    message = failing_import(tmp_path, "c.bif", text)
    assert re.search(
        r"c.bif:\d+: error: the graph has a cycle: (Cancer|Smoker) -> \w+ -> \1", message
    )


def test_unsupported_continuous_nodes(tmp_path: Path) -> None:
    net = 'net {\n}\ncontinuous node X {\n}\nnode Y {\n  states = ("a" "b");\n}\n'
    net += "potential (Y) {\n  data = (0.5 0.5);\n}\n"
    assert "c.net:3: error: X is a continuous node: unsupported" in failing_import(
        tmp_path, "c.net", net
    )
    xdsl = genie_xdsl("0.2 0.3 0.5 " * 6).replace(
        '<cpt id="B">',
        '<equation id="E"><definition>E=Normal(0,1)</definition></equation>\n<cpt id="B">',
    )
    assert "E is a continuous (equation) node: unsupported" in failing_import(
        tmp_path, "e.xdsl", xdsl
    )
    decision = ODD_NAMES.replace(
        '<VARIABLE TYPE="nature"><NAME>ess', '<VARIABLE TYPE="decision"><NAME>ess'
    )
    assert "ess is a decision variable" in failing_import(tmp_path, "d.xml", decision)
    markov = "MARKOV\n2\n2 2\n1\n2 0 1\n4\n1 2 3 4\n"
    assert "m.uai:1: error: a MARKOV" in failing_import(tmp_path, "m.uai", markov)


def test_truncated_xml_and_uai(tmp_path: Path) -> None:
    xdsl = genie_xdsl("0.2 0.3 0.5 " * 6)[:600]
    where = f"g.xdsl:{xdsl.count(chr(10)) + 1}: error: not well-formed XML"
    assert where in failing_import(tmp_path, "g.xdsl", xdsl)
    uai = SPEC_UAI[:-30]
    message = failing_import(tmp_path, "s.uai", uai)
    assert f"s.uai:{uai.count(chr(10)) + 1}: error: the file ends where a value" in message


def test_empty_and_missing_files(tmp_path: Path) -> None:
    assert "the file is empty" in failing_import(tmp_path, "e.bif", "  \n")
    result = run("import", str(tmp_path / "nope.bif"), "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "nope.bif: no such file" in result.stderr


def test_xmlbif_definition_without_table(tmp_path: Path) -> None:
    """pgmpy skips such a DEFINITION and then has no table for the node."""
    xml = (
        '<?xml version="1.0"?>\n<BIF VERSION="0.3">\n<NETWORK>\n<NAME>t</NAME>\n'
        '<VARIABLE TYPE="nature"><NAME>rain</NAME><OUTCOME>no</OUTCOME><OUTCOME>yes</OUTCOME>'
        "</VARIABLE>\n<DEFINITION><FOR>rain</FOR></DEFINITION>\n</NETWORK>\n</BIF>\n"
    )
    message = failing_import(tmp_path, "t.xml", xml)
    assert "t.xml:5: error: the DEFINITION of rain has no <TABLE>" in message
    source = xml.replace('<?xml version="1.0"?>\n', "")
    with pytest.raises(
        FileFormatError, match=r"t\.xml:5: error: pgmpy cannot read the probability"
    ):
        read_variables("xmlbif", source, "t.xml", ["rain"], {"rain": 5}, {})  # the last guard


def test_uai_counts_must_be_whole_finite_and_match_the_scope(tmp_path: Path) -> None:
    head = "BAYES\n2\n2 2\n2\n1 0\n2 0 1\n"
    tables = "\n2\n0.5 0.5\n4\n0.1 0.9\n0.2 0.8\n"
    nan_size = head + tables.replace("\n4\n", "\nNaN\n")
    assert "n.uai:10: error: 'NaN': a table size must be a whole number" in failing_import(
        tmp_path, "n.uai", nan_size
    )
    infinite = head.replace("2 2", "2 inf") + tables
    assert "i.uai:3: error: 'inf': a cardinality must be a whole number" in failing_import(
        tmp_path, "i.uai", infinite
    )
    huge = head.replace("2 2", "2 99999999999999999999") + tables  # no 10^20 state names
    assert (
        "h.uai:10: error: table 1 has 4 values, 2 x 99999999999999999999 = "
        "199999999999999999998 expected" in failing_import(tmp_path, "h.uai", huge)
    )


def test_net_potential_without_parenthesis_and_states_twice(tmp_path: Path) -> None:
    net = 'net {\n}\nnode A {\n  states = ("a" "b");\n}\npotential (A) {\n  data = (0.5 0.5);\n}\n'
    message = failing_import(tmp_path, "p.net", net.replace("potential (A)", "potential A)"))
    assert "p.net:6: error: unexpected 'potential A)'" in message
    twice = net.replace('("a" "b");', '("a" "b");\n  states = ("a" "b");')
    message = failing_import(tmp_path, "s.net", twice)
    assert "s.net:3: error: node A lists its states twice" in message


def test_numbers_must_be_finite_and_xml_encodings_known(tmp_path: Path) -> None:
    """pgmpy's BIF and NET readers skip `NaN` and misplace the rows after it."""
    text = (DATA / "asia.bif").read_text()
    message = failing_import(tmp_path, "a.bif", text.replace("(yes) 0.05", "(yes) NaN"))
    assert "a.bif:31: error: 'NaN' is not a number" in message
    net = 'net {\n}\nnode A {\n  states = ("a" "b");\n}\npotential (A) {\n  data = (inf 0.5);\n}\n'
    assert "i.net:7: error: 'inf' is not a number" in failing_import(tmp_path, "i.net", net)
    xml = genie_xdsl("0.2 0.3 0.5 " * 6).replace("ISO-8859-1", "utf-nan")
    assert "u.xdsl:1: error: not readable XML (unknown encoding: utf-nan)" in failing_import(
        tmp_path, "u.xdsl", xml
    )


def test_bif_probability_block_without_a_node(tmp_path: Path) -> None:
    text = (DATA / "asia.bif").read_text().replace("probability ( smoke )", "probability (  )")
    message = failing_import(tmp_path, "e.bif", text)
    assert "e.bif:34: error: unexpected 'probability ( )'" in message
    assert "e.bif:9: error: node smoke has no probability table" in message


def test_xml_nodes_without_states(tmp_path: Path) -> None:
    """pgmpy's XMLBIF reader divides by the number of states."""
    xml = (
        '<?xml version="1.0"?>\n<BIF VERSION="0.3">\n<NETWORK>\n<NAME>t</NAME>\n'
        '<VARIABLE TYPE="nature"><NAME>rain</NAME></VARIABLE>\n'
        "<DEFINITION><FOR>rain</FOR><TABLE>1.0</TABLE></DEFINITION>\n</NETWORK>\n</BIF>\n"
    )
    message = failing_import(tmp_path, "t.xml", xml)
    assert "t.xml:5: error: node rain has no states (no <OUTCOME>)" in message
    xdsl = re.sub(r'\s*<state id="b\d"\s*/>', "", genie_xdsl("0.2 0.3 0.5 " * 6))
    assert "g.xdsl:8: error: node B has no states (no <state>)" in failing_import(
        tmp_path, "g.xdsl", xdsl
    )


GARBAGE = (b"NaN", b"-1", b"1e999", b"-inf", b"99999999999999999999", b"0", b"", b"x@!", b"{", b"")
NON_UTF8 = (b"\xff", b"\xc3\x28", b"\x80\x80", b"\xfe\xff\x00")


def mutated(data: bytes, rng: random.Random) -> bytes:
    """`data` after one to three random edits: a line deleted, duplicated or swapped, the end cut
    off, a token or a number replaced by garbage, a bracket or quote dropped, bytes that are not
    UTF-8 inserted."""
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        lines = data.split(b"\n")
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        tokens = list(re.finditer(rb"[^\s,(){}<>;|\"=]+", data))
        numbers = list(re.finditer(rb"\d+(\.\d+)?", data))
        brackets = [m.start() for m in re.finditer(rb"[{}()<>\"]", data)]
        edit = rng.randrange(8)
        if edit == 0:
            del lines[i]
        elif edit == 1:
            lines.insert(i, lines[i])
        elif edit == 2:
            lines[i], lines[j] = lines[j], lines[i]
        if edit <= 2:
            data = b"\n".join(lines)
        elif edit == 3:
            data = data[: rng.randrange(len(data) + 1)]
        elif edit in (4, 5) and (tokens if edit == 4 else numbers):
            t = rng.choice(tokens if edit == 4 else numbers)
            data = data[: t.start()] + rng.choice(GARBAGE) + data[t.end() :]
        elif edit == 6 and brackets:
            k = rng.choice(brackets)
            data = data[:k] + data[k + 1 :]
        elif edit == 7:
            k = rng.randrange(len(data) + 1)
            data = data[:k] + rng.choice(NON_UTF8) + data[k:]
    return data


def valid_files() -> dict[str, bytes]:
    """asia in each format: the BIF file itself, and bn's export of it in the others."""
    model = read_network(DATA / "asia.bif").model
    return {
        EXTENSIONS[name]: (DATA / "asia.bif").read_bytes()
        if name == "bif"
        else network_text(model, form).encode("utf-8")
        for name, form in FORMATS.items()
    }


def test_damaged_files_never_crash(tmp_path: Path) -> None:
    """60 seeded random edits of a valid file per format: each imports (a valid model) or is an
    error naming the file, with exit code 2 and nothing written; never a traceback."""
    exits: dict[str, set[int]] = {}
    for ext, original in valid_files().items():
        rng = random.Random(f"damage-{ext}")
        exits[ext] = set()
        for k in range(60):
            source, out = tmp_path / f"m{k}.{ext}", tmp_path / f"out{k}"
            source.write_bytes(mutated(original, rng))
            result = run("import", str(source), "--out", str(out))  # a traceback raises here
            exits[ext].add(result.exit_code)
            assert result.exit_code in (0, 2), (source.read_bytes(), result.output)
            if result.exit_code == 2:
                assert not out.exists() and source.name in result.stderr, result.stderr
            else:
                bn.load(out)
                shutil.rmtree(out)
            assert leftovers(tmp_path) == []
            source.unlink()
    assert all(2 in codes for codes in exits.values()), exits  # the edits do damage
    assert any(0 in codes for codes in exits.values()), exits  # and some are harmless


# --- the output directory -------------------------------------------------------------------


def test_existing_directory_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "asia"
    run_json("import", str(DATA / "cancer.bif"), "--out", str(out))
    before = sorted(p.name for p in out.iterdir())
    refused = run("import", str(DATA / "asia.bif"), "--out", str(out))
    assert refused.exit_code == 2 and "use --force" in refused.stderr
    assert sorted(p.name for p in out.iterdir()) == before
    run_json("import", str(DATA / "asia.bif"), "--out", str(out), "--force")
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.toml", *(f"{n}.csv" for n in bn.load(out).ids)]
    )
    assert "asia" in bn.load(out).ids and leftovers(tmp_path) == []


def test_force_refuses_to_replace_other_directories(tmp_path: Path) -> None:
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    result = run("import", str(DATA / "asia.bif"), "--out", str(out), "--force")
    assert result.exit_code == 2 and "not a model directory" in result.stderr
    assert (out / "thesis.docx").read_text() == "precious"


def test_failed_import_leaves_an_existing_model_alone(tmp_path: Path) -> None:
    out = tmp_path / "m"
    import_network(DATA / "asia.bif", out)
    bad = write(tmp_path / "bad.bif", SHUFFLED_BIF.replace("0.02, 0.98", "0.02, 0.5"))
    with pytest.raises(FileFormatError, match=r"sums to 0\.52"):
        import_network(bad, out, force=True)
    assert "asia" in bn.load(out).ids and leftovers(tmp_path) == []


# --- export ---------------------------------------------------------------------------------


def test_export_flagship_json_and_what_stays_behind(tmp_path: Path) -> None:
    path = tmp_path / "nuclear.xdsl"
    data = run_json("export", "--model", str(DATA / "chain"), "--to", str(path))
    assert data["file"] == str(path) and data["format"] == "xdsl" and data["nodes"] == 3
    assert data["dropped"] == ["notes", "ess", "aliases", "targets"]
    assert data["warnings"] == []
    model = read_network(path).model
    assert model["nuclear_war"].label == "US-Russia nuclear war"
    assert model["nuclear_war"].row(("yes", "strike")) == (0.3, 0.7)
    again = run("export", "--model", str(DATA / "chain"), "--to", str(path))
    assert again.exit_code == 2 and "use --force" in again.stderr


def test_export_refuses_a_state_name_the_format_cannot_carry(tmp_path: Path) -> None:
    node = Node("x", ("a,b", "c"), (), np.array([0.5, 0.5]))
    path = tmp_path / "x.bif"
    with pytest.raises(FileFormatError, match="BIF cannot carry this model exactly"):
        export_network(Model((node,)), path)
    assert not path.exists() and leftovers(tmp_path) == []
    export_network(Model((node,)), tmp_path / "x.net")  # quoted in NET: fine
    assert read_network(tmp_path / "x.net").model["x"].states == ("a,b", "c")


def test_export_warns_about_genie_identifiers(reference: dict[str, Model], tmp_path: Path) -> None:
    directory = tmp_path / "child"
    bn.csvfiles.write_model(reference["child"], directory)
    result = run("export", "--model", str(directory), "--to", str(tmp_path / "c.xdsl"))
    assert result.exit_code == 0
    assert "GeNIe wants state ids" in result.stderr and "<5" in result.stderr


def test_import_json_schema(tmp_path: Path) -> None:
    data = run_json(
        "import", str(write(tmp_path / "s.uai", SPEC_UAI)), "--out", str(tmp_path / "s")
    )
    assert set(data) == {
        "source",
        "format",
        "model",
        "nodes",
        "arcs",
        "renamed",
        "renormalised",
        "notes",
    }
    assert data["format"] == "uai" and data["nodes"] == 3 and data["arcs"] == 3
    assert json.loads(json.dumps(data)) == data


def test_bn_errors_are_bn_errors() -> None:
    assert issubclass(FileFormatError, BNError)
