"""`bn check`: every listed problem, found through the library and the CLI, with file, line and hint."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import bn
from bn.edit.tables import fix_sums
from bn.errors import ModelError, Problem
from bn.scenarios import apply, check_scenarios
from tests.conftest import CHAIN, FLAGSHIP, run

RAIN = "rain=no,rain=yes\n0.8,0.2\n"
SPRINKLER = "rain,sprinkler=off,sprinkler=on\nno,0.6,0.4\nyes,0.99,0.01\n"
WET = """\
rain,sprinkler,wet=dry,wet=wet,ess,note
no,off,1,0,,no water
no,on,0.1,0.9,20,
yes,off,0.2,0.8,,
yes,on,0.01,0.99,5,"rain, and the sprinkler"
"""
TOML = """\
[model]
title = "Sprinkler"

[nodes.rain]
label = "Rain today"
aliases = ["r"]

[nodes.wet]
aliases = ["grass"]
"""


def write(directory: Path, files: dict[str, str | bytes]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode())
    return directory


def sprinkler(tmp_path: Path, **changes: str | bytes) -> Path:
    """The sprinkler model with some files replaced (`wet_csv="..."`) or added."""
    files: dict[str, str | bytes] = {
        "rain.csv": RAIN,
        "sprinkler.csv": SPRINKLER,
        "wet.csv": WET,
        "model.toml": TOML,
    }
    files.update({name.replace("_csv", ".csv").replace("_toml", ".toml"): text
                  for name, text in changes.items()})  # fmt: skip
    return write(tmp_path / "model", files)


def errors_of(directory: Path) -> list[Problem]:
    """The errors `bn.check` finds; the CLI must print each of them and exit 2."""
    model, problems = bn.check(directory)
    errors = [p for p in problems if p.severity == "error"]
    assert model is None
    assert errors
    result = run("check", "--model", str(directory))
    assert result.exit_code == 2, result.output
    for p in errors:
        assert f"{p.where}: error: {p.message}\n  hint: {p.hint}" in result.stderr
        assert p.hint, p  # every problem says how to fix it
    assert "Traceback" not in result.output + result.stderr
    return errors


def only_error(directory: Path) -> Problem:
    """The single error of a directory (one mistake must give one message)."""
    errors = errors_of(directory)
    assert len(errors) == 1, "\n".join(map(str, errors))
    return errors[0]


def test_valid_models_pass(tmp_path: Path) -> None:
    for directory in (CHAIN, sprinkler(tmp_path)):
        model, problems = bn.check(directory)
        assert model is not None and problems == []
        result = run("check", "--model", str(directory))
        assert result.exit_code == 0
        assert "no errors" in result.stdout and result.stderr == ""


# -- rows and cells ---------------------------------------------------------------------------


def test_row_not_summing_to_one_shows_the_sum(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, sprinkler_csv=SPRINKLER.replace("0.99,0.01", "0.8,0.1")))
    assert (p.file, p.line) == ("sprinkler.csv", 3)
    assert "sums to 0.9," in p.message and "not 1" in p.message
    assert "sum to 1" in p.hint


def test_nearly_summing_row_points_to_fix_sums(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.1995\n"))
    assert (p.file, p.line) == ("rain.csv", 2)
    assert "0.9995" in p.message and "--fix-sums" in p.hint


def test_sum_tolerance_is_one_in_a_million(tmp_path: Path) -> None:
    inside = sprinkler(tmp_path / "a", rain_csv="rain=no,rain=yes\n0.8,0.2000009\n")
    assert bn.check(inside)[0] is not None
    outside = sprinkler(tmp_path / "b", rain_csv="rain=no,rain=yes\n0.8,0.2000011\n")
    assert "1.0000011" in only_error(outside).message


@pytest.mark.parametrize(
    ("cell", "words"),
    [
        ("-0.2", "'-0.2' is negative"),
        ("1.2", "'1.2' is greater than 1"),
        ("NaN", "is NaN"),
        ("", "is empty"),
        ("abc", "'abc' is not a number"),
        ("20%", "'20%' is not a number"),
        ("inf", "'inf' is not a number"),
        ("1_0", "'1_0' is not a number"),
    ],
)
def test_bad_probability_cell(tmp_path: Path, cell: str, words: str) -> None:
    text = f"rain=no,rain=yes\n0.8,{cell}\n"
    p = only_error(sprinkler(tmp_path, rain_csv=text))  # the row's sum is not reported as well
    assert (p.file, p.line) == ("rain.csv", 2)
    assert p.message.startswith("rain=yes") and words in p.message
    assert "between 0 and 1" in p.hint


def test_every_bad_cell_of_a_row_is_reported(tmp_path: Path) -> None:
    errors = errors_of(sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n-1,x\n"))
    assert [(p.line, p.message) for p in errors] == [
        (2, "rain=no: '-1' is negative"),
        (2, "rain=yes: 'x' is not a number"),
    ]


def test_percent_hint(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,20%\n"))
    assert "write 20% as a fraction" in p.hint


def test_exponents_are_read(tmp_path: Path) -> None:
    model, _ = bn.check(sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.99999,1e-05\n"))
    assert model is not None
    assert tuple(model["rain"].table) == (0.99999, 1e-05)


def test_missing_combinations_are_named(tmp_path: Path) -> None:
    text = "\n".join(line for line in WET.splitlines() if not line.startswith(("no,on", "yes,off")))
    p = only_error(sprinkler(tmp_path, wet_csv=text + "\n"))
    assert (p.file, p.line) == ("wet.csv", 1)
    assert "2 missing row(s)" in p.message
    assert "rain=no, sprinkler=on" in p.message and "rain=yes, sprinkler=off" in p.message
    assert "one row per combination" in p.hint


def test_root_without_a_row(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="# no numbers yet\nrain=no,rain=yes\n"))
    assert (p.file, p.line) == ("rain.csv", 2)
    assert "1 missing row(s): (root)" in p.message


def test_duplicate_combination_is_named(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, wet_csv=WET + "no,on,0.2,0.8,,\n"))
    assert (p.file, p.line) == ("wet.csv", 6)
    assert "duplicate row for rain=no, sprinkler=on" in p.message
    assert "first on line 3" in p.message and "one row per combination" in p.hint


def test_duplicate_root_row(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv=RAIN + "0.7,0.3\n"))
    assert (p.file, p.line) == ("rain.csv", 3)
    assert "duplicate row for (root)" in p.message


def test_parent_value_that_is_not_a_state(tmp_path: Path) -> None:
    # One message for the typo; the row it was meant to be is not reported missing as well.
    p = only_error(sprinkler(tmp_path, wet_csv=WET.replace("yes,off", "yess,off")))
    assert (p.file, p.line) == ("wet.csv", 4)
    assert "'yess' is not a state of parent rain" in p.message
    assert "did you mean 'yes'" in p.hint and "states of rain: no, yes" in p.hint


def test_wrong_number_of_cells(tmp_path: Path) -> None:
    text = WET.replace('"rain, and the sprinkler"', "rain, and the sprinkler")
    p = only_error(sprinkler(tmp_path / "b", wet_csv=text))
    assert (p.file, p.line) == ("wet.csv", 5)
    assert "7 cells but the header has 6" in p.message
    assert "quote cells that contain commas" in p.hint


def test_ess_must_be_a_positive_number(tmp_path: Path) -> None:
    for number, ess in enumerate(("0", "-3", "many", "inf")):
        directory = sprinkler(
            tmp_path / str(number), wet_csv=WET.replace("no,on,0.1,0.9,20", f"no,on,0.1,0.9,{ess}")
        )
        p = only_error(directory)
        assert (p.file, p.line) == ("wet.csv", 3)
        assert f"ess '{ess}' is not a" in p.message and "number" in p.message
        assert "observations" in p.hint and "blank" in p.hint


# -- headers and files ------------------------------------------------------------------------


def test_parent_column_naming_an_unknown_node(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, wet_csv=WET.replace("rain,sprinkler,", "rian,sprinkler,")))
    assert (p.file, p.line) == ("wet.csv", 1)
    assert "parent column 'rian' names no node" in p.message
    assert "did you mean 'rain'" in p.hint and "nodes: rain, sprinkler, wet" in p.hint


def test_parent_column_naming_an_alias(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, sprinkler_csv=SPRINKLER.replace("rain,", "r,", 1)))
    assert (p.file, p.line) == ("sprinkler.csv", 1)
    assert "parent column 'r' names no node" in p.message
    assert "'r' is an alias of rain" in p.hint and "write rain" in p.hint


def test_probability_column_for_another_node(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="rain=no,rian=yes\n0.8,0.2\n"))
    assert (p.file, p.line) == ("rain.csv", 1)
    assert "'rian=yes' is a probability column for another node ('rian')" in p.message
    assert "write rain=yes, or move" in p.hint


def test_duplicate_states(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="rain=no,rain=yes,rain=no\n0.4,0.2,0.4\n"))
    assert (p.file, p.line) == ("rain.csv", 1)
    assert "duplicate state(s) of rain: no" in p.message and "one column" in p.hint


def test_parent_column_after_the_probabilities(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, wet_csv=WET.replace(",note\n", ",Note\n", 1)))
    assert (p.file, p.line) == ("wet.csv", 1)
    assert "'Note' comes after the probability columns" in p.message
    assert "did you mean 'note'" in p.hint


def test_a_cycle_is_printed(tmp_path: Path) -> None:
    directory = write(
        tmp_path / "m",
        {
            "a.csv": "c,a=no,a=yes\nno,1,0\nyes,0,1\n",
            "b.csv": "a,b=no,b=yes\nno,1,0\nyes,0,1\n",
            "c.csv": "b,c=no,c=yes\nno,1,0\nyes,0,1\n",
        },
    )
    p = only_error(directory)
    assert (p.file, p.line) == ("a.csv", 1)
    # arrows go from parent to child: b is a's child (a is in b's header) etc.
    assert "cycle: a -> b -> c -> a" in p.message
    assert "remove one of these parent columns" in p.hint


def test_a_node_naming_itself(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, rain_csv="rain,rain=no,rain=yes\nno,1,0\nyes,0,1\n"))
    assert (p.file, p.line) == ("rain.csv", 1)
    assert "rain names itself as a parent" in p.message and "cannot depend on itself" in p.hint


def test_ids_equal_ignoring_case(tmp_path: Path) -> None:
    directory = sprinkler(tmp_path)
    (directory / "Rain.csv").write_text(RAIN.replace("rain=", "Rain="))
    if len(list(directory.glob("*.csv"))) < 4:
        pytest.skip("case-insensitive file system")
    p = only_error(directory)
    assert (p.file, p.line) == ("rain.csv", None)
    assert "'Rain' and 'rain' differ only by case" in p.message
    assert "macOS and Windows" in p.hint


@pytest.mark.parametrize("name", ["2fast", "my-node", "ess", "note", "état"])
def test_invalid_ids(tmp_path: Path, name: str) -> None:
    directory = sprinkler(tmp_path, **{f"{name}_csv": f"{name}=a,{name}=b\n0.5,0.5\n"})
    p = only_error(directory)
    assert (p.file, p.line) == (f"{name}.csv", None)
    assert f"'{name}' is not a valid node id" in p.message
    assert "[A-Za-z][A-Za-z0-9_]*" in p.hint and "rename the file" in p.hint


def test_empty_file(tmp_path: Path) -> None:
    for number, text in enumerate(("", "\n\n", "# only a comment\n")):
        p = only_error(sprinkler(tmp_path / str(number), fog_csv=text))
        assert (p.file, p.line) == ("fog.csv", None)
        assert "the file is empty" in p.message and "fog=no,fog=yes" in p.hint


def test_directory_without_csv(tmp_path: Path) -> None:
    directory = write(tmp_path / "nothing", {"model.toml": TOML.split("[nodes")[0]})
    p = only_error(directory)
    assert (p.file, p.line) == ("nothing", None)
    assert "no node files (*.csv)" in p.message and "<node_id>.csv" in p.hint


def test_missing_directory(tmp_path: Path) -> None:
    model, problems = bn.check(tmp_path / "absent")
    assert model is None and "no such model directory" in problems[0].message
    result = run("check", "--model", str(tmp_path / "absent"))
    assert result.exit_code == 2 and "--model DIR" in result.stderr
    assert "model_dir DIR" in str(problems[0])  # the library names its parameter
    hint = json.loads(run("check", "--model", str(tmp_path / "absent"), "--json").stdout)
    assert "--model DIR" in hint["problems"][0]["hint"]
    query = run("query", "--model", str(tmp_path / "absent"), "a")
    assert query.exit_code == 2 and "with --model DIR" in query.stderr


def test_undecodable_bytes(tmp_path: Path) -> None:
    latin1 = b"rain=no,rain=yes,note\n0.8,0.2,\n" + "# café\n".encode("latin-1")
    p = only_error(sprinkler(tmp_path, rain_csv=latin1))
    assert (p.file, p.line) == ("rain.csv", 3)
    assert "undecodable byte 0xe9" in p.message and "UTF-8" in p.hint


def test_unclosed_quote(tmp_path: Path) -> None:
    text = WET.replace("no water", '"no water')
    p = only_error(sprinkler(tmp_path, wet_csv=text))
    assert (p.file, p.line) == ("wet.csv", 2)
    assert "runs on to line 5" in p.message and '""' in p.hint
    p = only_error(sprinkler(tmp_path / "b", rain_csv='rain=no,rain=yes,note\n0.8,0.2,"oops\n'))
    assert (p.file, p.line) == ("rain.csv", 2)
    assert "never closed" in p.message and "close the quote" in p.hint


def test_uppercase_extension_is_a_warning(tmp_path: Path) -> None:
    directory = sprinkler(tmp_path)
    (directory / "fog.CSV").write_text("fog=no,fog=yes\n0.5,0.5\n")
    model, problems = bn.check(directory)
    assert model is not None
    assert [(p.file, p.severity) for p in problems] == [("fog.CSV", "warning")]
    assert "rename it to fog.csv" in problems[0].hint


# -- model.toml -------------------------------------------------------------------------------


def test_malformed_toml(tmp_path: Path) -> None:
    p = only_error(
        sprinkler(tmp_path, model_toml=TOML.replace('title = "Sprinkler"', "title = Sprinkler"))
    )
    assert (p.file, p.line) == ("model.toml", 2)
    assert "malformed TOML" in p.message and "double quotes" in p.hint


def test_malformed_toml_values(tmp_path: Path) -> None:
    toml = TOML.replace('aliases = ["r"]', 'aliases = "r"').replace('"Sprinkler"', "3")
    toml = toml.replace('label = "Rain today"', "label = 2\nstates = { no = 1 }")
    errors = errors_of(sprinkler(tmp_path, model_toml=toml))
    found = {(p.file, p.line, p.message) for p in errors}
    assert found == {
        ("model.toml", 2, "[model] title must be a string"),
        ("model.toml", 5, "[nodes.rain] label must be a string"),
        ("model.toml", 6, "[nodes.rain.states] values must be strings"),
        ("model.toml", 7, "aliases of rain must be a list of strings"),
    }


def test_alias_equal_to_another_id(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, model_toml=TOML.replace('["grass"]', '["grass", "rain"]')))
    assert (p.file, p.line) == ("model.toml", 9)
    assert "alias 'rain' of wet is the id of another node" in p.message
    assert "differ from node ids" in p.hint


def test_alias_used_twice(tmp_path: Path) -> None:
    p = only_error(sprinkler(tmp_path, model_toml=TOML.replace('["grass"]', '["r"]')))
    assert (p.file, p.line) == ("model.toml", 9)
    assert "alias 'r' of wet is already an alias of rain" in p.message
    assert "unique across the model" in p.hint


def test_aliases_differing_by_case_are_distinct() -> None:
    # The chain model relies on it: kaboom is nuclear_use, KABOOM is nuclear_war.
    model = bn.load(CHAIN)
    assert model.resolve("kaboom") == "nuclear_use" and model.resolve("KABOOM") == "nuclear_war"


def test_unknown_target(tmp_path: Path) -> None:
    toml = TOML.replace('title = "Sprinkler"', 'title = "Sprinkler"\ntargets = ["wett"]')
    p = only_error(sprinkler(tmp_path, model_toml=toml))
    assert (p.file, p.line) == ("model.toml", 3)
    assert "target 'wett' names no node" in p.message and "did you mean 'wet'" in p.hint


def test_toml_warnings_do_not_fail(tmp_path: Path) -> None:
    toml = TOML + '\n[nodes.wett]\nlabel = "x"\n\n[nodes.sprinkler]\nlabl = "y"\n'
    directory = sprinkler(tmp_path, model_toml=toml)
    model, problems = bn.check(directory)
    assert model is not None
    assert [(p.line, p.severity) for p in problems] == [(11, "warning"), (15, "warning")]
    assert "[nodes.wett] describes no node" in problems[0].message
    assert "did you mean 'wet'" in problems[0].hint
    assert (
        "unknown key 'labl'" in problems[1].message and "did you mean 'label'" in problems[1].hint
    )
    result = run("check", "--model", str(directory))
    assert result.exit_code == 0 and "2 warning(s), no errors" in result.stdout


# -- scenarios.toml and its overlays ----------------------------------------------------------

SCENARIOS = """\
[scenarios.dry_day]
description = "an observation, through an alias"
evidence = { r = "no" }

