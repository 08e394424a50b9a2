"""`bn uncertainty`: an interval on a posterior from the uncertainty of the tables (rows with an ess)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bn.cli.base import cli
from bn.cli.common import (
    DRAWS,
    EVIDENCE_HELP,
    Given,
    ProgressBar,
    echo_json,
    evidence_options,
    is_terminal,
    json_option,
    model_option,
    percent,
)
from bn.errors import BNError
from bn.evidence import parse_target


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn uncertainty KABOOM=yes                        # interval on the headline 16.8%
  bn uncertainty KABOOM=yes -e kaboom=yes --threshold 0.5
  bn uncertainty KABOOM=yes --scenario samotsvety --json
  bn uncertainty KABOOM=yes -n 1000000 --seed 7 --hist kaboom.png
  bn uncertainty --meu --model examples/nuclear-decisions --do nato_response=conventional_strike
"""
)
@click.argument("target", metavar="TARGET=STATE", required=False)
@click.option(
    "-n",
    "draws",
    type=DRAWS,
    default=None,
    help="Number of parameter draws [default: 100,000; 1,000 with --meu].",
)
@click.option(
    "--meu",
    is_flag=True,
    help="In a model with decisions: the spread of the maximum expected utility (no TARGET).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    help="Random seed: the same seed gives the same numbers.",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    metavar="P",
    help="Also report the share of draws above P.",
)
@click.option("-o", "--hist", "hist", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="Write a histogram of the draws (.png, .svg, .pdf ...).")  # fmt: skip
@evidence_options
@json_option
@model_option
def uncertainty(
    target: str | None,
    draws: int | None,
    meu: bool,
    seed: int,
    threshold: float | None,
    hist: Path | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """How unsure is P(TARGET=STATE)? Draws the uncertain table rows and reports an interval.

    TARGET alone means its state `yes` if it has one, else its last state.

    A row with an `ess` (equivalent sample size) is uncertain: its probabilities are the mean of a
    Dirichlet(ess x row) distribution; rows without an ess are exact. Each of N parameter sets is
    answered exactly; the command reports the point value (the tables as written), the mean and
    median over the draws, and the 90% and 95% intervals.
    """
    from bn import charts
    from bn.analysis import uncertainty as analysis

    if meu:
        if target is not None or threshold is not None or hist is not None:
            raise BNError("--meu takes no TARGET, --threshold or --hist: the target is the MEU")
        _meu(given, model_dir, draws or 1_000, seed, as_json)
        return
    if target is None:
        raise BNError("bn uncertainty needs a TARGET=STATE (or --meu in a model with decisions)")
    draws = draws or 100_000
    q = given.question(model_dir)
    node, state = parse_target(q.model, target)
    if hist is not None:
        charts.image_format(hist)
    bar = ProgressBar(sys.stderr) if is_terminal() and not as_json else None
    try:
        result = analysis.uncertainty(
            q.model, node, state, q.evidence, n=draws, seed=seed, threshold=threshold, progress=bar
        )
    finally:
        if bar is not None:
            bar.close()
    if hist is not None:
        charts.histogram(result, hist)
    if as_json:
        echo_json({**result.to_dict(), "scenario": given.scenario})
        return
    alias = q.model[node].aliases
    click.echo(
        click.style(f"P({node} = {state})", bold=True) + (f"  (alias {alias[0]})" if alias else "")
    )
    given.echo(q.evidence)
    low90, high90 = result.interval_90
    low95, high95 = result.interval_95
    lines = [
        ("point", f"{percent(result.point)}   (the tables as written)"),
        (
            "mean",
            f"{percent(result.mean)}   (Monte Carlo error ± {result.standard_error * 100:.2g} points)",
        ),
        ("median", percent(result.median)),
        ("90%", f"{percent(low90)} to {percent(high90)}"),
        ("95%", f"{percent(low95)} to {percent(high95)}"),
    ]
    if result.share_above is not None and threshold is not None:
        lines.append((f"> {percent(threshold)}", f"{percent(result.share_above)} of draws"))
    width = max(len(name) for name, _ in lines)
    for name, text in lines:
        click.echo(f"  {name.ljust(width)}  {text}")
    click.echo(f"{result.n:,} draws, seed {result.seed}, {result.rows} uncertain row(s) upstream")
    if result.rows == 0:
        click.echo("no table row that can move this answer has an ess: the answer is exact")
    if result.dropped:
        click.secho(
            f"{result.dropped:,} draw(s) make the evidence impossible and were left out", err=True
        )
    if hist is not None:
        click.echo(f"histogram written to {hist}")


def _meu(given: Given, model_dir: str | None, draws: int, seed: int, as_json: bool) -> None:
    from bn.analysis.decide_sensitivity import meu_uncertainty
    from bn.cli.common import diagram_question

    diagram, evidence = diagram_question(given, model_dir)
    result = meu_uncertainty(diagram, evidence, n=draws, seed=seed).to_dict()
    if as_json:
        echo_json(given.tag(result))
        return
    given.echo(evidence.resolved(diagram.network))
    click.secho("maximum expected utility", bold=True)
    click.echo(f"  point    {result['point']:.6g}   (the tables as written)")
    click.echo(f"  mean     {result['mean']:.6g}")
    click.echo(f"  median   {result['median']:.6g}")
    low, high = result["interval_90"]
    click.echo(f"  90%      {low:.6g} to {high:.6g}")
    for option, share in result["first_decision_best"].items():
        click.echo(f"  best first option {option}: {share:.1%} of draws")
    click.echo(f"{result['n']:,} draws, seed {seed}, {result['uncertain_rows']} uncertain row(s)")
