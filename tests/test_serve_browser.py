"""The `bn serve` page in a real chromium (Debian's), driven by Playwright.

The page keeps a contract for these tests: `[data-node]` per node, `[data-node][data-state][data-p]`
per state (a click toggles hard evidence), `select[name=scenario]`, `[data-role=command]`,
`[data-role=unsaved]` and `[data-role=problems]`. `body[data-updates]` counts the answers drawn.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import bn
from tests.browser import INSTALL, Server, chromium, launch
from tests.conftest import DATA, FLAGSHIP, run

sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev extra)")
if chromium() is None:
    pytest.skip(f"browser tests need chromium: {INSTALL}", allow_module_level=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chrome = launch(playwright)
        yield chrome
        chrome.close()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the flagship that the tests may change (each puts back what it changed)."""
    target = tmp_path_factory.mktemp("serve") / "model"
    shutil.copytree(FLAGSHIP, target)
    return target


@pytest.fixture(scope="module")
def server(model: Path) -> Iterator[Server]:
    running = Server(model)
    yield running
    assert running.stop() == 0  # SIGTERM stops it cleanly


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    context.close()
    assert not errors


def open_page(page: Any, url: str) -> Any:
    page.goto(url)
    page.wait_for_function("Number(document.body.dataset.updates) >= 1")
    return page


def updates(page: Any) -> int:
    return int(page.get_attribute("body", "data-updates"))


def after(page: Any, count: int) -> None:
    page.wait_for_function("n => Number(document.body.dataset.updates) > n", arg=count)


def p(page: Any, node: str, state: str) -> float:
    return float(page.get_attribute(f'[data-node="{node}"][data-state="{state}"]', "data-p"))


def api(server: Server, path: str) -> Any:
    with urllib.request.urlopen(server.url.rstrip("/") + path) as response:
        return json.load(response)


def click(page: Any, node: str, state: str) -> None:
    count = updates(page)
    page.click(f'[data-node="{node}"][data-state="{state}"]')
    after(page, count)


def test_page_loads_with_every_node_and_state(page: Any, server: Server):
    open_page(page, server.url)
    assert page.locator("g.node[data-node]").count() == len(bn.load(FLAGSHIP))
    assert p(page, "nuclear_war", "yes") == pytest.approx(0.168, abs=1e-6)
    assert page.text_content("[data-role=command]") == "bn query --all --model " + str(
        Path(server.process.args[-1])  # type: ignore[index]
    )


def test_clicking_kaboom_yes_shows_kaboom_at_56_percent(page: Any, server: Server):
    open_page(page, server.url)
    click(page, "nuclear_use", "yes")
    row = page.locator('[data-node="nuclear_war"][data-state="yes"]')
    assert row.locator("text.pct").text_content() == "56.0%"
    assert p(page, "nuclear_war", "yes") == pytest.approx(0.56, abs=1e-6)
    assert "e=nuclear_use%3Ayes" in page.url
    assert "-e nuclear_use=yes" in page.text_content("[data-role=command]")
    click(page, "nuclear_use", "yes")  # again: cleared
    assert p(page, "nuclear_war", "yes") == pytest.approx(0.168, abs=1e-6)
    count = updates(page)  # the keyboard does the same: Tab to a state, Enter
    page.focus('[data-node="nuclear_use"][data-state="yes"]')
    page.keyboard.press("Enter")
    after(page, count)
    assert p(page, "nuclear_war", "yes") == pytest.approx(0.56, abs=1e-6)


def panel(page: Any, node: str) -> None:
    page.click(f'g.node[data-node="{node}"] g.head')
    page.wait_for_selector(f'form.evidence[aria-label="evidence on {node}"]')


def test_do_soft_and_likelihood_from_the_panel(page: Any, server: Server):
    open_page(page, server.url)
    panel(page, "starlink")
    count = updates(page)
    page.select_option("form.evidence select[name=kind]", "do")
    after(page, count)
    count = updates(page)
    page.select_option("form.evidence select[name=state]", "cut")
    page.click("form.evidence button[type=submit]")
    after(page, count)
    expected = api(server, "/api/query?do=starlink:cut")["posteriors"]["nuclear_war"]["yes"]
    assert p(page, "nuclear_war", "yes") == pytest.approx(expected, abs=1e-12)
    assert page.locator('g.node.mark-do[data-node="starlink"]').count() == 1

    panel(page, "nuclear_use")
    page.select_option("form.evidence select[name=kind]", "soft")
    count = updates(page)
    page.fill("form.evidence input[name=slider]", "0.07")
    after(page, count)
    page.wait_for_function(
        "() => Math.abs(Number(document.querySelector("
        "'[data-node=nuclear_use][data-state=yes]').dataset.p) - 0.07) < 1e-9"
    )
    expected = api(server, "/api/query?do=starlink:cut&soft=nuclear_use:0.93,0.07")
    assert p(page, "nuclear_war", "yes") == pytest.approx(
        expected["posteriors"]["nuclear_war"]["yes"], abs=1e-9
    )

    panel(page, "peace_talks")
    page.select_option("form.evidence select[name=kind]", "likelihood")
    for state, weight in (("none", "1"), ("talks", "2"), ("agreement", "1")):
        page.fill(f"form.evidence input[name=w-{state}]", weight)
    count = updates(page)
    page.click("form.evidence button[type=submit]")
    after(page, count)
    query = "do=starlink:cut&soft=nuclear_use:0.93,0.07&likelihood=peace_talks:1,2,1"
    expected = api(server, "/api/query?" + query)["posteriors"]
    assert p(page, "peace_talks", "talks") == pytest.approx(expected["peace_talks"]["talks"])
    assert "--likelihood peace_talks=1,2,1" in page.text_content("[data-role=command]")


