"""Reading the text of a network file: bytes to text, comments, top-level blocks, numbers, lines.

The readers check a file with these before pgmpy parses it, so that every problem names its line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from bn.interop.convert import fail

STRING = r'"(?:[^"\\\n]|\\.)*"'
_COMMENTS = {
    "bif": re.compile(rf"{STRING}|//[^\n]*|/\*.*?\*/", re.S),
    "net": re.compile(rf"{STRING}|%[^\n]*|//[^\n]*|/\*.*?\*/", re.S),
}


def decode(data: bytes) -> str:
    """UTF-8 (with or without a BOM), else Latin-1; `\\n` line ends."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def strip_comments(text: str, kind: str) -> str:
    """Comments blanked out, newlines kept: line numbers and offsets stay those of the file.

    >>> strip_comments('a // "b"\\n"c // d" /* e\\n*/ f', "bif")
    'a       \\n"c // d"     \\n   f'
    """

    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else re.sub(r"[^\n]", " ", token)

    return _COMMENTS[kind].sub(blank, text)


def line_of(text: str, offset: int) -> int:
    """The line (from 1) on which `offset` falls."""
    return text.count("\n", 0, offset) + 1


@dataclass
class Block:
    header: str  # the text before the block's '{', whitespace collapsed
    body: str
    line: int  # the header's line
    offset: int  # where the body starts in the text


def blocks(text: str, file: str, form: str) -> list[Block]:
    """Top-level `header { body }` blocks; a truncated file or a stray brace is an error.

    >>> [(b.header, b.body, b.line) for b in blocks('net {}\\n\\nnode A { x; };', "f", "NET")]
    [('net', '', 1), ('node A', ' x; ', 3)]
    """
    found: list[Block] = []
    depth, start, header_start = 0, 0, 0
    for match in re.finditer(rf"{STRING}|[{{}}]", text):
        if match.group(0) == "{":
            if depth == 0:
                start = match.end()
            depth += 1
        elif match.group(0) == "}":
            depth -= 1
            if depth < 0:
                raise fail(file, line_of(text, match.start()), "unmatched '}'")
            if depth == 0:
                header = text[header_start : start - 1]
                skipped = len(header) - len(header.lstrip("; \n\t"))
                line = line_of(text, header_start + skipped)
                found.append(Block(_collapse(header), text[start : match.start()], line, start))
                header_start = match.end()
    if depth > 0:
        header = _collapse(text[header_start : start - 1])
        raise fail(
            file,
            line_of(text, start),
            f"the file ends inside the block {header!r} opened here",
            f"the {form} file is truncated or a '}}' is missing",
        )
    trailing = text[header_start:].strip("; \n\t")
    if trailing:
        line = line_of(text, text.index(trailing[:1], header_start))
        raise fail(file, line, f"unexpected text after the last block: {trailing[:40]!r}")
    return found


def _collapse(header: str) -> str:
    return " ".join(header.split()).strip(";").strip()


def numbers(text: str, file: str, line: int) -> list[float]:
    """The finite numbers in `text` (separated by spaces, commas or parentheses); else an error.

    >>> numbers("(0.5, 5e-1)", "f", 1)
    [0.5, 0.5]
    >>> numbers("0.5 NaN", "f.bif", 3)
    Traceback (most recent call last):
    bn.errors.FileFormatError: f.bif:3: error: 'NaN' is not a number
    """
    values = []
    for token in re.split(r"[\s,()]+", text.strip()):
        try:
            value = float(token)
        except ValueError:
            if token:
                raise fail(file, line, f"{token!r} is not a number") from None
            continue
        if not math.isfinite(value):
            raise fail(file, line, f"{token!r} is not a number")
        values.append(value)
    return values


def xml_root(data: bytes, file: str, form: str) -> tuple[Any, str]:
    """The root element of an XML file, and its text (to find lines in)."""
    import xml.etree.ElementTree as etree

    try:
        return etree.fromstring(data), decode(data)
    except etree.ParseError as error:
        raise fail(
            file,
            error.position[0],
            f"not well-formed XML ({error})",
            f"is the {form} file truncated?",
        ) from None
    except LookupError as error:  # <?xml ... encoding="unknown"?>
        raise fail(file, 1, f"not readable XML ({error})") from None


def xml_line(text: str, pattern: str) -> int | None:
    """The line of the first match of `pattern`, if any."""
    found = re.search(pattern, text)
    return line_of(text, found.start()) if found else None
