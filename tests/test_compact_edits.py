"""Edits of compact nodes (noisy-OR, noisy-MAX, ranked) on their parameters, through the edit
path: each checked against the table computed independently (the noisy-OR product, a truncated
normal from scipy.stats)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from editing import refused

import bn
from bn.forms import NoisyMax, Ranked

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"


@pytest.fixture
def compact(tmp_path: Path) -> Path:
    return Path(shutil.copytree(EXAMPLE, tmp_path / "compact"))


def edit(model: Path, *args: str) -> str:
    result = run(*args, "--model", str(model))
    assert result.exit_code == 0, result.stderr
    return result.stdout


def ranked_row(mean: float, variance: float, n: int) -> np.ndarray:
    """A normal(mean, variance) truncated to [0, 1], its mass on n equal intervals."""
    from scipy import stats

    sd = variance**0.5
    law = stats.truncnorm((0 - mean) / sd, (1 - mean) / sd, loc=mean, scale=sd)
    return np.diff(law.cdf(np.linspace(0, 1, n + 1)))


def test_cpt_set_a_link_and_the_leak(compact: Path) -> None:
    out = edit(compact, "cpt", "set", "outage", "--when", "power=failed", "yes=0.9", "--ess", "30")
    assert "outage.csv: link power=failed: no 0.05 -> 0.1, yes 0.95 -> 0.9, ess 30" in out
    edit(compact, "cpt", "set", "outage", "--when", "leak", "--probs", "0.98,0.02")
    lines = (compact / "outage.csv").read_text().splitlines()
    assert lines[3] == "power,failed,0.1,0.9,30,the generator covers one failure in twenty"
    assert lines[4] == (EXAMPLE / "outage.csv").read_text().splitlines()[4]  # untouched rows
    model = bn.load(compact)
    form = model["outage"].form
    assert isinstance(form, NoisyMax)
    assert form.ess[form.row_of("power", "failed")] == 30
    table = model["outage"].table
    # P(no | power failed, network degraded, others ok) = (1 - leak) x (1 - p_power) x (1 - p_net)
    assert table[2, 1, 0, 0, 0] == pytest.approx(0.98 * 0.1 * 0.8, abs=1e-15)
    assert table[0, 0, 0, 0, 0] == pytest.approx(0.98, abs=1e-15)


def test_cpt_set_ranked_weight_and_variance(compact: Path) -> None:
    out = edit(compact, "cpt", "set", "response", "--when", "staffing", "weight=3", "--ess", "10")
    assert "response.csv: weight of staffing: weight 2 -> 3, ess 10" in out
    out = edit(compact, "cpt", "set", "response", "variance=0.03", "--ess", "20")
    assert "model.toml: [nodes.response] variance 0.02 -> 0.03, variance_ess exact -> 20" in out
    assert "variance_ess = 20\n" in (compact / "model.toml").read_text()
    model = bn.load(compact)
    form = model["response"].form
    assert isinstance(form, Ranked)
    assert list(form.weights) == [3, 1] and list(form.ess[:1]) == [10]
    assert form.variance == 0.03 and form.variance_ess == 20
    # staffing high (5/6), runbooks poor (1/6): mean (3 x 5/6 + 1/6) / 4
    expected = ranked_row((3 * 5 / 6 + 1 / 6) / 4, 0.03, 3)
    assert np.abs(model["response"].table[2, 0] - expected).max() < 1e-12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("outage", "--when", "power=ok", "yes=0.3"), "power=ok is power's absent state"),
        (("outage", "--when", "power=failed", "yes=1.2"), "'1.2' is not a probability"),
        (("outage", "--when", "power=failed,network=failed", "yes=0.3"), "a link is one parent"),
        (("outage", "--when", "powr=failed", "yes=0.3"), "did you mean 'power'"),
        (("outage", "--when", "power=failed", "no=0.3", "yes=0.3"), "sum to 0.6, not 1"),
        (("response", "--when", "staffing", "weight=-1"), "weight '-1' is not a positive"),
        (("response", "weight=2"), "set a weight with --when PARENT weight=W"),
        (("response", "--probs", "0.5,0.5"), "weights, not probabilities"),
        (("response", "variance=0", "--ess", "3"), "variance '0' is not a positive"),
        (("response", "variance=0.1", "--note", "x"), "has no note"),
        (("sla_breach", "--when", "outage", "yes=0.3"), "--when 'outage' is not of the form"),
    ],
)
def test_cpt_set_compact_refuses_bad_input(
    compact: Path, args: tuple[str, ...], message: str
) -> None:
    assert message in refused(compact, "cpt", "set", *args)
