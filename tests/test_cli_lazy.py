"""Commands are imported on first use; `bn --help` lists every one of them without importing them."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import click

import bn.cli
from bn.cli import COMMANDS, cli

HEAVY = (
    "numpy",
    "pandas",
    "pyarrow",
    "scipy",
    "pgmpy",
    "pyagrum",
    "matplotlib",
    "graphviz",
    "jinja2",
    "opt_einsum",
    "cotengra",
    "threadpoolctl",
)


def fresh(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )


def loaded_after(code: str, *args: str) -> dict[str, list[str]]:
    """Which heavy packages and which command modules a fresh interpreter holds after `code`."""
    report = (
        "\nimport json, sys\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "cli = sorted(m for m in sys.modules if m.startswith('bn.cli.'))\n"
        "print(json.dumps({'heavy': heavy, 'cli': cli}), file=sys.stderr)\n"
    )
    out = fresh(f"try:\n    {code}\nexcept SystemExit:\n    pass\n{report}", *args)
    result: dict[str, list[str]] = json.loads(out.stderr.strip().splitlines()[-1])
    return result


def every_module() -> None:
    for module in pkgutil.iter_modules(bn.cli.__path__):
        importlib.import_module(f"bn.cli.{module.name}")


def test_the_table_names_every_registered_command_and_its_modules() -> None:
    every_module()
    assert sorted(COMMANDS) == sorted(cli.commands)
    for name, (modules, summary) in COMMANDS.items():
        command = cli.commands[name]
        assert command.help is not None
        assert summary == command.help.split("\n\n")[0], f"the summary of `{name}` is stale"
        defined_in = {command.callback.__module__} if command.callback else set()
        if isinstance(command, click.Group):
            defined_in |= {c.callback.__module__ for c in command.commands.values() if c.callback}
        assert {f"bn.cli.{m}" for m in modules} == defined_in, name


def test_importing_the_cli_loads_no_heavy_module_and_no_command() -> None:
    loaded = loaded_after("import bn.cli")
    assert loaded == {"heavy": [], "cli": ["bn.cli.base"]}


def test_help_lists_every_command_without_importing_one() -> None:
    code = "import sys; sys.argv = ['bn', '--help']; from bn.cli import main; main()"
    loaded = loaded_after(code)
    assert loaded == {"heavy": [], "cli": ["bn.cli.base"]}
    listed = fresh(code).stdout.split("Commands:\n", 1)[1]
    names = [line.split()[0] for line in listed.splitlines() if line.startswith("  ")]
    assert names == sorted(COMMANDS)


def test_help_is_the_same_as_with_every_command_imported() -> None:
    code = "import sys; sys.argv = ['bn', '--help']; from bn.cli import main; main()"
    lazy = fresh(code).stdout
    every_module()
    eager = click.Group(
        name="bn",
        help=cli.help,
        commands=cli.commands,
        params=cli.params,
        context_settings=cli.context_settings,
    )
    with click.Context(eager, info_name="bn", **cli.context_settings) as ctx:
        assert lazy == eager.get_help(ctx) + "\n"
    assert "sensitivity  One-way sensitivity of P(TARGET=STATE) to every CPT cell" in lazy


def test_a_command_imports_only_its_own_module() -> None:
    loaded = loaded_after(
        "import sys; sys.argv = ['bn', 'check', '--help']; from bn.cli import main; main()"
    )
    assert [m for m in loaded["cli"] if m not in {"bn.cli.base", "bn.cli.common"}] == [
        "bn.cli.check",
        "bn.cli.edit",  # check shares `--wait` with the edit commands
    ]
    assert "pandas" not in loaded["heavy"] and "scipy" not in loaded["heavy"]


def test_subgroups_and_unknown_commands() -> None:
    with click.Context(cli) as ctx:
        cpt = cli.get_command(ctx, "cpt")
        assert isinstance(cpt, click.Group)
        # `cpt` is defined in bn.cli.edit, some of its commands in bn.cli.forms: both are loaded.
        assert {"set", "template", "normalize", "show", "expand", "fit"} <= set(cpt.commands)
        assert cli.get_command(ctx, "no-such-command") is None


def test_a_group_gets_all_its_modules_when_another_command_loaded_one_first() -> None:
    """`bn check` imports bn.cli.edit, which defines `cpt`; `cpt expand` (bn.cli.forms) must still
    be found in the same process, as in the test suite and any program that runs several."""
    loaded = loaded_after(
        "import click, sys\n"
        "    from bn.cli import cli\n"
        "    with click.Context(cli) as ctx:\n"
        "        cli.get_command(ctx, 'check')\n"
        "        assert 'bn.cli.forms' not in sys.modules and 'cpt' in cli.commands\n"
        "        cpt = cli.get_command(ctx, 'cpt')\n"
        "        assert {'expand', 'fit', 'show'} <= set(cpt.commands), sorted(cpt.commands)",
    )
    assert "bn.cli.forms" in loaded["cli"]


def test_the_checks_of_parts_a_model_leaves_out_are_not_imported() -> None:
    """Calibration targets, forecasts, outcomes and the crash journal are checked only when the
    model has them (the flagship has the first three), so a cold query elsewhere skips them."""
    optional = ["bn.calibration", "bn.journal", "bn.outcomes"]
    code = (
        "import json, sys\n"
        "from bn.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {optional!r} if m in sys.modules]), file=sys.stderr)\n"
    )

    def loaded(model: str) -> list[str]:
        out = fresh(code, "query", "--model", model, "--json")
        assert json.loads(out.stdout)["probability_of_evidence"] > 0.999  # it ran
        names: list[str] = json.loads(out.stderr.strip().splitlines()[-1])
        return names

    assert loaded("tests/data/chain") == []
    assert loaded(str(bn.packaged_model_path())) == ["bn.calibration", "bn.outcomes"]