[scenarios.expert]
description = "another expert's table for wet, and the sprinkler forced on"
overlay = "overlays/expert"
do = { sprinkler = "on" }
likelihood = { grass = { dry = 1, wet = 2 } }
"""
EXPERT_WET = WET.replace("0.2,0.8", "0.3,0.7")


def scenario_model(tmp_path: Path, scenarios: str = SCENARIOS, wet: str = EXPERT_WET) -> Path:
    """The sprinkler model with `scenarios.toml` and an overlay folder overlays/expert."""
    directory = sprinkler(tmp_path, scenarios_toml=scenarios)
    write(directory / "overlays" / "expert", {"wet.csv": wet})
    return directory


def line_of(text: str, start: str) -> int:
    """The number of the first line of `text` that starts with `start`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_valid_scenarios_pass(tmp_path: Path) -> None:
    directory = scenario_model(tmp_path)
    model, problems = bn.check(directory)
    assert model is not None and problems == []
    assert run("check", "--model", str(directory)).exit_code == 0
    _, evidence = apply(model, "expert")
    assert evidence.do == {"sprinkler": "on"}


def test_scenario_naming_an_unknown_node(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace('{ r = "no" }', '{ rian = "no" }')
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "evidence"))
    assert "scenario 'dry_day'" in p.message and "unknown node 'rian'" in p.message
    assert p.hint == "did you mean 'rain'? nodes: rain (r), sprinkler, wet (grass)"


