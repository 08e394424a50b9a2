"""`bn query` through the command line: output, JSON schema, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import CHAIN, FLAGSHIP, run, run_json

from bn.cli import cli


def test_flagship_headline_json() -> None:
    data = run_json("query", "KABOOM", "--model", str(FLAGSHIP))
    assert set(data) == {
        "model", "targets", "evidence", "do", "likelihood", "soft",
        "probability_of_evidence", "log_probability_of_evidence", "posteriors",
    }  # fmt: skip
    assert data["targets"] == ["nuclear_war"]
    assert data["posteriors"]["nuclear_war"]["yes"] == pytest.approx(0.168, abs=5e-4)


def test_every_kind_of_evidence_on_the_command_line() -> None:
    data = run_json(
        "query", "KABOOM", "kaboom", "--model", str(CHAIN),
        "--soft", "kaboom=yes:0.07", "--likelihood", "nato_response=1,2",
    )  # fmt: skip
    assert data["soft"] == {"nuclear_use": {"yes": 0.07}}
    assert data["likelihood"] == {"nato_response": {"limited": 1.0, "strike": 2.0}}
    assert data["posteriors"]["nuclear_use"]["yes"] == pytest.approx(0.07)
    done = run_json("query", "KABOOM", "--model", str(CHAIN), "--do", "nato_response=strike")
    assert done["do"] == {"nato_response": "strike"}
    assert done["posteriors"]["nuclear_war"]["yes"] == pytest.approx(0.3 * 0.7)
    seen = run_json("query", "KABOOM", "--model", str(CHAIN), "-e", "nato_response=strike")
    assert seen["evidence"] == {"nato_response": "strike"}
    assert seen["probability_of_evidence"] == pytest.approx(0.24)
    assert seen["posteriors"]["nuclear_war"]["yes"] == pytest.approx(0.7)


def test_human_output_echoes_evidence_and_draws_bars() -> None:
    result = run("query", "KABOOM", "--model", str(CHAIN), "-e", "kaboom=yes")
    assert result.exit_code == 0
    assert "given: nuclear_use = yes" in result.stdout
    assert "P(evidence) = 0.3" in result.stdout
    assert "56.0%" in result.stdout and "█" in result.stdout


def test_all_and_joint() -> None:
    data = run_json("query", "--all", "--joint", "--model", str(CHAIN), "-e", "kaboom=yes")
    assert set(data["posteriors"]) == {"nato_response", "nuclear_war"}
    assert data["joint"]["variables"] == ["nato_response", "nuclear_war"]
    rows = {tuple(r[:-1]): r[-1] for r in data["joint"]["rows"]}
    assert rows[("strike", "yes")] == pytest.approx(0.56)
    assert sum(rows.values()) == pytest.approx(1)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["KABOOOM"], ["unknown node 'KABOOOM'", "did you mean 'KABOOM'", "nuclear_war (KABOOM)"]),
        (
            ["KABOOM", "-e", "kaboom=yess"],
            ["'yess' is not a state of nuclear_use", "did you mean 'yes'"],
        ),
        (["KABOOM", "-e", "kaboom"], ["not of the form NODE=STATE"]),
        (["KABOOM", "--likelihood", "kaboom=1"], ["gives 1 numbers but nuclear_use has 2 states"]),
        (["KABOOM", "--likelihood", "kaboom=yes:2"], ["must weigh every state; missing: no"]),
        (["KABOOM", "--soft", "kaboom=0.5,0.6"], ["must be a distribution", "1.1"]),
        (["KABOOM", "--soft", "kaboom=yes:x"], ["'x' is not a number"]),
        (["KABOOM", "-e", "kaboom=no", "-e", "KABOOM=yes"], ["impossible", "probability 0"]),
        (["KABOOM", "-e", "kaboom=no", "--do", "kaboom=yes"], ["given twice"]),
        (["KABOOM", "--scenario", "nope"], ["unknown scenario 'nope'"]),
    ],
)
def test_bad_input_is_explained_with_exit_2(args: list[str], words: list[str]) -> None:
    result = run("query", "--model", str(CHAIN), *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.stderr


def test_invalid_model_stops_query_with_check_messages(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.csv").write_text("a=x,a=y\n0.5,0.4\n")
    result = run("query", "a", "--model", str(tmp_path))
    assert result.exit_code == 2
    assert "a.csv:2" in result.stderr and "sums to 0.9" in result.stderr


def test_model_resolution_order(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    # No ./cpts: the packaged flagship model answers.
    data = run_json("query", "KABOOM")
    assert "nuclear_war" in data["posteriors"]
    # $BN_MODEL wins over the packaged model; --model wins over $BN_MODEL.
    monkeypatch.setenv("BN_MODEL", str(CHAIN))
    assert run_json("query", "--all")["model"] == "Tegmark's three-step chain"
    bad = run("query", "--model", str(tmp_path / "missing"))
    assert bad.exit_code == 2 and "no such model directory" in bad.stderr


def test_every_command_has_help_with_an_example() -> None:
    import click

    def walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
        found = []
        ctx = click.Context(group)
        for name in group.list_commands(ctx):  # imports every lazily loaded command
            command = group.get_command(ctx, name)
            assert command is not None, name
            found.append((f"{prefix} {name}", command))
            if isinstance(command, click.Group):
                found += walk(command, f"{prefix} {name}")
        return found

    for name, command in walk(cli, "bn"):
        text = (command.help or "") + (command.epilog or "")
        assert "Example" in text, f"`{name}` has no example in its help"
        assert name.split()[-1] in text or isinstance(command, click.Group), name


def test_console_script_starts_without_heavy_imports() -> None:
    code = (
        "import sys; from bn.cli import cli\n"
        "heavy = [m for m in ('pgmpy', 'pandas', 'matplotlib', 'graphviz', 'scipy') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.replace("'", '"')) == []


def test_system_errors_are_messages_not_tracebacks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bn = [sys.executable, "-c", "from bn.cli import main; main()"]
    # A reader that stops early is not an error.
    with subprocess.Popen(
        [*bn, "query", "--all", "--joint"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as reader:
        assert reader.stdout is not None and reader.stderr is not None
        reader.stdout.readline()
        reader.stdout.close()
        assert reader.wait() == 0
        assert b"Traceback" not in reader.stderr.read()
    # A full disk is.
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*bn, "query", "KABOOM"], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 2 and "No space left" in done.stderr
    # So is a directory that cannot hold the output.
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("export", "--to", str(blocker / "x.bif"))
    assert result.exit_code == 2 and "cannot write" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["query", "KABOOM", "-e", "kaboom=yes", "-e", "kaboom=no"], "-e names kaboom twice"),
        (["query", "KABOOM", "--soft", "kaboom=yes:0.5", "--soft", "kaboom=yes:0.2"], "twice"),
        (["query", "KABOOM", "--model", ""], "--model is empty"),
        (["query", "KABOOM", "--scenario", " "], "--scenario is empty"),
        (["voi", "KABOOM", "--candidates", ""], "--candidates is empty"),
        (["scenarios", "--target", ""], "the target is empty"),
    ],
)
def test_repeated_or_empty_values_are_refused(args: list[str], words: str) -> None:
    result = run(*args)
    assert result.exit_code == 2 and words in result.stderr


def test_targets_may_name_a_state_and_the_joint_table_has_a_header() -> None:
    assert run_json("query", "KABOOM=yes")["targets"] == ["nuclear_war"]
    assert run("query", "KABOOM=maybe").exit_code == 2
    lines = run("query", "KABOOM", "kaboom", "--joint").stdout.splitlines()
    header = lines.index("joint distribution") + 1
    assert lines[header].split() == ["nuclear_war", "nuclear_use", "P"]
    assert lines[header + 4].split() == ["yes", "yes", "16.8%"]
