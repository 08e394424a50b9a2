"""`bn state`: add, rename and remove a node's states (the edits are in `bn.edit.states`)."""

from __future__ import annotations

import click

from bn.cli.base import cli
from bn.cli.common import json_option, model_option
from bn.cli.edit import EDIT_RULE, dry_run_option, edit_workspace, finish_edit

# --- bn state ------------------------------------------------------------------------------------


@cli.group(epilog=EDIT_RULE)
def state() -> None:
    """Add, rename and remove states, keeping every dependent table consistent.

    \b
    Examples:
      bn state add starlink restricted --after degraded --like degraded
      bn state rename peace_talks agreement deal
      bn state remove starlink degraded --into cut
    """


@state.command("add")
@click.argument("name")
@click.argument("new_state", metavar="STATE")
@click.option("--after", metavar="STATE", help="Put the new state after this one (default: last).")
@click.option(
    "--like",
    metavar="STATE",
    help="Children's rows for the new state copy this state's rows (default: uniform rows).",
)
@click.option("--description", default="", help="What the state means (written to model.toml).")
@dry_run_option
@json_option
@model_option
def state_add(
    name: str,
    new_state: str,
    after: str | None,
    like: str | None,
    description: str,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:  # fmt: skip
    """Add STATE to node NAME with probability 0 in every row (nothing changes in meaning).

    Children get a row for the new state in each combination; then give it probability with
    `bn cpt set NAME ... STATE=p`.

    \b
    Examples:
      bn state add starlink restricted --after degraded --like degraded
      bn cpt set starlink restricted=0.05
    """
    from bn.edit.states import add_state

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, add_state(ws, name, new_state, after, like, description), dry_run, as_json)


@state.command("rename")
@click.argument("name")
@click.argument("old")
@click.argument("new")
@dry_run_option
@json_option
@model_option
def state_rename(
    name: str, old: str, new: str, dry_run: bool, wait: float, as_json: bool, model_dir: str | None
) -> None:
    """Rename state OLD of node NAME to NEW everywhere (tables, model.toml, scenarios, overlays).

    \b
    Examples:
      bn state rename peace_talks agreement deal
    """
    from bn.edit.states import rename_state

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, rename_state(ws, name, old, new), dry_run, as_json)


@state.command("remove")
@click.argument("name")
@click.argument("old", metavar="STATE")
@click.option(
    "--into", metavar="OTHER", help="Move STATE's probability into OTHER (default: rescale rows)."
)
@dry_run_option
@json_option
@model_option
def state_remove(
    name: str,
    old: str,
    into: str | None,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Remove STATE from node NAME; children lose their rows for it.

    A noisy-MAX node merges STATE into an adjacent level (--into); a noisy child loses the link
    for STATE; a ranked node, or a parent of one, refuses (run bn cpt expand first).

    \b
    Examples:
      bn state remove starlink degraded --into cut
      bn state remove starlink degraded
    """
    from bn.edit.states import remove_state

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, remove_state(ws, name, old, into), dry_run, as_json)


# --- bn fmt --------------------------------------------------------------------------------------
