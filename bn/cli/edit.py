"""`bn cpt`, `bn node`, `bn state` and `bn fmt`: build and restructure a model from the command line.

Every edit computes all the new files first, checks the whole new model (tables, model.toml,
scenarios and overlays) in a temporary copy, and only then replaces the files, atomically; a command
that fails leaves every file byte-identical (see `bn.edit`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bn.cli.base import cli
from bn.cli.common import echo_json, json_option, model_option

if TYPE_CHECKING:
    from bn.edit.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def dry_run_option(function: F) -> F:
    """--dry-run, and --wait: every editing command has both."""
    function = wait_option(function)
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Check the edit and list the files it would change; write nothing.",
    )(function)


def wait_option(function: F) -> F:
    """--wait SECONDS: how long a writer waits while another bn process edits the model."""
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=5.0,
        show_default=True,
        metavar="SECONDS",
        help="If another bn process is editing the model, wait this long for it, then give up.",
    )(function)


def table_options(function: F) -> F:
    """--states, --parents and --fill: the table of a new node (`bn cpt template`, `bn node add`)."""
    options = [
        click.option(
            "--states", required=True, metavar="A,B,...", help="The node's states, in order."
        ),
        click.option("--parents", metavar="P,Q,...", help="Parent nodes (ids or aliases)."),
        click.option(
            "--fill",
            default="uniform",
            show_default=True,
            metavar="uniform|P|P1,P2,...",
            help="Every row's probabilities: uniform, one number for every cell, or one per state.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def edited_model_path(model_dir: str | None) -> Path:
    """The model directory an edit writes to (as `bn.model_path`), but never the packaged flagship
    unless it is named explicitly: `BNError` when it would be the fallback."""
    from bn import BNError, model_path, packaged_model_path

    path = model_path(model_dir)
    chosen = model_dir or os.environ.get("BN_MODEL")
    if not chosen and path == packaged_model_path():  # not ./cpts: the fallback
        raise BNError(
            "which model? give --model DIR or set $BN_MODEL (bn does not edit the packaged model)"
        )
    return path


def edit_workspace(model_dir: str | None, wait: float | None) -> Workspace:
    """The model directory to edit (see `edited_model_path`) under its lock, waiting up to `wait`
    seconds for another writer; with `wait=None`, to read only."""
    from bn import model_path
    from bn.edit.workspace import Workspace

    if wait is None:
        return Workspace(model_path(model_dir), wait=None)
    return Workspace(edited_model_path(model_dir), wait=wait)


def finish_edit(ws: Workspace, lines: Sequence[str], dry_run: bool, as_json: bool) -> None:
    """Commit the workspace (validate, then write atomically) and report what changed."""
    changes = ws.commit(dry_run=dry_run)
    written = sorted(p for p, t in changes.items() if t is not None)
    deleted = sorted(p for p, t in changes.items() if t is None)
    if as_json:
        echo_json(
            {
                "model": str(ws.root),
                "dry_run": dry_run,
                "written": written,
                "deleted": deleted,
                "messages": list(lines),
                "remaining_errors": ws.remaining_errors,
            }
        )
        warn_remaining(ws)
        return
    for line in lines:
        click.echo(line)
    verb = "would " if dry_run else ""
    if written:
        click.echo(f"{verb}write: {', '.join(written)}")
    if deleted:
        click.echo(f"{verb}delete: {', '.join(deleted)}")
    if not changes:
        click.echo("nothing to change")
    elif dry_run:
        valid = "the new model is valid" if not ws.remaining_errors else "the edit adds no error"
        click.echo(f"dry run: {valid}; nothing written")
    warn_remaining(ws)


def warn_remaining(ws: Workspace) -> None:
    """On stderr: how many errors the model still has after an edit (none: nothing said)."""
    if ws.remaining_errors:
        click.secho(
            f"warning: the model still has {ws.remaining_errors} error(s); run bn check",
            err=True,
            fg="yellow",
        )


# Said in the help of every editing group (cpt, node, state).
EDIT_RULE = (
    "An edit of a model that already has errors (to repair it step by step) follows one rule: "
    "it must add no new error. The errors already there may stay; bn then warns on stderr how "
    "many are left (remaining_errors in --json). And an edit must be able to read what it "
    "uses: one that carries a change into other files (node rename, remove, add-parent, "
    "remove-parent; state add, rename, remove) finds them through the model's graph, so only "
    "numbers (probabilities, sums, ess) may be wrong; one that computes new rows from old "
    "ones (remove --marginalize, remove-parent, state remove) needs those rows valid, and "
    "remove-parent's default weights a valid model."
)


# --- bn cpt --------------------------------------------------------------------------------------


@cli.group(epilog=EDIT_RULE)
def cpt() -> None:
    """Show and edit conditional probability tables (one CSV per node).

    \b
    Examples:
      bn cpt show KABOOM
      bn cpt set KABOOM --when kaboom=yes,nato_response=conventional_strike yes=0.6
      bn cpt template rain --states no,yes --parents season
      bn cpt normalize --all
    """


# `bn cpt show`, `bn cpt expand` and `bn cpt fit` are in bn/cli/forms.py.


@cpt.command("template")
@click.argument("node")
@table_options
@click.option("--force", is_flag=True, help="Overwrite an existing table (its comments are kept).")
@dry_run_option
@json_option
@model_option
def cpt_template(
    node: str,
    states: str,
    parents: str | None,
    fill: str,
    force: bool,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Write NODE's table with one row for every combination of its parents' states.

    Refuses to overwrite an existing table without --force, and (like every edit) refuses a
    table that would leave the model invalid, e.g. new states for a node that has children.

    \b
    Examples:
      bn cpt template sanctions --states none,partial,full --parents nuclear_use
      bn cpt template starlink --states available,degraded,cut --fill 0.6,0.3,0.1 --force
    """
    from bn.edit.tables import template

    with edit_workspace(model_dir, wait=wait) as ws:
        lines = template(ws, node, _split(states), _split(parents), fill, force)
        finish_edit(ws, lines, dry_run, as_json)


