"""`bn report`: a self-contained, deterministic, escaped brief; the committed copy is current."""

from __future__ import annotations

import itertools
import json
import math
import re
import shlex
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import CHAIN, DATA, FLAGSHIP, ROOT, run, run_json
from hypothesis import given, settings
from hypothesis import strategies as st

from bn.charts import number

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
    for heading in ["Headline", "Scenarios", "The forecasters", "What happened", "Consequences",
                    "What would change the estimate", "Limitations", "The network",
                    "Which numbers matter", "How sure", "Tables", "Assumptions register",
                    "Sources", "Provenance"]:  # fmt: skip
        assert heading in html, heading
    assert "0.168" in html and "90% interval" in html
    assert "0.300 × 0.560" in html  # the arithmetic: P(kaboom) x P(KABOOM | kaboom)
    assert html.count("<svg") >= 5  # two diagrams, scenario chart, tornado, histogram
    assert "Scenario starlink_cut" in html
    md = next(flagship_report.glob("*.md")).read_text()
    assert "| `metaculus_low` | 0.0744 | 0.0485–0.0989 |" in md  # as `bn scenarios --intervals`


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


# --- the review's findings ----------------------------------------------------------------------


@pytest.mark.parametrize("epoch", ["abc", "99999999999999999", "-99999999999999", "1.5", " "])
def test_a_bad_source_date_epoch_is_explained(tmp_path: Path, epoch: str) -> None:
    out = tmp_path / "out"
    result = run("report", "--model", str(CHAIN), "-o", str(out), env={"SOURCE_DATE_EPOCH": epoch})
    assert result.exit_code == 2, result.output
    assert "SOURCE_DATE_EPOCH" in result.stderr and "seconds since 1970" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    fixed = run("report", "--model", str(CHAIN), "-o", str(out), "--date", "2026-01-01",
                env={"SOURCE_DATE_EPOCH": epoch})  # fmt: skip
    assert fixed.exit_code == 0, fixed.stderr  # --date takes precedence over the variable


def csv_tables(directory: Path) -> dict[str, tuple[list[str], dict[tuple[str, ...], str]]]:
    """Read with the csv module alone: node -> (parents, {parent states of a row: its note})."""
    import csv

    tables = {}
    for path in sorted(directory.glob("*.csv")):
        lines = [x for x in path.read_text().splitlines() if not x.startswith("#")]
        header, *rows = csv.reader(lines)
        first = next(i for i, h in enumerate(header) if "=" in h)
        notes = {}
        for row in rows:
            cells = dict(zip(header, row, strict=True))
            notes[tuple(row[:first])] = cells.get("note", "").strip()
        tables[path.stem] = (header[:first], notes)
    return tables


def csv_states(directory: Path, node: str) -> list[str]:
    header = next(x for x in (directory / f"{node}.csv").read_text().splitlines() if x[0] != "#")
    return [h.split("=", 1)[1] for h in header.split(",") if h.startswith(f"{node}=")]


def expand(rows: str, parents: list[str], directory: Path) -> list[tuple[str, ...]]:
    """The rows named by a register entry: `p=s or t, q=u (any r); ...` or `every row`."""
    named: list[tuple[str, ...]] = []
    for grid in rows.split("; "):
        fixed, _, free = grid.partition(" (any ")
        given = {} if fixed == "every row" else dict(x.split("=") for x in fixed.split(", "))
        assert set(given) | set(free.rstrip(")").split(", ")) - {""} == set(parents), grid
        choices = [
            given[p].split(" or ") if p in given else csv_states(directory, p) for p in parents
        ]
        named += list(itertools.product(*choices))
    return named


def register_entries(html: str) -> dict[str, list[tuple[str, str]]]:
    """node id -> [(rows, note)] from the HTML assumptions register, unescaped."""
    section = html.split("<h2>Assumptions register</h2>")[1].split("<h2>", 1)[0]
    entries: dict[str, list[tuple[str, str]]] = {}
    for block in section.split("<h3>")[1:]:
        node = re.search(r"<code>([^<]*)</code></h3>", block).group(1)  # type: ignore[union-attr]
        items = re.findall(r"<li>(?:<b>(.*?)</b>: )?(.*?)</li>", block)
        entries[node] = [(unescape(rows), unescape(note)) for rows, note in items]
    return entries


