"""The root command group: version, exit codes, and the one place where input errors are caught."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from gettext import gettext
from types import MappingProxyType
from typing import Any

import click

from bn import __version__
from bn.errors import BNError

EXIT_BAD_INPUT = 2


def flag(command: click.Command, name: str) -> str:
    """How `command` spells the library's parameter `name`: its option's first flag (`-e`,
    `--focus`), an argument's metavar, else `--name`."""
    for parameter in command.params:
        if parameter.name == name:
            if isinstance(parameter, click.Option):
                return parameter.opts[0]
            return parameter.human_readable_name
    return "--" + name.replace("_", "-")


class Command(click.Command):
    """A command whose input errors name its own flags (see `bn.errors.param`)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BNError as error:
            click.secho(f"bn: {error.render(lambda name: flag(self, name))}", err=True, fg="red")
            ctx.exit(EXIT_BAD_INPUT)


class Group(click.Group):
    """Turns `BNError` into a message on stderr and exit code 2; anything else is a bug.

    Errors of the system rather than of bn (a closed pipe, a full disk, a file that cannot be
    read) are reported the same way; output cut short by a reader that stopped (`| head`) is not an
    error at all.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BNError as error:
            click.secho(f"bn: {error}", err=True, fg="red")
            ctx.exit(EXIT_BAD_INPUT)
        except BrokenPipeError:
            # Point stdout at /dev/null so that the interpreter's final flush does not fail again.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            click.secho(f"bn: {where}{error.strerror or error}", err=True, fg="red")
            ctx.exit(EXIT_BAD_INPUT)

    command_class = Command
    group_class = type  # subgroups are of this class too

    # Commands that are imported on first use: name -> (modules of `bn.cli` that define it, the
    # first paragraph of its help, for the list in `bn --help`). Filled in by `bn.cli`.
    lazy: Mapping[str, tuple[tuple[str, ...], str]] = MappingProxyType({})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # every module of the command, even when one is in already: `cpt` is defined in `edit`,
        # which other commands import, and gets its `show`, `expand` and `fit` from `forms`
        for module in self.lazy.get(cmd_name, ((), ""))[0]:
            importlib.import_module(f"bn.cli.{module}")  # a dictionary lookup once imported
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list of commands with their short help, without importing the ones not yet used."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            command = self.commands.get(name)
            if command is None:  # not imported: a stand-in with the same first paragraph
                command = click.Command(name, help=self.lazy[name][1])
            if command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section(gettext("Commands")):
            formatter.write_dl(rows)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bn")
def cli() -> None:
    """Probabilistic "what if" analysis with Bayesian networks kept as plain CSV files.

    A model is a directory of CSV files, one per node (default: $BN_MODEL, else ./cpts, else the
    flagship nuclear-escalation model). Exit codes: 0 ok, 1 `--check` found differences,
    2 bad input or an invalid model (message on stderr).

    \b
    Examples:
      bn check
      bn query KABOOM -e kaboom=yes
      bn query KABOOM --soft kaboom=yes:0.07 --json
      bn query KABOOM --do starlink=cut
    """
