"""XDSL noisy-MAX nodes: `bn import` reads them as compact nodes (checked against an independent
computation of the expanded table), `bn export` writes them back where GeNIe's layout allows."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run

import bn
from bn.forms import NoisyMax

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"

XDSL = """<?xml version="1.0" encoding="UTF-8"?>
<smile version="1.0" id="noisy" numsamples="1000">
  <nodes>
    <cpt id="a"><state id="on"/><state id="off"/><probabilities>0.3 0.7</probabilities></cpt>
    <cpt id="b">
      <state id="high"/><state id="low"/><state id="off"/>
      <probabilities>0.2 0.3 0.5</probabilities>
    </cpt>
    <noisymax id="c">
      <state id="severe"/><state id="mild"/><state id="none"/>
      <parents>a b</parents>
      <strengths>0 1 0 1 2</strengths>
      <parameters>0.2 0.3 0.5  0 0 1  0.5 0.4 0.1  0.1 0.3 0.6  0 0 1  0.05 0.1 0.85</parameters>
    </noisymax>
  </nodes>
</smile>
"""

# the links (severe, mild, none) and the leak, as the file gives them
LINKS = {("a", 0): [0.2, 0.3, 0.5], ("b", 0): [0.5, 0.4, 0.1], ("b", 1): [0.1, 0.3, 0.6]}
LEAK = [0.05, 0.1, 0.85]


def by_enumeration(a: int, b: int) -> list[float]:
    """Noisy-MAX by its causal story: every present cause (and the leak) produces a level on
    its own; the child is the most severe level produced (severe=0 is the highest)."""
    causes = [LEAK] + [LINKS[k] for k in (("a", a), ("b", b)) if k in LINKS]
    out = [0.0, 0.0, 0.0]
    for levels in itertools.product(range(3), repeat=len(causes)):
        p = float(np.prod([c[level] for c, level in zip(causes, levels, strict=True)]))
        out[min(levels)] += p
    return out


def test_import_xdsl_noisymax_as_compact(tmp_path: Path) -> None:
    source = tmp_path / "noisy.xdsl"
    source.write_text(XDSL)
    result = run("import", str(source), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    model = bn.load(tmp_path / "m")
    node = model["c"]
    assert isinstance(node.form, NoisyMax)
    assert node.form.absent == "none"
    assert node.form.parent_absent == ("off", "off")
    for a, b in itertools.product(range(2), range(3)):
        assert node.table[a, b] == pytest.approx(by_enumeration(a, b), abs=1e-15)
    assert "leak,,0.05,0.1,0.85" in (tmp_path / "m" / "c.csv").read_text()


def test_import_rejects_a_bad_distinguished_row(tmp_path: Path) -> None:
    source = tmp_path / "bad.xdsl"
    source.write_text(XDSL.replace("0 0 1  0.5", "0 0.5 0.5  0.5"))
    result = run("import", str(source), "--out", str(tmp_path / "m"))
    assert result.exit_code == 2
    assert "distinguished state of a" in result.stderr
    assert not (tmp_path / "m").exists()


def test_export_and_import_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "noisy.xdsl"
    source.write_text(XDSL)
    assert run("import", str(source), "--out", str(tmp_path / "m")).exit_code == 0
    out = tmp_path / "again.xdsl"
    result = run("export", "--model", str(tmp_path / "m"), "--to", str(out))
    assert result.exit_code == 0, result.stderr
    assert "<noisymax" in out.read_text()
    assert run("import", str(out), "--out", str(tmp_path / "back")).exit_code == 0
    first, back = bn.load(tmp_path / "m")["c"], bn.load(tmp_path / "back")["c"]
    assert isinstance(first.form, NoisyMax) and isinstance(back.form, NoisyMax)
    assert np.array_equal(first.form.rows, back.form.rows)


def test_export_writes_other_layouts_expanded(tmp_path: Path) -> None:
    model = Path(shutil.copytree(EXAMPLE, tmp_path / "m"))
    out = tmp_path / "c.xdsl"
    result = run("export", "--model", str(model), "--to", str(out))
    assert result.exit_code == 0, result.stderr
    assert "<noisymax" not in out.read_text()
    assert "outage: written as its full table" in result.output + result.stderr
    back = bn.load(model)
    assert np.abs(back["outage"].table - bn.load(model)["outage"].table).max() == 0
