"""Every bn command treats a compact node as it treats any other node: each command's answer on a
model with noisy-OR, noisy-MAX and ranked nodes equals its answer on the same model with those
nodes expanded by `bn cpt expand` (numbers to 1e-12), in human and `--json` form.

Two pairs of models: `examples/compact` (a noisy-MAX node with four parents and a ranked node)
with scenarios of every kind, and a copy of the flagship in which `bn cpt fit` made
`crimea_offensive` noisy-OR, `peace_talks` noisy-MAX and `deaths` ranked. What differs by design
(a compact node's form in `bn draw` and `bn cpt show`, its links' ess in `bn sensitivity` and `bn
uncertainty`, which `bn cpt expand` does not carry over) is compared where it is the same: the
point answers.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import FLAGSHIP, ROOT, run
from starlette.testclient import TestClient

import bn
from bn.serve.app import create_app
from bn.validate import load_diagram

EXAMPLE = ROOT / "examples" / "compact"
TOLERANCE = 1e-12

SCENARIOS = """
[scenarios.baseline]
description = "no evidence"

[scenarios.power_failed]
evidence = { power = "failed" }

[scenarios.no_software]
do = { software = "broken" }

[scenarios.rumour]
likelihood = { outage = { yes = 3, no = 1 } }

[scenarios.soft_response]
soft = { response = { fast = 0.5, adequate = 0.3 } }
"""

COMPACT = {
    "example": {"outage": "noisy-max", "response": "ranked"},
    "flagship": {"crimea_offensive": "noisy-or", "peace_talks": "noisy-max", "deaths": "ranked"},
}


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, f"bn {' '.join(args)}: {result.output}{result.stderr}"
    return result.stdout


def make_pair(root: Path, name: str) -> tuple[Path, Path]:
    """(compact, expanded) copies of one model."""
    compact = root / f"{name}-compact"
    if name == "example":
        shutil.copytree(EXAMPLE, compact)
        (compact / "scenarios.toml").write_text(SCENARIOS)
    else:
        shutil.copytree(FLAGSHIP, compact)
        for node, form in COMPACT[name].items():
            ok("cpt", "fit", node, "--form", form, "--model", str(compact))
    expanded = root / f"{name}-expanded"
    shutil.copytree(compact, expanded)
    for node in COMPACT[name]:
        ok("cpt", "expand", node, "--model", str(expanded))
    return compact, expanded


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("pairs")
    return {name: make_pair(root, name) for name in COMPACT}


def same(a: Any, b: Any, where: str = "", ignore: frozenset[str] = frozenset()) -> None:
    """a equals b, floats to TOLERANCE, with the keys in `ignore` left out of dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) - ignore
        assert keys == set(b) - ignore, f"{where}: keys {sorted(keys ^ (set(b) - ignore))}"
        if a.get("file") == "model.toml" and "line" in a:  # the form's keys move the lines
            keys -= {"line"}
        for key in keys:
            same(a[key], b[key], f"{where}.{key}", ignore)
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), f"{where}: {len(a)} items, not {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]", ignore)
    elif isinstance(a, float) or isinstance(b, float):
        assert isinstance(a, int | float) and isinstance(b, int | float), f"{where}: {a} vs {b}"
        assert a == pytest.approx(b, abs=TOLERANCE, nan_ok=True), f"{where}: {a} vs {b}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def same_text(a: str, b: str) -> None:
    """Human output: the same words; numbers as printed may differ only in their last digit."""
    assert NUMBER.sub("#", a) == NUMBER.sub("#", b)
    for x, y in zip(NUMBER.findall(a), NUMBER.findall(b), strict=True):
        digits = len(x.split(".")[1].split("e")[0])
        assert abs(float(x) - float(y)) <= 1.01 * 10.0**-digits, (x, y)


def both(pairs: dict[str, tuple[Path, Path]], name: str, *args: str) -> tuple[str, str]:
    compact, expanded = pairs[name]
    return ok(*args, "--model", str(compact)), ok(*args, "--model", str(expanded))


