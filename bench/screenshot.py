"""`make screenshot`: the README's picture of `bn serve` on the flagship, taken in chromium.

The page shows a question (kaboom observed, compared with the baseline) with KABOOM's panel open.

    python bench/screenshot.py reports/serve.png
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import Server, launch  # noqa: E402

QUESTION = "?e=kaboom:yes&compare=baseline&node=nuclear_use&target=nuclear_war"


def main(out: str) -> None:
    from playwright.sync_api import sync_playwright

    server = Server("cpts", "--read-only", cwd=ROOT)  # the command shown names `--model cpts`
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1500, "height": 980})  # type: ignore[attr-defined]
            page.goto(server.url + QUESTION)
            page.wait_for_selector("g.state[data-p^='0']")
            page.wait_for_selector("#node-panel table")
            page.screenshot(path=out)
            browser.close()  # type: ignore[attr-defined]
    finally:
        server.stop()
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "reports/serve.png")
