"""bn: probabilistic "what if" analysis with Bayesian networks kept as plain CSV files.

>>> import bn
>>> model = bn.load(bn.packaged_model_path())
>>> result = model.query(["KABOOM"], evidence={"kaboom": "yes"})
>>> round(result.posteriors["nuclear_war"]["yes"], 2)
0.56
"""

from __future__ import annotations

import os
from pathlib import Path

from bn.errors import BNError, EvidenceError, FileFormatError, ModelError, Problem
from bn.evidence import Evidence
from bn.model import Model, Node
from bn.validate import check, load

__version__ = "0.1.0"
__all__ = [
    "BNError",
    "Evidence",
    "EvidenceError",
    "FileFormatError",
    "Model",
    "ModelError",
    "Node",
    "Problem",
    "check",
    "load",
    "model_path",
    "packaged_model_path",
]


def packaged_model_path() -> Path:
    """The flagship model shipped with the package (the repository's `cpts/`).

    An installed package holds it as `bn/flagship/`; a source checkout (or an editable install)
    finds it beside the package.
    """
    here = Path(__file__).resolve().parent
    installed = here / "flagship"
    return installed if installed.is_dir() else here.parent / "cpts"


def model_path(given: str | Path | None = None) -> Path:
    """Which model to use: `given`, else $BN_MODEL, else ./cpts if it holds one, else the flagship."""
    if given:
        return Path(given)
    if os.environ.get("BN_MODEL"):
        return Path(os.environ["BN_MODEL"])
    local = Path("cpts")
    if local.is_dir() and any(local.glob("*.csv")):
        return local
    return packaged_model_path()
