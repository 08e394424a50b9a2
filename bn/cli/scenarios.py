"""`bn scenarios`: every named scenario of the model side by side, against the baseline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from bn.cli.base import cli
from bn.cli.common import (
    DRAWS,
    Given,
    echo_json,
    evidence_flags_without_scenario,
    json_option,
    model_option,
)

F = TypeVar("F", bound=Callable[..., Any])


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
    "-n",
    "draws",
    type=DRAWS,
    default=100_000,
    show_default=True,
    help="Parameter draws for --intervals.",
)
@click.option("--seed", default=0, show_default=True, help="Random seed for --intervals.")
@evidence_flags_without_scenario
@json_option
@model_option
def scenarios(
    target: str | None,
    intervals: bool,
    draws: int,
    seed: int,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Compare every scenario in scenarios.toml: P(target), change against baseline, ratio."""
    from bn.analysis.compare import compare
    from bn.cli.common import load_model

    model = load_model(model_dir)
    extra = given.evidence()
    table = compare(model, target, extra=extra, intervals=intervals, draws=draws, seed=seed)
    if as_json:
        echo_json(table.to_dict())
        return
    node = model[table.target]
    alias = f"  (alias {node.aliases[0]})" if node.aliases else ""
    click.echo(click.style(f"P({table.target} = {table.state})", bold=True) + alias)
    if table.baseline is None:
        click.echo(f"baseline: no scenario, P = {_percent(table.baseline_probability)}")
    for line in extra.resolved(model).describe():
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
