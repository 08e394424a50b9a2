"""BIF, checked block by block before pgmpy parses it.

pgmpy's BIFReader fills a missing row with zeros and a short one with NaN, silently, and drops a
last block without a final newline: every block and row is checked here first, with its line.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence

from bn.errors import Problem
from bn.interop.convert import Parsed, failure, miscount, structure_problems, unsupported
from bn.interop.pgmpy_fixes import read_variables
from bn.interop.scan import Block, blocks, decode, line_of, numbers, strip_comments

_TYPE = re.compile(r"type\s+(\w+)\s*\[\s*(\d+)\s*\]\s*\{([^}]*)\}\s*;")
_HEAD = re.compile(r"probability\s*\(\s*(\S.*?)(?:\s*\|\s*(\S.*?))?\s*\)$", re.S)


def read_bif(data: bytes, file: str) -> Parsed:
    """A BIF file's network; `FileFormatError` listing every problem, each with its line."""
    text = strip_comments(decode(data), "bif")
    states: dict[str, list[str]] = {}
    lines: dict[str, int | None] = {}
    labels: dict[str, str] = {}
    tables: dict[str, tuple[list[str], Block]] = {}
    problems: list[Problem] = []
    name = ""
    for block in blocks(text, file, "BIF"):
        kind, _, rest = block.header.replace('"', " ").partition(" ")
        if kind == "network":
            name = rest.strip()
        elif kind == "variable":
            found = _TYPE.search(block.body)
            if found is None:
                problems.append(
                    Problem(file, block.line, f"{rest}: no 'type discrete [ n ] {{ }};'")
                )
                continue
            if found.group(1) != "discrete":
                hint = "bn handles discrete nodes only"
                raise unsupported(file, block.line, rest.strip(), found.group(1), hint)
            raw = found.group(3).replace('"', " ")
            listed = [s.strip() for s in raw.split(",") if s.strip()] if "," in raw else raw.split()
            if len(listed) != int(found.group(2)):
                message = f"{rest.strip()} declares {found.group(2)} states but lists {listed}"
                problems.append(Problem(file, block.line, message))
            states[rest.strip()], lines[rest.strip()] = listed, block.line
            label = re.search(r"property\s+label\s*=\s*(.*?)\s*;", block.body)
            if label:
                labels[rest.strip()] = label.group(1).strip()
        elif kind == "probability" and (head := _HEAD.match(block.header.replace('"', " "))):
            child, given = head.group(1).strip(), head.group(2)
            parents = [p.strip() for p in given.split(",")] if given else child.split()[1:]
            tables[child.split()[0] if not given else child] = (parents, block)
        else:
            problems.append(Problem(file, block.line, f"unexpected {block.header[:40]!r}"))
    parents = {child: given for child, (given, _) in tables.items()}
    block_lines = {child: block.line for child, (_, block) in tables.items()}
    problems += structure_problems(file, states, parents, {**block_lines, **lines})
    if not problems:
        for child, (given, block) in tables.items():
            problems += _row_problems(text, block, child, given, states, file)
    if problems:
        raise failure(file, "BIF", problems)
    return Parsed(name, read_variables("bif", text + "\n", file, list(states), lines, labels))


def _row_problems(
    text: str,
    block: Block,
    child: str,
    parents: Sequence[str],
    states: Mapping[str, Sequence[str]],
    file: str,
) -> list[Problem]:
    """Located checks of one probability block's statements."""
    problems = []
    card = len(states[child])
    combos = set(itertools.product(*(states[p] for p in parents)))
    seen: dict[tuple[str, ...], int] = {}
    whole = False
    offset = block.offset
    for statement in block.body.split(";"):
        line = line_of(text, offset + len(statement) - len(statement.lstrip()))
        offset += len(statement) + 1
        body = statement.strip()
        keyword = body.split(None, 1)[0] if body else ""
        if keyword in {"table", "default"}:
            if keyword == "default" and parents:
                problems.append(Problem(file, line, f"{child}: 'default' rows are not supported"))
            count, whole = len(numbers(body[len(keyword) :], file, line)), True
            if count != card * len(combos):
                problems.append(miscount(file, line, child, count, card * len(combos)))
        elif found := re.match(r"\((.*?)\)(.*)", body, re.S):
            given = tuple(s.strip() for s in found.group(1).split(","))
            count = len(numbers(found.group(2), file, line))
            unknown = [
                f"'{s}' is not a state of {p} ({', '.join(states[p])})"
                for p, s in zip(parents, given, strict=False)
                if s not in states[p]
            ]
            if len(given) != len(parents):
                unknown = [f"{len(given)} parent states, {len(parents)} expected"]
            if unknown:
                problems.append(Problem(file, line, f"{child}: {'; '.join(unknown)}"))
            elif given in seen:
                message = (
                    f"{child}: second row for ({', '.join(given)}); first on line {seen[given]}"
                )
                problems.append(Problem(file, line, message))
            elif count != card:
                problems.append(miscount(file, line, child, count, card))
            seen[given] = line
        elif body:
            problems.append(Problem(file, line, f"{child}: cannot read {body[:40]!r}"))
    missing = sorted(combos - set(seen))
    if missing and not whole:
        shown = "; ".join(", ".join(m) for m in missing[:4])
        more = f" and {len(missing) - 4} more" if len(missing) > 4 else ""
        problems.append(
            Problem(file, block.line, f"{child}: {len(missing)} missing row(s): ({shown}){more}")
        )
    return problems
