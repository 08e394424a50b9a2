"""`bn import` and `bn export`: network files (BIF, XMLBIF, XDSL, Hugin NET, UAI) in and out."""

from __future__ import annotations

from pathlib import Path

import click

from bn.cli.base import cli, flag
from bn.cli.common import echo_json, json_option, model_option
from bn.cli.edit import wait_option
from bn.errors import BNError

FORMAT_NAMES = ["bif", "xmlbif", "xdsl", "net", "uai"]
FORMAT_HELP = "bif, xmlbif, xdsl (GeNIe), net (Hugin) or uai; default: from the extension."


def _long_flags(error: BNError) -> BNError:
    """`error` with `-o` written as its long flag (--out, --to), as these commands always have."""
    command = click.get_current_context().command
    return BNError(
        error.render(lambda name: "--" + name if name in ("out", "to") else flag(command, name))
    )


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o", "--out", required=True, metavar="DIR", type=click.Path(path_type=Path),
    help="Model directory to create (CSV files + model.toml).",
)  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), help=FORMAT_HELP)
@click.option("--force", is_flag=True, help="Replace DIR if it exists (a model directory only).")
@wait_option
@json_option
def import_(
    file: Path, out: Path, fmt: str | None, force: bool, wait: float, as_json: bool
) -> None:
    """Turn a network file (BIF, XMLBIF, GeNIe XDSL, Hugin NET, UAI) into a model directory.

    pgmpy's readers parse it (UAI: bn, by the specification). Node names that are not valid ids
    become ids (the original kept as the label); state names are kept exactly. Rows rounded in
    the file (sum off 1 by more than 1e-12, at most 1e-3) are divided by their sum and listed.
    A bad file is an error naming the file and line, and nothing is written: the directory is
    built under a temporary name and moved into place when complete.

    \b
    Examples:
      bn import alarm.bif --out alarm
      bn import model.xdsl --out model --force      # replace an earlier import
      bn import net.txt --format net --out hugin --json
      bn query --all --model alarm                 # then use it like any model
    """
    from bn.interop import import_network
    from bn.interop.influence_xdsl import holds_decisions, import_diagram

    if holds_decisions(file, fmt):
        try:
            diagram = import_diagram(file, out, force, fmt, wait)
        except BNError as error:
            raise _long_flags(error) from None
        counts = {
            "decisions": list(diagram.order),
            "utilities": [u.id for u in diagram.utilities],
            "nodes": len(diagram.network) + len(diagram.utilities),
        }
        if as_json:
            form = fmt or file.suffix.lower().lstrip(".")
            echo_json({"file": str(file), "out": str(out), "format": form, **counts})
        else:
            click.echo(
                f"imported {file} (influence diagram): {counts['nodes']} nodes, decisions "
                f"{', '.join(diagram.order) or '(none)'} -> {out}"
            )
            click.echo(f"next: bn check --model {out}; bn decide --model {out}")
        return
    try:
        imported = import_network(file, out, fmt, force, wait)
    except BNError as error:
        raise _long_flags(error) from None
    if as_json:
        echo_json(imported.to_dict())
        return
    model = imported.model
    arcs = sum(len(n.parents) for n in model)
    click.echo(
        f"imported {file} ({imported.format.title}): {len(model)} nodes, {arcs} arcs -> {out}"
    )
    if imported.renamed:
        click.echo(
            f"renamed {len(imported.renamed)} node(s) to valid ids (originals kept as labels):"
        )
        for original, new in imported.renamed.items():
            click.echo(f"  {original!r} -> {new}")
    if imported.renormalised:
        worst = max(abs(r.total - 1) for r in imported.renormalised)
        nodes = sorted({r.node for r in imported.renormalised})
        click.echo(
            f"renormalised {len(imported.renormalised)} row(s) whose sums were off by up to "
            f"{worst:.2g} (nodes: {', '.join(nodes[:8])}{' ...' if len(nodes) > 8 else ''})"
        )
    for note in imported.notes:
        click.echo(f"note: {note}")
    click.echo(f"next: bn check --model {out}; bn query --all --model {out}")


@cli.command("export")
@click.option(
    "-o", "--to", "to", required=True, metavar="FILE", type=click.Path(path_type=Path),
    help="Network file to write.",
)  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(FORMAT_NAMES), help=FORMAT_HELP)
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@json_option
@model_option
def export(to: Path, fmt: str | None, force: bool, as_json: bool, model_dir: str | None) -> None:
    """Write the model as a network file (BIF, XMLBIF, GeNIe XDSL, Hugin NET, UAI).

    pgmpy's writers write it (UAI: bn, by the specification). The text is read back first and
    must give the same nodes, states (in order), parents, labels and probabilities (within
    1e-12), or nothing is written. Node ids become the file's names and labels go where the
    format has a place for them; notes, ess, aliases, descriptions, targets, sources and
    scenarios stay behind (listed). UAI carries no names at all.

    \b
    Examples:
      bn export --to nuclear.xdsl                   # open the flagship model in GeNIe
      bn export --model alarm --to alarm.net        # Hugin
      bn export --model alarm --to alarm.xml --force --json
    """
    from bn.interop import export_network

    if str(to) == "-":
        raise BNError(
            "bn export writes a file: name it (the text is read back before it is written)"
        )
    from bn import model_path
    from bn.validate import load_diagram

    if model_dir is not None and not model_dir.strip():
        raise BNError("--model is empty: name a model directory (or leave the option out)")
    diagram = load_diagram(model_path(model_dir))
    if diagram.decisions or diagram.utilities:
        from bn.interop.influence_xdsl import export_diagram

        try:
            count = export_diagram(diagram, to, force, fmt)
        except BNError as error:
            raise _long_flags(error) from None
        if as_json:
            echo_json({"model": str(diagram.network.path), "file": str(to), "nodes": count})
        else:
            click.echo(
                f"exported {diagram.network.path} ({count} nodes: decisions and utilities "
                f"included) -> {to}; read back: same model"
            )
        return
    model = diagram.network
    try:
        exported = export_network(model, to, fmt, force)
    except BNError as error:
        raise _long_flags(error) from None
    if as_json:
        echo_json({"model": str(model.path), **exported.to_dict()})
        return
    click.echo(
        f"exported {model.path} ({exported.nodes} nodes) -> {to} ({exported.format.title}); "
        "read back: same model"
    )
    if exported.dropped:
        click.echo(f"not carried by {exported.format.title}: {', '.join(exported.dropped)}")
    for warning in exported.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
