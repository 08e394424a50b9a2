"""`bn scenarios`: every named scenario of the model side by side, against the baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from bn.cli.base import cli
from bn.cli.common import echo_json, json_option, model_option, question
from bn.model import Model

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Row:
    """One scenario's answer: P(target = state), its change against the baseline, and its ratio."""

    name: str
    description: str
    probability: float | None  # None when the scenario's evidence is impossible (see `error`)
    delta: float | None  # probability minus the baseline's (a fraction; shown in percentage points)
    ratio: float | None  # probability / baseline (None when the baseline is 0)
    interval_90: tuple[float, float] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "probability": self.probability,
            "delta": self.delta,
            "ratio": self.ratio,
        }
        if self.interval_90 is not None:
            data["interval_90"] = list(self.interval_90)
        if self.error is not None:
            data["error"] = self.error
        return data


@dataclass(frozen=True)
class Comparison:
    """The scenario table: target, baseline and one row per scenario in file order."""

    target: str
    state: str
    baseline: str | None  # the scenario named `baseline`, or None for "no evidence"
    baseline_probability: float
    rows: tuple[Row, ...]
    draws: int | None = None
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON schema of `bn scenarios --json`."""
        data: dict[str, Any] = {
            "target": f"{self.target}={self.state}",
            "baseline": {"name": self.baseline, "probability": self.baseline_probability},
            "scenarios": [r.to_dict() for r in self.rows],
        }
        if self.draws is not None:
            data["n"] = self.draws
            data["seed"] = self.seed
        return data


def compare(
    model: Model,
    target: str | None = None,
    *,
    hard: Sequence[str] = (),
    do: Sequence[str] = (),
    likelihood: Sequence[str] = (),
    soft: Sequence[str] = (),
    intervals: bool = False,
    draws: int = 100_000,
    seed: int = 0,
) -> Comparison:
    """P(target) under each scenario of `model` (with the given evidence on top of each).

    `target` is `NODE=STATE` or `NODE` (default: the model's first target, state `yes` if it has
    one). The baseline is the scenario named `baseline`, else the model with no scenario.
    With `intervals`, every scenario also gets the 90% interval from parameter uncertainty (one
    seed for all, so the scenarios share their parameter draws).

    >>> import bn
    >>> table = compare(bn.load(bn.packaged_model_path()))
    >>> [(r.name, round(r.probability, 4)) for r in table.rows[:2]]
    [('baseline', 0.168), ('metaculus_low', 0.028)]
    """
    from bn.analysis.uncertainty import parse_target, sample
    from bn.engine import posterior
    from bn.errors import BNError, EvidenceError
    from bn.scenarios import load_scenarios

    scenarios = load_scenarios(model)
    if not scenarios:
        where = model.path / "scenarios.toml" if model.path else "scenarios.toml"
        raise BNError(f"the model has no scenarios: {where} is missing or has no [scenarios.NAME]")
    node, state = parse_target(model, target or model.default_targets()[0])
    index = model[node].state_index(state)
    questions = [
        question(None, hard, do, likelihood, soft, name, model=model) for name in scenarios
    ]
    values: list[float | None] = []
    errors: list[str | None] = []
    for q in questions:
        try:
            values.append(float(posterior(q.model, [node], q.evidence).marginals[node][index]))
            errors.append(None)
        except EvidenceError as error:  # this scenario cannot hold with the given evidence
            values.append(None)
            errors.append(str(error))
    names = list(scenarios)
    if "baseline" in scenarios:
        base_name: str | None = "baseline"
        base = values[names.index("baseline")]
        if base is None:
            raise EvidenceError(f"scenario 'baseline': {errors[names.index('baseline')]}")
    else:
        plain = question(None, hard, do, likelihood, soft, None, model=model)
        base_name = None
        base = float(posterior(plain.model, [node], plain.evidence).marginals[node][index])
    spans: list[tuple[float, float] | None] = [None] * len(values)
    if intervals:
        possible = [i for i, v in enumerate(values) if v is not None]
        pairs = [(questions[i].model, questions[i].evidence) for i in possible]
        for i, row in zip(possible, sample(pairs, node, state, n=draws, seed=seed), strict=True):
            spans[i] = _interval(row)
    rows = tuple(
        Row(
            name=name,
            description=scenarios[name].description,
            probability=p,
            delta=None if p is None else p - base,
            ratio=p / base if p is not None and base > 0 else None,
            interval_90=span,
            error=error,
        )
        for name, p, span, error in zip(names, values, spans, errors, strict=True)
    )
    return Comparison(
        node,
        state,
        base_name,
        base,
        rows,
        draws if intervals else None,
        seed if intervals else None,
    )


def _interval(draws: Any) -> tuple[float, float] | None:
    import numpy as np

    valid = draws[np.isfinite(draws)]
    if not valid.size:
        return None
    low, high = np.quantile(valid, [0.05, 0.95])
    return float(low), float(high)


def evidence_flags(function: F) -> F:
    """-e/--evidence, --do, --likelihood and --soft (no --scenario: every scenario is run)."""
    options = [
        click.option("-e", "--evidence", "hard", multiple=True, metavar="NODE=STATE",
                     help="Hard evidence added to every scenario (repeatable)."),
        click.option("--do", "do", multiple=True, metavar="NODE=STATE",
                     help="Intervention added to every scenario (repeatable)."),
        click.option("--likelihood", multiple=True, metavar="NODE=W1,W2,...",
                     help="Likelihood evidence added to every scenario (repeatable)."),
        click.option("--soft", multiple=True, metavar="NODE=P1,P2,...",
                     help="Fixed-marginal (Jeffrey) evidence added to every scenario (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        function = option(function)
    return function


def _percent(p: float) -> str:
    """Two decimals, enough to read three decimals of the probability; small values keep two digits.

    >>> _percent(0.01536), _percent(0.0000123), _percent(0.0)
    ('1.54%', '0.0012%', '0.00%')
    """
    if 0 < abs(p) < 0.0001:
        return f"{p * 100:.2g}%"
    return f"{p * 100:.2f}%"


@cli.command(
    epilog="""
