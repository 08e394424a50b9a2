"""`bn query`: posterior probabilities under any mix of evidence."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from bn.cli.base import cli
from bn.cli.common import (
    EVIDENCE_HELP,
    Given,
    distribution_lines,
    echo_json,
    evidence_options,
    json_option,
    model_option,
    percent,
)

if TYPE_CHECKING:
    from bn.cli.common import Question
    from bn.engine import QueryResult


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn query KABOOM                          # the headline: P(US-Russia nuclear war)
  bn query KABOOM -e kaboom=yes            # ... given Russian nuclear use in Ukraine
  bn query KABOOM --soft kaboom=yes:0.07   # ... if kaboom is 7% likely, as a forecast says
  bn query KABOOM kaboom --do starlink=cut --json
  bn query --all --scenario samotsvety
  bn query kaboom KABOOM --joint
"""
)
@click.argument("targets", nargs=-1)
@click.option("--all", "all_nodes", is_flag=True, help="Every node not fixed by evidence or do.")
@click.option("--joint", is_flag=True, help="Also print the joint distribution of the targets.")
@evidence_options
@json_option
@model_option
def query(
    targets: Sequence[str],
    all_nodes: bool,
    joint: bool,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Posterior probabilities of TARGETS (default: the model's targets) given evidence.

    A target may be written NODE=STATE, as in the analysis commands; the whole distribution of
    NODE is shown either way.
    """
    q = given.question(model_dir)
    result = answer(q, targets, all_nodes=all_nodes, joint=joint)
    if as_json:
        echo_json(given.tag(result.to_dict()))
        return
    given.echo(q.evidence)
    if q.evidence.hard or q.evidence.likelihood:
        click.echo(f"P(evidence) = {result.probability_of_evidence:.6g}")
    if given.scenario or q.evidence:
        click.echo()
    for node_id, dist in result.posteriors.items():
        click.echo("\n".join(distribution_lines(q.model, node_id, dist)))
    if joint:
        header = [*result.joint_variables, "P"]
        rows = [[*states, percent(p)] for *states, p in result.joint_rows]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        click.echo(click.style("\njoint distribution", bold=True))
        for i, row in enumerate([header, *rows]):
            cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
            line = "  " + "  ".join([*cells, str(row[-1]).rjust(widths[-1])])
            click.echo(click.style(line, bold=True) if i == 0 else line)


def answer(
    q: Question, targets: Sequence[str] = (), *, all_nodes: bool = False, joint: bool = False
) -> QueryResult:
    """What `bn query` answers (and `GET /api/query` with `all_nodes`): TARGETS (default: the
    model's targets), plus every node not fixed by evidence or do() when `all_nodes`."""
    from bn.engine import query as run
    from bn.evidence import parse_target

    fixed = {*q.evidence.hard, *q.evidence.do}
    names = [parse_target(q.model, t)[0] if "=" in t else t for t in targets]
    if all_nodes:
        names += [n.id for n in q.model if n.id not in fixed]
    return run(q.model, names or list(q.model.default_targets()), q.evidence, joint=joint)
