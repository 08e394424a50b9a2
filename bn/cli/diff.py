"""`bn diff`: which cells changed between two versions of a model, and how the posteriors moved."""

from __future__ import annotations

import os
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
    model_option,
)


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, float):
        from bn.numbers import format_number

        return format_number(value)
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "...")
    return str(value)


def _when(when: dict[str, str]) -> str:
    return ", ".join(f"{p}={s}" if s else p for p, s in when.items()) or "(root)"


def _origin(model_dir: str | None, path: Path) -> str:
    """Where the model directory came from, as `bn.model_path` chose it."""
    from bn import packaged_model_path

    if model_dir:
        return "given by --model"
    if os.environ.get("BN_MODEL"):
        return "from $BN_MODEL"
    return "the packaged model" if path == packaged_model_path() else "./cpts"


def report_lines(report: dict[str, Any]) -> list[str]:
    from bn.cli.common import percent

    lines = []
    for node in report["nodes_added"]:
        lines.append(click.style(f"+ node {node}", fg="green"))
    for node in report["nodes_removed"]:
        lines.append(click.style(f"- node {node}", fg="red"))
    for old, new in report["nodes_renamed"]:
        lines.append(click.style(f"~ node {old} renamed {new}", fg="yellow"))
    for table in report["tables"]:
        lines.append(click.style(f"{table['node']}.csv", bold=True))
        structure = table["structure"]
        if structure:
            for key in ("parents", "states"):
                old, new = structure[key]
                if old != new:
                    lines.append(
                        f"  {key}: {', '.join(old) or '(none)'} → {', '.join(new) or '(none)'}"
                    )
            for parent, (old, new) in structure["parent_states"].items():
                before = ", ".join(old) if old is not None else "(a new node)"
                lines.append(f"  states of parent {parent}: {before} → {', '.join(new)}")
            continue
        if table["form"]:
            old, new = table["form"]
            lines.append(f"  written as {old} → {new}")
        rows: dict[str, list[str]] = {}
        for cell in table["cells"]:
            rows.setdefault(_when(cell["when"]), []).append(
                f"{cell['column']} {_value(cell['old'])} → {_value(cell['new'])}"
            )
        for label, changes in rows.items():
            lines.append(f"  {label}: {'; '.join(changes)}")
    for change in report["metadata"]:
        if isinstance(change["old"], dict) or isinstance(change["new"], dict):
            verb = "added" if change["old"] is None else "removed"
            lines.append(f"{change['file']}: [{change['key']}] {verb}")
            continue
        lines.append(
            f"{change['file']}: {change['key']}: {_value(change['old'])} → {_value(change['new'])}"
        )
    from bn.diff import has_changes

    if not has_changes(report):
        lines.append("no differences in the tables or metadata")
    if report["posteriors"]:
        lines.append("")
        lines.append(click.style("posteriors of the default targets", bold=True))
        for target, states in report["posteriors"].items():
            width = max(len(s) for s in states)
            for state, p in states.items():
                old = percent(p["old"]) if p["old"] is not None else "-"
                new = percent(p["new"]) if p["new"] is not None else "-"
                change = "" if not p["change"] else f"  ({p['change'] * 100:+.2f} points)"
                lines.append(f"  {target}={state.ljust(width)}  {old:>7} → {new:>7}{change}")
    return lines


@cli.command(
    epilog=EVIDENCE_HELP
    + """
\b
Examples:
  bn diff HEAD~1                      # the model's last commit against the working tree
  bn diff v1.0 HEAD --json            # two git revisions
  bn diff old-model/ new-model/       # two directories
  bn diff HEAD~1 -e kaboom=yes        # posteriors compared under evidence
"""
)
@click.argument("old")
@click.argument("new", required=False)
@click.option("--exit-code", is_flag=True, help="Exit 1 when the models differ (like git diff).")
@evidence_options
@json_option
@model_option
def diff(
    old: str,
    new: str | None,
    exit_code: bool,
    given: Given,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Compare two versions of a model: OLD and NEW are directories or git revisions.

    A revision is read from the git history of the model directory (--model, default as for
    every command); NEW defaults to its working tree. Lists every changed cell, note and ess,
    added and removed nodes, changed model.toml and scenarios.toml keys, and how the default
    targets' posteriors moved (under any evidence given).
    """
    from bn import model_path
    from bn.diff import compare, has_changes, load_side, side

    default = model_path(model_dir)
    origin = _origin(model_dir, default)
    with (
        side(old, default, origin) as (old_label, old_path),
        side(new, default, origin) as (new_label, new_path),
    ):
        before, after = load_side(old_label, old_path), load_side(new_label, new_path)
        a = given.question(model=before)
        b = given.question(model=after)
        report = compare(a.model, b.model, a.evidence, b.evidence)
    report = {"old": old_label, "new": new_label, **report}
    if as_json:
        echo_json(report)
    else:
        click.echo(click.style(f"{old_label} → {new_label}", bold=True))
        for line in b.evidence.describe():
            click.echo(f"given: {line}")
        click.echo("\n".join(report_lines(report)))
    if exit_code and has_changes(report):
        raise SystemExit(1)