def test_scenario_picker_and_compare(page: Any, server: Server):
    open_page(page, server.url)
    count = updates(page)
    page.select_option("select[name=scenario]", "samotsvety")
    after(page, count)
    expected = api(server, "/api/query?scenario=samotsvety")["posteriors"]["nuclear_war"]["yes"]
    assert p(page, "nuclear_war", "yes") == pytest.approx(expected, abs=1e-12)
    count = updates(page)
    page.select_option("select[name=compare]", "baseline")
    after(page, count)
    change = page.locator('[data-node="nuclear_war"][data-state="yes"] text.change').text_content()
    assert change == f"{(expected - 0.168) * 100:+.1f} pts"
    assert "compare=baseline" in page.url and "scenario=samotsvety" in page.url


def test_url_round_trip_in_a_fresh_page(page: Any, browser: Any, server: Server):
    open_page(page, server.url + "?e=kaboom:yes&do=starlink:cut&node=nuclear_war")
    click(page, "western_resolve", "wavering")
    states = page.eval_on_selector_all(
        "[data-state]", "rows => rows.map(r => [r.dataset.node, r.dataset.state, r.dataset.p])"
    )
    context = browser.new_context(bypass_csp=True)
    fresh = open_page(context.new_page(), page.url)
    again = fresh.eval_on_selector_all(
        "[data-state]", "rows => rows.map(r => [r.dataset.node, r.dataset.state, r.dataset.p])"
    )
    assert again == states
    assert fresh.text_content("[data-role=command]") == page.text_content("[data-role=command]")
    assert fresh.locator("g.node.selected[data-node=nuclear_war]").count() == 1
    context.close()


def test_live_reload_after_a_file_changes(page: Any, server: Server, model: Path):
    open_page(page, server.url + "?e=kaboom:yes")
    page.evaluate("window.notReloaded = true")
    before = page.get_attribute('[data-node="starlink"][data-state="cut"]', "data-p")
    path = model / "starlink.csv"
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("\n0.6,0.3,0.1,", "\n0.2,0.3,0.5,"), encoding="utf-8")
        start = time.perf_counter()
        page.wait_for_function(
            "before => { const p = document.querySelector('[data-node=starlink][data-state=cut]')"
            ".dataset.p; return p && p !== before; }",
            arg=before,
            timeout=4000,
        )
        expected = api(server, "/api/query?e=kaboom:yes")["posteriors"]["starlink"]["cut"]
        assert p(page, "starlink", "cut") == pytest.approx(expected, abs=1e-12)
        assert time.perf_counter() - start < 2.5
        assert page.evaluate("window.notReloaded") is True
        assert "e=kaboom" in page.url  # the question is kept
    finally:
        path.write_text(original, encoding="utf-8")


def test_invalid_model_shows_problems_and_recovers(page: Any, server: Server, model: Path):
    open_page(page, server.url)
    path = model / "starlink.csv"
    original = path.read_text(encoding="utf-8")
    try:
        path.write_text(original.replace("\n0.6,0.3,0.1,", "\n0.9,0.3,0.1,"), encoding="utf-8")
        page.wait_for_selector("[data-role=problems]:not([hidden])", timeout=4000)
        assert "sums to 1.3" in page.text_content("[data-role=problems]")
        assert "starlink.csv:5" in page.text_content("[data-role=problems]")
    finally:
        path.write_text(original, encoding="utf-8")
    page.wait_for_selector("[data-role=problems]", state="hidden", timeout=4000)
    page.wait_for_selector("#canvas:not([hidden])")
    assert p(page, "nuclear_war", "yes") == pytest.approx(0.168, abs=1e-6)