def test_the_register_keeps_each_note_with_its_rows(flagship_report: Path) -> None:
    html = next(flagship_report.glob("*.html")).read_text()
    md = next(flagship_report.glob("*.md")).read_text()
    entries = register_entries(html)
    tables = csv_tables(FLAGSHIP)
    assert set(entries) == {node for node, (_, notes) in tables.items() if any(notes.values())}
    for node, (parents, notes) in tables.items():
        order = [csv_states(FLAGSHIP, p) for p in parents]
        seen: dict[tuple[str, ...], str] = {}
        firsts = []
        for rows, note in entries.get(node, []):
            named = expand(rows, parents, FLAGSHIP) if parents else [()]
            assert not set(named) & set(seen), f"{node}: a row listed twice"
            seen.update(dict.fromkeys(named, note))
            firsts.append(
                min(tuple(o.index(s) for o, s in zip(order, r, strict=True)) for r in named)
            )
        assert seen == {row: note for row, note in notes.items() if note}, node
        assert firsts == sorted(firsts), f"{node}: notes out of row order"
        texts = [note for _, note in entries.get(node, [])]
        assert len(texts) == len(set(texts)), f"{node}: a note repeated"
    # the example of the review: "As above" now follows the row it refers to, in both formats
    below = (
        "western_resolve=firm, battlefield=russia_losing, kherson_encirclement=no, "
        "crimea_offensive=yes, peace_talks=talks",
        "As above, damped by talks.",
    )
    index = entries["nuclear_use"].index(below)
    assert entries["nuclear_use"][index - 1][0].endswith("crimea_offensive=yes, peace_talks=none")
    assert (
        "- **western\\_resolve=firm, battlefield=russia\\_losing, kherson\\_encirclement=no, "
        "crimea\\_offensive=yes, peace\\_talks=talks**: As above, damped by talks." in md
    )
    assert ("nuclear_use=no (any western_resolve)", "Definitional: without nuclear use there is no "
            "response to it.") in entries["nato_response"]  # fmt: skip
    md_section = md.split("## Assumptions register")[1].split("\n## ")[0]
    assert md_section.count("\n- ") == sum(len(e) for e in entries.values())


def test_the_register_of_a_grid_with_a_hole(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(CHAIN, model)
    text = (model / "nuclear_war.csv").read_text()
    for note in ("no route to KABOOM without kaboom", "impossible combination, kept for completeness",
                 "Tegmark gives no chance after a weak answer"):  # fmt: skip
        text = text.replace(note, "no KABOOM here")
    (model / "nuclear_war.csv").write_text(text)
    out = tmp_path / "out"
    assert (
        run("report", "--model", str(model), "--date", "2026-01-01", "-o", str(out)).exit_code == 0
    )
    entries = register_entries(next(out.glob("*.html")).read_text())
    assert entries["nuclear_war"] == [
        (
            "nuclear_use=no (any nato_response); nuclear_use=yes, nato_response=limited",
            "no KABOOM here",
        ),
        ("nuclear_use=yes, nato_response=strike", "Tegmark (2022): 70%"),
    ]
    assert entries["nuclear_use"] == [("", "Tegmark (2022): 30%")]  # no parents: the note alone


def regenerate(tmp_path: Path, *args: str, env: dict[str, str | None] | None = None) -> list[str]:
    result = run("report", *args, "-o", str(tmp_path / "out"), "--json", env=env)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.stderr
    return shlex.split(json.loads(result.stdout)["command"])


def test_the_regenerate_command_names_a_model_from_bn_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(CHAIN, tmp_path / "m")
    args = regenerate(tmp_path, "--date", "2026-01-01", env={"BN_MODEL": "m"})
    assert args == ["bn", "report", "--model", "m", "--date", "2026-01-01"]  # relative, as given
    assert regenerate(tmp_path, "--model", "m", "--date", "2026-01-01", env={"BN_MODEL": "x"})[
        2:4
    ] == ["--model", "m"]
    shutil.copytree(FLAGSHIP, tmp_path / "cpts")  # the default resolution: ./cpts
    assert regenerate(tmp_path, "--date", "2026-01-01", env={"BN_MODEL": None}) == [
        "bn",
        "report",
        "--date",
        "2026-01-01",
    ]
    # the recorded command rebuilds the chain's brief, not the flagship's
    shutil.move(tmp_path / "out", tmp_path / "first")
    assert run(*args[1:], "-o", str(tmp_path / "again"), env={"BN_MODEL": None}).exit_code == 0  # type: ignore[dict-item]
    names = sorted(p.name for p in (tmp_path / "again").iterdir())
    assert names == ["tegmark-s-three-step-chain.html", "tegmark-s-three-step-chain.md"]
    for name in names:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "first" / name).read_bytes()


def test_formats_are_written_once_and_an_empty_list_is_refused(tmp_path: Path) -> None:
    data = json.loads(run("report", "--model", str(CHAIN), "--format", "html,html, HTML", "-o",
                          str(tmp_path / "a"), "--date", "2026-01-01", "--json").stdout)  # fmt: skip
    assert len(data["written"]) == 1 and data["written"][0].endswith(".html")
    assert shlex.split(data["command"])[4:6] == ["--format", "html"]
    missing = str(tmp_path / "no-such-model")  # refused before the model is even read
    for formats in ("", " , "):
        result = run("report", "--model", missing, "--format", formats, "-o", str(tmp_path / "b"))
        assert result.exit_code == 2 and "no report format given" in result.stderr
    empty_date = run("report", "--model", missing, "--date", "", "-o", str(tmp_path / "b"))
    assert empty_date.exit_code == 2 and "--date '' is not a date" in empty_date.stderr
    assert not (tmp_path / "b").exists()


