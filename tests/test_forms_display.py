"""`bn draw`, `bn report` and `bn diff` show compact nodes as such: their parameters, not the
expanded rows."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

from conftest import run

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"


def test_draw_names_the_form(tmp_path: Path) -> None:
    out = str(tmp_path / "n.dot")
    data = json.loads(run("draw", "--model", str(EXAMPLE), "-o", out, "--json").stdout)
    assert "noisy-max: 9 rows for 81" in Path(out).read_text()
    forms = {n["id"]: n["form"] for n in data["spec"]["nodes"]}
    assert forms["outage"] == "noisy-max: 9 rows for 81"
    assert forms["response"] == "ranked (wmean): 2 weights for 9 rows"
    assert forms["sla_breach"] is None


def test_report_lists_parameters_not_rows(tmp_path: Path) -> None:
    result = run(
        "report", "--model", str(EXAMPLE), "-n", "1000", "--date", "2026-01-01", "-o", str(tmp_path)
    )
    assert result.exit_code == 0, result.stderr
    text = next(tmp_path.glob("*.md")).read_text()
    section = text.split("### Outage today (`outage`)")[1].split("###")[0]
    assert "noisy-max: 8 link(s) and a leak stand for 81 rows" in section
    assert section.count("\n| ") == 1 + 9  # the header and nine rows, not 81
    assert "| leak |  | 0.99 | 0.01 | 50 | other causes: about 1% of days |" in section
    assert "- **link power=failed**: the generator covers one failure in twenty" in text
    assert "Ranked node: a normal truncated to \\[0, 1\\] around the wmean" in text


def test_diff_names_links_and_weights(tmp_path: Path) -> None:
    old = Path(shutil.copytree(EXAMPLE, tmp_path / "old"))
    new = Path(shutil.copytree(EXAMPLE, tmp_path / "new"))
    outage = (new / "outage.csv").read_text().replace("leak,,0.99,0.01,50", "leak,,0.98,0.02,50")
    (new / "outage.csv").write_text(outage)
    (new / "response.csv").write_text((new / "response.csv").read_text().replace(",2,", ",3,"))
    out = run("diff", str(old), str(new)).stdout
    assert "  leak: no 0.99 → 0.98; yes 0.01 → 0.02" in out
    assert "  parent=staffing: weight 2 → 3" in out
    assert out.count("\n  ") < 10  # the parameters, not the expanded rows


def test_draw_svg_names_the_form(tmp_path: Path) -> None:
    out = tmp_path / "n.svg"
    assert run("draw", "--model", str(EXAMPLE), "-o", str(out)).exit_code == 0
    text = html.unescape(out.read_text())  # Graphviz writes '-' as &#45;
    assert "noisy-max: 9 rows for 81" in text
    assert "ranked (wmean): 2 weights for 9 rows" in text


def test_html_report_lists_parameters_not_rows(tmp_path: Path) -> None:
    result = run(
        "report", "--model", str(EXAMPLE), "-n", "1000", "--date", "2026-01-01",
        "--format", "html", "-o", str(tmp_path),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    text = next(tmp_path.glob("*.html")).read_text()
    for sentence, rows in (("noisy-max: 8 link(s) and a leak stand for 81 rows", 1 + 9),
                           ("Ranked node: a normal truncated", 1 + 2)):  # fmt: skip
        at = text.index(sentence)
        table = text[at : text.index("</table>", at)]
        assert len(re.findall(r"<tr\b", table)) == rows, sentence


def test_diff_of_an_expanded_node_says_how_it_is_written(tmp_path: Path) -> None:
    """`bn cpt expand` keeps the table: the diff says the file went from nine rows to 81, with
    no cell changes, and lists the form's keys leaving model.toml."""
    old = Path(shutil.copytree(EXAMPLE, tmp_path / "old"))
    new = Path(shutil.copytree(EXAMPLE, tmp_path / "new"))
    assert run("cpt", "expand", "outage", "--model", str(new)).exit_code == 0
    out = run("diff", str(old), str(new)).stdout
    assert "outage.csv\n  written as noisy-max: 9 rows → full table: 81 rows\nmodel.toml" in out
    assert "model.toml: nodes.outage.form: 'noisy-max' → (none)" in out
    data = json.loads(run("diff", str(old), str(new), "--json").stdout)
    (entry,) = data["tables"]
    assert entry["form"] == ["noisy-max: 9 rows", "full table: 81 rows"]
    assert entry["cells"] == []  # the expanded tables are the same


def test_diff_of_ranked_keys_and_the_leak(tmp_path: Path) -> None:
    old = Path(shutil.copytree(EXAMPLE, tmp_path / "old"))
    new = Path(shutil.copytree(EXAMPLE, tmp_path / "new"))
    toml = (new / "model.toml").read_text().replace("variance = 0.02", "variance = 0.05")
    (new / "model.toml").write_text(toml)
    outage = (new / "outage.csv").read_text().replace("leak,,0.99,0.01,50", "leak,,0.98,0.02,50")
    (new / "outage.csv").write_text(outage)
    data = json.loads(run("diff", str(old), str(new), "--json").stdout)
    (entry,) = data["tables"]
    assert entry["form"] is None
    assert [(c["when"], c["column"], c["old"], c["new"]) for c in entry["cells"]] == [
        ({"leak": ""}, "no", 0.99, 0.98),
        ({"leak": ""}, "yes", 0.01, 0.02),
    ]
    assert data["metadata"] == [
        {"file": "model.toml", "key": "nodes.response.variance", "old": 0.02, "new": 0.05}
    ]
