"""Compact forms (noisy-OR, noisy-MAX, ranked): expansions against their published definitions and
hand-computed tables, `bn check` on compact files, and the example model in examples/compact."""

from __future__ import annotations

import itertools
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bn
from bn.csvfiles import table_text
from bn.forms import NoisyMax, Ranked, interval_masses

EXAMPLE = Path(__file__).parent.parent / "examples" / "compact"


def noisy_or(links: list[float], leak: float) -> NoisyMax:
    k = len(links)
    rows = [[1 - p, p] for p in links] + [[1 - leak, leak]]
    return NoisyMax(
        "noisy-or",
        ("no", "yes"),
        "no",
        tuple(f"p{i}" for i in range(k)),
        (("off", "on"),) * k,
        ("off",) * k,
        (*((f"p{i}", "on") for i in range(k)), ("leak", "")),
        np.array(rows),
    )


@settings(deadline=None, max_examples=50)
@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=4),
    st.floats(0, 1),
)
def test_noisy_or_is_henrions_leaky_form(links: list[float], leak: float) -> None:
    """P(child absent | parents) = (1 - leak) * prod over present parents of (1 - p_i)."""
    table = noisy_or(links, leak).expand()
    for combo in itertools.product((0, 1), repeat=len(links)):
        expected = (1 - leak) * math.prod(1 - p for p, on in zip(links, combo, strict=True) if on)
        assert table[combo][0] == pytest.approx(expected, abs=1e-15)
        assert table[combo].sum() == pytest.approx(1, abs=1e-15)


def test_noisy_max_by_hand() -> None:
    """Díez's noisy-MAX, two parents, a three-level child: computed cell by cell."""
    # child levels none < mild < severe; parent a: off/on; parent b: off/low/high
    a_on = [0.5, 0.3, 0.2]
    b_low = [0.7, 0.3, 0.0]
    b_high = [0.1, 0.4, 0.5]
    leak = [0.9, 0.1, 0.0]
    form = NoisyMax(
        "noisy-max",
        ("none", "mild", "severe"),
        "none",
        ("a", "b"),
        (("off", "on"), ("off", "low", "high")),
        ("off", "off"),
        (("a", "on"), ("b", "low"), ("b", "high"), ("leak", "")),
        np.array([a_on, b_low, b_high, leak]),
    )
    table = form.expand()
    # a=on, b=high: F(none) = .9*.5*.1 = .045; F(mild) = 1*.8*.5 = .4; F(severe) = 1
    assert table[1, 2] == pytest.approx([0.045, 0.4 - 0.045, 0.6], abs=1e-15)
    # a=off, b=low: F(none) = .9*.7 = .63, F(mild) = 1*1 = 1
    assert table[0, 1] == pytest.approx([0.63, 0.37, 0.0], abs=1e-15)
    # all absent: the leak alone
    assert table[0, 0] == pytest.approx(leak, abs=1e-15)


def test_noisy_max_with_absent_last_mirrors_absent_first() -> None:
    first = noisy_or([0.3, 0.6], 0.05)
    last = NoisyMax(
        "noisy-or",
        ("yes", "no"),
        "no",
        first.parents,
        first.parent_states,
        first.parent_absent,
        first.labels,
        first.rows[:, ::-1],
    )
    assert np.allclose(last.expand(), first.expand()[..., ::-1], atol=1e-15)


def test_noisy_max_batches() -> None:
    form = noisy_or([0.3, 0.6], 0.05)
    batch = np.stack([form.rows, form.rows[::-1]])
    tables = form.expand(batch)
    assert tables.shape == (2, 2, 2, 2)
    assert np.array_equal(tables[0], form.expand())


def truncated_masses(mu: float, sigma: float, n: int) -> list[float]:
    """The masses of a normal truncated to [0, 1] on n intervals, by numerical integration."""
    from scipy import integrate, stats

    def mass(a: float, b: float) -> float:
        return float(integrate.quad(lambda x: stats.norm.pdf(x, mu, sigma), a, b, epsabs=1e-14)[0])

    total = mass(0, 1)
    return [mass(j / n, (j + 1) / n) / total for j in range(n)]


@pytest.mark.parametrize("function", ["wmean", "wmin", "wmax", "mixminmax"])
def test_ranked_against_numerical_integration(function: str) -> None:
    states = (("lo", "mid", "hi"), ("lo", "hi"), ("a", "b", "c", "d"))
    weights = np.array([3.0, 1.0, 2.0])
    form = Ranked(
        function, ("v", "w", "x", "y", "z"), ("p", "q", "r"), states, weights, 0.02, (1.0, 3.0)
    )
    table = form.expand()
    for combo in itertools.product(*(range(len(s)) for s in states)):
        x = [(i + 0.5) / len(s) for i, s in zip(combo, states, strict=True)]
        if function == "wmean":
            mu = sum(w * v for w, v in zip(weights, x, strict=True)) / weights.sum()
        elif function == "mixminmax":
            mu = (1 * min(x) + 3 * max(x)) / 4
        else:
            each = [
                (weights[i] * x[i] + sum(x) - x[i]) / (weights[i] + len(x) - 1)
                for i in range(len(x))
            ]
            mu = min(each) if function == "wmin" else max(each)
        expected = truncated_masses(mu, math.sqrt(0.02), 5)
        assert table[combo] == pytest.approx(expected, abs=1e-9)