def edit_cell(page: Any, value: str) -> None:
    panel(page, "starlink")
    cell = page.locator('input[data-cell^="starlink|{}|cut"]')
    count = updates(page)
    cell.fill(value)
    cell.dispatch_event("change")
    after(page, count)
    page.wait_for_selector("[data-role=unsaved]")


def test_edit_revert_and_save(page: Any, server: Server, model: Path):
    path = model / "starlink.csv"
    original = path.read_text(encoding="utf-8")
    open_page(page, server.url)
    edit_cell(page, "0.3")
    assert p(page, "starlink", "cut") == pytest.approx(0.3)
    assert p(page, "nuclear_war", "yes") != pytest.approx(0.168, abs=1e-6)
    assert "P(nuclear_war=yes) 16.8% →" in page.text_content("[data-role=unsaved]")
    assert path.read_text(encoding="utf-8") == original  # nothing written yet
    count = updates(page)
    page.click("[data-role=unsaved] #revert")
    after(page, count)
    # the count may have moved for another update (the page also polls the model's version; the
    # full suite failed here once under load): wait for the revert's answer to remove the notice
    page.wait_for_selector("[data-role=unsaved]", state="detached")
    assert page.locator("[data-role=unsaved]").count() == 0
    assert p(page, "starlink", "cut") == pytest.approx(0.1)
    try:
        edit_cell(page, "0.3")
        page.click("[data-role=unsaved] #save")
        page.wait_for_selector("[data-role=saved]")
        assert "cut 0.1 -> 0.3" in page.text_content("[data-role=saved]")
        text = path.read_text(encoding="utf-8")
        assert text != original
        assert text.splitlines()[:4] == original.splitlines()[:4]  # comments and header kept
        assert text.splitlines()[4].startswith("0.4")
        assert page.locator("[data-role=unsaved]").count() == 0
        assert p(page, "starlink", "cut") == pytest.approx(0.3)
    finally:
        path.write_text(original, encoding="utf-8")


def test_hostile_labels_stay_text_and_read_only_has_no_save(browser: Any):
    server = Server(DATA / "hostile", "--read-only")
    try:
        context = browser.new_context(bypass_csp=True)
        tab = context.new_page()
        dialogs: list[str] = []
        tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        open_page(tab, server.url)
        assert "<script>" in tab.text_content("#title")
        assert tab.locator("script").count() == 2  # the config and app.js, nothing injected
        assert tab.locator("#network b, #network script").count() == 0
        tab.click('g.node[data-node="evil"] g.head')
        tab.wait_for_selector("form.evidence")
        assert "<b>bold?</b>" in tab.text_content("#node-panel h2")
        assert "<note>" in tab.text_content("#node-panel table")
        # --read-only: what-if works, saving is absent
        cell = tab.locator("input[data-cell]").first
        count = updates(tab)
        cell.fill("0.4")
        cell.dispatch_event("change")
        after(tab, count)
        assert tab.locator("[data-role=unsaved]").count() == 1
        assert tab.locator("#save").count() == 0
        assert not dialogs
        context.close()
    finally:
        server.stop()


@pytest.fixture(scope="module")
def alarm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("alarm") / "alarm"
    assert run("import", str(DATA / "alarm.bif"), "--out", str(out)).exit_code == 0
    return out


def click_times(page: Any, clicks: list[tuple[str, str]]) -> list[float]:
    """Milliseconds from each click to its bars drawn, as the page measures them."""
    page.evaluate("window.bnTimes = []")
    for node, state in clicks:
        click(page, node, state)
    return [float(t) for t in page.evaluate("window.bnTimes")]


def test_click_to_update_speed_on_the_flagship_and_alarm(
    page: Any, server: Server, browser: Any, alarm: Path
):
    open_page(page, server.url)
    flagship = click_times(page, [("nuclear_use", "yes"), ("nuclear_use", "yes")] * 4)
    running = Server(alarm)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        tab = open_page(context.new_page(), running.url)
        assert tab.locator("g.node[data-node]").count() == 37
        first = tab.get_attribute("[data-state]", "data-node")
        state = tab.get_attribute("[data-state]", "data-state")
        times = click_times(tab, [(first, state)] * 8)
        context.close()
    finally:
        running.stop()
    print(f"\nclick to bars: flagship median {statistics.median(flagship):.0f} ms, "
          f"alarm median {statistics.median(times):.0f} ms")  # fmt: skip
    # The goals are 150 ms and 500 ms (`make bench` reports them); a loaded machine gets slack.
    assert statistics.median(flagship) < 1500
    assert statistics.median(times) < 5000