def test_scenario_naming_an_unknown_state(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace('sprinkler = "on"', 'sprinkler = "onn"')
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "do ="))
    assert "scenario 'expert'" in p.message and "'onn' is not a state of sprinkler" in p.message
    assert p.hint == "did you mean 'on'? states of sprinkler: off, on"


def test_scenario_evidence_that_does_not_fit_its_node(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace("{ dry = 1, wet = 2 }", "[1, 2, 3]")
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "likelihood"))
    assert "gives 3 numbers but wet has 2 states (dry, wet)" in p.message
    assert "one weight per state" in p.hint


def test_scenario_giving_a_node_twice(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace('{ r = "no" }', '{ r = "no" }\ndo = { rain = "yes" }')
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", 1)  # the scenario's table
    assert "scenario 'dry_day'" in p.message and "rain is given twice" in p.message
    assert "one kind per node" in p.hint


def test_malformed_scenarios_toml(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace('sprinkler = "on"', "sprinkler = on")
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "do ="))
    assert "malformed TOML" in p.message and "double quotes" in p.hint


def test_malformed_scenario_values_do_not_crash(tmp_path: Path) -> None:
    scenarios = "scenarios.number = 3\n\n" + (
        SCENARIOS.replace('{ r = "no" }', "{ r = 0 }").replace("dry = 1", 'dry = "1"')
        + '\n[scenarios.flat]\nsoft = "rain=0.5"\n'
    )
    errors = errors_of(scenario_model(tmp_path, scenarios))
    found = {(p.line, p.message) for p in errors}
    observed = line_of(scenarios, "evidence")
    assert found == {
        (observed, "scenario 'dry_day': evidence on r must be a state name, not 0"),
        (
            line_of(scenarios, "likelihood"),
            "scenario 'expert': likelihood on grass must be a table of state = number or a "
            "list of numbers",
        ),
        (line_of(scenarios, "soft"), "scenario 'flat': soft must be a table of node = value"),
        (line_of(scenarios, "scenarios.number"), "[scenarios.number] must be a table"),
    }
    assert "what was observed" in next(p.hint for p in errors if p.line == observed)