def test_interval_masses_far_tails() -> None:
    """A normal far outside [0, 1] keeps its truncated shape instead of dividing 0 by 0."""
    row = interval_masses(np.array(-2.0), 0.1, 3)
    assert row.sum() == pytest.approx(1)
    assert row[0] > 0.999


def test_example_model_is_valid_and_compact() -> None:
    model, problems = bn.check(EXAMPLE)
    assert model is not None, problems
    outage = model["outage"]
    assert isinstance(outage.form, NoisyMax)
    assert len(outage.form.labels) == 9  # nine rows
    assert outage.table.shape == (3, 3, 3, 3, 2)  # instead of 81
    assert isinstance(model["response"].form, Ranked)


def test_example_answers_equal_a_hand_written_full_table(tmp_path: Path) -> None:
    """The model with its compact nodes written out as full tables gives identical answers."""
    model = bn.load(EXAMPLE)
    full = tmp_path / "full"
    shutil.copytree(EXAMPLE, full)
    text = (full / "model.toml").read_text()
    for key in ("form", "absent", "parent_absent", "levels", "function", "variance"):
        text = "\n".join(line for line in text.split("\n") if not line.startswith(f"{key} ="))
    (full / "model.toml").write_text(text)
    for node in ("outage", "response"):
        plain = replace(model[node], form=None)
        (full / f"{node}.csv").write_text(table_text(plain))
    written = bn.load(full)
    assert written["outage"].form is None
    for evidence in ({}, {"sla_breach": "yes"}, {"power": "degraded", "staffing": "low"}):
        got = model.query(list(model.ids), evidence=evidence).posteriors
        want = written.query(list(model.ids), evidence=evidence).posteriors
        for target, dist in got.items():
            for state, p in dist.items():
                assert p == pytest.approx(want[target][state], abs=1e-15)


def broken(tmp_path: Path, file: str, text: str, toml: str | None = None) -> list[str]:
    directory = tmp_path / "m"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(EXAMPLE, directory)
    (directory / file).write_text(text)
    if toml is not None:
        (directory / "model.toml").write_text(toml)
    model, problems = bn.check(directory)
    assert model is None
    return [f"{p.where}: {p.message}" for p in problems if p.severity == "error"]


OUTAGE = (EXAMPLE / "outage.csv").read_text()


def test_check_missing_leak_and_link(tmp_path: Path) -> None:
    lines = [line for line in OUTAGE.split("\n") if not line.startswith(("leak", "cooling,failed"))]
    found = broken(tmp_path, "outage.csv", "\n".join(lines))
    assert "outage.csv:2: 1 missing link row(s): cooling=failed" in found
    assert "outage.csv:2: no leak row" in found


def test_check_probabilities_and_states(tmp_path: Path) -> None:
    text = OUTAGE.replace("power,degraded,0.7,0.3", "power,degraded,1.7,0.3").replace(
        "network,failed,", "network,gone,"
    )
    found = broken(tmp_path, "outage.csv", text)
    assert "outage.csv:3: outage=no: '1.7' is greater than 1" in found
    assert "outage.csv:6: 'gone' is not a state of parent network" in found


def test_check_sums_absent_rows_and_unknown_parents(tmp_path: Path) -> None:
    text = OUTAGE.replace("network,degraded,0.8,0.2", "network,degraded,0.8,0.3")
    text += "power,ok,1,0,,\nheat,high,0.5,0.5,,\n"
    found = broken(tmp_path, "outage.csv", text)
    assert "outage.csv:5: the row sums to 1.1, not 1" in found
    assert "outage.csv:12: power=ok is power's absent state: it has no link" in found
    assert "outage.csv:13: 'heat' names no node (there is no heat.csv)" in found


def test_check_ranked(tmp_path: Path) -> None:
    toml = (EXAMPLE / "model.toml").read_text().replace("variance = 0.02", "variance = -1")
    toml = toml.replace('function = "wmean"', 'function = "wmeen"')
    text = "parent,weight,note\nstaffing,-2,\nrunbooks,one,\n"
    found = broken(tmp_path, "response.csv", text, toml)
    assert "response.csv:2: weight '-2' of staffing is not a positive number" in found
    assert "response.csv:3: weight 'one' of runbooks is not a positive number" in found
    assert any(f.startswith("model.toml:16: unknown function 'wmeen'") for f in found)
    assert any(f.startswith("model.toml:17: ranked node response needs variance") for f in found)


def test_check_wrong_header_and_form(tmp_path: Path) -> None:
    toml = (EXAMPLE / "model.toml").read_text().replace('"noisy-max"', '"noisy-maxx"')
    found = broken(tmp_path, "outage.csv", OUTAGE, toml)
    assert any("unknown form 'noisy-maxx'" in f for f in found)
    found = broken(tmp_path, "outage.csv", "power,outage=no,outage=yes\nok,1,0\n")
    assert found[0].startswith("outage.csv:1: model.toml declares outage noisy-max")


def test_noisy_or_needs_two_states(tmp_path: Path) -> None:
    toml = (EXAMPLE / "model.toml").read_text().replace('"noisy-max"', '"noisy-or"')
    text = OUTAGE.replace("outage=yes", "outage=yes,outage=maybe")
    text = "\n".join(
        line + ",0" if line and not line.startswith(("#", "parent")) else line
        for line in text.split("\n")
    )
    text = text.replace(",0\n", "\n")  # the quoted note ends its line: no extra cell there
    found = broken(tmp_path, "outage.csv", text, toml)
    assert any("a noisy-or node has two states; outage has 3" in f for f in found)
