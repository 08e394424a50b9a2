"""`bn report`: a self-contained, deterministic, escaped brief; the committed copy is current."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHAIN, FLAGSHIP, ROOT, run

VOID = {"meta", "br", "img", "hr", "input", "link", "wbr", "col", "source", "path", "rect",
        "line", "polygon", "polyline", "ellipse", "circle", "stop", "use"}  # fmt: skip


class Balance(HTMLParser):
    """Records tags left open or closed out of order (self-closing SVG tags are fine)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:  # type: ignore[type-arg]
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


def check_html(text: str) -> None:
    parser = Balance()
    parser.feed(text)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    lowered = text.lower()
    assert "<script" not in lowered
    assert "<link" not in lowered and "@import" not in lowered and "url(" not in lowered
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", lowered)


@pytest.fixture(scope="module")
def flagship_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    result = run("report", "--model", str(FLAGSHIP), "--date", "2026-11-25", "-o", str(out),
                 "--scenario", "starlink_cut")  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def test_flagship_brief_is_complete_and_self_contained(flagship_report: Path) -> None:
    html = next(flagship_report.glob("*.html")).read_text()
    check_html(html)
    for heading in ["Headline", "Scenarios", "The network", "Which numbers matter", "How sure",
                    "Tables", "Assumptions register", "Sources", "Provenance"]:  # fmt: skip
        assert heading in html, heading
    assert "0.168" in html and "90% interval" in html
    assert "0.300 × 0.560" in html  # the arithmetic: P(kaboom) x P(KABOOM | kaboom)
    assert html.count("<svg") >= 5  # two diagrams, scenario chart, tornado, histogram
    assert "Scenario starlink_cut" in html
    md = next(flagship_report.glob("*.md")).read_text()
    assert "| `metaculus_low` | 0.028 |" in md


def test_same_model_same_bytes(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert (
            run(
                "report", "--model", str(CHAIN), "--date", "2026-01-02", "-o", str(tmp_path / name)
            ).exit_code
            == 0
        )
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_source_date_epoch_fixes_the_date(tmp_path: Path) -> None:
    result = run("report", "--model", str(CHAIN), "-o", str(tmp_path), "--format", "md",
                 env={"SOURCE_DATE_EPOCH": "1700000000"})  # fmt: skip
    assert result.exit_code == 0
    assert "2023-11-14" in next(tmp_path.glob("*.md")).read_text()


def test_hostile_model_text_is_escaped(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(CHAIN, model)
    (model / "model.toml").write_text(
        '[model]\ntitle = "Evil <script>alert(1)</script> & co"\n'
        'description = "a | b ** <img src=x onerror=alert(1)> `code` [link](http://x)"\n'
        '[nodes.nuclear_use]\nlabel = "<b>bold</b>"\naliases = ["kaboom"]\n'
    )
    text = (
        (model / "nato_response.csv")
        .read_text()
        .replace(
            "no nuclear use: no response needed", '"</td></tr></table><script>x</script> | pipe"'
        )
    )
    (model / "nato_response.csv").write_text(text)
    out = tmp_path / "out"
    assert (
        run("report", "--model", str(model), "--date", "2026-01-01", "-o", str(out)).exit_code == 0
    )
    html = next(out.glob("*.html")).read_text()
    check_html(html)
    assert "&lt;script&gt;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    md = next(out.glob("*.md")).read_text()
    assert "<script>" not in md and "<img" not in md
    assert "\\| pipe" in md  # a pipe cannot break a Markdown table


def test_bad_options_are_explained(tmp_path: Path) -> None:
    bad_date = run("report", "--model", str(CHAIN), "--date", "25/11/2026", "-o", str(tmp_path))
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr
    bad_format = run("report", "--model", str(CHAIN), "--format", "pdf", "-o", str(tmp_path))
    assert bad_format.exit_code == 2 and "formats: html, md" in bad_format.stderr
    assert list(tmp_path.iterdir()) == []


def test_committed_flagship_report_is_current(tmp_path: Path) -> None:
    committed = sorted((ROOT / "reports").glob("nuclear-escalation*.*"))
    assert {p.suffix for p in committed} == {".html", ".md"}, "run `make report`"
    command = re.search(r"regenerate with: `([^`]*)`", committed[-1].read_text()).group(1)  # type: ignore[union-attr]
    args = command.split()[1:]
    result = run(*args, "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    for path in committed:
        fresh = (tmp_path / path.name).read_text()
        old = path.read_text()
        if shutil.which("dot"):  # a system Graphviz draws differently from the bundled one
            pattern = re.compile(r"<svg.*?</svg>", re.S)
            fresh, old = pattern.sub("", fresh), pattern.sub("", old)
        assert fresh == old, f"{path.name} is stale: run `make report`"


def test_json_lists_what_was_written(tmp_path: Path) -> None:
    from conftest import run_json

    data = run_json("report", "--model", str(CHAIN), "--date", "2026-01-02", "-o", str(tmp_path))
    assert sorted(Path(p).suffix for p in data["written"]) == [".html", ".md"]
    assert data["command"].endswith("--date 2026-01-02")
