"""`bn learn` (tables from observed cases) and `bn sample` (cases from the model)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bn.cli.base import cli
from bn.cli.common import (
    Given,
    ProgressBar,
    echo_json,
    evidence_flags_without_scenario,
    is_terminal,
    json_option,
    model_option,
)


@cli.command(
    epilog="""
\b
Examples:
  bn learn cases.csv --model my-model --dry-run     # what would move, as bn diff shows it
  bn learn cases.csv --model my-model               # update the expert model in place
  bn learn cases.csv --model my-model -o updated    # ... or write a new model directory
  bn learn cases.csv --prior bdeu --ess 10 --json
  bn learn partial.csv --em                         # missing values filled in by EM
"""
)
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="DIR", help="Write a new model directory instead.")
@click.option(
    "--prior",
    type=click.Choice(["model", "bdeu", "k2", "none"]),
    help="Pseudo-counts: the model's rows × their ess (default when rows carry an ess), BDeu "
    "(default otherwise), K2 (one per cell) or none (maximum likelihood).",
)
@click.option(
    "--ess",
    type=click.FloatRange(min=0, min_open=True),
    help="BDeu's equivalent sample size (default 1); with --prior model, the weight of rows "
    "without an ess (else they are exact and kept).",
)
@click.option("--nodes", metavar="N1,N2", help="Learn only these nodes' tables.")
@click.option("--em", is_flag=True, help="Fill in missing values by expectation maximisation.")
@click.option("--max-iterations", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@json_option
@model_option
def learn(
    data: str,
    output: str | None,
    prior: str | None,
    ess: float | None,
    nodes: str | None,
    em: bool,
    max_iterations: int,
    dry_run: bool,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Learn the model's tables from DATA, a CSV or parquet file of observed cases.

    One column per node (ids or aliases), one row per case; an empty cell is missing; an optional
    `weight` column weighs each case. The structure stays; only the tables change. Each learnt
    row is the posterior mean of a Dirichlet whose prior is the model's own row (ess × row), so a
    firm expert row moves less than a loose one; its ess becomes prior weight + count and its
    note says what it was learnt from. Without --em, a case with a missing value in a node's
    family is left out of that family's counts (the output says how many).
    """
    from bn import load, model_path
    from bn.cli.diff import report_lines
    from bn.cli.edit import edited_model_path
    from bn.diff import compare
    from bn.learn import compact_nodes, default_prior, fit, write, write_copy
    from bn.learndata import read_cases

    path = model_path(model_dir) if output or dry_run else edited_model_path(model_dir)
    model = load(path)
    chosen = prior or default_prior(model)
    names = [n.strip() for n in nodes.split(",") if n.strip()] if nodes else None
    observed = read_cases(model, data)
    # EM's bar: on a terminal, drawn once the run has lasted a second, erased at the end
    bar = ProgressBar(sys.stderr, label="EM iterations") if em and is_terminal() else None
    try:
        learnt = fit(
            model,
            observed,
            prior=chosen,
            ess=ess,
            em=em,
            nodes=names,
            max_iterations=max_iterations,
            progress=bar,
        )
    finally:
        if bar is not None:
            bar.close()
    if dry_run:
        changes: dict[str, str | None] = {}
    elif output:
        changes = write_copy(learnt, path, Path(output))
    else:
        changes = write(learnt, path)
    if as_json:
        payload = learnt.to_dict()
        if payload["em"] is not None:
            payload["em"] = {k: payload["em"][k] for k in ("iterations", "log_likelihood")}
        echo_json(
            {
                "model": str(output or path),
                "data": data,
                **payload,
                "written": sorted(p for p, t in changes.items() if t is not None),
            }
        )
        return
    what = f"{chosen}, ess {ess:g}" if ess is not None else chosen
    click.echo(
        f"learnt {len(learnt.nodes)} table(s) from {data}: {learnt.rows:,} case(s), prior {what}"
    )
    for report in learnt.nodes:
        extra = f", {report.rows_without_data} without data" if report.rows_without_data else ""
        held = f", {report.rows_held} exact row(s) kept" if report.rows_held else ""
        if report.form is not None:
            held += f"; {report.form} refitted, max abs error {report.max_abs_error:.3g}"
        click.echo(
            f"  {report.node}: {report.rows_learnt} row(s) learnt from {report.cases_used:,.6g} "
            f"case(s){extra}{held}"
        )
    for node in compact_nodes(model, observed) if em and names is None else []:
        click.echo(f"  {node}: a compact node, not learnt by EM (learn it without --em)")
    for node, count in learnt.incomplete.items():
        click.echo(
            f"  {node}: {count:,} case(s) left out (a missing value in its family; --em uses them)"
        )
    if learnt.em is not None:
        click.echo(
            f"EM: {learnt.em['iterations']} iteration(s), log-likelihood {learnt.em['log_likelihood']:.6f}"
        )
    if dry_run:
        click.echo("\n".join(report_lines(compare(model, learnt.model))))
        click.echo("dry run: nothing written")
    else:
        written = sorted(p for p, t in changes.items() if t is not None)
        where = f"{output}/" if output else ""
        click.echo(f"write: {', '.join(where + p for p in written) or 'nothing changed'}")


@cli.command(
    epilog="""
\b
Examples:
  bn sample -n 1000 -o cases.csv                   # forward sampling, seed 0
  bn sample -n 1000 -e kaboom=yes -o given.csv     # likelihood weighting: a weight column
  bn sample -n 500 -e kaboom=yes --method rejection
  bn sample -n 10 --do starlink=cut                # to stdout
"""
)
@click.option(
    "-n", "n", type=click.IntRange(1, 100_000_000), required=True, help="Number of cases."
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0), help="Random seed.")
@click.option(
    "--method",
    type=click.Choice(["weighting", "rejection"]),
    default="weighting",
    show_default=True,
    help="With hard evidence: likelihood weighting (a weight column) or rejection.",
)
@click.option("-o", "--output", metavar="FILE", help="CSV or .parquet file (default: stdout).")
@evidence_flags_without_scenario
@json_option
@model_option
def sample(
    n: int,
    seed: int,
    method: str,
    output: str | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Draw N cases from the model by forward sampling (columns: node ids, states as written).

    With hard evidence (-e), cases are drawn by likelihood weighting (each case has a `weight`)
    or by rejection (--method rejection); --do sets a node by graph surgery first.
    """
    from bn.sampling import draw, to_arrow, write_csv, write_table

    q = given.question(model_dir)
    draws = draw(q.model, n, seed=seed, evidence=q.evidence, method=method)
    used = draws.method
    table = to_arrow(q.model, draws)
    if output and output != "-":
        write_table(table, output)
    elif not as_json:
        write_csv(table, sys.stdout.buffer)
    if as_json:
        echo_json(
            {"output": output, "n": n, "seed": seed, "method": used, "columns": table.column_names}
        )
    elif output and output != "-":
        click.echo(f"wrote {n:,} case(s) to {output} ({used}, seed {seed})")
    else:
        click.echo(f"{n:,} case(s) ({used}, seed {seed})", err=True)
