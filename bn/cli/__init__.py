"""The `bn` command line. Each module in this package adds its commands to `cli` (see `base.py`).

Commands stay thin: parse options, call one library function, format the answer. Heavy imports
(pgmpy, pandas, matplotlib, graphviz) happen inside the commands that need them.
"""

from __future__ import annotations

import importlib
import pkgutil

from bn.cli.base import cli


def _register() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in {"base", "common"}:
            importlib.import_module(f"{__name__}.{module.name}")


_register()


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["cli", "main"]