def both_json(pairs: dict[str, tuple[Path, Path]], name: str, *args: str) -> tuple[Any, Any]:
    a, b = both(pairs, name, *args, "--json")
    return json.loads(a), json.loads(b)


QUESTIONS = {
    "example": [
        [],
        ["-e", "power=failed"],
        ["-e", "outage=yes"],
        ["-e", "response=slow", "-e", "network=degraded"],
        ["--do", "outage=no"],
        ["--do", "response=fast", "-e", "sla_breach=yes"],
        ["--soft", "outage=yes:0.2"],
        ["--likelihood", "response=slow:1,adequate:2,fast:4", "-e", "cooling=failed"],
        ["--scenario", "power_failed", "-e", "software=buggy"],
    ],
    "flagship": [
        [],
        ["-e", "crimea_offensive=yes"],
        ["-e", "peace_talks=talks", "-e", "deaths=billions"],
        ["--do", "peace_talks=agreement"],
        ["--soft", "crimea_offensive=yes:0.4"],
        ["--likelihood", "deaths=1,2,5"],
        ["--scenario", "samotsvety"],
    ],
}
ASKED = [(name, q) for name, questions in QUESTIONS.items() for q in questions]


def free_target(name: str, given: list[str]) -> str:
    """A target the evidence does not name."""
    named = " ".join(given)
    targets = {"example": ("sla_breach", "outage"), "flagship": ("KABOOM", "outcome")}[name]
    return next(t for t in targets if f"{t}=" not in named)


@pytest.mark.parametrize(("name", "given"), ASKED)
def test_query(pairs: dict[str, tuple[Path, Path]], name: str, given: list[str]) -> None:
    same(*both_json(pairs, name, "query", "--all", *given))
    same_text(*both(pairs, name, "query", "--all", *given))


@pytest.mark.parametrize(("name", "given"), ASKED)
def test_explain(pairs: dict[str, tuple[Path, Path]], name: str, given: list[str]) -> None:
    target = free_target(name, given)
    same(*both_json(pairs, name, "explain", target, *given))
    same_text(*both(pairs, name, "explain", target, *given))


@pytest.mark.parametrize(("name", "given"), ASKED)
def test_voi(pairs: dict[str, tuple[Path, Path]], name: str, given: list[str]) -> None:
    target = free_target(name, given)
    same(*both_json(pairs, name, "voi", target, "--all", *given))
    same_text(*both(pairs, name, "voi", target, "--all", *given))


@pytest.mark.parametrize("name", COMPACT)
def test_check(pairs: dict[str, tuple[Path, Path]], name: str) -> None:
    a, b = both_json(pairs, name, "check")
    same(a, b, ignore=frozenset({"model", "path", "directory"}))


@pytest.mark.parametrize("name", COMPACT)
def test_scenarios(pairs: dict[str, tuple[Path, Path]], name: str) -> None:
    same(*both_json(pairs, name, "scenarios"))
    same_text(*both(pairs, name, "scenarios"))
    target = {"example": "outage=yes", "flagship": "deaths=billions"}[name]
    same(*both_json(pairs, name, "scenarios", "--target", target))


