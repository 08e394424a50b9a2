"""Hugin NET, checked block by block before pgmpy parses it.

pgmpy's NETReader stops at Hugin's `%` comments and splits quoted state names at spaces: comments
are blanked here, and the state names are swapped for neutral ones (`s0`, `s1`, ...) that pgmpy
reads whole, then swapped back.
"""

from __future__ import annotations

import math
import re

from bn.errors import Problem
from bn.interop.convert import (
    Parsed,
    fail,
    failure,
    miscount,
    structure_problems,
    unsupported,
)
from bn.interop.pgmpy_fixes import read_variables
from bn.interop.scan import STRING, blocks, decode, line_of, numbers, strip_comments

_STATES = re.compile(rf"\bstates\s*=\s*\(((?:{STRING}|[^()\"])*)\)\s*;")
_LABEL = re.compile(rf"\blabel\s*=\s*({STRING})\s*;")
_KINDS = {"continuous", "decision", "utility", "function", "class"}


def read_net(data: bytes, file: str) -> Parsed:
    """A Hugin NET file's network; `FileFormatError` listing every problem, each with its line."""
    text = strip_comments(decode(data), "net")
    states: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    lines: dict[str, int | None] = {}
    parents: dict[str, list[str]] = {}
    counts: dict[str, tuple[int, int]] = {}
    problems: list[Problem] = []
    edits: list[tuple[int, int, str]] = []
    name = ""
    for block in blocks(text, file, "NET"):
        words = re.sub(r"([()|])", r" \1 ", block.header).split() or [""]
        if words[0] == "net":
            found = re.search(r"\bname\s*=\s*\"?([^\";]+)", block.body)
            name = found.group(1).strip() if found else ""
        elif words[0] in _KINDS:
            kind = "an object-oriented class" if words[0] == "class" else f"a {words[0]} node"
            hint = "bn handles discrete chance nodes only"
            raise unsupported(file, block.line, words[-1], kind, hint)
        elif "node" in words[:2]:
            node, found = words[-1], _STATES.search(block.body)
            if found is None:
                problems.append(Problem(file, block.line, f"node {node} has no 'states = (...);'"))
                continue
            if len(_STATES.findall(block.body)) > 1:
                problems.append(Problem(file, block.line, f"node {node} lists its states twice"))
            listed = re.findall(STRING, found.group(1)) or found.group(1).split()
            states[node] = [s[1:-1] if s.startswith('"') else s for s in listed]
            lines[node] = block.line
            if label := _LABEL.search(block.body):
                labels[node] = label.group(1)[1:-1]
            start, end = block.offset + found.start(1) - 1, block.offset + found.end()
            neutral = "(" + " ".join(f'"s{i}"' for i in range(len(listed))) + ");"
            edits.append((start, end, neutral + "\n" * text.count("\n", start, end)))
        elif words[0] == "potential" and "(" in words and ")" in words[words.index("(") :]:
            inside = words[words.index("(") + 1 : words.index(")", words.index("("))]
            heads = inside[: inside.index("|")] if "|" in inside else inside[:1]
            if len(heads) != 1:
                problems.append(
                    Problem(file, block.line, f"potential {inside}: one child expected")
                )
                continue
            parents[heads[0]] = inside[len(heads) + ("|" in inside) :]
            lines.setdefault(heads[0], block.line)
            found = re.search(r"\bdata\s*=\s*(.*?);", block.body, re.S)
            if found is None:
                problems.append(Problem(file, block.line, f"{heads[0]}: no 'data = (...);'"))
                continue
            line = line_of(text, block.offset + found.start(1))
            counts[heads[0]] = (len(numbers(found.group(1), file, line)), line)
        else:
            problems.append(Problem(file, block.line, f"unexpected {block.header[:40]!r}"))
    problems += structure_problems(file, states, parents, lines)
    for child, (count, line) in counts.items():
        expected = math.prod(len(states.get(v, ())) for v in [*parents[child], child])
        if count != expected and not problems:
            problems.append(miscount(file, line, child, count, expected))
    if problems:
        raise failure(file, "NET", problems)
    for start, end, neutral in reversed(edits):
        text = text[:start] + neutral + text[end:]
    variables = read_variables("net", text, file, list(states), lines, labels)
    for var in variables:
        if var.states != tuple(f"s{i}" for i in range(len(states[var.name]))):
            # pgmpy read other states than the ones checked here
            raise fail(file, lines[var.name], f"node {var.name}: cannot read its states")
        var.states = tuple(states[var.name])
    return Parsed(name, variables)
