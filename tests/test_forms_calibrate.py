"""`[[calibration]]` targets whose free cells are a noisy node's links or its leak: `bn check` reads
them, `bn calibrate` solves them and writes the links through the edit path. Checked against
P(outage) summed by hand from the written file's numbers."""

from __future__ import annotations

import csv
import itertools
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run

EXAMPLE = ROOT / "examples" / "compact"
PRIORS = {  # the root nodes' tables in examples/compact
    "power": {"ok": 0.9, "degraded": 0.08, "failed": 0.02},
    "network": {"ok": 0.85, "degraded": 0.12, "failed": 0.03},
    "cooling": {"ok": 0.92, "degraded": 0.06, "failed": 0.02},
    "software": {"ok": 0.8, "buggy": 0.15, "broken": 0.05},
}
TARGETS = """
[[calibration]]
query = "outage=yes"
value = 0.2
solve = [{ node = "outage", when = "leak", state = "yes" }]

[[calibration]]
query = "outage=yes | power=degraded"
value = 0.5
solve = [{ node = "outage", when = { power = "degraded" }, state = "yes" }]
"""


def with_targets(tmp_path: Path, text: str) -> Path:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "model"))
    with (model / "model.toml").open("a") as toml:
        toml.write(text)
    return model


def p_outage(model: Path, power: str | None = None) -> float:
    """P(outage = yes), or given power, summed over the parents from the file's links by the
    noisy-OR definition: P(no | x) = (1 - leak) * prod over present parents of (1 - p_i)."""
    lines = [x for x in (model / "outage.csv").read_text().splitlines() if not x.startswith("#")]
    links = {(r["parent"], r["state"]): float(r["outage=yes"]) for r in csv.DictReader(lines)}
    priors = dict(PRIORS)
    if power is not None:
        priors["power"] = {power: 1.0}
    no = 0.0
    for combo in itertools.product(*(p.items() for p in priors.values())):
        weight, factor = 1.0, 1 - links[("leak", "")]
        for parent, (state, p) in zip(priors, combo, strict=True):
            weight *= p
            factor *= 1 - links.get((parent, state), 0.0)
        no += weight * factor
    return 1 - no


def test_calibrate_solves_the_leak_and_a_link(tmp_path: Path) -> None:
    model = with_targets(tmp_path, TARGETS)
    result = run("check", "--model", str(model))
    assert result.exit_code == 0 and "is 0.173942, not the published 0.2" in result.output
    before = (model / "outage.csv").read_text()
    dry = run("calibrate", "--dry-run", "--model", str(model))
    assert dry.exit_code == 0, dry.output + dry.stderr
    assert "outage=yes | leak: 0.01 -> 0.0325573" in dry.output
    assert "outage=yes | link power=degraded: 0.3 -> 0.407236" in dry.output
    assert (model / "outage.csv").read_text() == before
    result = run("calibrate", "--json", "--model", str(model))
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.stdout)
    assert [c["when"] for t in data["targets"] for c in t["cells"]] == [
        {"leak": ""},
        {"power": "degraded"},
    ]
    assert p_outage(model) == pytest.approx(0.2, abs=1e-12)
    assert p_outage(model, "degraded") == pytest.approx(0.5, abs=1e-12)
    after = (model / "outage.csv").read_text()
    changed = [a for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert [x.split(",")[:2] for x in changed] == [["power", "degraded"], ["leak", ""]]
    result = run("check", "--model", str(model))
    assert result.exit_code == 0 and "0 warning(s), no errors" in result.output


@pytest.mark.parametrize(
    ("solve", "words"),
    [
        ('{ node = "outage", when = { power = "failed", network = "ok" }, state = "yes" }',
         ["outage is noisy-max: when names one link or the leak"]),
        ('{ node = "outage", when = { power = "ok" }, state = "yes" }',
         ["outage has no link power=ok", "links: power=degraded"]),
        ('{ node = "response", when = { staffing = "high" }, state = "fast" }',
         ["response is a ranked node", "bn cpt expand response"]),
        ('{ node = "sla_breach", when = "leak", state = "yes" }',
         ["sla_breach is a full table: when is a table of its parents"]),
    ],
)  # fmt: skip
def test_bad_link_cells_are_errors_at_their_line(
    tmp_path: Path, solve: str, words: list[str]
) -> None:
    text = f'\n[[calibration]]\nquery = "outage=yes"\nvalue = 0.2\nsolve = [{solve}]\n'
    model = with_targets(tmp_path, text)
    lines = (model / "model.toml").read_text().splitlines()
    line = next(i for i, x in enumerate(lines, 1) if x.startswith("solve = "))
    result = run("check", "--model", str(model))
    assert result.exit_code == 2
    error = next(x for x in result.output.splitlines() if ": error: " in x)
    assert error.startswith(f"model.toml:{line}: error: calibration target 1, cell 1: "), error
    for word in words:
        assert word in result.output, result.output