def test_query_cases(pairs: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    cases = tmp_path / "cases.csv"
    cases.write_text(
        "power,outage,response,sla_breach\n"
        "failed,,,\n,yes,slow,\nok,no,,yes\n,,fast,no\ndegraded,yes,adequate,yes\n"
    )
    answers = []
    for model in pairs["example"]:
        out = tmp_path / f"{model.name}.json"
        ok("query", "--cases", str(cases), "--all", "-o", str(out), "--model", str(model))
        answers.append(json.loads(out.read_text()))
    same(*answers)


@pytest.mark.parametrize("name", COMPACT)
def test_sample_draws_the_same_cases(pairs: dict[str, tuple[Path, Path]], name: str) -> None:
    a, b = both(pairs, name, "sample", "-n", "300", "--seed", "3")
    assert a == b
    a, b = both(pairs, name, "sample", "-n", "300", "--seed", "3", "--do", "deaths=billions"
                if name == "flagship" else "outage=yes")  # fmt: skip
    assert a == b


def test_calibrate(pairs: dict[str, tuple[Path, Path]]) -> None:
    a, b = both_json(pairs, "flagship", "calibrate", "--dry-run")
    same(a, b, ignore=frozenset({"model"}))


def without_forms(spec: Any) -> Any:
    for node in spec["nodes"]:
        node.pop("form")
    return spec


@pytest.mark.parametrize(("name", "given"), ASKED)
def test_draw_spec(
    pairs: dict[str, tuple[Path, Path]], name: str, given: list[str], tmp_path: Path
) -> None:
    specs = []
    for model in pairs[name]:
        out = tmp_path / f"{model.name}.dot"
        data = json.loads(ok("draw", *given, "-o", str(out), "--json", "--model", str(model)))
        specs.append(without_forms(data["spec"]))
    same(*specs)


@pytest.mark.parametrize("name", COMPACT)
def test_diff_of_a_compact_model_and_its_expansion(
    pairs: dict[str, tuple[Path, Path]], name: str
) -> None:
    """The tables are equal: the diff says only how each compact node's file holds its table."""
    compact, expanded = pairs[name]
    data = json.loads(ok("diff", str(compact), str(expanded), "--json"))
    assert sorted(t["node"] for t in data["tables"]) == sorted(COMPACT[name])
    for entry in data["tables"]:
        assert entry["cells"] == [], entry
        assert entry["form"][0].startswith(COMPACT[name][entry["node"]]), entry
        assert entry["form"][1].startswith("full table"), entry


FORMATS = ("bif", "xmlbif", "xdsl", "net", "uai")


@pytest.mark.parametrize("name", COMPACT)
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_import_round_trip(
    pairs: dict[str, tuple[Path, Path]], name: str, fmt: str, tmp_path: Path
) -> None:
    """Both models export to the same network, which imports back to the same tables."""
    back = []
    for model in pairs[name]:
        out = tmp_path / f"{model.name}.{fmt}"
        ok("export", "-o", str(out), "--model", str(model))
        again = tmp_path / f"{model.name}-{fmt}"
        ok("import", str(out), "-o", str(again))
        back.append(bn.load(again))
    for node in back[1]:
        assert np.abs(back[0][node.id].table - node.table).max() <= TOLERANCE, node.id
    if fmt != "uai":  # UAI has no names: its nodes come back as var_0, var_1, ...
        for node in bn.load(pairs[name][1]):
            assert np.abs(back[0][node.id].table - node.table).max() <= TOLERANCE, node.id


@pytest.mark.parametrize("name", COMPACT)
def test_sensitivity_and_uncertainty_point_answers(
    pairs: dict[str, tuple[Path, Path]], name: str
) -> None:
    """The parameters varied differ by design (links and weights against cells); the answer
    they vary around is the same."""
    target = {"example": "sla_breach", "flagship": "KABOOM"}[name]
    a, b = both_json(pairs, name, "sensitivity", target)
    same(a["baseline"], b["baseline"])
    a, b = both_json(pairs, name, "uncertainty", target, "-n", "200")
    same(a["point"], b["point"])


def serve_answers(model: Path) -> Iterator[tuple[str, Any]]:
    api = TestClient(
        create_app(model, host="127.0.0.1", port=8765, token="t"),
        base_url="http://127.0.0.1:8765",
    )
    info = api.get("/api/model").json()
    yield "/api/model", info
    yield "/api/check", api.get("/api/check").json()
    root = info["nodes"][0]
    for params in ([], [("e", f"{root['id']}:{root['states'][-1]['name']}")]):
        for path in ("/api/query", "/api/voi", "/api/view"):
            target = [("target", info["targets"][0])] if path == "/api/voi" else []
            response = api.get(path, params=[*params, *target])
            assert response.status_code == 200, (path, response.text)
            yield path, response.json()
        for path, key, more in (("/api/sensitivity", "baseline", []),
                                ("/api/uncertainty", "point", [("n", "100")])):  # fmt: skip
            response = api.get(path, params=[*params, ("target", info["targets"][0]), *more])
            assert response.status_code == 200, (path, response.text)
            yield path, response.json()[key]  # the parameters varied differ by design
    for node in info["nodes"]:
        data = api.get(f"/api/cpt/{node['id']}", params={"expanded": "1"}).json()
        if "table" in data:
            yield node["id"], np.reshape(data["table"], (-1, len(data["states"]))).tolist()
        else:
            yield node["id"], [list(r["probabilities"].values()) for r in data["rows"]]


SERVE_IGNORE = frozenset({"form", "command", "model", "version"})  # form: by design


@pytest.mark.parametrize("name", COMPACT)
def test_serve_api(pairs: dict[str, tuple[Path, Path]], name: str) -> None:
    compact, expanded = pairs[name]
    for (what, a), (_, b) in zip(serve_answers(compact), serve_answers(expanded), strict=True):
        same(a, b, what, SERVE_IGNORE)


@pytest.mark.parametrize("name", COMPACT)
def test_cpt_show_expanded_is_the_expanded_table(
    pairs: dict[str, tuple[Path, Path]], name: str
) -> None:
    for node in COMPACT[name]:
        a, b = both_json(pairs, name, "cpt", "show", node, "--expanded")
        assert a["form"] == COMPACT[name][node] and "form" not in b
        rows = [list(r["probabilities"].values()) for r in b["rows"]]
        same(np.reshape(a["table"], (-1, len(b["states"]))).tolist(), rows)
        # the rows read as a full table's: the same parent states and probabilities, in order
        assert [r["when"] for r in a["rows"]] == [r["when"] for r in b["rows"]]
        same([r["probabilities"] for r in a["rows"]], [r["probabilities"] for r in b["rows"]])


@pytest.mark.parametrize("name", COMPACT)
def test_report_numbers(pairs: dict[str, tuple[Path, Path]], name: str, tmp_path: Path) -> None:
    """The brief's answers (headline, scenarios, consequences, value of information) are the same;
    its tables section shows each compact node's parameters (tests/test_forms_display.py)."""
    texts = []
    for model in pairs[name]:
        out = tmp_path / model.name
        ok("report", "-n", "200", "--date", "2026-01-01", "--format", "md", "-o", str(out),
           "--model", str(model))  # fmt: skip
        text = next(out.glob("*.md")).read_text()
        texts.append(text)
    sections = [_answers(t) for t in texts]
    assert sections[0] and sections[0].keys() == sections[1].keys()
    for key in sections[0]:
        same_text(sections[0][key], sections[1][key])


INTERVAL = re.compile(r"\d+(\.\d+)?%?(–| to )\d+(\.\d+)?%?")


def _answers(text: str) -> dict[str, str]:
    """The report's sections that hold answers, without intervals (drawn from ess) or tables."""
    parts = re.split(r"\n(?=## )", text)
    keep = {}
    for part in parts:
        title = part.split("\n", 1)[0]
        words = ("headline", "scenario", "consequence", "would change", "happened", "forecast")
        if any(w in title.lower() for w in words):
            keep[title] = INTERVAL.sub("<interval>", part)
    return keep


def test_pairs_really_differ_in_form(pairs: dict[str, tuple[Path, Path]]) -> None:
    """The comparisons above compare a compact model with a full one, not a model with itself."""
    for name, forms in COMPACT.items():
        compact, expanded = (bn.load(p) for p in pairs[name])
        for node, form in forms.items():
            got = compact[node].form
            assert got is not None and (getattr(got, "form", "ranked") == form)
            assert expanded[node].form is None
            assert np.abs(compact[node].table - expanded[node].table).max() <= TOLERANCE


def test_report_lists_each_forms_parameters(
    pairs: dict[str, tuple[Path, Path]], tmp_path: Path
) -> None:
    """noisy-OR, noisy-MAX and ranked nodes are shown by their parameters in the brief: one row
    per link and the leak, or per weight; the expanded model shows the full rows."""
    shown = {}
    for model in pairs["flagship"]:
        out = tmp_path / model.name
        ok("report", "-n", "200", "--date", "2026-01-01", "--format", "md", "-o", str(out),
           "--model", str(model))  # fmt: skip
        shown[model] = next(out.glob("*.md")).read_text().split("## Tables", 1)[1]
    compact, expanded = pairs["flagship"]
    loaded = bn.load(compact)
    for node, form in COMPACT["flagship"].items():
        parameters = loaded[node].form
        assert parameters is not None
        sizes = []
        for model in (compact, expanded):
            section = shown[model].split(f"(`{node}`)", 1)[1].split("\n### ", 1)[0]
            sizes.append(section.count("\n| ") - 1)  # the rows below the header
            if model == compact:
                words = "Ranked node: a normal" if form == "ranked" else f"{form}: "
                assert words in section, section
        rows = len(parameters.weights) if form == "ranked" else len(parameters.rows)
        assert sizes == [rows, int(np.prod(loaded[node].parent_shape))], node


def test_diff_json_of_a_link_and_a_weight(tmp_path: Path) -> None:
    """`bn diff --json` names a changed link by its one parent state (a full row names every
    parent), its ess as a column, and a ranked weight by its parent; the posteriors move as
    `bn query` says."""
    old = Path(shutil.copytree(EXAMPLE, tmp_path / "old"))
    new = Path(shutil.copytree(EXAMPLE, tmp_path / "new"))
    outage = (new / "outage.csv").read_text()
    assert "power,failed,0.05,0.95,20," in outage
    (new / "outage.csv").write_text(
        outage.replace("power,failed,0.05,0.95,20,", "power,failed,0.1,0.9,30,")
    )
    (new / "response.csv").write_text(
        (new / "response.csv").read_text().replace("staffing,2,", "staffing,3,")
    )
    data = json.loads(ok("diff", str(old), str(new), "--json"))
    cells = {t["node"]: [(c["when"], c["column"], c["old"], c["new"]) for c in t["cells"]]
             for t in data["tables"]}  # fmt: skip
    assert cells == {
        "outage": [({"power": "failed"}, "no", 0.05, 0.1), ({"power": "failed"}, "yes", 0.95, 0.9),
                   ({"power": "failed"}, "ess", 20.0, 30.0)],
        "response": [({"parent": "staffing"}, "weight", 2.0, 3.0)],
    }  # fmt: skip
    assert all(t["form"] is None and t["structure"] is None for t in data["tables"])
    for directory, key in ((old, "old"), (new, "new")):
        query = json.loads(ok("query", "--json", "--model", str(directory)))["posteriors"]
        for node, states in data["posteriors"].items():
            for state, moved in states.items():
                assert moved[key] == pytest.approx(query[node][state], abs=TOLERANCE)


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """examples/nuclear-decisions with a noisy-OR and a ranked chance node, and its expansion."""
    root = tmp_path_factory.mktemp("decisions")
    compact = Path(shutil.copytree(ROOT / "examples" / "nuclear-decisions", root / "compact"))
    forms = {"crimea_offensive": "noisy-or", "deaths": "ranked"}
    for node, form in forms.items():
        ok("cpt", "fit", node, "--form", form, "--model", str(compact))
    expanded = Path(shutil.copytree(compact, root / "expanded"))
    for node in forms:
        ok("cpt", "expand", node, "--model", str(expanded))
    return compact, expanded


@pytest.mark.parametrize(
    "args",
    [
        ["decide"],
        ["decide", "-e", "starlink=cut"],
        ["voi", "--decision", "nato_response"],
        ["query", "deaths", "--policy", "optimal"],
        ["query", "deaths", "--do", "nato_response=limited", "--do", "press_talks=yes"],
    ],
)
def test_decisions_with_compact_chance_nodes(decisions: tuple[Path, Path], args: list[str]) -> None:
    """An influence diagram's compact chance nodes: the same policies, expected utilities and
    answers as with their full tables."""
    compact, expanded = decisions
    assert load_diagram(compact).network["deaths"].form is not None
    answers = [json.loads(ok(*args, "--json", "--model", str(m))) for m in (compact, expanded)]
    same(*answers, ignore=frozenset({"model"}))
    same_text(*(ok(*args, "--model", str(m)) for m in (compact, expanded)))
