"""`bn report`: a self-contained, deterministic, escaped brief; the committed copy is current."""

from __future__ import annotations

import re
import shlex
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHAIN, DATA, FLAGSHIP, ROOT, run, run_json

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
    args = shlex.split(command)[1:]
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
    data = run_json("report", "--model", str(CHAIN), "--date", "2026-01-02", "-o", str(tmp_path))
    assert sorted(Path(p).suffix for p in data["written"]) == [".html", ".md"]
    assert data["command"].endswith("--date 2026-01-02")


def test_regenerate_command_survives_spaces_in_paths(tmp_path: Path) -> None:
    model = tmp_path / "my model's dir"
    shutil.copytree(CHAIN, model)
    first = tmp_path / "first"
    data = run_json("report", "--model", str(model), "--date", "2026-01-02", "-o", str(first))
    args = shlex.split(data["command"])
    assert args == ["bn", "report", "--model", str(model), "--date", "2026-01-02"]
    md = next(first.glob("*.md")).read_text()
    assert f"regenerate with: `{data['command']}`" in md
    again = tmp_path / "again"
    assert run(*args[1:], "-o", str(again)).exit_code == 0
    for path in first.iterdir():
        assert path.read_bytes() == (again / path.name).read_bytes()


def write_yes_first(directory: Path) -> None:
    """Rain (yes, no: the event first) makes the grass wet: P(wet=yes) = 0.2 x 0.9 + 0.8 x 0.1."""
    directory.mkdir()
    (directory / "model.toml").write_text(
        '[model]\ntitle = "Wet grass"\ntargets = ["wet", "rain"]\n'
    )
    (directory / "rain.csv").write_text("rain=yes,rain=no,ess,note\n0.2,0.8,20,a guess\n")
    (directory / "wet.csv").write_text(
        "rain,wet=yes,wet=no,note\nyes,0.9,0.1,rain wets\nno,0.1,0.9,dew\n"
    )


def test_headline_is_the_event_even_when_it_is_the_first_state(tmp_path: Path) -> None:
    model = tmp_path / "wet"
    write_yes_first(model)
    out = tmp_path / "out"
    assert (
        run("report", "--model", str(model), "--date", "2026-01-01", "-o", str(out)).exit_code == 0
    )
    wet = 0.2 * 0.9 + 0.8 * 0.1  # by enumeration: 0.26, where P(wet=no) would be 0.74
    html = next(out.glob("*.html")).read_text()
    check_html(html)
    assert f'<div class="p">{wet:.3f}</div>' in html and "P(wet=yes)" in html
    assert '<div class="p">0.200</div>' in html and "P(rain=yes)" in html
    assert f"0.200 × 0.900 + 0.800 × 0.100 = {wet:.3f}" in html  # the arithmetic, for yes
    assert f"baseline {wet:.3f}" in html  # the tornado is of P(wet=yes) too
    assert "How sure" in html
    md = next(out.glob("*.md")).read_text()
    assert "| 0.260 |" in md and "0.740" not in md and "0.740" not in html


def test_an_impossible_scenario_says_so(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(DATA / "chain_scenarios", model)
    with (model / "scenarios.toml").open("a") as handle:
        handle.write(
            '\n[scenarios.contradiction]\ndescription = "No kaboom, yet NATO strikes."\n'
            'evidence = { kaboom = "no", nato_response = "strike" }\n'
        )
    out = tmp_path / "out"
    assert (
        run("report", "--model", str(model), "--date", "2026-01-01", "-o", str(out)).exit_code == 0
    )
    html = next(out.glob("*.html")).read_text()
    check_html(html)
    row = re.search(r"<tr><td><code>contradiction</code>.*?</tr>", html)
    assert row is not None
    assert "<td class=n>impossible</td>" in row.group() and "nato_response = strike" in row.group()
    assert "-16.8" not in row.group()  # not shown as a probability of 0
    assert re.search(r">contradiction</text><text[^>]*>impossible</text>", html)  # the bar chart
    md = next(out.glob("*.md")).read_text()
    line = next(x for x in md.splitlines() if x.startswith("| `contradiction`"))
    assert "| impossible |" in line and "**impossible**: the evidence is impossible" in line
