"""`bn decide`: the best option of each decision of an influence diagram, and what it is worth."""

from __future__ import annotations

import click

from bn.cli.base import cli
from bn.cli.common import (
    EVIDENCE_HELP,
    Given,
    diagram_question,
    echo_json,
    evidence_options,
    json_option,
    model_option,
)


def number(value: float | None) -> str:
    return "impossible" if value is None else f"{value:.6g}"


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn decide --model examples/oil-wildcatter
  bn decide --model examples/oil-wildcatter --do test=yes -e seismic=closed
  bn decide --model examples/nuclear-decisions --json
"""
)
@evidence_options
@json_option
@model_option
def decide(given: Given, as_json: bool, model_dir: str | None) -> None:
    """The optimal policy of every decision and the maximum expected utility (MEU).

    For each decision, a row per combination of what is known when it is made (under the
    no-forgetting assumption: everything known at the earlier decisions, and those decisions),
    the best option and the expected utility of every option. Exact. Evidence must be known
    before the decisions; a decision set with --do is not optimised.
    """
    from bn.analysis.decide import solve

    diagram, evidence = diagram_question(given, model_dir)
    solution = solve(diagram, evidence)
    if as_json:
        echo_json(given.tag(solution.to_dict()))
        return
    given.echo(solution.evidence)
    click.secho(f"maximum expected utility: {solution.meu:.6g}", bold=True)
    click.echo(f"method: {solution.method}")
    for policy in solution.decisions:
        options = diagram.network[policy.node].states
        click.echo()
        click.secho(
            f"{policy.order}. {policy.node}: {diagram.network[policy.node].label}", bold=True
        )
        header = [*policy.given, "best", *(f"EU({o})" for o in options), "P(known)"]
        rows = [
            [
                *(r.given[n] for n in policy.given),
                r.best if r.probability > 0 else "-",
                *(number(r.expected_utility[o]) for o in options),
                f"{r.probability:.4g}",
            ]
            for r in policy.rows
        ]
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for i, row in enumerate([header, *rows]):
            line = "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            click.echo(click.style(line.rstrip(), bold=True) if i == 0 else line.rstrip())