def test_unknown_scenario_key(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace("do = {", "doo = {")
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "doo"))
    assert p.message == "unknown key 'doo' in [scenarios.expert]"
    assert "did you mean 'do'?" in p.hint and "description, source, evidence, do" in p.hint


def test_missing_overlay_directory(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace("overlays/expert", "overlays/expret")
    p = only_error(scenario_model(tmp_path, scenarios))
    assert (p.file, p.line) == ("scenarios.toml", line_of(scenarios, "overlay"))
    assert p.message == "scenario 'expert': overlay directory 'overlays/expret' not found"
    assert "did you mean 'overlays/expert'?" in p.hint
    assert "folders with CSVs: overlays/expert" in p.hint


def test_overlay_row_not_summing_to_one(tmp_path: Path) -> None:
    wet = EXPERT_WET.replace("0.3,0.7", "0.3,0.8")
    p = only_error(scenario_model(tmp_path, wet=wet))
    assert (p.file, p.line) == ("overlays/expert/wet.csv", line_of(wet, "yes,off"))
    assert p.message == "scenario 'expert': the row sums to 1.1, not 1"
    assert "must sum to 1" in p.hint


def test_overlay_file_naming_no_node(tmp_path: Path) -> None:
    directory = scenario_model(tmp_path)
    write(directory / "overlays" / "expert", {"wett.csv": WET.replace("wet=", "wett=")})
    p = only_error(directory)
    assert (p.file, p.line) == ("overlays/expert/wett.csv", None)
    assert p.message == "scenario 'expert': wett is not a node of the model"
    assert p.hint == "did you mean 'wet'? nodes: rain, sprinkler, wet"
    (directory / "overlays" / "expert" / "wett.csv").unlink()
    write(directory / "overlays" / "expert", {"grass.csv": WET.replace("wet=", "grass=")})
    p = only_error(directory)
    assert p.message == "scenario 'expert': grass is not a node of the model"
    assert p.hint == "files are named by node id: rename it wet.csv"


def test_overlay_with_wrong_parents(tmp_path: Path) -> None:
    wet = EXPERT_WET.replace("rain,sprinkler,", "rain,sprinkle,")
    p = only_error(scenario_model(tmp_path, wet=wet))
    assert (p.file, p.line) == ("overlays/expert/wet.csv", 1)
    assert "scenario 'expert': parent column 'sprinkle' names no node" in p.message
    assert "did you mean 'sprinkler'?" in p.hint


def test_overlay_changing_states_under_a_child(tmp_path: Path) -> None:
    directory = scenario_model(tmp_path)
    rain = "rain=no,rain=yes,rain=storm\n0.7,0.2,0.1\n"
    write(directory / "overlays" / "expert", {"rain.csv": rain})
    errors = errors_of(directory)
    assert [(p.file, p.line) for p in errors] == [
        ("overlays/expert/rain.csv", 1),  # sprinkler.csv is not in the overlay
        ("overlays/expert/wet.csv", 1),  # wet.csv is, and lacks rows for rain=storm
    ]
    assert (
        "changes the states of rain but not the table of its child sprinkler" in errors[0].message
    )
    assert (
        errors[0].hint == "keep the states of rain (no, yes), or add sprinkler.csv to the overlay"
    )
    assert "missing row(s): rain=storm, sprinkler=off" in errors[1].message


def test_overlay_shared_by_scenarios_is_reported_once(tmp_path: Path) -> None:
    scenarios = SCENARIOS + '\n[scenarios.expert_alone]\noverlay = "overlays/expert"\n'
    p = only_error(scenario_model(tmp_path, scenarios, wet=EXPERT_WET.replace("0.3,0.7", "0.3,x")))
    assert p.message.startswith("scenarios 'expert', 'expert_alone': wet=wet:")


def test_all_scenario_problems_are_reported_in_one_run(tmp_path: Path) -> None:
    scenarios = SCENARIOS.replace('"no"', '"maybe"').replace("sprinkler =", "sprinklr =")
    errors = errors_of(scenario_model(tmp_path, scenarios, wet=EXPERT_WET.replace("0.3,", "0.4,")))
    assert [(p.file, p.line) for p in errors] == [
        ("overlays/expert/wet.csv", 4),
        ("scenarios.toml", line_of(scenarios, "evidence")),
        ("scenarios.toml", line_of(scenarios, "do =")),
    ]


def test_scenario_problems_are_checked_only_in_a_valid_model(tmp_path: Path) -> None:
    directory = sprinkler(
        tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.3\n", scenarios_toml="[scenarios.x]\ny = 1\n"
    )
    assert [p.file for p in errors_of(directory)] == ["rain.csv"]


def test_a_broken_scenario_stops_every_command(tmp_path: Path) -> None:
    directory = scenario_model(tmp_path, SCENARIOS.replace('{ r = "no" }', '{ r = "maybe" }'))
    (p,) = errors_of(directory)
    for command in (["query", "wet"], ["scenarios"]):
        result = run(*command, "--model", str(directory))
        assert result.exit_code == 2 and str(p) in result.stderr, result.output
    with pytest.raises(ModelError) as caught:
        bn.load(directory)
    assert caught.value.problems == [p]


def test_flagship_scenarios_are_clean() -> None:
    model = bn.load(FLAGSHIP)
    assert check_scenarios(model) == []
    assert (FLAGSHIP / "scenarios.toml").is_file() and any((FLAGSHIP / "overlays").iterdir())


# -- everything at once, without cascades -----------------------------------------------------


def test_all_problems_are_reported_in_one_run(tmp_path: Path) -> None:
    directory = sprinkler(
        tmp_path,
        rain_csv="rain=no,rain=yes\n0.8,0.1\n",
        sprinkler_csv=SPRINKLER.replace("yes,0.99", "yes,-0.99"),
        wet_csv=WET.replace("no,on,0.1,0.9,20,", "no,on,0.1,0.9,zero,").replace(
            "yes,off", "yes,of"
        ),
        fog_csv=b"fog=no,fog=yes\n0.5,0.5\n\xff\n",
        model_toml=TOML.replace('["grass"]', '["r"]'),
        **{"bad-name_csv": "bad-name=a,bad-name=b\n1,0\n"},
    )
    found = {(p.file, p.line, p.message.split(":")[0]) for p in errors_of(directory)}
    assert found == {
        ("model.toml", 9, "alias 'r' of wet is already an alias of rain"),
        ("bad-name.csv", None, "'bad-name' is not a valid node id (the file name gives the id)"),
        ("fog.csv", 3, "undecodable byte 0xff (the file is not UTF-8)"),
        ("rain.csv", 2, "the row sums to 0.9, not 1"),
        ("sprinkler.csv", 3, "sprinkler=off"),
        ("wet.csv", 3, "ess 'zero' is not a number"),
        ("wet.csv", 4, "'of' is not a state of parent sprinkler"),
    }
    data = json.loads(run("check", "--model", str(directory), "--json").stdout)
    assert len(data["problems"]) == 7


def test_an_unreadable_parent_is_reported_once(tmp_path: Path) -> None:
    # rain's header is wrong: its children and model.toml must not add "names no node" noise,
    # but the children's own row problems are still found.
    directory = sprinkler(
        tmp_path,
        rain_csv="rain=no,rain=no\n0.8,0.2\n",
        sprinkler_csv=SPRINKLER.replace("0.99,0.01", "0.9,0.01"),
    )
    errors = errors_of(directory)
    assert [(p.file, p.line) for p in errors] == [("rain.csv", 1), ("sprinkler.csv", 3)]
    assert "duplicate state" in errors[0].message and "sums to 0.91" in errors[1].message


def test_known_parents_are_checked_when_another_is_unknown(tmp_path: Path) -> None:
    text = WET.replace("rain,sprinkler,", "rian,sprinkler,").replace("yes,off", "yes,of")
    errors = errors_of(sprinkler(tmp_path, wet_csv=text))
    assert [(p.line, p.message) for p in errors] == [
        (1, "parent column 'rian' names no node (there is no rian.csv)"),
        (4, "'of' is not a state of parent sprinkler"),
    ]


def test_target_hint_lists_ids_with_aliases(tmp_path: Path) -> None:
    toml = TOML.replace('title = "Sprinkler"', 'title = "Sprinkler"\ntargets = ["grass", "x"]')
    p = only_error(sprinkler(tmp_path, model_toml=toml))
    assert p.message == "target 'x' names no node"
    assert p.hint == "nodes: rain (r), sprinkler, wet (grass)"


def test_an_unreadable_row_is_not_also_missing(tmp_path: Path) -> None:
    text = WET.replace("yes,off,0.2,0.8,,", "yes,off,0.2,0.8,,,")
    p = only_error(sprinkler(tmp_path, wet_csv=text))
    assert (p.file, p.line) == ("wet.csv", 4) and "7 cells" in p.message


def test_missing_rows_beyond_the_erroneous_ones_are_reported(tmp_path: Path) -> None:
    rows = [
        line for line in WET.replace("yes,off", "yess,off").splitlines() if "yes,on" not in line
    ]
    text = "\n".join(rows) + "\n"
    errors = errors_of(sprinkler(tmp_path, wet_csv=text))
    assert [(p.line, p.message.split(":")[0]) for p in errors] == [
        (1, "2 missing row(s)"),
        (4, "'yess' is not a state of parent rain"),
    ]
    assert "lines 4" in errors[0].hint


# -- --fix-sums -------------------------------------------------------------------------------

CRLF_TABLE = (
    "\ufeff# hand-made, with Windows line ends\r\n"
    "rain,sprinkler,wet=dry,wet=wet,ess,note\r\n"
    'no,off,1,0,,"no water, none"\r\n'
    "no,on,0.1,0.8995,20,\r\n"
    "# the next row is far off\r\n"
    "yes,off,0.2,0.7,,\r\n"
    'yes,on,0.01,0.9895,5,"rain, and the\r\nsprinkler"\r\n'
)


def test_fix_sums_renormalises_close_rows_only(tmp_path: Path) -> None:
    directory = sprinkler(tmp_path, wet_csv=CRLF_TABLE.encode())
    before = (directory / "wet.csv").read_bytes()
    result = run("check", "--model", str(directory), "--fix-sums")
    assert result.exit_code == 2  # the 0.9 row is still wrong
    assert "fixed wet.csv:4: row renormalised (it summed to 0.9995)" in result.stdout
    assert "fixed wet.csv:7: row renormalised (it summed to 0.9995)" in result.stdout
    assert "wet.csv:6: error: the row sums to 0.9, not 1" in result.stderr
    after = (directory / "wet.csv").read_bytes()
    old, new = before.split(b"\r\n"), after.split(b"\r\n")
    assert len(old) == len(new)
    changed = [i + 1 for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    assert changed == [4, 7]  # everything else, BOM and comments included, is byte-identical
    assert new[0].startswith(b"\xef\xbb\xbf# hand-made") and new[7] == b'sprinkler"'
    # The fixed rows now sum to 1 (independently: exact fractions of what was written).
    model, problems = bn.check(directory)
    assert [(p.line, "0.9," in p.message) for p in problems] == [(6, True)]
    row4 = [float(x) for x in new[3].split(b",")[2:4]]
    assert row4 == pytest.approx([0.1 / 0.9995, 0.8995 / 0.9995], abs=1e-12)
    assert abs(sum(row4) - 1) < 1e-9 and new[3].endswith(b",20,")
    # notes survive
    (directory / "wet.csv").write_bytes(after.replace(b"0.2,0.7", b"0.3,0.7"))
    model = bn.load(directory)
    assert model["wet"].notes[0] == "no water, none"
    assert model["wet"].notes[3] == "rain, and the\nsprinkler"
    assert model["wet"].table[1, 1] == pytest.approx([0.01 / 0.9995, 0.9895 / 0.9995])


def test_fix_sums_output_is_valid(tmp_path: Path) -> None:
    directory = sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.3333,0.6666\n")
    assert [p.line for p in fix_sums(directory)] == [2]
    model = bn.load(directory)
    assert tuple(model["rain"].table) == pytest.approx((1 / 3, 2 / 3), abs=1e-12)
    assert fix_sums(directory) == []  # nothing left to fix
    result = run("check", "--model", str(directory), "--fix-sums")
    assert result.exit_code == 0 and "fixed" not in result.stdout


def test_fix_sums_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.1995\n")
    before = {p.name: p.read_bytes() for p in directory.iterdir()}

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(ModelError, match="cannot rewrite the file: No space left"):
        fix_sums(directory)
    result = run("check", "--model", str(directory), "--fix-sums")
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before  # no temp file left


def test_fix_sums_replaces_every_file_or_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = sprinkler(
        tmp_path,
        rain_csv="rain=no,rain=yes\n0.8,0.1995\n",
        sprinkler_csv=SPRINKLER.replace("0.99,0.01", "0.9995,0.0004"),
    )
    before = {p.name: p.read_bytes() for p in directory.iterdir()}
    real = os.replace
    calls: list[object] = []

    def second_fails(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", second_fails)
    with pytest.raises(ModelError, match="cannot rewrite the file: No space left") as caught:
        fix_sums(directory)
    assert caught.value.problems[0].file == "rain.csv, sprinkler.csv"
    assert len(calls) >= 2  # one file was renamed, then restored
    assert {p.name: p.read_bytes() for p in directory.iterdir()} == before
    monkeypatch.undo()
    assert [(p.file, p.line) for p in fix_sums(directory)] == [
        ("rain.csv", 2),
        ("sprinkler.csv", 3),
    ]
    assert bn.load(directory)["sprinkler"].row(("yes",)) == pytest.approx(
        (0.9995 / 0.9999, 0.0004 / 0.9999), abs=1e-12
    )


def test_fix_sums_keeps_mixed_line_ends_and_unreadable_rows(tmp_path: Path) -> None:
    text = (
        b"rain,sprinkler,wet=dry,wet=wet,ess,note\r\n"
        b"no,off,1,0,,no water\n"
        b"no,on,0.1,0.8995,20,\r\n"
        b"yes,off,0.2,0.8,,,\n"  # one cell too many: reported, kept as written
        b'yes,on,0.01,0.99,5,"rain, and the sprinkler"\r\n'
    )
    directory = sprinkler(tmp_path, wet_csv=text)
    assert [p.line for p in fix_sums(directory)] == [3]
    expected = text.replace(b"0.1,0.8995", b"0.100050025012506,0.899949974987494")
    assert (directory / "wet.csv").read_bytes() == expected
    assert [(p.line, "7 cells" in p.message) for p in bn.check(directory)[1]] == [(4, True)]


# -- output and exit codes --------------------------------------------------------------------


def test_json_shape(tmp_path: Path) -> None:
    directory = sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.1995\n")
    result = run("check", "--model", str(directory), "--json")
    assert result.exit_code == 2
    data = json.loads(result.stdout)
    assert data == {
        "model": str(directory),
        "valid": False,
        "fixed": [],
        "problems": [
            {
                "file": "rain.csv",
                "line": 2,
                "severity": "error",
                "message": "the row sums to 0.9995, not 1",
                "hint": "`bn check --fix-sums` renormalises rows this close to 1",
            }
        ],
    }
    result = run("check", "--model", str(directory), "--json", "--fix-sums")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["valid"] is True and data["problems"] == []
    assert [(f["file"], f["line"], f["severity"]) for f in data["fixed"]] == [
        ("rain.csv", 2, "info")
    ]


def test_exit_codes(tmp_path: Path) -> None:
    assert run("check", "--model", str(CHAIN)).exit_code == 0
    assert run("check", "--model", str(CHAIN), "--json").exit_code == 0
    bad = sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.3\n")
    assert run("check", "--model", str(bad)).exit_code == 2
    assert run("check", "--model", str(bad), "--json").exit_code == 2


def test_other_commands_stop_with_the_same_messages(tmp_path: Path) -> None:
    directory = sprinkler(
        tmp_path,
        rain_csv="rain=no,rain=yes\n0.8,0.3\n",
        wet_csv=WET.replace("yes,off", "yes,of"),
    )
    errors = errors_of(directory)
    result = run("query", "wet", "--model", str(directory))
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert f"the model has {len(errors)} error(s)" in result.stderr
    for p in errors:
        assert str(p) in result.stderr
    with pytest.raises(ModelError) as caught:
        bn.load(directory)
    assert caught.value.problems == bn.check(directory)[1]


def test_check_uses_bn_model_variable(tmp_path: Path) -> None:
    directory = tmp_path / "copy"
    shutil.copytree(CHAIN, directory)
    result = run("check", env={"BN_MODEL": str(directory)})
    assert result.exit_code == 0 and str(directory) in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["query"],
        ["draw", "-o", "net.svg"],
        ["explain", "wet=wet"],
        ["sensitivity", "wet=wet"],
        ["uncertainty", "wet=wet"],
        ["voi", "wet=wet"],
        ["scenarios"],
        ["report"],
    ],
    ids=lambda c: c[0],
)
def test_every_command_validates_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    directory = sprinkler(tmp_path, rain_csv="rain=no,rain=yes\n0.8,0.3\n")
    (directory / "fog.csv").write_bytes(b"fog=no,fog=yes\n\xff\n")
    monkeypatch.chdir(tmp_path)
    before = {p: p.read_bytes() for p in directory.iterdir()}
    errors = errors_of(directory)
    result = run(*command, "--model", str(directory))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.stderr
    for p in errors:
        assert str(p) in result.stderr
    assert {p: p.read_bytes() for p in directory.iterdir()} == before
    assert sorted(q.name for q in tmp_path.iterdir()) == ["model"]  # nothing written


def test_fix_sums_does_not_edit_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like every edit, --fix-sums needs a model named by --model, $BN_MODEL or ./cpts."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BN_MODEL", raising=False)
    result = run("check", "--fix-sums")
    assert result.exit_code == 2
    assert "which model? give --model DIR or set $BN_MODEL" in result.stderr
    assert "bn does not edit the packaged model" in result.stderr
    assert run("check").exit_code == 0  # checking the packaged model is fine
    local = tmp_path / "cpts"  # a model in ./cpts is fixed, as for every edit
    shutil.copytree(CHAIN, local)
    path = local / "nato_response.csv"
    path.write_text(path.read_text().replace("0.2,0.8", "0.2,0.8004"))
    result = run("check", "--fix-sums")
    assert result.exit_code == 0, result.stderr
    assert bn.load(local)["nato_response"].row(("yes",)) == pytest.approx((0.2, 0.8), abs=1e-3)
    assert "0.8004" not in path.read_text()
