"""`bn report`: write the analytic brief."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import click

from bn.cli.base import cli
from bn.cli.common import DRAWS as DRAW_RANGE
from bn.cli.common import echo_json, is_terminal, json_option, load_model, model_option
from bn.report import DRAWS, SEED


@cli.command()
@click.option(
    "--scenario",
    "scenarios",
    multiple=True,
    metavar="NAME",
    help="Also draw the network under this scenario (repeatable).",
)
@click.option(
    "-o",
    "--out",
    "out_dir",
    default="reports",
    show_default=True,
    metavar="DIR",
    help="Directory for the report files.",
)
@click.option(
    "--format",
    "formats",
    default="html,md",
    show_default=True,
    help="Comma-separated formats: html, md.",
)
@click.option(
    "--date",
    metavar="YYYY-MM-DD",
    help="Date printed in the brief (default: $SOURCE_DATE_EPOCH, else today).",
)
@click.option(
    "-n",
    "draws",
    type=DRAW_RANGE,
    default=DRAWS,
    show_default=True,
    help="Parameter draws for the intervals (as in `bn uncertainty`).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=SEED,
    show_default=True,
    help="Random seed for the draws: the same seed gives the same numbers.",
)
@json_option
@model_option
def report(
    scenarios: Sequence[str],
    out_dir: str,
    formats: str,
    date: str | None,
    draws: int,
    seed: int,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Write a self-contained analytic brief (HTML and Markdown) of the model.

    The same model and options give byte-identical files, so a committed report can be checked
    for staleness. The intervals use the same draws as `bn uncertainty` and `bn scenarios
    --intervals` with the same -n and --seed. The brief ends with the command that regenerates it.

    \b
    Examples:
      bn report --date 2026-11-25
      bn report --scenario starlink_cut --scenario samotsvety -o briefs
      bn report --model my-model --format html --json
      bn report -n 1000000 --seed 7 --date 2026-11-25
    """
    from bn.report import parse_formats, report_date, write_report
    from bn.scenarios import get_scenario

    chosen = parse_formats(formats)  # refused before any work
    day = report_date(date)
    model = load_model(model_dir)
    for name in scenarios:
        get_scenario(model, name)
    command = regenerate_command(model_dir, scenarios, chosen, draws, seed, date, day)
    written = write_report(
        model,
        Path(out_dir),
        chosen,
        scenarios,
        day,
        command,
        progress=progress_line if is_terminal() and not as_json else lambda _: None,
        draws=draws,
        seed=seed,
    )
    if as_json:
        echo_json({"written": [str(p) for p in written], "command": command})
        return
    for path in written:
        click.echo(f"wrote {path}")


def progress_line(step: str) -> None:
    click.echo(f"  {step}...", err=True)


def regenerate_command(
    model_dir: str | None,
    scenarios: Sequence[str],
    formats: Sequence[str],
    draws: int,
    seed: int,
    date: str | None,
    day: str,
) -> str:
    """The `bn report` command line that rebuilds the same brief.

    The model is named whenever it did not come from the default resolution (./cpts, else the
    packaged model): from --model or $BN_MODEL, as the user gave it. The date is recorded when it
    was fixed (--date or $SOURCE_DATE_EPOCH); -n and --seed when they are not the defaults.

    >>> regenerate_command(None, (), ["html", "md"], DRAWS, SEED, "2026-11-25", "2026-11-25")
    'bn report --date 2026-11-25'
    """
    parts = ["bn", "report"]
    given = model_dir or os.environ.get("BN_MODEL")
    if given:
        parts += ["--model", given]
    for name in scenarios:
        parts += ["--scenario", name]
    if list(formats) != ["html", "md"]:
        parts += ["--format", ",".join(formats)]
    if draws != DRAWS:
        parts += ["-n", str(draws)]
    if seed != SEED:
        parts += ["--seed", str(seed)]
    if date is not None or os.environ.get("SOURCE_DATE_EPOCH"):
        parts += ["--date", day]
    return shlex.join(parts)
