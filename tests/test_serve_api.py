"""`bn serve`'s JSON API through Starlette's TestClient: the CLI's `--json`, bad input, security."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import bn
from bn.serve.app import create_app
from tests.conftest import DATA, FLAGSHIP, run, run_json

BASE = "http://127.0.0.1:8765"
TOKEN = "test-token"
POST_HEADERS = {"X-BN-Token": TOKEN, "Origin": BASE}


def client(model: Path, **options: Any) -> TestClient:
    app = create_app(model, host="127.0.0.1", port=8765, token=TOKEN, **options)
    return TestClient(app, base_url=BASE)


@pytest.fixture(scope="module")
def flagship() -> TestClient:
    return client(FLAGSHIP)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(FLAGSHIP, target)
    return target


# --- the CLI's answers ------------------------------------------------------------------------

QUESTIONS = [
    ([], []),
    ([("e", "kaboom:yes")], ["-e", "kaboom=yes"]),
    ([("do", "starlink:cut")], ["--do", "starlink=cut"]),
    ([("soft", "kaboom:yes:0.07")], ["--soft", "kaboom=yes:0.07"]),
    ([("soft", "kaboom:0.9,0.1")], ["--soft", "kaboom=0.9,0.1"]),
    ([("likelihood", "peace_talks:1,2,1")], ["--likelihood", "peace_talks=1,2,1"]),
    ([("likelihood", "battlefield:russia_holding:1,russia_losing:3")],
     ["--likelihood", "battlefield=russia_holding:1,russia_losing:3"]),
    ([("scenario", "samotsvety"), ("e", "western_resolve=firm")],
     ["--scenario", "samotsvety", "-e", "western_resolve=firm"]),
]  # fmt: skip


@pytest.mark.parametrize(("params", "flags"), QUESTIONS)
def test_query_is_bn_query_all_json(flagship: TestClient, params: list[Any], flags: list[str]):
    response = flagship.get("/api/query", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == run_json("query", "--all", *flags, "--model", str(FLAGSHIP))


def test_kaboom_yes_gives_kaboom_56_percent(flagship: TestClient):
    answer = flagship.get("/api/query", params={"e": "kaboom:yes"}).json()
    assert answer["posteriors"]["nuclear_war"]["yes"] == pytest.approx(0.56)


def test_draw_is_the_svg_of_bn_draw(flagship: TestClient, tmp_path: Path):
    response = flagship.get("/api/draw", params={"e": "kaboom:yes", "compare": "baseline"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    out = tmp_path / "n.svg"
    flags = ["-e", "kaboom=yes", "--compare", "baseline", "--model", str(FLAGSHIP), "-o", str(out)]
    assert run("draw", *flags).exit_code == 0
    assert response.content == out.read_bytes()


@pytest.mark.parametrize(
    ("endpoint", "params", "command"),
    [
        ("sensitivity", {"target": "KABOOM=yes", "e": "kaboom:yes"},
         ["sensitivity", "KABOOM=yes", "-e", "kaboom=yes"]),
        ("voi", {"target": "KABOOM", "scenario": "metaculus_low"},
         ["voi", "KABOOM", "--scenario", "metaculus_low"]),
        ("uncertainty", {"target": "KABOOM=yes", "n": "1000", "seed": "3"},
         ["uncertainty", "KABOOM=yes", "-n", "1000", "--seed", "3"]),
    ],
)  # fmt: skip
def test_analyses_are_the_commands_json(
    flagship: TestClient, endpoint: str, params: dict[str, str], command: list[str]
):
    response = flagship.get(f"/api/{endpoint}", params=params)
    assert response.status_code == 200, response.text
    assert response.json() == run_json(*command, "--model", str(FLAGSHIP))


def test_cpt_is_bn_cpt_show_json(flagship: TestClient):
    response = flagship.get("/api/cpt/kaboom")
    assert response.status_code == 200
    assert response.json() == run_json("cpt", "show", "kaboom", "--model", str(FLAGSHIP))


def test_model_lists_nodes_states_and_scenarios(flagship: TestClient):
    model = flagship.get("/api/model").json()
    assert model["targets"] == ["nuclear_war", "nuclear_use"]
    kaboom = next(n for n in model["nodes"] if n["id"] == "nuclear_use")
    assert kaboom["aliases"] == ["kaboom"] and [s["name"] for s in kaboom["states"]] == [
        "no",
        "yes",
    ]
    assert {"name", "description"} <= set(model["scenarios"][0])
    assert "samotsvety" in [s["name"] for s in model["scenarios"]]
    assert model["sources"]


def test_view_holds_the_spec_query_and_command(flagship: TestClient):
    view = flagship.get("/api/view", params=[("e", "kaboom:yes"), ("compare", "baseline")]).json()
    assert view["command"] == "bn query --all -e kaboom=yes"
    assert view["query"] == flagship.get("/api/query", params={"e": "kaboom:yes"}).json()
    war = next(n for n in view["spec"]["nodes"] if n["id"] == "nuclear_war")
    assert war["states"][1]["change"] == pytest.approx(0.56 - 0.168)


def test_view_spec_is_bn_draw_json_spec(flagship: TestClient, tmp_path: Path):
    params = [("soft", "kaboom:yes:0.07"), ("scenario", "starlink_cut"), ("compare", "baseline")]
    view = flagship.get("/api/view", params=params).json()
    flags = ["--soft", "kaboom=yes:0.07", "--scenario", "starlink_cut", "--compare", "baseline"]
    out = run_json("draw", *flags, "-o", str(tmp_path / "n.svg"), "--model", str(FLAGSHIP))
    assert view["spec"] == out["spec"]
    assert view["draw_command"] == "bn draw --compare baseline " + " ".join(flags[:4])


def test_bad_unsaved_edits_are_a_400(flagship: TestClient):
    for edit, word in (
        ({"node": "nope", "when": {}, "probabilities": {"yes": 0.5}}, "unknown node 'nope'"),
        ({"node": "kaboom", "when": {"battlefield": "x"}, "probabilities": {"yes": 0.5}}, "'x'"),
        ({"node": "kaboom", "when": {}, "probabilities": {"yes": 2}}, "not a probability"),
    ):
        response = flagship.get("/api/query", params={"cpt": json.dumps(edit)})
        assert response.status_code == 400, response.text
        assert word in response.json()["error"]


def test_layout_places_every_node(flagship: TestClient):
    placed = flagship.get("/api/layout").json()
    flagship_model = bn.load(FLAGSHIP)
    assert set(placed["nodes"]) == set(flagship_model.ids) and len(placed["edges"]) > 10
    assert all(box["w"] > 0 and box["h"] > 0 for box in placed["nodes"].values())


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"e": "kaboom:maybe"}, ["'maybe' is not a state of nuclear_use", "no, yes"]),
        ({"e": "kabom:yes"}, ["unknown node", "kaboom"]),
        ({"e": "kaboom"}, ["not of the form"]),
        ({"soft": "kaboom:yes:x"}, ["'x' is not a number"]),
        ({"likelihood": "kaboom:1"}, ["gives 1 numbers", "2 states"]),
        ({"scenario": "nope"}, ["unknown scenario 'nope'", "samotsvety"]),
        ({"zzz": "1"}, ["unknown query parameter 'zzz'"]),
        ({"scenario": " "}, ["scenario is empty"]),
        ({"cpt": "{not json"}, ["cpt=", "JSON object"]),
        ([("e", "kaboom:yes"), ("e", "kaboom:no")], ["e names kaboom twice"]),
    ],
)
def test_bad_input_is_a_400_with_the_cli_message(
    flagship: TestClient, params: Any, words: list[str]
):
    response = flagship.get("/api/query", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) >= {"error", "hint"}
    for word in words:
        assert word in body["error"]


def test_impossible_evidence_is_a_400(tmp_path: Path):
    # A model where nuclear_war=yes needs nuclear_use=yes: observing both otherwise is impossible.
    response = client(FLAGSHIP).get("/api/query", params=[("e", "kaboom:no"), ("e", "KABOOM:yes")])
    assert response.status_code == 400
    assert "impossible" in response.json()["error"]


@pytest.mark.parametrize(
    ("endpoint", "params", "words"),
    [
        ("sensitivity", {}, ["target is missing"]),
        ("sensitivity", {"target": "KABOOM", "range": "2"}, ["range must be"]),
        ("uncertainty", {"target": "KABOOM", "n": "5"}, ["n must be", "100"]),
        ("voi", {"target": "nope"}, ["unknown node 'nope'"]),
        ("cpt/nope", {}, ["nope"]),
        ("draw", {"depth": "1"}, ["depth needs"]),
    ],
)
def test_analysis_bad_input(flagship: TestClient, endpoint: str, params: Any, words: list[str]):
    response = flagship.get(f"/api/{endpoint}", params=params)
    assert response.status_code == 400, response.text
    for word in words:
        assert word in response.json()["error"]


def test_invalid_model_is_a_409_with_the_problems_then_recovers(copy: Path):
    api = client(copy)
    assert api.get("/api/query").status_code == 200
    original = (copy / "starlink.csv").read_text(encoding="utf-8")
    (copy / "starlink.csv").write_text(original.replace("\n0.6,", "\n0.9,"), encoding="utf-8")
    broken = api.get("/api/query")
    assert broken.status_code == 409
    problems = broken.json()["problems"]
    assert problems and set(problems[0]) == {"file", "line", "severity", "message", "hint"}
    check = run("check", "--model", str(copy), "--json")
    assert check.exit_code == 2 and problems == json.loads(check.stdout)["problems"]
    assert api.get("/api/version").json()["valid"] is False
    (copy / "starlink.csv").write_text(original, encoding="utf-8")
    assert api.get("/api/query").status_code == 200


def test_version_changes_when_a_file_changes(copy: Path):
    api = client(copy)
    before = api.get("/api/version").json()["version"]
    path = copy / "starlink.csv"
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert api.get("/api/version").json()["version"] != before


# --- what-if and saving -----------------------------------------------------------------------

EDIT = {"node": "kaboom", "when": {"battlefield": "russia_losing", "crimea_offensive": "yes",
        "peace_talks": "none"}, "probabilities": {"yes": 0.9}}  # fmt: skip


def test_unsaved_edit_is_computed_in_memory_and_writes_nothing(copy: Path):
    api = client(copy)
    files = {p.name: p.read_bytes() for p in copy.glob("*.csv")}
    plain = api.get("/api/query").json()["posteriors"]["nuclear_war"]["yes"]
    view = api.get("/api/view", params={"cpt": json.dumps(EDIT)}).json()
    edited = view["query"]["posteriors"]["nuclear_war"]["yes"]
    assert edited > plain
    assert view["saved"]["targets"]["nuclear_war"]["yes"] == pytest.approx(plain)
    assert {p.name: p.read_bytes() for p in copy.glob("*.csv")} == files


def test_save_is_bn_cpt_set(copy: Path, tmp_path: Path):
    twin = tmp_path / "twin"
    shutil.copytree(copy, twin)
    api = client(copy)
    body = {"when": EDIT["when"], "probabilities": EDIT["probabilities"], "note": "a test"}
    response = api.post("/api/cpt/kaboom", json=body, headers=POST_HEADERS)
    assert response.status_code == 200, response.text
    assert response.json()["written"] == ["nuclear_use.csv"]
    when = ",".join(f"{k}={v}" for k, v in EDIT["when"].items())
    cli = run(
        "cpt", "set", "kaboom", "--when", when, "yes=0.9", "--note", "a test", "--model", str(twin)
    )
    assert cli.exit_code == 0, cli.stderr
    assert (copy / "nuclear_use.csv").read_bytes() == (twin / "nuclear_use.csv").read_bytes()
    text = (copy / "nuclear_use.csv").read_text(encoding="utf-8")
    assert text.startswith("#")  # the file's comments are kept


def test_save_refuses_a_bad_edit_and_changes_nothing(copy: Path):
    before = (copy / "nuclear_use.csv").read_bytes()
    api = client(copy)
    body = {"when": {"battlefield": "nowhere"}, "probabilities": {"yes": 0.5}}
    response = api.post("/api/cpt/kaboom", json=body, headers=POST_HEADERS)
    assert response.status_code == 400
    assert "nowhere" in response.json()["error"]
    too_much = {"when": {}, "probabilities": {"yes": 1.5}}
    assert api.post("/api/cpt/kaboom", json=too_much, headers=POST_HEADERS).status_code == 400
    assert (copy / "nuclear_use.csv").read_bytes() == before


# --- security ---------------------------------------------------------------------------------


def test_post_needs_the_token(copy: Path):
    api = client(copy)
    body = {"when": {}, "probabilities": {"available": 0.5}}
    for headers in ({"Origin": BASE}, {"Origin": BASE, "X-BN-Token": "guess"}):
        response = api.post("/api/cpt/starlink", json=body, headers=headers)
        assert response.status_code == 403
        assert "token" in response.json()["error"]


def test_post_checks_the_origin(copy: Path):
    api = client(copy)
    body = {"when": {}, "probabilities": {"available": 0.5}}
    for origin in ("http://evil.example", "null", None):
        headers = {"X-BN-Token": TOKEN, **({"Origin": origin} if origin else {})}
        assert api.post("/api/cpt/starlink", json=body, headers=headers).status_code == 403


def test_read_only_and_the_packaged_model_refuse_saving(copy: Path):
    body = {"when": {}, "probabilities": {"available": 0.5}}
    for api in (client(copy, read_only=True), client(FLAGSHIP)):
        response = api.post("/api/cpt/starlink", json=body, headers=POST_HEADERS)
        assert response.status_code == 403
        assert "saving is off" in response.json()["error"]


def test_host_header_must_be_the_served_host(flagship: TestClient):
    for host in ("evil.example", "evil.example:8765", "127.0.0.1:9999"):
        response = flagship.get("/api/model", headers={"Host": host})
        assert response.status_code == 403, host
    assert flagship.get("/api/model", headers={"Host": "localhost:8765"}).status_code == 200


def test_bodies_over_one_megabyte_are_refused(copy: Path):
    api = client(copy)
    big = b'{"when": {}, "note": "' + b"x" * 1_100_000 + b'"}'
    response = api.post("/api/cpt/starlink", content=big, headers=POST_HEADERS)
    assert response.status_code == 413

    def chunks() -> Any:  # no Content-Length: the stream is counted
        for _ in range(12):
            yield b"x" * 100_000

    response = api.post("/api/cpt/starlink", content=chunks(), headers=POST_HEADERS)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/%2e%2e/%2e%2e/pyproject.toml",
        "/static/app.py",
        "/static/index.html/../../app.py",
        "/static//etc/passwd",
        "/../../etc/passwd",
    ],
)
def test_no_file_outside_the_assets_is_served(flagship: TestClient, path: str):
    response = flagship.get(path)
    assert response.status_code == 404
    assert "import" not in response.text and "root:" not in response.text


def test_unknown_endpoints_and_methods_answer_json(flagship: TestClient):
    missing = flagship.get("/api/nothing")
    assert missing.status_code == 404 and "no such endpoint" in missing.json()["error"]
    wrong = flagship.delete("/api/query")
    assert wrong.status_code == 405 and "DELETE" in wrong.json()["error"]
    bad = flagship.post("/api/cpt/starlink", headers={**POST_HEADERS, "Content-Length": "x"})
    assert bad.status_code == 400


def test_the_page_and_its_assets(flagship: TestClient):
    page = flagship.get("/")
    assert (
        page.status_code == 200 and "default-src 'self'" in page.headers["content-security-policy"]
    )
    assert TOKEN in page.text and "{{CONFIG}}" not in page.text
    for name in ("app.js", "style.css"):
        assert flagship.get(f"/static/{name}").status_code == 200
    assert "http" not in flagship.get("/static/app.js").text.replace("http://www.w3.org", "")


def test_hostile_model_text_is_escaped():
    api = client(DATA / "hostile")
    model = api.get("/api/model").json()
    assert "<script>" in model["title"]  # JSON carries the text as it is; the page sets textContent
    svg = api.get("/api/draw").text
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "<script>" not in api.get("/").text.split("</script>", 1)[0].split("bn-config")[1]


# --- the command ------------------------------------------------------------------------------


def test_bn_serve_prints_its_url_first_and_stops_cleanly():
    import signal
    import urllib.request

    from tests.browser import Server

    for sig in (signal.SIGINT, signal.SIGTERM):
        server = Server(FLAGSHIP, "--read-only")
        assert server.url.startswith("http://127.0.0.1:") and server.url.endswith("/")
        with urllib.request.urlopen(server.url + "api/version") as response:
            assert json.load(response)["valid"] is True
        assert server.stop(sig) == 0


def test_bn_serve_warns_on_a_non_loopback_host():
    from tests.browser import Server

    server = Server(FLAGSHIP, "--host", "0.0.0.0")
    server.stop()
    assert "anyone who can reach this address can read the model" in server.errors
    result = run("serve", "--model", "")
    assert result.exit_code == 2 and "--model is empty" in result.stderr
