"""`bn cpt show`, `bn cpt expand` and `bn cpt fit`: tables as written, and compact nodes
(noisy-OR, noisy-MAX, ranked) shown, expanded into full tables, or fitted to them."""

from __future__ import annotations

import click

from bn.cli.common import echo_json, json_option, model_option
from bn.cli.edit import cpt, dry_run_option, edit_workspace, finish_edit


@cpt.command("show")
@click.argument("node")
@click.option("--expanded", is_flag=True, help="A compact node's full table, not its parameters.")
@json_option
@model_option
def cpt_show(node: str, expanded: bool, as_json: bool, model_dir: str | None) -> None:
    """The table of NODE, aligned: parents as row labels, then states, ess and note.

    A compact node (noisy-OR, noisy-MAX, ranked) shows its parameters; --expanded shows the
    full table they stand for. A full table works on an invalid model too, to look at what is
    there.

    \b
    Examples:
      bn cpt show KABOOM
      bn cpt show nato_response --json
      bn cpt show outage --expanded --model examples/compact
    """
    from bn.edit.forms import (
        compact_lines,
        compact_node,
        expanded_lines,
        show_compact,
        show_expanded,
    )
    from bn.edit.tables import show, show_lines

    with edit_workspace(model_dir, wait=None) as ws:  # reading only: no writer's lock
        compact = compact_node(ws, node)
        if compact is not None and not expanded:
            data, lines = show_compact(compact), compact_lines(compact)
        elif compact is not None:
            data = show_expanded(compact)
            lines = expanded_lines(compact)
        elif expanded:
            data, lines = show(ws, node), expanded_lines(ws.valid_model()[node])
        else:
            data, lines = show(ws, node), show_lines(ws, node)
    if as_json:
        echo_json(data)
        return
    click.echo(click.style(lines[0], bold=True))
    for line in lines[1:]:
        click.echo(line)


@cpt.command("expand")
@click.argument("node")
@dry_run_option
@json_option
@model_option
def cpt_expand(node: str, dry_run: bool, wait: float, as_json: bool, model_dir: str | None) -> None:
    """Turn a compact node (noisy-OR, noisy-MAX, ranked) into the full table it stands for.

    The node's file gets one row per combination of parent states; the form's keys (form,
    absent, parent_absent, levels, function, variance, mix) leave its model.toml table. The
    answers of every query stay the same.

    \b
    Examples:
      bn cpt expand outage --model examples/compact
      bn cpt expand response --dry-run
    """
    from bn.edit.forms import expand

    with edit_workspace(model_dir, wait=wait) as ws:
        finish_edit(ws, expand(ws, node), dry_run, as_json)


@cpt.command("fit")
@click.argument("node")
@click.option(
    "--form",
    "form",
    required=True,
    type=click.Choice(["noisy-or", "noisy-max", "ranked"]),
    help="The compact form to fit.",
)
@click.option(
    "--function",
    type=click.Choice(["wmean", "wmin", "wmax", "mixminmax"]),
    help="Ranked nodes: fit only this function (default: the best of the four).",
)
@dry_run_option
@json_option
@model_option
def cpt_fit(
    node: str,
    form: str,
    function: str | None,
    dry_run: bool,
    wait: float,
    as_json: bool,
    model_dir: str | None,
) -> None:
    """Fit the closest compact form to NODE's full table, and write NODE in that form.

    The criterion is least squares on the table's cells; a table that is exactly of the form
    is recovered exactly. The output gives the largest cell error and the mean KL divergence
    (nats) of the table's rows from the fitted ones. Use --dry-run to see the fit and write
    nothing. Noisy forms take each parent's first state, and the child's first state, as absent
    (or the child's `absent` in model.toml).

    \b
    Examples:
      bn cpt fit outage --form noisy-max --dry-run
      bn cpt fit response --form ranked --json
    """
    from bn.edit.forms import fit, fit_json

    with edit_workspace(model_dir, wait=None if dry_run else wait) as ws:
        result, lines = fit(ws, node, form, function)
        if not as_json:
            finish_edit(ws, lines, dry_run, False)
            return
        changes = ws.commit(dry_run=dry_run)
        echo_json(
            {
                **fit_json(ws.valid_model().resolve(node), result),
                "dry_run": dry_run,
                "written": sorted(p for p, t in changes.items() if t is not None),
            }
        )
