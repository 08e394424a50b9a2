"""`bn serve`: server start to first page, `/api/query` warm, and click-to-bars in chromium.

Goals (issue 15): start to first page <= 1.5 s; `/api/query` on the flagship <= 20 ms median warm;
click to updated bars <= 150 ms on the flagship and <= 500 ms on alarm (medians).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from timing import ROOT, table

sys.path.insert(0, str(ROOT))

from tests.browser import Server, chromium, launch


def get(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        data: bytes = response.read()
        return data


def start_to_first_page(model: Path, runs: int = 5) -> float:
    """Seconds from starting `bn serve` to the page and its script served."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        server = Server(model)
        get(server.url)
        get(server.url + "static/app.js")
        get(server.url + "api/view")
        times.append(time.perf_counter() - start)
        server.stop()
    return statistics.median(times)


def warm(url: str, runs: int = 50) -> float:
    get(url)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        get(url)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def clicks(page: object, url: str, n: int = 10) -> float:
    """Median milliseconds from a click on a state to its bars drawn, as the page measures it."""
    page.goto(url)  # type: ignore[attr-defined]
    page.wait_for_selector("g.state[data-p^='0'], g.state[data-p^='1']")  # type: ignore[attr-defined]
    selector = "g.state[data-state]"
    node = page.get_attribute(selector, "data-node")  # type: ignore[attr-defined]
    state = page.get_attribute(selector, "data-state")  # type: ignore[attr-defined]
    target = f'[data-node="{node}"][data-state="{state}"]'
    page.evaluate("window.bnTimes = []")  # type: ignore[attr-defined]
    for i in range(n):
        count = int(page.get_attribute("body", "data-updates"))  # type: ignore[attr-defined]
        page.click(target)  # type: ignore[attr-defined]
        page.wait_for_function(  # type: ignore[attr-defined]
            "n => Number(document.body.dataset.updates) > n", arg=count
        )
        del i
    times = page.evaluate("window.bnTimes")  # type: ignore[attr-defined]
    return float(statistics.median(times))


def main() -> None:
    flagship = ROOT / "cpts"
    rows = [["measure", "median", "goal"]]
    rows.append(["`bn serve` start to first page (flagship)",
                 f"{start_to_first_page(flagship) * 1000:.0f} ms", "≤ 1500 ms"])  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        alarm = Path(tmp) / "alarm"
        subprocess.run(
            [sys.executable, "-m", "bn", "import", str(ROOT / "tests/data/alarm.bif"), "--out", str(alarm)],
            check=True, capture_output=True,
        )  # fmt: skip
        servers = {"flagship": Server(flagship), "alarm": Server(alarm)}
        try:
            for name, server in servers.items():
                ms = warm(server.url + "api/query") * 1000
                rows.append([f"`/api/query` warm ({name})", f"{ms:.1f} ms",
                             "≤ 20 ms" if name == "flagship" else ""])  # fmt: skip
                ms = warm(server.url + "api/view", 20) * 1000
                rows.append([f"`/api/view` warm ({name})", f"{ms:.1f} ms", ""])
            if chromium() is not None:
                from playwright.sync_api import sync_playwright

                with sync_playwright() as playwright:
                    browser = launch(playwright)
                    for name, goal in (("flagship", "≤ 150 ms"), ("alarm", "≤ 500 ms")):
                        context = browser.new_context(bypass_csp=True)  # type: ignore[attr-defined]
                        ms = clicks(context.new_page(), servers[name].url)
                        rows.append(
                            [f"click to updated bars in chromium ({name})", f"{ms:.0f} ms", goal]
                        )
                        context.close()
                    browser.close()  # type: ignore[attr-defined]
            else:
                rows.append(["click to updated bars", "not measured: no chromium", ""])
        finally:
            for server in servers.values():
                server.stop()
    print(table(rows))


if __name__ == "__main__":
    main()
