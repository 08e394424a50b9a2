"""`bn draw`: the network as a picture, each node showing its probabilities for any question."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bn.cli.base import cli
from bn.cli.common import (
    EVIDENCE_HELP,
    Given,
    echo_json,
    evidence_options,
    json_option,
    load_model,
    model_option,
)
from bn.errors import BNError

SUFFIXES = {".svg": "svg", ".png": "png", ".dot": "dot", ".gv": "dot"}


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn draw                                      # reports/network.svg, no evidence
  bn draw -e kaboom=yes -o kaboom.png          # given Russian nuclear use, as PNG
  bn draw --do starlink=cut --compare baseline # what cutting Starlink changes
  bn draw --scenario samotsvety --compare baseline -o samotsvety.svg
  bn draw --focus KABOOM --depth 1 --rankdir LR
  bn draw --format dot -o network.dot          # DOT text, no Graphviz needed
"""
)
@click.option(
    "-o", "--output", metavar="FILE", help="Where to write (default: reports/network.<format>)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "dot"]),
    help="Output format (default: from the file name, else svg).",
)
@evidence_options
@click.option(
    "--compare",
    metavar="SCENARIO",
    help="Show each state's change against SCENARIO ('baseline' = no evidence if undefined).",
)
@click.option(
    "--rankdir",
    type=click.Choice(["TB", "LR"], case_sensitive=False),
    default="TB",
    show_default=True,
    help="Layout direction: top to bottom or left to right.",
)
@click.option("--focus", metavar="NODE", help="Draw only NODE and its neighbourhood.")
@click.option(
    "--depth", type=int, metavar="N", help="With --focus: how many links out (default 1)."
)
@json_option
@model_option
def draw(
    output: str | None,
    fmt: str | None,
    given: Given,
    compare: str | None,
    rankdir: str,
    focus: str | None,
    depth: int | None,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Draw the network with each node's probabilities (bars and percentages) inside it.

    Evidence nodes are marked with the observed state in bold, do() nodes are marked and their
    incoming links drawn cut, soft and likelihood evidence get a dashed border. With --compare,
    every state shows its change in percentage points and nodes are shaded by their largest
    change. SVG output has each node's description as a tooltip. Renders with the system `dot`
    if installed, else with the graphviz-pure binary installed with bn.
    """
    from bn import diagram

    fmt, path = _target(output, fmt)
    if path is None and as_json:
        raise BNError("--json prints to stdout, and so does `-o -`: choose one")
    from bn.cli.common import diagram_question

    influence, posed = diagram_question(given, model_dir)
    if influence.decisions or influence.utilities:
        other = _compared(compare, model_dir) if compare else None
        _draw_decisions(influence, posed, fmt, path, rankdir, as_json, other, focus, depth)
        return
    base = load_model(model_dir)
    q = given.question(model_dir, model=base)
    picture = diagram.question_spec(
        base,
        q.model,
        q.evidence,
        scenario=given.scenario,
        compare=compare,
        focus=focus,
        depth=depth,
        rankdir=rankdir.upper(),
    )
    _emit(diagram.to_dot(picture), picture, fmt, path, as_json, f"{len(picture['nodes'])} nodes")


def _compared(compare: str, model_dir: str | None) -> tuple[str, Any, Any]:
    """The question a decision model is compared with: a scenario, or 'baseline' (the scenario of
    that name, else no evidence), solved under its own optimal policy."""
    from bn import model_path, scenarios
    from bn.analysis.decide import solve
    from bn.evidence import Evidence
    from bn.validate import load_diagram

    base = load_diagram(model_path(model_dir))
    if compare == "baseline":
        network, evidence, _ = scenarios.baseline(base.network, Evidence())
    else:
        network, evidence = scenarios.pose(base.network, compare, Evidence())
    other = base.with_network(network)
    return compare, other, solve(other, evidence)


def _draw_decisions(
    influence: Any,
    evidence: Any,
    fmt: str,
    path: Path | None,
    rankdir: str,
    as_json: bool,
    compare: tuple[str, Any, Any] | None,
    focus: str | None,
    depth: int | None,
) -> None:
    from bn.analysis.decide import solve
    from bn.decision_draw import influence_dot, influence_spec

    solution = solve(influence, evidence)
    picture = influence_spec(
        influence, solution, rankdir.upper(), compare=compare, focus=focus, depth=depth
    )
    what = "decisions as rectangles, utilities as diamonds"
    _emit(influence_dot(picture), picture, fmt, path, as_json, what)


def _emit(
    dot_text: str, picture: Any, fmt: str, path: Path | None, as_json: bool, what: str
) -> None:
    """Render the DOT text and write it (to stdout without a path), then say what was drawn."""
    from bn import diagram

    data, renderer = diagram.render_with(dot_text, fmt)
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    diagram.write_bytes(path, data)
    if as_json:
        echo_json(
            {
                "output": str(path),
                "format": fmt,
                "renderer": renderer.name if renderer else None,
                "spec": picture,
            }
        )
        return
    how = f"drawn with {renderer.name}" if renderer else "DOT text: render it with `dot -Tsvg`"
    click.echo(f"wrote {path} ({what}, {how})")


def _target(output: str | None, fmt: str | None) -> tuple[str, Path | None]:
    """The format and the path to write (None for stdout, `-o -`)."""
    if output == "-":
        return fmt or "svg", None
    if output is None:
        fmt = fmt or "svg"
        return fmt, Path("reports") / f"network.{fmt}"
    path = Path(output)
    implied = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        if implied is None:
            raise BNError(
                f"cannot tell the format of '{output}' from its extension; use .svg, .png or .dot, "
                "or give --format svg|png|dot"
            )
        return implied, path
    if implied is not None and implied != fmt:
        raise BNError(f"'{output}' looks like {implied} but --format is {fmt}; make them agree")
    return fmt, path