def test_progress_only_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = run("report", "--model", str(CHAIN), "--date", "2026-01-01", "-o", str(tmp_path))
    assert quiet.exit_code == 0 and quiet.stderr == ""
    import bn.cli.report

    monkeypatch.setattr(bn.cli.report, "is_terminal", lambda: True)
    shown = run("report", "--model", str(CHAIN), "--date", "2026-01-01", "-o", str(tmp_path))
    assert "headline..." in shown.stderr and "scenarios..." in shown.stderr


def test_intervals_agree_with_the_command_line(flagship_report: Path, tmp_path: Path) -> None:
    md = next(flagship_report.glob("*.md")).read_text()
    alone = run_json("uncertainty", "--model", str(FLAGSHIP), "nuclear_war=yes")
    low, high = (number(x) for x in alone["interval_90"])
    assert f"| 0.168 | {low}–{high} |" in md and (alone["n"], alone["seed"]) == (100_000, 0)
    table = run_json("scenarios", "--model", str(FLAGSHIP), "--intervals")
    for row in table["scenarios"]:
        low, high = (number(x) for x in row["interval_90"])
        assert f"| `{row['name']}` | {number(row['probability'])} | {low}–{high} |" in md
    assert "(100,000 draws, seed 0" in md
    # -n and --seed: used, and recorded only when they are not the defaults
    args = regenerate(
        tmp_path, "--model", str(CHAIN), "-n", "2000", "--seed", "7", "--format", "md"
    )
    assert args[-6:] == ["--format", "md", "-n", "2000", "--seed", "7"]
    mine = next((tmp_path / "out").glob("*.md"))
    small = run_json(
        "uncertainty", "--model", str(CHAIN), "KABOOM=yes", "-n", "2000", "--seed", "7"
    )
    low, high = (number(x) for x in small["interval_90"])
    assert f"{low}–{high}" in mine.read_text() and "(2,000 draws, seed 7" in mine.read_text()
    assert "-n" not in regenerate(tmp_path, "--model", str(CHAIN), "-n", "100000", "--seed", "0")
    bad = run("report", "--model", str(CHAIN), "-n", "0", "-o", str(tmp_path / "bad"))
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()


THREE_DIGITS = re.compile(r"0|0\.0*[1-9][0-9]{2}|1\.00")


def test_each_column_has_one_number_format(flagship_report: Path) -> None:
    from bn.numbers import format_number

    html = next(flagship_report.glob("*.html")).read_text()
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        header = re.findall(r"<th>(.*?)</th>", table)
        for row in re.findall(r"<tr>(<td.*?)</tr>", table):
            for name, cell in zip(header, re.findall(r"<td[^>]*>(.*?)</td>", row), strict=False):
                if name in ("90% interval", "plausible range", "answer low–high") and "–" in cell:
                    assert all(THREE_DIGITS.fullmatch(x) for x in cell.split("–")), (name, cell)
                elif name.startswith("P(") and cell != "impossible":
                    assert THREE_DIGITS.fullmatch(cell), (name, cell)
    assert re.search(r">0\.0500<|>0\.0280<", html)  # computed: trailing zeros kept
    # every table cell exactly as written in its CSV file
    tables = re.findall(r"<h3>[^<]*<code>([a-z_]+)</code></h3>.*?(<table>.*?</table>)", html.split(
        "<h2>Tables</h2>")[1].split("<h2>Assumptions register</h2>")[0], re.S)  # fmt: skip
    assert len(tables) == len(list(FLAGSHIP.glob("*.csv")))
    import csv

    for node, table in tables:
        lines = [x for x in (FLAGSHIP / f"{node}.csv").read_text().splitlines() if x[0] != "#"]
        header, *rows = csv.reader(lines)
        columns = [i for i, h in enumerate(header) if h.startswith(f"{node}=")]
        shown = [
            re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(<td.*?)</tr>", table)
        ]
        for written, cells in zip(rows, shown, strict=True):
            probabilities = cells[columns[0] : columns[-1] + 1]
            assert probabilities == [format_number(float(written[i])) for i in columns], node
    md = next(flagship_report.glob("*.md")).read_text()
    assert "| cut | russia\\_holding | agreement | 0.998 | 0.002 | 5 |" in md


@given(st.floats(min_value=1e-9, max_value=1.0))
@settings(max_examples=300, deadline=None)
def test_number_has_three_significant_digits(p: float) -> None:
    text = number(p)
    assert THREE_DIGITS.fullmatch(text) and text != "0", text
    digits = text.replace("0.", "", 1).lstrip("0").replace(".", "")
    scale = 10.0 ** (math.floor(math.log10(float(text))) - 2)  # one unit in the third digit
    assert len(digits) == 3 and abs(float(text) - p) <= scale / 2 * (1 + 1e-9), (p, text)
