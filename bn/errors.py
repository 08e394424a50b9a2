"""Errors that bad input can cause. The CLI catches `BNError` only: anything else is a bug."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# A parameter named in a message: private-use characters around its name, which no model text holds.
_PARAMETER = re.compile("\ue000([A-Za-z_][A-Za-z0-9_]*)\ue001")


def param(name: str) -> str:
    """A reference to a parameter inside an error message.

    The library speaks of its own parameters; each face spells them its way: the Python API as
    the name, the command line as the command's flag (`--focus`), the web API as its query key.

    >>> error = BNError(f"{param('depth')} needs {param('focus')}")
    >>> str(error), error.render(lambda name: "--" + name)
    ('depth needs focus', '--depth needs --focus')
    """
    return f"\ue000{name}\ue001"


def spell(text: str, spelling: Callable[[str], str] = str) -> str:
    """`text` with each `param` reference written by `spelling` (by default the bare name)."""
    return _PARAMETER.sub(lambda match: spelling(match.group(1)), text)


@dataclass(frozen=True)
class Problem:
    """One finding about a model directory: where, what, and how to fix it.

    >>> print(Problem("a.csv", 3, "row sums to 0.9", "make it sum to 1"))
    a.csv:3: error: row sums to 0.9
      hint: make it sum to 1
    """

    file: str
    line: int | None
    message: str
    hint: str = ""
    severity: str = "error"  # "error" or "warning"; "info" for what `--fix-sums` changed

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return self.render()

    def render(self, spelling: Callable[[str], str] = str) -> str:
        """The finding with each `param` reference spelt by `spelling`; `render(param)` keeps
        the references, for a message that is spelt later (an error's `render`)."""
        text = f"{self.where}: {self.severity}: {self.message}"
        return spell(f"{text}\n  hint: {self.hint}" if self.hint else text, spelling)

    def to_dict(self, spelling: Callable[[str], str] = str) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "severity": self.severity,
            "message": spell(self.message, spelling),
            "hint": spell(self.hint, spelling),
        }


class BNError(Exception):
    """Base class of every error caused by input (model files, evidence, arguments).

    A message names parameters with `param`; `str()` shows their names, `render` another spelling.
    """

    def __str__(self) -> str:
        return spell(super().__str__())

    def render(self, spelling: Callable[[str], str]) -> str:
        """The message with each parameter spelt by `spelling` (a flag, a query key)."""
        return spell(super().__str__(), spelling)


class ModelError(BNError):
    """A model directory (or a table overlay) has problems; `problems` lists all of them."""

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("model", None, problems)]
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        head = f"the model has {len(errors)} error(s):"
        super().__init__("\n".join([head, *(p.render(param) for p in errors)]))


class DataError(BNError):
    """A table of cases (for `bn learn`, `bn query --cases`) with problems; `problems` lists all."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = f"the data has {len(problems)} problem(s):"
        super().__init__("\n".join([head, *(p.render(param) for p in problems)]))


class EvidenceError(BNError):
    """Evidence, interventions or targets that do not fit the model."""


class FileFormatError(BNError):
    """A network file (BIF, XMLBIF, ...) that cannot be read or written."""