\b
Columns: P(target) under the scenario, its change against the baseline in percentage points,
and the ratio to the baseline. The baseline is the scenario named 'baseline' (else no evidence).
Evidence flags apply on top of every scenario; where a scenario names the same node, the flag wins.
\b
Examples:
  bn scenarios                              # P(KABOOM) under every scenario
  bn scenarios --target kaboom=yes --json
  bn scenarios --intervals                  # plus 90% intervals from the tables' ess
  bn scenarios -e western_resolve=firm      # every scenario, given a firm West
  bn query KABOOM --scenario samotsvety     # one scenario in full
"""
)
@click.option(
    "--target",
    metavar="NODE=STATE",
    help="The event to compare (default: the model's first target).",
)
@click.option("--intervals", is_flag=True, help="Add 90% intervals from parameter uncertainty.")
@click.option(
    "-n", "draws", default=100_000, show_default=True, help="Parameter draws for --intervals."
)
@click.option("--seed", default=0, show_default=True, help="Random seed for --intervals.")
@evidence_flags
@json_option
@model_option
def scenarios(
    target: str | None,
    intervals: bool,
    draws: int,
    seed: int,
    hard: Sequence[str],
    do: Sequence[str],
    likelihood: Sequence[str],
    soft: Sequence[str],
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Compare every scenario in scenarios.toml: P(target), change against baseline, ratio."""
    from bn.cli.common import load_model

    model = load_model(model_dir)
    table = compare(
        model, target, hard=hard, do=do, likelihood=likelihood, soft=soft,
        intervals=intervals, draws=draws, seed=seed,
    )  # fmt: skip
    if as_json:
        echo_json(table.to_dict())
        return
    node = model[table.target]
    alias = f"  (alias {node.aliases[0]})" if node.aliases else ""
    click.echo(click.style(f"P({table.target} = {table.state})", bold=True) + alias)
    if table.baseline is None:
        click.echo(f"baseline: no scenario, P = {_percent(table.baseline_probability)}")
    given = question(None, hard, do, likelihood, soft, None, model=model).evidence.describe()
    for line in given:
        click.echo(f"given (in every scenario): {line}")
    width = max(len("scenario"), *(len(r.name) for r in table.rows))
    header = f"{'scenario'.ljust(width)}  {'P':>7}  {'change':>11}  {'ratio':>6}"
    if intervals:
        header += "  90% interval"
    click.echo(click.style(header, bold=True))
    for r in table.rows:
        if r.probability is None or r.delta is None:
            click.echo(f"{r.name.ljust(width)}  {'-':>7}  impossible: {r.error}")
            continue
        change = f"{round(r.delta * 100, 2) + 0.0:+.2f} pts"  # + 0.0: no "-0.00"
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "-"
        line = f"{r.name.ljust(width)}  {_percent(r.probability):>7}  {change:>11}  {ratio:>6}"
        if intervals:
            span = r.interval_90
            line += f"  {_percent(span[0])} to {_percent(span[1])}" if span else "  -"
        click.echo(line)
    if intervals:
        click.echo(f"intervals from {table.draws:,} parameter draws, seed {table.seed}")
