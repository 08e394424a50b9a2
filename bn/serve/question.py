"""A question in a URL: the query parameters of the page and the API, as the CLI's evidence flags.

`e=NODE:STATE`, `do=NODE:STATE`, `likelihood=NODE:w1,w2` (or `NODE:state:w,...`),
`soft=NODE:p1,p2` (or `NODE:state:p`) and `scenario=NAME`, each key repeatable but `scenario`.
`NODE=...` is accepted too. They become the strings `bn query` reads after its flags, so parsing
and every message are the CLI's.

>>> g = given([("e", "kaboom:yes"), ("soft", "starlink:cut:0.2"), ("scenario", "baseline")])
>>> g.hard, g.soft, g.scenario
(('kaboom=yes',), ('starlink=cut:0.2',), 'baseline')
>>> command(g, ["query", "--all"])
'bn query --all -e kaboom=yes --soft starlink=cut:0.2 --scenario baseline'
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from bn.cli.common import Given
from bn.errors import BNError
from bn.serve.compact import is_compact_edit

# Query key -> the field of `Given` it fills, and the CLI flag that carries it.
EVIDENCE_KEYS = {"e": ("hard", "-e"), "do": ("do", "--do"), "likelihood": ("likelihood",
                 "--likelihood"), "soft": ("soft", "--soft")}  # fmt: skip
QUESTION_KEYS = (*EVIDENCE_KEYS, "scenario", "cpt")
# How the web API spells the library's parameters in messages (see `bn.errors.param`).
SPELLING = {"hard": "e", "evidence": "e", "draws": "n"}


def spell(name: str) -> str:
    return SPELLING.get(name, name)


def flag_text(value: str) -> str:
    """`NODE:rest` -> `NODE=rest`, the CLI's form (a value already written `NODE=rest` stays).

    >>> flag_text("kaboom:yes"), flag_text("kaboom=yes"), flag_text("peace_talks:none:1,talks:2")
    ('kaboom=yes', 'kaboom=yes', 'peace_talks=none:1,talks:2')
    """
    colon, equals = value.find(":"), value.find("=")
    if colon >= 0 and (equals < 0 or colon < equals):
        return value[:colon] + "=" + value[colon + 1 :]
    return value


def check_keys(params: Iterable[tuple[str, str]], allowed: Sequence[str]) -> None:
    """A 400 for a key the endpoint does not know (a typo would otherwise be silently ignored)."""
    for key, _ in params:
        if key not in allowed:
            raise BNError(
                f"unknown query parameter '{key}'; this endpoint takes: {', '.join(allowed)}"
            )


def given(params: Iterable[tuple[str, str]]) -> Given:
    """The evidence flags of a question, as `bn query` would receive them."""
    fields: dict[str, list[str]] = {field: [] for field, _ in EVIDENCE_KEYS.values()}
    scenario = None
    for key, value in params:
        if key in EVIDENCE_KEYS:
            fields[EVIDENCE_KEYS[key][0]].append(flag_text(value))
        elif key == "scenario":
            if scenario is not None:
                raise BNError("scenario is given twice: give one scenario")
            if not value.strip():
                raise BNError("scenario is empty: name a scenario (GET /api/model lists them)")
            scenario = value
    for key, (field, _) in EVIDENCE_KEYS.items():  # as the CLI refuses it, in the API's words
        names = [flag_text(v).partition("=")[0].strip() for v in fields[field]]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise BNError(f"{key} names {', '.join(twice)} twice: give each node once")
    return Given(
        tuple(fields["hard"]),
        tuple(fields["do"]),
        tuple(fields["likelihood"]),
        tuple(fields["soft"]),
        scenario,
    )


def edits(params: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """Unsaved edits: of a table (`cpt={"node": ..., "when": {...}, "probabilities": {...}}`) or
    of a compact node's parameters (`bn.serve.compact`)."""
    found = []
    for key, value in params:
        if key != "cpt":
            continue
        try:
            edit = json.loads(value)
        except ValueError:
            edit = None
        if isinstance(edit, dict) and isinstance(edit.get("node"), str) and is_compact_edit(edit):
            found.append(edit)
            continue
        if not (
            isinstance(edit, dict)
            and isinstance(edit.get("node"), str)
            and isinstance(edit.get("when", {}), dict)
            and isinstance(edit.get("probabilities"), dict)
        ):
            raise BNError(
                f"cpt={value}: write a JSON object "
                '{"node": NODE, "when": {PARENT: STATE}, "probabilities": {STATE: P}} '
                '(a compact node: {"node": NODE, "link": "PARENT=STATE", "probabilities": ...}, '
                '"weight", "variance", "function" or "mix"; see the README)'
            )
        found.append(edit)
    return found


def command(g: Given, head: Sequence[str], model: str | None = None) -> str:
    """The command line that asks the same question: `head` is the command and its options
    (`["query", "--all"]`), then come the evidence flags."""
    words = ["bn", *head]
    for field, (_, flag) in zip(
        ("hard", "do", "likelihood", "soft"), EVIDENCE_KEYS.values(), strict=True
    ):
        for value in getattr(g, field):
            words += [flag, value]
    if g.scenario:
        words += ["--scenario", g.scenario]
    if model:
        words += ["--model", model]
    return shlex.join(words)


def pairs(query: Mapping[str, Any] | Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Query parameters as (key, value) pairs, in order."""
    items = query.items() if isinstance(query, Mapping) else query
    return [(str(k), str(v)) for k, v in items]
