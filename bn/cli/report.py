"""`bn report`: write the analytic brief."""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

import click

from bn.cli.base import cli
from bn.cli.common import echo_json, json_option, load_model, model_option


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
@json_option
@model_option
def report(
    scenarios: Sequence[str],
    out_dir: str,
    formats: str,
    date: str | None,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Write a self-contained analytic brief (HTML and Markdown) of the model.

    The same model and options give byte-identical files, so a committed report can be checked
    for staleness.

    \b
    Examples:
      bn report --date 2026-11-25
      bn report --scenario starlink_cut --scenario samotsvety -o briefs
      bn report --model my-model --format html --json
    """
    from bn.report import write_report
    from bn.scenarios import get_scenario

    model = load_model(model_dir)
    for name in scenarios:
        get_scenario(model, name)
    parts = ["bn", "report"]
    if model_dir:
        parts += ["--model", model_dir]
    for name in scenarios:
        parts += ["--scenario", name]
    if formats != "html,md":
        parts += ["--format", formats]
    if date or os.environ.get("SOURCE_DATE_EPOCH"):
        from bn.report import report_date

        parts += ["--date", report_date(date)]
    command = shlex.join(parts)
    written = write_report(
        model,
        Path(out_dir),
        [f.strip() for f in formats.split(",") if f.strip()],
        scenarios,
        date,
        command,
        progress=lambda step: None if as_json else click.echo(f"  {step}...", err=True),
    )
    if as_json:
        echo_json({"written": [str(p) for p in written], "command": command})
        return
    for path in written:
        click.echo(f"wrote {path}")
