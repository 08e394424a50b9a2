"""The one rule for matching a name a person typed (a node, an alias, a state) against the names
a model has: an exact match first, else a unique match ignoring case; otherwise an error that
lists the choices and suggests the closest.

The lowest layer: imports only `bn.errors`.

>>> find("YES", ["no", "yes"]), find("Yes", ["yes", "YES"]), find("maybe", ["no", "yes"])
('yes', None, None)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from bn.errors import BNError


def suggest(word: str, choices: Iterable[str]) -> str:
    """A 'did you mean' phrase for `word`, or '' when nothing is close.

    >>> suggest("cutt", ["available", "degraded", "cut"])
    "did you mean 'cut'? "
    """
    choices = list(choices)
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        lowered = {c.lower(): c for c in choices}
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return f"did you mean '{close[0]}'? " if close else ""


def find(name: str, choices: Iterable[str]) -> str | None:
    """The choice `name` means: itself if it is one, else the only choice equal to it ignoring
    case; None when there is none, or more than one."""
    choices = list(choices)
    if name in choices:
        return name
    folded = [c for c in choices if c.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def choose(
    name: str,
    choices: Sequence[str],
    unknown: str,
    listing: str = "choices",
    error: type[BNError] = BNError,
) -> str:
    """`find`, or an `error` saying `unknown` ("'x' is not a state of n") with a suggestion and
    every choice under the heading `listing`.

    >>> choose("cutt", ["available", "cut"], "'cutt' is not a state of starlink", "states of starlink")
    Traceback (most recent call last):
    ...
    bn.errors.BNError: 'cutt' is not a state of starlink; did you mean 'cut'? states of starlink: available, cut
    """
    found = find(name, choices)
    if found is None:
        raise error(f"{unknown}; {suggest(name, choices)}{listing}: {', '.join(choices)}")
    return found
