"""`bn diff`: changed cells, nodes, metadata and posteriors between directories or git revisions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CHAIN, run

WAR = 0.3 * 0.8 * 0.7  # P(KABOOM) in the chain, by hand


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(CHAIN, old)
    shutil.copytree(CHAIN, new)
    return old, new


def diff(*args: str) -> Any:
    result = run("diff", *args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


def set_cell(model: Path, *args: str) -> None:
    result = run("cpt", "set", *args, "--model", str(model))
    assert result.exit_code == 0, result.stderr


def test_changed_cells_and_posteriors(pair: tuple[Path, Path]) -> None:
    old, new = pair
    set_cell(new, "KABOOM", "--when", "kaboom=yes,nato_response=strike", "yes=0.6", "--note", "n")
    report = diff(str(old), str(new))
    when = {"nuclear_use": "yes", "nato_response": "strike"}
    assert report["tables"] == [
        {
            "node": "nuclear_war",
            "structure": None,
            "form": None,
            "cells": [
                {"when": when, "column": "no", "old": 0.3, "new": 0.4},
                {"when": when, "column": "yes", "old": 0.7, "new": 0.6},
                {"when": when, "column": "note", "old": "Tegmark (2022): 70%", "new": "n"},
            ],
        }
    ]
    moved = report["posteriors"]["nuclear_war"]["yes"]
    assert moved["old"] == pytest.approx(WAR)
    assert moved["new"] == pytest.approx(0.3 * 0.8 * 0.6)
    assert moved["change"] == pytest.approx(0.3 * 0.8 * (0.6 - 0.7))
    assert report["posteriors"]["nuclear_use"]["yes"]["change"] == 0
    assert report["nodes_added"] == report["nodes_removed"] == report["metadata"] == []
    text = run("diff", str(old), str(new)).stdout
    assert "nuclear_use=yes, nato_response=strike: no 0.3 → 0.4; yes 0.7 → 0.6; note" in text
    assert "nuclear_war=yes    16.8% →   14.4%  (-2.40 points)\n" in text
    assert "nuclear_use=yes    30.0% →   30.0%\n" in text


def test_layout_only_changes_are_not_differences(pair: tuple[Path, Path]) -> None:
    old, new = pair
    path = new / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.20,8e-1"))
    assert diff(str(old), str(new))["tables"] == []
    result = run("diff", str(old), str(new), "--exit-code")
    assert result.exit_code == 0 and "no differences in the tables or metadata" in result.stdout


def test_structure_nodes_and_metadata(pair: tuple[Path, Path]) -> None:
    old, new = pair
    assert run("node", "rename", "nato_response", "nato", "--model", str(new)).exit_code == 0
    assert run("state", "add", "kaboom", "maybe", "--model", str(new)).exit_code == 0
    meta = new / "model.toml"
    meta.write_text(meta.read_text().replace("three-step", "3-step"))
    report = diff(str(old), str(new))
    assert report["nodes_added"] == ["nato"] and report["nodes_removed"] == ["nato_response"]
    tables = {t["node"]: t for t in report["tables"]}
    assert tables["nuclear_use"]["structure"]["states"] == [["no", "yes"], ["no", "yes", "maybe"]]
    assert tables["nuclear_war"]["structure"]["parents"] == [
        ["nuclear_use", "nato_response"],
        ["nuclear_use", "nato"],
    ]
    assert report["metadata"] == [
        {
            "file": "model.toml",
            "key": "model.title",
            "old": "Tegmark's three-step chain",
            "new": "Tegmark's 3-step chain",
        }
    ]
    assert report["posteriors"]["nuclear_use"]["maybe"] == {"old": None, "new": 0.0, "change": None}
    result = run("diff", str(old), str(new), "--exit-code")
    assert result.exit_code == 1
    assert "+ node nato" in result.stdout and "states: no, yes → no, yes, maybe" in result.stdout


def test_posteriors_under_evidence(pair: tuple[Path, Path]) -> None:
    old, new = pair
    set_cell(new, "nato_response", "--when", "kaboom=yes", "strike=0.5")
    report = diff(str(old), str(new), "-e", "kaboom=yes")
    assert report["evidence"]["evidence"] == {"nuclear_use": "yes"}
    moved = report["posteriors"]["nuclear_war"]["yes"]
    assert moved["old"] == pytest.approx(0.8 * 0.7) and moved["new"] == pytest.approx(0.5 * 0.7)


def git(directory: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=directory,
        check=True,
        capture_output=True,
    )


def test_git_revisions(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    model = repo / "models" / "chain"
    shutil.copytree(CHAIN, model)
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "first")
    set_cell(model, "kaboom", "yes=0.4")
    report = diff("HEAD", "--model", str(model))  # NEW defaults to the working tree
    assert report["old"] == f"HEAD ({model})" and report["new"] == f"{model} (working tree)"
    assert [c["column"] for c in report["tables"][0]["cells"]] == ["no", "yes"]
    assert report["posteriors"]["nuclear_war"]["yes"]["new"] == pytest.approx(0.4 * 0.8 * 0.7)
    git(repo, "commit", "-qam", "second")
    set_cell(model, "kaboom", "yes=0.5")
    report = diff("HEAD~1", "HEAD", "--model", str(model))
    assert report["posteriors"]["nuclear_use"]["yes"]["old"] == pytest.approx(0.3)
    assert report["posteriors"]["nuclear_use"]["yes"]["new"] == pytest.approx(0.4)
    assert diff("HEAD", "--model", str(model))["tables"][0]["cells"][1] == {
        "when": {},
        "column": "yes",
        "old": 0.4,
        "new": 0.5,
    }
    result = run("diff", "no-such-rev", "--model", str(model))
    assert result.exit_code == 2
    assert (
        f"no directory 'no-such-rev', and no revision 'no-such-rev' in the git repository {repo} "
        f"of the model directory {model} (given by --model)"
    ) in result.stderr
    elsewhere = repo / "models" / "copy"  # a revision at which the model directory did not exist
    shutil.copytree(model, elsewhere)
    result = run("diff", "HEAD", "--model", str(elsewhere))
    assert result.exit_code == 2
    assert f"cannot read models/copy/ at git revision 'HEAD' of the git repository {repo}" in (
        result.stderr
    )


def test_a_revision_outside_git_and_an_invalid_side(pair: tuple[Path, Path]) -> None:
    old, new = pair
    result = run("diff", "HEAD", "--model", str(new))
    assert result.exit_code == 2
    assert (
        f"no directory 'HEAD'; as a git revision it would be read from the history of the model "
        f"directory {new} (given by --model), which is not in a git repository"
    ) in result.stderr
    path = new / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.2,0.9"))
    result = run("diff", str(old), str(new))
    assert result.exit_code == 2 and f"{new}: nato_response.csv:3: error" in result.stderr


def test_a_side_that_is_no_directory_names_the_repository_tried(
    pair: tuple[Path, Path], tmp_path: Path
) -> None:
    """OLD is a directory and NEW is not: NEW is read as a revision of the model directory, and
    the message says which directory that was and where it came from."""
    old, new = pair
    missing = str(tmp_path / "nonexistent")
    result = run("diff", str(old), missing, env={"BN_MODEL": str(new)})
    assert result.exit_code == 2
    assert result.stderr == (
        f"bn: no directory '{missing}'; as a git revision it would be read from the history of "
        f"the model directory {new} (from $BN_MODEL), which is not in a git repository (compare "
        "two directories, or give --model DIR inside a repository)\n"
    )
    result = run("diff", str(old), missing, "--model", str(tmp_path / "gone"))
    assert result.exit_code == 2
    assert f"model directory {tmp_path / 'gone'} (given by --model), which does not exist" in (
        result.stderr
    )


def test_a_renamed_node_is_recognised_and_its_childrens_cells_compared(
    pair: tuple[Path, Path],
) -> None:
    old, new = pair
    assert run("node", "rename", "nato_response", "nato", "--model", str(new)).exit_code == 0
    set_cell(new, "KABOOM", "--when", "nato=limited,kaboom=yes", "yes=0.1")
    report = diff(str(old), str(new))
    assert report["nodes_renamed"] == [["nato_response", "nato"]]
    assert report["nodes_added"] == report["nodes_removed"] == []
    when = {"nuclear_use": "yes", "nato": "limited"}
    assert report["tables"][0]["cells"] == [
        {"when": when, "column": "no", "old": 1.0, "new": 0.9},
        {"when": when, "column": "yes", "old": 0.0, "new": 0.1},
    ]
    assert report["posteriors"]["nuclear_war"]["yes"]["change"] == pytest.approx(0.3 * 0.2 * 0.1)
    assert "~ node nato_response renamed nato" in run("diff", str(old), str(new)).stdout


def test_scenario_tables_added_removed_and_changed(pair: tuple[Path, Path]) -> None:
    old, new = pair
    (old / "scenarios.toml").write_text(
        '[scenarios.gone]\nevidence = { kaboom = "yes" }\n'
        '[scenarios.kept]\ndescription = "a"\nevidence = { kaboom = "no" }\n'
    )
    (new / "scenarios.toml").write_text(
        '[scenarios.kept]\ndescription = "b"\nevidence = { kaboom = "no" }\n'
        '[scenarios.fresh]\ndo = { nato_response = "strike" }\n'
    )
    assert diff(str(old), str(new))["metadata"] == [
        {
            "file": "scenarios.toml",
            "key": "scenarios.gone",
            "old": {"evidence": {"kaboom": "yes"}},
            "new": None,
        },
        {
            "file": "scenarios.toml",
            "key": "scenarios.fresh",
            "old": None,
            "new": {"do": {"nato_response": "strike"}},
        },
        {"file": "scenarios.toml", "key": "scenarios.kept.description", "old": "a", "new": "b"},
    ]


def test_a_toml_file_that_cannot_be_read_is_an_error_not_a_change(
    pair: tuple[Path, Path],
) -> None:
    import bn
    from bn.diff import compare
    from bn.errors import ModelError

    old, new = pair
    before, after = bn.load(old), bn.load(new)
    (new / "model.toml").write_text("[model\n")  # broken after loading
    with pytest.raises(ModelError, match="malformed TOML"):
        compare(before, after)
