"""`bn sensitivity`, `bn explain` and `bn voi`: which number matters, why it moved, what to watch."""

from __future__ import annotations

import math
from collections.abc import Sequence

import click

from bn.cli.base import cli
from bn.cli.common import (
    EVIDENCE_HELP,
    Given,
    echo_json,
    evidence_options,
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
  bn sensitivity KABOOM=yes                      # which cells move P(KABOOM) most
  bn sensitivity KABOOM=yes -o tornado.svg       # ... and draw the tornado of the top 10
  bn sensitivity KABOOM=yes --threshold 0.25     # what each cell would need for 25%
  bn sensitivity KABOOM=yes -e kaboom=yes --range 0.05 --json
  bn sensitivity KABOOM=yes --scenario metaculus_low --top 5
  bn sensitivity --meu --model examples/oil-wildcatter   # a model with decisions
"""
)
@click.argument("target", required=False)
@click.option(
    "--meu",
    is_flag=True,
    help="In a model with decisions: how the maximum expected utility and the best options move "
    "with each cell (no TARGET).",
)
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="Cells in the table and the chart (0: all).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0, 1),
    metavar="P",
    help="Show the value each cell would need for P(TARGET) to reach P.",
)
@click.option(
    "--range",
    "width",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.1,
    show_default=True,
    metavar="W",
    help="Plausible interval of cells whose row has no ess: value +/- W.",
)
@click.option(
    "--include-fixed", is_flag=True, help="Also vary definitional rows (no ess, every cell 0 or 1)."
)
@click.option("-o", "--output", metavar="CHART", help="Write a tornado chart (.svg, .png, .pdf).")
@evidence_options
@json_option
@model_option
def sensitivity(
    target: str | None,
    meu: bool,
    top: int,
    threshold: float | None,
    width: float,
    include_fixed: bool,
    output: str | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:  # fmt: skip
    """One-way sensitivity of P(TARGET=STATE) to every CPT cell that can move it.

    Each cell moves alone while the rest of its row is rescaled to keep the sum 1; P(TARGET) is
    then a ratio of two linear functions of the cell, computed exactly. The plausible interval of a
    cell is the 5-95% interval of Beta(ess*p, ess*(1-p)) when its row has an ess, else p +/- 0.1
    (--range). Cells are sorted by swing: how far P(TARGET) moves over that interval. A binary row
    is one parameter: only its second state's cell is shown. Rows without an ess whose cells are
    all 0 or 1 are definitional and held fixed. STATE defaults to yes if TARGET has it, else its last state.
    Under soft evidence the numbers come from exact evaluations at points, not from the formula.
    """
    from bn import charts
    from bn.analysis.sensitivity import sensitivity as run

    if meu:
        if target is not None or threshold is not None or output:
            raise BNError("--meu takes no TARGET, --threshold or -o: the target is the MEU")
        _meu_sensitivity(given, model_dir, width, include_fixed, top, as_json)
        return
    if target is None:
        raise BNError("bn sensitivity needs a TARGET (or --meu in a model with decisions)")
    q = given.question(model_dir)
    node, state = parse_target(q.model, target)
    if output:
        charts.image_format(output)
    result = run(
        q.model,
        node,
        state,
        q.evidence,
        width=width,
        threshold=threshold,
        include_fixed=include_fixed,
    )
    if output:
        charts.tornado(result, output, top)
    if as_json:
        echo_json(given.tag(result.to_dict()))
        return
    given.echo(q.evidence)
    name = f"P({result.target}={result.state})"
    method = "exact" if result.exact else "exact evaluations at points (soft evidence)"
    click.echo(click.style(f"{name} = {percent(result.baseline)}", bold=True) + f"   [{method}]")
    fixed = (
        f"; {result.held_fixed} definitional row(s) held fixed (--include-fixed to vary them)"
        if result.held_fixed
        else ""
    )
    click.echo(f"{len(result.cells)} cell(s) can move it{fixed}.")
    shown = result.cells[:top] if top else result.cells
    if not shown:
        return
    header = ["swing", f"{name} over range", "slope", "value", "range"]
    if threshold is not None:
        header.append(f"for {percent(threshold)}")
    rows = []
    for c in shown:
        row = [
            percent(c.swing),
            f"{percent(c.low)} – {percent(c.high)}",
            f"{c.derivative:+.3g}",
            f"{c.value:.3g}",
            f"{c.range[0]:.3g}–{c.range[1]:.3g}",
        ]
        if threshold is not None:
            row.append("unreachable" if c.threshold_value is None else f"{c.threshold_value:.3g}")
        rows.append([*row, c.label()])
    click.echo()
    _table([*header, "cell"], rows)
    if len(shown) < len(result.cells):
        click.echo(f"... and {len(result.cells) - len(shown)} more (--top 0 shows all)")
    if output:
        click.echo(f"\ntornado chart: {output}")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns: numbers right-aligned, the last column (a name) left-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        body = [c.rjust(w) for c, w in zip(cells[:-1], widths, strict=False)]
        return "  ".join([*body, cells[-1]]).rstrip()

    click.echo(click.style(line(header), bold=True))
    for row in rows:
        click.echo(line(row))


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn explain KABOOM=yes -e battlefield=russia_losing -e crimea_offensive=yes
  bn explain KABOOM=yes --scenario russia_losing --top 3
  bn explain kaboom=yes --do starlink=cut --likelihood peace_talks=1,2,1 --json
"""
)
@click.argument("target")
@click.option(
    "--top",
    type=click.IntRange(min=0),
    default=None,
    metavar="K",
    help="The K likeliest paths through the target's ancestors [default: 5].",
)
@evidence_options
@json_option
@model_option
def explain(
    target: str,
    top: int | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:  # fmt: skip
    """Why P(TARGET=STATE) is what it is: each piece of evidence, the MPE, the likeliest paths.

    For each piece of evidence: P(TARGET) with all the evidence, without that piece, and the
    piece's likelihood ratio for TARGET (how many times it multiplies the odds). The most probable
    explanation is the likeliest joint state of every node not observed or set. Paths are the
    likeliest joint states of TARGET's free ancestors, with the share of P(TARGET) each carries.
    """
    from bn.analysis.explain import explain as run

    q = given.question(model_dir)
    node, state = parse_target(q.model, target)
    result = run(
        q.model, node, state, q.evidence, top=5 if top is None else top, strict=top is not None
    )
    if as_json:
        echo_json(given.tag(result.to_dict()))
        return
    if given.scenario:
        click.echo(f"scenario: {given.scenario}")
    name = f"P({result.target}={result.state})"
    click.echo(
        click.style(f"{name} = {percent(result.probability)}", bold=True)
        + f" with all the evidence ({percent(result.prior)} with none)"
    )
    if result.pieces:
        rows = []
        for piece in result.pieces:
            rest = "impossible" if piece.without is None else percent(piece.without)
            rows.append([rest, percent(piece.with_all), _ratio(piece.llr), piece.describe()])
        click.echo()
        _table(["without it", "with it", "likelihood ratio", "evidence"], rows)
    click.echo()
    click.echo(
        click.style("most probable explanation", bold=True)
        + f" (probability {percent(result.mpe.probability)}):"
    )
    for key, value in result.mpe.states.items():
        click.echo(f"  {key} = {value}")
    if result.paths:
        click.echo()
        click.echo(
            click.style(f"likeliest paths to {result.target}={result.state}", bold=True)
            + f" (share of {percent(result.probability)}):"
        )
        for path in result.paths:
            states = ", ".join(f"{k}={v}" for k, v in path.states.items())
            click.echo(f"  {percent(path.share or 0.0).rjust(6)}  {states}")
    elif result.paths_note:
        click.echo(f"\n(paths skipped: {result.paths_note})")


def _ratio(llr: float | None) -> str:
    """A likelihood ratio as 'x3.02 (ln +1.11)'."""
    if llr is None:
        return "n/a"
    if math.isinf(llr):
        return "settles it" if llr > 0 else "rules it out"
    return f"×{math.exp(llr):.3g} (ln {llr:+.2f})"


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn voi KABOOM                                  # which observable node tells most about KABOOM
  bn voi KABOOM --all                            # every node, consequences included
  bn voi KABOOM=yes -e western_resolve=firm
  bn voi KABOOM --candidates starlink,peace_talks --candidates battlefield
  bn voi kaboom --scenario metaculus_low --json
  bn voi --decision test --model examples/oil-wildcatter   # EVPI, in utility units
"""
)
@click.argument("target", required=False)
@click.option(
    "--decision",
    metavar="DECISION",
    help="In a model with decisions: the expected value of perfect information (EVPI) of each "
    "chance node for DECISION, in utility units (no TARGET).",
)
@click.option(
    "--candidates",
    multiple=True,
    metavar="NODE[,NODE...]",
    help="Only these nodes (repeatable; default: the nodes model.toml marks observable = true, "
    "else every node; never one observed or set).",
)
@click.option(
    "--all",
    "every_node",
    is_flag=True,
    help="Weigh every node, observable or not (consequences such as war_outcome included).",
)
@evidence_options
@json_option
@model_option
def voi(
    target: str | None,
    decision: str | None,
    candidates: Sequence[str],
    every_node: bool,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:  # fmt: skip
    """Which node is worth watching: its mutual information with TARGET, and how far it moves it.

    For each candidate X: I(X; TARGET | evidence) in bits, and the lowest and highest P(TARGET=STATE)
    once X is observed, over X's possible states. STATE defaults to yes if TARGET has it, else its last state.
    """
    from bn.analysis.voi import value_of_information

    names = [n.strip() for c in candidates for n in c.split(",") if n.strip()]
    if candidates and not names:
        raise BNError("--candidates is empty: name nodes to weigh (or leave the option out)")
    if decision is not None:
        if target is not None:
            raise BNError("--decision takes no TARGET: the value is in the model's utility")
        _evpi(decision, names if candidates else None, given, as_json, model_dir)
        return
    if target is None:
        raise BNError("bn voi needs a TARGET (or --decision DECISION in a model with decisions)")
    if names and every_node:
        raise BNError("give --candidates or --all, not both")
    q = given.question(model_dir)
    node, state = parse_target(q.model, target)
    result = value_of_information(
        q.model, node, q.evidence, state=state, candidates=names, every_node=every_node
    )
    if as_json:
        echo_json(given.tag(result.to_dict()))
        return
    given.echo(q.evidence)
    name = f"P({result.target}={result.state})"
    click.echo(
        click.style(f"{name} = {percent(result.probability)}", bold=True)
        + f"; entropy of {result.target}: {result.entropy:.3g} bits"
    )
    rows = [
        [
            f"{i.mutual_information:.3g}",
            f"{percent(i.low)} ({i.low_state})",
            f"{percent(i.high)} ({i.high_state})",
            i.node,
        ]
        for i in result.indicators
    ]
    if rows:
        click.echo()
        _table(["bits", f"lowest {name}", f"highest {name}", "if we observe"], rows)


def _evpi(
    decision: str,
    candidates: Sequence[str] | None,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    from bn.analysis.decide import evpi, solve
    from bn.cli.common import diagram_question

    diagram, evidence = diagram_question(given, model_dir)
    node = diagram.decision(decision).id
    found = evpi(diagram, node, evidence, candidates)
    meu = solve(diagram, evidence).meu
    if as_json:
        echo_json(
            given.tag(
                {
                    "decision": node,
                    "meu": meu,
                    "evpi": {i.node: i.evpi for i in found},
                    "candidates": [{"node": i.node, "evpi": i.evpi, "meu": i.meu} for i in found],
                    **evidence.resolved(diagram.network).to_dict(),
                }
            )
        )
        return
    given.echo(evidence.resolved(diagram.network))
    click.secho(f"maximum expected utility: {meu:.6g}", bold=True)
    click.echo(f"value of knowing each node before deciding {node} (EVPI, utility units):")
    rows = [[f"{i.evpi:.6g}", f"{i.meu:.6g}", i.node] for i in found]
    if rows:
        click.echo()
        _table(["EVPI", "MEU if known", "if we knew"], rows)


def _meu_sensitivity(
    given: Given, model_dir: str | None, width: float, include_fixed: bool, top: int, as_json: bool
) -> None:
    from bn.analysis.decide_sensitivity import meu_sensitivity
    from bn.cli.common import diagram_question

    diagram, evidence = diagram_question(given, model_dir)
    base, cells = meu_sensitivity(diagram, evidence, width=width, include_fixed=include_fixed)
    if as_json:
        echo_json(
            given.tag(
                {
                    "meu": base.meu,
                    "method": base.method,
                    **base.evidence.to_dict(),
                    "cells": [c.to_dict() for c in cells],
                }
            )
        )
        return
    given.echo(base.evidence)
    click.secho(f"maximum expected utility: {base.meu:.6g}   [exact]", bold=True)
    shown = cells[:top] if top else cells
    rows = [
        [
            f"{c.swing:.4g}",
            f"{c.meu_low:.6g} – {c.meu_high:.6g}",
            f"{c.value:.3g}",
            f"{c.low:.3g}–{c.high:.3g}",
            "yes" if c.policy_changes else "",
            f"{c.node}={c.state}"
            + (" | " + ", ".join(f"{k}={v}" for k, v in c.parents.items()) if c.parents else ""),
        ]
        for c in shown
    ]
    if rows:
        click.echo()
        _table(["swing", "MEU over range", "value", "range", "policy changes", "cell"], rows)
    if len(cells) > len(shown):
        click.echo(f"... and {len(cells) - len(shown)} more (--top 0 shows all)")
