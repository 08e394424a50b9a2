"""Shared fixtures: small literal models and a CLI runner."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from bn.cli import cli

# `make test` draws the same property-test examples on every run, so a run is reproducible and
# CI's verdict depends on the code alone; `make fuzz` draws fresh random examples, in several
# rounds (HYPOTHESIS_PROFILE=explore). A case it finds goes into its test as an @example.
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
CHAIN = DATA / "chain"  # Tegmark's three-step chain: 0.3 x 0.8 x 0.7
FLAGSHIP = ROOT / "cpts"


@pytest.fixture
def chain() -> Path:
    return CHAIN


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    """Invoke `bn ARGS...` in-process; stdout and stderr are kept apart."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), env=env, catch_exceptions=False)


def run_json(*args: str) -> Any:
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """The chain with scenarios and an overlay, in a scratch directory (see tests/editing.py)."""
    from editing import make_model

    return make_model(tmp_path)
