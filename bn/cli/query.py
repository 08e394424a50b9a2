"""`bn query`: posterior probabilities under any mix of evidence."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from bn.cli.base import cli
from bn.cli.common import (
    EVIDENCE_HELP,
    Given,
    distribution_lines,
    echo_json,
    evidence_options,
    is_terminal,
    json_option,
    load_model,
    model_option,
    percent,
)
from bn.model import Model

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
  bn query --cases cases.csv KABOOM -o answers.csv   # one row of answers per case
  bn query --cases 'data/*.parquet' --all --dask -o answers.parquet
  bn query seismic --model examples/oil-wildcatter --policy optimal
"""
)
@click.argument("targets", nargs=-1)
@click.option("--all", "all_nodes", is_flag=True, help="Every node not fixed by evidence or do.")
@click.option("--joint", is_flag=True, help="Also print the joint distribution of the targets.")
@click.option(
    "--cases",
    metavar="FILE",
    help="A CSV or Parquet table of cases: a column per observed node, a row per case.",
)
@click.option("--dask", "use_dask", is_flag=True, help="Run --cases (a glob) on dask partitions.")
@click.option("--scheduler", metavar="ADDRESS", help="A dask scheduler to run --dask on.")
@click.option(
    "-o", "--output", metavar="FILE", help="Where --cases writes (.csv, .parquet, .json)."
)
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
    cases: str | None,
    use_dask: bool,
    scheduler: str | None,
    output: str | None,
    policy: str | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Posterior probabilities of TARGETS (default: the model's targets) given evidence.

    A target may be written NODE=STATE, as in the analysis commands; the whole distribution of
    NODE is shown either way. In a model with decisions, set each decision with --do
    DECISION=OPTION, or let it follow its optimal policy with --policy optimal (see bn decide).
    With --cases, each row of FILE is one set of hard evidence (an empty cell is unobserved; an
    optional `case` column names the rows) and the answer is one row per case: the targets'
    probabilities, P(evidence) and an error for impossible cases.
    """
    from bn.cli.common import Question, diagram_question
    from bn.engine import joint_rows

    if cases is not None or use_dask or scheduler or output:
        _cases(targets, all_nodes, joint, cases, use_dask, scheduler, output, given, as_json,
               model_dir)  # fmt: skip
        return
    diagram, evidence = diagram_question(given, model_dir)
    if diagram.decisions or diagram.utilities:
        from bn.analysis.decide import decided

        q = Question(decided(diagram, evidence, policy), evidence, given.scenario)
    else:
        q = Question(diagram.network, evidence, given.scenario)
    result = answer(q, targets, all_nodes=all_nodes)
    variables, joint_table = joint_rows(q.model, result.targets, q.evidence) if joint else ((), ())
    if as_json:
        out = result.to_dict()
        if joint:
            out["joint"] = {"variables": list(variables), "rows": [list(r) for r in joint_table]}
        echo_json(given.tag(out))
        return
    given.echo(q.evidence)
    if q.evidence.hard or q.evidence.likelihood:
        click.echo(f"P(evidence) = {result.probability_of_evidence:.6g}")
    if given.scenario or q.evidence:
        click.echo()
    for node_id, dist in result.posteriors.items():
        click.echo("\n".join(distribution_lines(q.model, node_id, dist)))
    if joint:
        header = [*variables, "P"]
        rows = [[*states, percent(p)] for *states, p in joint_table]
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        click.echo(click.style("\njoint distribution", bold=True))
        for i, row in enumerate([header, *rows]):
            cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
            line = "  " + "  ".join([*cells, str(row[-1]).rjust(widths[-1])])
            click.echo(click.style(line, bold=True) if i == 0 else line)


def _cases(
    targets: Sequence[str],
    all_nodes: bool,
    joint: bool,
    cases: str | None,
    use_dask: bool,
    scheduler: str | None,
    output: str | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """`bn query --cases`: one batched run over a table of cases, in process or on dask."""
    import sys

    from bn.cases import (
        CHUNK,
        parse_cases,
        query_cases_dask,
        read_cases,
        read_dask,
        resolve_targets,
        run_cases,
        write_cases,
    )
    from bn.evidence import parse_target

    if cases is None:
        raise click.UsageError("--dask, --scheduler and -o go with --cases FILE")
    if given.evidence() or given.scenario or joint or as_json:
        raise click.UsageError("--cases takes its evidence from the file: no -e, --do, "
                               "--likelihood, --soft, --scenario, --joint or --json with it")  # fmt: skip
    if scheduler and not use_dask:
        raise click.UsageError("--scheduler goes with --dask")
    model = load_model(model_dir)
    names = [parse_target(model, t)[0] if "=" in t else t for t in targets]
    if all_nodes:
        names += list(model.ids)
    ids = resolve_targets(model, names)
    if use_dask:
        frame = _on_dask(model, cases, ids, scheduler, read_dask, query_cases_dask)
    else:
        import pandas as pd

        table = read_cases(cases)
        parsed = parse_cases(model, table)
        if is_terminal() and len(parsed) > 2 * CHUNK:
            with click.progressbar(length=len(parsed), label="cases", file=sys.stderr) as bar:
                answers = run_cases(model, parsed, ids, progress=bar.update)
        else:
            answers = run_cases(model, parsed, ids)
        frame = pd.DataFrame(answers)
    text = write_cases(frame, output)
    if text:
        click.echo(text, nl=False)


def _on_dask(
    model: Model,
    pattern: str,
    ids: Sequence[str],
    scheduler: str | None,
    read: Callable[[str], Any],
    mapped: Callable[..., Any],
) -> Any:
    import dask

    if scheduler:
        from distributed import Client

        with Client(scheduler):  # type: ignore[no-untyped-call]
            return mapped(model, read(pattern), ids).compute()
    with dask.config.set(scheduler="threads"):
        return mapped(model, read(pattern), ids).compute()


def answer(q: Question, targets: Sequence[str] = (), *, all_nodes: bool = False) -> QueryResult:
    """What `bn query` answers (and `GET /api/query` with `all_nodes`): TARGETS (default: the
    model's targets), plus every node not fixed by evidence or do() when `all_nodes`."""
    from bn.engine import query as run
    from bn.evidence import parse_target

    fixed = {*q.evidence.hard, *q.evidence.do}
    names = [parse_target(q.model, t)[0] if "=" in t else t for t in targets]
    if all_nodes:
        names += [n.id for n in q.model if n.id not in fixed]
    return run(q.model, names or list(q.model.default_targets()), q.evidence)