@cpt.command("set")
@click.argument("node")
@click.argument("assignments", nargs=-1, metavar="[STATE=P]...")
@click.option(
    "--when",
    multiple=True,
    metavar="PARENT=STATE,...",
    help="Which rows: a partial condition edits every row it matches (default: all rows).",
)
@click.option("--probs", metavar="P1,P2,...", help="One probability per state, in order.")
@click.option("--ess", metavar="N", help="Equivalent sample size of the rows ('exact' clears it).")
@click.option("--note", metavar="TEXT", help="The rows' note (source or reasoning).")
@dry_run_option
@json_option
@model_option
def cpt_set(
    node: str,
    assignments: Sequence[str],
    when: Sequence[str],
    probs: str | None,
    ess: str | None,
    note: str | None,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Edit the row(s) of NODE that match --when.

    Give every probability with --probs, or some states as STATE=P: the other states then share
    the rest in proportion to their current values. On a noisy-OR/MAX node, --when PARENT=STATE
    names a link and --when leak the leak; on a ranked node, --when PARENT weight=W sets a
    weight and variance=V (no --when) the variance.

    \b
    Examples:
      bn cpt set kaboom --when battlefield=russia_losing yes=0.4 --note "Woodward (2024)"
      bn cpt set KABOOM --when kaboom=yes,nato_response=conventional_strike --probs 0.4,0.6
      bn cpt set starlink --probs 0.5,0.3,0.2 --ess 10
      bn cpt set outage --when power=failed yes=0.9 --model examples/compact
      bn cpt set response --when staffing weight=3 --model examples/compact
    """
    from bn import BNError
    from bn.edit.tables import set_rows

    conditions: dict[str, str] = {}
    for text in when:
        for item in _split(text):
            parent, _, state = item.partition("=")  # a bare name: a compact node's leak or parent
            conditions[parent.strip()] = state.strip()
    named: dict[str, str] = {}
    for item in assignments:
        state, sep, value = item.rpartition("=")
        if not sep or not state:
            raise BNError(f"'{item}' is not of the form STATE=PROBABILITY")
        named[state.strip()] = value.strip()
    with edit_workspace(model_dir, wait=wait) as ws:
        lines = set_rows(
            ws, node, conditions, _split(probs) if probs is not None else None, named, ess, note
        )
        finish_edit(ws, lines, dry_run, as_json)


@cpt.command("normalize")
@click.argument("nodes", nargs=-1)
@click.option("--all", "all_nodes", is_flag=True, help="Every table, overlays included.")
@dry_run_option
@json_option
@model_option
def cpt_normalize(
    nodes: Sequence[str],
    all_nodes: bool,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Rescale every row of NODES (or --all) so that it sums to exactly 1.

    Works on an invalid model too: rows that sum to 0.98 or 3 are rescaled; other problems must
    not get worse.

    \b
    Examples:
      bn cpt normalize nato_response
      bn cpt normalize --all --dry-run
    """
    from bn import BNError
    from bn.edit.tables import normalize, normalized_lines

    if bool(nodes) == all_nodes:
        raise BNError("name the nodes to normalise, or use --all")
    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, normalized_lines(normalize(ws, list(nodes))), dry_run, as_json)


# --- bn node -------------------------------------------------------------------------------------


@cli.group(epilog=EDIT_RULE)
def node() -> None:
    """Add, rename and remove nodes and edges; every dependent file is kept consistent.

    \b
    Examples:
      bn node add sanctions --states none,partial,full --parents nuclear_use
      bn node rename nato_response nato_answer
      bn node add-parent nuclear_war western_resolve
      bn node remove nato_response --marginalize
    """