def test_target_analyses_and_downloads(page: Any, server: Server):
    open_page(page, server.url + "?e=kaboom:yes")
    page.click("#run-sensitivity")
    page.wait_for_selector(".tornado .bar-row")
    assert page.locator(".tornado .bar-row").count() == 10
    page.click("#run-voi")
    page.wait_for_selector("#analysis table")
    # The flagship marks which nodes can be observed in time: voi ranks those by default.
    assert "nato_response" in page.text_content("#analysis table")
    page.click("#run-uncertainty")
    page.wait_for_selector("[data-role=interval]", timeout=60000)
    expected = api(server, "/api/uncertainty?target=nuclear_war&e=kaboom:yes")["interval_90"]
    assert f"90% interval {expected[0] * 100:.1f}% to" in page.text_content("[data-role=interval]")
    for link, start in (("#download-svg", "<?xml"), ("#download-csv", "node,state,probability"),
                        ("#download-json", "{")):  # fmt: skip
        with page.expect_download() as info:
            page.click(link)
        text = Path(info.value.path()).read_text(encoding="utf-8")
        assert text.startswith(start), link


def test_compact_nodes_show_and_edit_their_parameters(browser: Any, tmp_path: Path):
    """A noisy-MAX node's panel holds its nine rows (the 81 on request), a ranked node's its
    weights and variance; editing them answers as the files with the same numbers would, and
    saving writes those numbers into the files."""
    from tests.conftest import ROOT, run_json

    model = Path(shutil.copytree(ROOT / "examples" / "compact", tmp_path / "compact"))
    files = {p.name: p.read_bytes() for p in model.iterdir()}
    twin = Path(shutil.copytree(model, tmp_path / "twin"))
    for name, old, new in (
        ("outage.csv", "power,failed,0.05,0.95", "power,failed,0.5,0.5"),
        ("model.toml", "variance = 0.02", "variance = 0.05"),
    ):
        (twin / name).write_text((twin / name).read_text().replace(old, new))
    by_hand = run_json("query", "--all", "--model", str(twin))["posteriors"]
    running = Server(model)
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda error: errors.append(str(error)))
        open_page(tab, running.url)
        banner = 'g.node[data-node="outage"] g.banner text'
        assert tab.text_content(banner) == "noisy-max: 9 rows for 81"
        panel(tab, "outage")
        tab.wait_for_selector("#node-panel .compact")
        assert tab.locator("#node-panel tr[data-link]").count() == 9
        leak = tab.locator('#node-panel tr[data-link="leak"] td')
        assert leak.all_text_contents()[-2:] == ["50", "other causes: about 1% of days"]
        assert tab.locator("#node-panel table[data-role=expanded]").count() == 0
        cell = tab.locator('input[data-cell="outage|link:power=failed|yes"]')
        count = updates(tab)
        cell.fill("0.5")
        cell.dispatch_event("change")
        after(tab, count)
        tab.wait_for_selector("[data-role=unsaved]")
        panel(tab, "response")
        variance = tab.locator('#node-panel input[data-param="variance"]')
        count = updates(tab)
        variance.fill("0.05")
        variance.dispatch_event("change")
        after(tab, count)
        for node in ("outage", "response", "sla_breach"):
            for state, value in by_hand[node].items():
                assert p(tab, node, state) == pytest.approx(value, abs=1e-9)
        panel(tab, "outage")
        tab.wait_for_selector('input[data-cell="outage|link:power=failed|yes"].edited')
        tab.click("#node-panel [data-role=expand]")
        tab.wait_for_selector("#node-panel table[data-role=expanded]")
        rows = tab.locator("#node-panel table[data-role=expanded] tbody tr")
        assert rows.count() == 81
        texts = [" ".join(rows.nth(i).inner_text().split()) for i in range(rows.count())]
        assert "failed degraded ok ok 0.396 0.604" in texts  # 0.99 x 0.5 x 0.8, with the edit
        tab.click("[data-role=unsaved] #save")
        tab.wait_for_selector("[data-role=saved]")
        saved = tab.text_content("[data-role=saved]")
        assert "outage.csv: link power=failed: no 0.05 -> 0.5, yes 0.95 -> 0.5" in saved
        assert "model.toml: [nodes.response] variance 0.02 -> 0.05" in saved
        for name in ("outage.csv", "model.toml"):  # the files say what the edits said
            assert (model / name).read_bytes() == (twin / name).read_bytes()
        assert {n: b for n, b in files.items() if n not in ("outage.csv", "model.toml")} == {
            p.name: p.read_bytes()
            for p in model.iterdir()
            if p.name in files and p.name not in ("outage.csv", "model.toml")
        }
        assert tab.locator("[data-role=unsaved]").count() == 0
        for node in ("outage", "response", "sla_breach"):  # the saved model answers the same
            for state, value in by_hand[node].items():
                assert p(tab, node, state) == pytest.approx(value, abs=1e-9)
        assert not errors
        context.close()
    finally:
        running.stop()
