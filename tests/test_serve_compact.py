"""`bn serve` on compact nodes: the parameters shown as `bn cpt show` shows them, what-if edits of
the parameters (checked against the same parameters written into the files), and saving them
through the edit path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import bn
from bn.serve.app import create_app
from tests.conftest import FLAGSHIP, ROOT, run_json

BASE = "http://127.0.0.1:8765"
TOKEN = "test-token"
EXAMPLE = ROOT / "examples" / "compact"
LINK = {"node": "outage", "link": "power=failed", "probabilities": {"yes": 0.5}}


def client(model: Path) -> TestClient:
    app = create_app(model, host="127.0.0.1", port=8765, token=TOKEN)
    return TestClient(app, base_url=BASE)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "model"))


def twin(model: Path, tmp_path: Path, name: str, old: str, new: str) -> Path:
    """A copy of `model` with `old` replaced by `new` in file `name`: the edit written by hand."""
    target = Path(shutil.copytree(model, tmp_path / "twin"))
    text = (target / name).read_text()
    assert text.count(old) == 1, (name, old)
    (target / name).write_text(text.replace(old, new))
    return target


@pytest.mark.parametrize("node", ["outage", "response", "power"])
def test_cpt_is_bn_cpt_show_json(copy: Path, node: str) -> None:
    api = client(copy)
    assert api.get(f"/api/cpt/{node}").json() == run_json("cpt", "show", node, "--model", str(copy))
    expanded = api.get(f"/api/cpt/{node}", params={"expanded": "1"}).json()
    assert expanded == run_json("cpt", "show", node, "--expanded", "--model", str(copy))


@pytest.mark.parametrize(
    ("edit", "name", "old", "new"),
    [
        (LINK, "outage.csv", "power,failed,0.05,0.95", "power,failed,0.5,0.5"),
        ({"node": "outage", "link": "leak", "probabilities": {"no": 0.9, "yes": 0.1}},
         "outage.csv", "leak,,0.99,0.01", "leak,,0.9,0.1"),
        ({"node": "response", "weight": "staffing", "value": 3}, "response.csv",
         "staffing,2,", "staffing,3,"),
        ({"node": "response", "variance": 0.05}, "model.toml",
         "variance = 0.02", "variance = 0.05"),
        ({"node": "response", "function": "wmax"}, "model.toml",
         'function = "wmean"', 'function = "wmax"'),
    ],
)  # fmt: skip
def test_what_if_on_parameters_is_the_file_with_them(
    copy: Path, tmp_path: Path, edit: dict[str, Any], name: str, old: str, new: str
) -> None:
    """An unsaved edit of a link, the leak, a weight, the variance or the function answers as
    the model whose file says so (loaded, checked and expanded by `bn query`)."""
    api = client(copy)
    files = {p.name: p.read_bytes() for p in copy.iterdir()}
    view = api.get("/api/view", params={"cpt": json.dumps(edit)})
    assert view.status_code == 200, view.text
    by_hand = run_json("query", "--all", "--model", str(twin(copy, tmp_path, name, old, new)))
    for node, dist in by_hand["posteriors"].items():
        assert view.json()["query"]["posteriors"][node] == pytest.approx(dist, abs=1e-12)
    plain = run_json("query", "--model", str(copy))["posteriors"]
    for node, dist in plain.items():
        assert view.json()["saved"]["targets"][node] == pytest.approx(dist, abs=1e-12)
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == files  # nothing written


def test_edited_link_expands_by_the_noisy_max_formula(copy: Path) -> None:
    """The expanded table with the edit: with the power failed, the network degraded and the
    rest fine, P(outage = no) = leak 0.99 x link 0.5 x link 0.8."""
    api = client(copy)
    cpt = api.get("/api/cpt/outage", params={"expanded": "1", "cpt": json.dumps(LINK)}).json()
    links = {(r["parent"], r["state"]): r["probabilities"] for r in cpt["parameters"]["links"]}
    assert links[("power", "failed")] == {"no": 0.5, "yes": 0.5}
    model = bn.load(copy)
    index = [
        model["outage"].parent_states[i].index(s)
        for i, s in enumerate(("failed", "degraded", "ok", "ok"))
    ]
    row = cpt["table"][index[0]][index[1]][index[2]][index[3]]
    assert row == pytest.approx([0.99 * 0.5 * 0.8, 1 - 0.99 * 0.5 * 0.8], abs=1e-15)
    plain = client(copy).get("/api/cpt/outage", params={"expanded": "1"}).json()
    assert plain["table"] == model["outage"].table.tolist()


def test_partial_link_keeps_the_rest_in_proportion(copy: Path) -> None:
    """A link edited in one state: the other states share the rest, as in `bn cpt set`."""
    api = client(copy)
    edit = {"node": "outage", "link": "cooling=failed", "probabilities": {"no": 0.6}}
    cpt = api.get("/api/cpt/outage", params={"cpt": json.dumps(edit)}).json()
    row = next(r for r in cpt["parameters"]["links"] if r["state"] == "failed" and
               r["parent"] == "cooling")  # fmt: skip
    assert row["probabilities"] == pytest.approx({"no": 0.6, "yes": 0.4})


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"node": "outage", "link": "power=ok", "probabilities": {"yes": 0.5}},
         "outage has no link 'power=ok'"),
        ({"node": "outage", "link": "leak", "probabilities": {"yes": 1.5}}, "not in [0, 1]"),
        ({"node": "outage", "link": "leak", "probabilities": {"no": 0.7, "yes": 0.7}},
         "sum to 1.4"),
        ({"node": "outage", "link": "leak", "probabilities": {"maybe": 0.5}},
         "'maybe' is not a state of outage"),
        ({"node": "response", "weight": "staffing", "value": -1}, "not positive"),
        ({"node": "response", "weight": "power", "value": 1}, "power is not a parent of response"),
        ({"node": "response", "variance": 0}, "variance: 0 is not positive"),
        ({"node": "response", "function": "median"}, "'median' is not a ranked function"),
        ({"node": "power", "link": "leak", "probabilities": {"ok": 1}}, "power is a full table"),
        ({"node": "response", "link": "leak", "probabilities": {"slow": 1}}, "is a ranked node"),
        ({"node": "outage", "when": {"power": "ok"}, "probabilities": {"yes": 0.5}},
         "power=ok is power's absent state: it has no link"),
    ],
)  # fmt: skip
def test_bad_compact_edits_are_a_400(copy: Path, edit: dict[str, Any], words: str) -> None:
    response = client(copy).get("/api/view", params={"cpt": json.dumps(edit)})
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


HEADERS = {"X-BN-Token": TOKEN, "Origin": BASE}
SAVES = [
    (LINK, "outage.csv", "power,failed,0.05,0.95", "power,failed,0.5,0.5"),
    ({"node": "outage", "link": "leak", "probabilities": {"no": 0.9, "yes": 0.1}},
     "outage.csv", "leak,,0.99,0.01", "leak,,0.9,0.1"),
    ({"node": "outage", "link": "cooling=failed", "probabilities": {"no": 0.6}},
     "outage.csv", "cooling,failed,0.3,0.7", "cooling,failed,0.6,0.4"),
    ({"node": "response", "weight": "staffing", "value": 3}, "response.csv",
     "staffing,2,", "staffing,3,"),
    ({"node": "response", "variance": 0.05}, "model.toml", "variance = 0.02", "variance = 0.05"),
    ({"node": "response", "function": "wmax"}, "model.toml",
     'function = "wmean"', 'function = "wmax"'),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "name", "old", "new"), SAVES)
def test_saving_a_compact_edit_writes_its_parameter(
    copy: Path, tmp_path: Path, edit: dict[str, Any], name: str, old: str, new: str
) -> None:
    """The page's edit, saved: the node's file (or model.toml) says what the edit said, as
    written by hand, every other file is untouched, and the model answers as the page did."""
    api = client(copy)
    view = api.get("/api/view", params={"cpt": json.dumps(edit)}).json()["query"]["posteriors"]
    files = {p.name: p.read_bytes() for p in copy.iterdir()}
    response = api.post(f"/api/cpt/{edit['node']}", json=edit, headers=HEADERS)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["written"] == [name] and body["deleted"] == [] and body["remaining_errors"] == 0
    assert body["cpt"] == run_json("cpt", "show", edit["node"], "--model", str(copy))
    by_hand = twin(EXAMPLE, tmp_path, name, old, new)
    assert (copy / name).read_bytes() == (by_hand / name).read_bytes()
    assert {n: b for n, b in files.items() if n != name} == {
        p.name: p.read_bytes() for p in copy.iterdir() if p.name != name
    }
    assert run_json("check", "--model", str(copy))["problems"] == []
    saved = run_json("query", "--all", "--model", str(copy))["posteriors"]
    for node, dist in saved.items():
        assert view[node] == pytest.approx(dist, abs=1e-12)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"node": "outage", "link": "power=ok", "probabilities": {"yes": 0.5}},
         "outage has no link 'power=ok'"),
        ({"node": "outage", "link": "leak", "probabilities": {"no": 0.7, "yes": 0.7}},
         "sum to 1.4"),
        ({"node": "outage", "link": "leak", "probabilities": {"maybe": 0.5}},
         "'maybe' is not a state of outage"),
        ({"node": "response", "weight": "staffing", "value": -1}, "not positive"),
        ({"node": "response", "variance": 0}, "variance: 0 is not positive"),
        ({"node": "response", "function": "median"}, "'median' is not a ranked function"),
        ({"node": "response", "link": "leak", "probabilities": {"slow": 1}}, "is a ranked node"),
        ({"node": "outage", "weight": "power", "value": 2}, "outage is noisy-max"),
        (["not", "an", "edit"], "the body must be a JSON object"),
    ],
)  # fmt: skip
def test_a_bad_compact_save_is_a_400_and_writes_nothing(copy: Path, edit: Any, words: str) -> None:
    files = {p.name: p.read_bytes() for p in copy.iterdir()}
    node = edit["node"] if isinstance(edit, dict) else "outage"
    response = client(copy).post(f"/api/cpt/{node}", json=edit, headers=HEADERS)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == files


def test_saving_needs_the_token_for_compact_nodes_too(copy: Path) -> None:
    files = {p.name: p.read_bytes() for p in copy.iterdir()}
    response = client(copy).post("/api/cpt/outage", json=LINK, headers={"Origin": BASE})
    assert response.status_code == 403
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == files
    ok = client(copy).post(
        "/api/cpt/power", json={"when": {}, "probabilities": {"ok": 0.9}}, headers=HEADERS
    )
    assert ok.status_code == 200, ok.text  # a full table beside it saves as before


def test_view_runs_the_engine_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`/api/view` infers once for the question (the spec and the answer share it), once more
    for the saved model when there are unsaved edits, and once for a compared scenario."""
    import bn.engine

    calls: list[str] = []
    for name in ("query", "posterior"):
        original = getattr(bn.engine, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kw: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kw)

        monkeypatch.setattr(bn.engine, name, counted)
    api = client(FLAGSHIP)
    for params, expected in (
        ({"e": "kaboom:yes"}, 1),
        ({"e": "kaboom:yes", "compare": "baseline"}, 2),
        ({"cpt": json.dumps({"node": "kaboom", "when": {}, "probabilities": {"yes": 0.5}})}, 2),
    ):
        calls.clear()
        assert api.get("/api/view", params=params).status_code == 200
        assert len(calls) == expected, (params, calls)


def test_view_spec_with_evidence_is_still_bn_draw_json(tmp_path: Path) -> None:
    """The spec built from the answer (nodes fixed by evidence or do() filled in) is the spec
    of `bn draw --json`, on the compact example."""
    params = [("e", "power:failed"), ("do", "staffing:high"), ("soft", "network:degraded:0.4")]
    view = client(EXAMPLE).get("/api/view", params=params).json()
    flags = ["-e", "power=failed", "--do", "staffing=high", "--soft", "network=degraded:0.4"]
    out = run_json("draw", *flags, "-o", str(tmp_path / "n.svg"), "--model", str(EXAMPLE))
    assert view["spec"] == out["spec"]
    forms = {n["id"]: n["form"] for n in view["spec"]["nodes"]}
    assert forms["outage"] == "noisy-max: 9 rows for 81"
    assert forms["power"] is None
