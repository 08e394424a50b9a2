"""`bn draw`, `bn report` and `bn diff` show compact nodes as such: their parameters, not the
expanded rows."""

from __future__ import annotations

import json
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