@node.command("add")
@click.argument("name")
@table_options
@click.option("--label", default="", help="Display label (written to model.toml).")
@click.option("--description", default="", help="Description (written to model.toml).")
@dry_run_option
@json_option
@model_option
def node_add(
    name: str,
    states: str,
    parents: str | None,
    fill: str,
    label: str,
    description: str,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:  # fmt: skip
    """Add node NAME with a table for every combination of its parents' states.

    \b
    Examples:
      bn node add sanctions --states none,partial,full --parents nuclear_use
      bn node add drought --states no,yes --fill 0.9,0.1 --label "Drought this year"
    """
    from bn.edit.tables import add_node

    with edit_workspace(model_dir, wait=wait) as ws:
        lines = add_node(ws, name, _split(states), _split(parents), fill, label, description)
        finish_edit(ws, lines, dry_run, as_json)


@node.command("rename")
@click.argument("old")
@click.argument("new")
@click.option("--keep-alias", is_flag=True, help="Keep OLD as an alias, so old names still work.")
@dry_run_option
@json_option
@model_option
def node_rename(
    old: str,
    new: str,
    keep_alias: bool,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Rename node OLD to NEW: its file, its children's headers, model.toml, scenarios, overlays.

    Scenario keys and targets that use an alias stay as they are (aliases still work).

    \b
    Examples:
      bn node rename nato_response nato_answer
      bn node rename kaboom russian_nuclear_use --keep-alias
    """
    from bn.edit.graph import rename_node

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, rename_node(ws, old, new, keep_alias), dry_run, as_json)


@node.command("remove")
@click.argument("name")
@click.option(
    "--marginalize",
    is_flag=True,
    help="Sum the node out of its children's tables (exact: the other nodes' joint is kept).",
)
@dry_run_option
@json_option
@model_option
def node_remove(
    name: str, marginalize: bool, dry_run: bool, wait: float, as_json: bool, model_dir: str | None
) -> None:
    """Remove node NAME (refused while children depend on it, unless --marginalize).

    With --marginalize each child's table becomes the sum over NAME's states of
    P(child | parents, NAME) P(NAME | its parents); NAME's parents become parents of the child,
    so every remaining node's distribution is unchanged.

    \b
    Examples:
      bn node remove deaths
      bn node remove nato_response --marginalize
    """
    from bn.edit.graph import remove_node

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, remove_node(ws, name, marginalize), dry_run, as_json)


@node.command("add-parent")
@click.argument("name")
@click.argument("parent")
@dry_run_option
@json_option
@model_option
def node_add_parent(
    name: str, parent: str, dry_run: bool, wait: float, as_json: bool, model_dir: str | None
) -> None:
    """Make PARENT a parent of NAME: each row is copied across PARENT's states.

    Nothing changes in meaning until you edit the new rows (`bn cpt set NAME --when PARENT=...`).

    \b
    Examples:
      bn node add-parent nuclear_war western_resolve
      bn cpt set nuclear_war --when western_resolve=wavering,nuclear_use=yes yes=0.5
    """
    from bn.edit.graph import add_parent

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, add_parent(ws, name, parent), dry_run, as_json)


@node.command("remove-parent")
@click.argument("name")
@click.argument("parent")
@click.option(
    "--weights",
    metavar="W1,W2,...|STATE:W,...",
    help="Average NAME's rows over PARENT's states with these weights, one per state or "
    "STATE:W as in evidence flags (STATE=W also works; unnamed states get 0). Default: "
    "P(PARENT | NAME's other parents), which keeps NAME's marginal.",
)
@dry_run_option
@json_option
@model_option
def node_remove_parent(
    name: str,
    parent: str,
    weights: str | None,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Remove PARENT from NAME's parents, averaging NAME's rows over PARENT's states.

    \b
    Examples:
      bn node remove-parent battlefield starlink
      bn node remove-parent battlefield starlink --weights available:0.6,degraded:0.3,cut:0.1
    """
    from bn.edit.graph import remove_parent

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, remove_parent(ws, name, parent, weights), dry_run, as_json)


@cli.command()
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if any file would change.")
@wait_option
@json_option
@model_option
def fmt(check: bool, wait: float, as_json: bool, model_dir: str | None) -> None:
    """Rewrite every table in canonical layout (for diffs and reviews); --check for CI.

    Rows in parent-state order, numbers in their shortest exact form (0.30 -> 0.3), surrounding
    spaces removed; comments and notes kept (a comment between rows moves with the row below
    it); line endings kept. The tables' values never change.

    \b
    Examples:
      bn fmt
      bn fmt --check        # exit 1 when a file is not in canonical layout
    """
    from bn.edit.tables import fmt as run

    with edit_workspace(model_dir, wait=None if check else wait) as ws:
        files = run(ws)
        if not check:
            ws.commit()
        if as_json:
            data: dict[str, Any] = {"model": str(ws.root), "check": check, "files": files}
            echo_json(data if check else {**data, "remaining_errors": ws.remaining_errors})
            if not check:
                warn_remaining(ws)
        else:
            verb = "would reformat" if check else "reformatted"
            for path in files:
                click.echo(f"{verb} {path}")
            if not files:
                click.echo("all tables are in canonical layout")
            if not check:
                warn_remaining(ws)
        if check and files:
            raise SystemExit(1)
