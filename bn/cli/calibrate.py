"""`bn calibrate`: re-solve the free cells of the model's calibration targets."""

from __future__ import annotations

import click

from bn.cli.base import cli
from bn.cli.common import echo_json, json_option, model_option


@cli.command(
    epilog="""
\b
Examples:
  bn calibrate --dry-run        # what would move, nothing written
  bn calibrate                  # re-solve after an edit moved a published figure
  bn calibrate --json
"""
)
@click.option("--dry-run", is_flag=True, help="Solve and report; write nothing.")
@json_option
@model_option
def calibrate(dry_run: bool, as_json: bool, model_dir: str | None) -> None:
    """Re-solve the free cells so the model meets every [[calibration]] target in model.toml.

    Each target is a published judgement (query, value, tolerance, source) with the cells that
    may move to meet it. One target and one cell: Brent's root finding; otherwise Newton steps on
    all cells at once. The cells are written as `bn cpt set NODE STATE=p` writes them (the rest of
    the row shares the remainder in proportion); every other byte stays. A target its cells cannot
    reach is refused, naming it, and nothing is written.
    """
    from bn import load, model_path
    from bn.analysis.calibrate import calibrate as solve
    from bn.analysis.calibrate import write
    from bn.cli.edit import edited_model_path

    path = model_path(model_dir) if dry_run else edited_model_path(model_dir)
    result = solve(load(path))
    changes = write(result, path, dry_run=dry_run)
    written = sorted(p for p, t in changes.items() if t is not None)
    if as_json:
        echo_json({"model": str(path), **result.to_dict(), "written": [] if dry_run else written})
        return
    if not result.outcomes:
        click.echo(f"{path}: no [[calibration]] targets in model.toml")
        return
    for outcome in result.outcomes:
        target = outcome.target
        click.echo(
            f"P({target.query}) = {outcome.after:.6g} (published {target.value:g}; "
            f"was {outcome.before:.6g})"
        )
        for cell in target.cells:
            old, new = result.cells[cell]
            moved = f"{old:.6g} -> {new:.15g}" if old != new else f"{old:.6g} (unchanged)"
            click.echo(f"  {cell.label()}: {moved}")
    if dry_run:
        click.echo(f"dry run: would write {', '.join(written) or 'nothing'}")
    else:
        click.echo(f"write: {', '.join(written) or 'nothing changed'}")
