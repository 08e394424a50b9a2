"""`bn check`: validate a model directory and explain every problem."""

from __future__ import annotations

from functools import partial

import click

from bn.cli.base import EXIT_BAD_INPUT, cli, flag
from bn.cli.common import echo_json, json_option, model_option
from bn.cli.edit import wait_option


@cli.command()
@click.option(
    "--fix-sums",
    is_flag=True,
    help="First renormalise rows whose sum is off by at most 1e-3 (rewrites only those lines).",
)
@wait_option
@json_option
@model_option
def check(fix_sums: bool, wait: float, as_json: bool, model_dir: str | None) -> None:
    """Validate a model directory and explain every problem (exit 2 if any is an error).

    Each problem is printed as FILE:LINE: SEVERITY: MESSAGE with a hint below it. Warnings
    (unknown keys in model.toml, ...) do not make the model invalid. An edit interrupted by a
    crash is finished or undone first (as by every command); stray backups and temporary files
    that no journal accounts for are listed as warnings, never deleted. --fix-sums edits the model,
    so like every edit it needs one named by --model, $BN_MODEL or ./cpts: it never rewrites the
    packaged model.

    \b
    Examples:
      bn check
      bn check --model my-model --json
      bn check --fix-sums      # rewrite rows off by rounding, atomically
    """
    from bn import model_path
    from bn.cli.edit import edited_model_path
    from bn.edit.tables import fix_sums as fix
    from bn.journal import leftovers
    from bn.validate import check_diagram as run

    path = edited_model_path(model_dir) if fix_sums else model_path(model_dir)
    fixed = fix(path, wait=wait) if fix_sums else []
    diagram, problems = run(path)
    model = None if diagram is None else diagram.network
    if diagram is not None and not diagram.decisions:
        from bn.analysis.calibrate import check_targets

        problems += check_targets(diagram.network)
    if path.is_dir():
        problems = [*problems, *leftovers(path)]
    errors = [p for p in problems if p.severity == "error"]
    spelling = partial(flag, click.get_current_context().command)
    if as_json:
        echo_json(
            {
                "model": str(path),
                "valid": model is not None,
                "fixed": [p.to_dict() for p in fixed],
                "problems": [p.to_dict(spelling) for p in problems],
            }
        )
    else:
        for p in fixed:
            click.echo(f"fixed {p.where}: {p.message}")
        for p in problems:
            colour = "red" if p.severity == "error" else "yellow"
            click.secho(p.render(spelling), fg=colour, err=bool(errors))
        warnings = len(problems) - len(errors)
        if diagram is not None:
            kinds = f"{len(diagram.network)} nodes"
            if diagram.decisions or diagram.utilities:
                kinds = (
                    f"{len(diagram.network) - len(diagram.decisions)} chance nodes, "
                    f"{len(diagram.decisions)} decision(s), {len(diagram.utilities)} utility node(s)"
                )
            click.secho(f"{path}: {kinds}, {warnings} warning(s), no errors", fg="green")
        else:
            click.secho(
                f"{path}: {len(errors)} error(s), {warnings} warning(s)", fg="red", err=True
            )
    if errors:
        raise SystemExit(EXIT_BAD_INPUT)
