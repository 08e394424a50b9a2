"""`bn query`: posterior probabilities under any mix of evidence."""

from __future__ import annotations

from collections.abc import Sequence

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
  bn query seismic --model examples/oil-wildcatter --policy optimal
"""
)
@click.argument("targets", nargs=-1)
@click.option("--all", "all_nodes", is_flag=True, help="Every node not fixed by evidence or do.")
@click.option("--joint", is_flag=True, help="Also print the joint distribution of the targets.")
@click.option(
    "--policy",
    type=click.Choice(["optimal"]),
    help="In a model with decisions: each decision not set by --do follows its optimal policy.",
)
@evidence_options
@json_option
@model_option
def query(
    targets: Sequence[str],
    all_nodes: bool,
    joint: bool,
    policy: str | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Posterior probabilities of TARGETS (default: the model's targets) given evidence.

    A target may be written NODE=STATE, as in the analysis commands; the whole distribution of
    NODE is shown either way. In a model with decisions, set each decision with --do
    DECISION=OPTION, or let it follow its optimal policy with --policy optimal (see bn decide).
    """
    from bn.analysis.decide import decided
    from bn.cli.common import Question, diagram_question
    from bn.engine import query as run
    from bn.evidence import parse_target

    diagram, evidence = diagram_question(given, model_dir)
    if diagram.decisions or diagram.utilities:
        q = Question(decided(diagram, evidence, policy), evidence, given.scenario)
    else:
        q = Question(diagram.network, evidence, given.scenario)
    fixed = {*q.evidence.hard, *q.evidence.do}
    names = [parse_target(q.model, t)[0] if "=" in t else t for t in targets]
    if all_nodes:
        names += [n.id for n in q.model if n.id not in fixed]
    result = run(q.model, names or list(q.model.default_targets()), q.evidence, joint=joint)
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
