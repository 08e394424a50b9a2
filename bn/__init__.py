"""bn: probabilistic "what if" analysis with Bayesian networks kept as plain CSV files.

>>> import bn
>>> model = bn.load(bn.packaged_model_path())
>>> result = model.query(["KABOOM"], evidence={"kaboom": "yes"})
>>> round(result.posteriors["nuclear_war"]["yes"], 2)
0.56
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bn.errors import BNError, EvidenceError, FileFormatError, ModelError, Problem
    from bn.evidence import Evidence
    from bn.model import Model, Node
    from bn.validate import check, load

# Imported on first use, so that `bn --help` and `bn.__version__` do not load numpy and the model.
_LAZY = {
    "BNError": "bn.errors",
    "EvidenceError": "bn.errors",
    "FileFormatError": "bn.errors",
    "ModelError": "bn.errors",
    "Problem": "bn.errors",
    "Evidence": "bn.evidence",
    "Model": "bn.model",
    "Node": "bn.model",
    "check": "bn.validate",
    "load": "bn.validate",
}

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


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'bn' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
