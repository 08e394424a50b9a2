"""Edits of `model.toml` and `scenarios.toml` that keep every comment and the file's layout.

Rewriting a TOML file with tomllib + tomli_w would lose the analysts' comments and formatting, so
edits are made on the text instead: a small parser finds where each key, value, array element and
table lives, and an edit replaces or removes exactly those characters. Every edit is also applied
to the parsed data, and the edited text must parse to exactly that data; if it does not (an
unusual layout the parser does not understand), the edit is refused with `ModelError` and the file
is left alone. Nothing here touches the disk.

>>> doc = TomlDoc('# my model\\n[nodes.rain]  # the weather\\nlabel = "Rain"\\n', "model.toml")
>>> doc.rename_key(("nodes", "rain"), "rainfall")
>>> doc.set_value(("nodes", "rainfall"), "aliases", ["rain"])
>>> print(doc.result(), end="")
# my model
[nodes.rainfall]  # the weather
label = "Rain"
aliases = ["rain"]
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bn.errors import ModelError, Problem
from bn.metadata import parse_toml

Key = tuple[str | int, ...]
BARE = re.compile(r"[A-Za-z0-9_-]+\Z")
SCALAR = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?|[^\s,\]}#]+")


@dataclass(frozen=True)
class Span:
    """Where something sits in the text: `kind` is key, value, line, inline, element or section."""

    kind: str
    path: Key
    start: int
    end: int


def toml_value(value: Any) -> str:
    """A TOML literal for a string, number, bool or list of them.

    >>> toml_value("a \\"b\\""), toml_value(["x", 1, 0.5, True])
    ('"a \\\\"b\\\\""', '["x", 1, 0.5, true]')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def toml_key(name: str) -> str:
    return name if BARE.match(name) else toml_value(name)


class _Parser:
    """Records the span of every key, value, entry and table of a TOML document."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0
        self.spans: list[Span] = []
        self.arrays: dict[Key, int] = {}

    def parse(self) -> list[Span]:
        s = self.s
        table: Key = ()
        section: tuple[Key, int] | None = None
        while self.i < len(s):
            self._blank()
            if self.i >= len(s):
                break
            if s[self.i] in "\r\n":
                self.i += 1
                continue
            if s[self.i] == "#":
                self._comment()
                continue
            start = self._line_start(self.i)
            if s[self.i] == "[":
                if section:
                    self.spans.append(Span("section", section[0], section[1], start))
                double = s.startswith("[[", self.i)
                self.i += 2 if double else 1
                self._blank()
                key = self._key(())
                self._blank()
                self.i += 2 if double else 1
                if double:
                    index = self.arrays.get(key, 0)
                    self.arrays[key] = index + 1
                    key = (*key, index)
                table = key
                section = (key, start)
                self._line_end()
                continue
            key = self._key(table)
            self._blank()
            self._expect("=")
            self._blank()
            self._value(key)
            self._line_end()
            self.spans.append(Span("line", key, start, self.i))
        if section:
            self.spans.append(Span("section", section[0], section[1], len(s)))
        return self.spans

    def _expect(self, char: str) -> None:
        if self.s[self.i : self.i + 1] != char:
            raise ValueError(f"expected {char!r} at offset {self.i}")
        self.i += 1

    def _line_start(self, i: int) -> int:
        return self.s.rfind("\n", 0, i) + 1

    def _blank(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in " \t":
            self.i += 1

    def _comment(self) -> None:
        end = self.s.find("\n", self.i)
        self.i = len(self.s) if end < 0 else end

    def _gap(self) -> None:
        """Whitespace, newlines and comments inside an array."""
        while self.i < len(self.s):
            if self.s[self.i] in " \t\r\n":
                self.i += 1
            elif self.s[self.i] == "#":
                self._comment()
            else:
                return

    def _line_end(self) -> None:
        self._blank()
        if self.s[self.i : self.i + 1] == "#":
            self._comment()
        if self.s[self.i : self.i + 1] == "\r":
            self.i += 1
        if self.s[self.i : self.i + 1] == "\n":
            self.i += 1

    def _key(self, prefix: Key) -> Key:
        path = prefix
        while True:
            self._blank()
            start = self.i
            if self.s[self.i : self.i + 1] in ('"', "'"):
                self._string()
                name = tomllib.loads("k = " + self.s[start : self.i])["k"]
            else:
                match = re.compile(r"[A-Za-z0-9_-]+").match(self.s, self.i)
                if not match:
                    raise ValueError(f"expected a key at offset {self.i}")
                name = match.group()
                self.i = match.end()
            path = (*path, name)
            self.spans.append(Span("key", path, start, self.i))
            self._blank()
            if self.s[self.i : self.i + 1] != ".":
                return path
            self.i += 1

    def _string(self) -> None:
        s = self.s
        quote = s[self.i]
        if s.startswith(quote * 3, self.i):
            end = s.find(quote * 3, self.i + 3)
            if quote == '"':
                while end >= 0 and _escaped(s, end):
                    end = s.find(quote * 3, end + 1)
            if end < 0:
                raise ValueError("unterminated string")
            end += 3
            while s[end : end + 1] == quote:  # up to two quotes may end the content
                end += 1
            self.i = end
            return
        i = self.i + 1
        while i < len(s) and s[i] != quote:
            i += 2 if quote == '"' and s[i] == "\\" else 1
        self.i = i + 1

    def _value(self, path: Key) -> None:
        s = self.s
        start = self.i
        char = s[self.i : self.i + 1]
        if char in ('"', "'"):
            self._string()
        elif char == "[":
            self.i += 1
            index = 0
            while True:
                self._gap()
                if s[self.i : self.i + 1] == "]":
                    break
                begin = self.i
                self._value((*path, index))
                self.spans.append(Span("element", (*path, index), begin, self.i))
                index += 1
                self._gap()
                if s[self.i : self.i + 1] == ",":
                    self.i += 1
            self.i += 1
        elif char == "{":
            self.i += 1
            while True:
                self._blank()
                if s[self.i : self.i + 1] == "}":
                    break
                begin = self.i
                key = self._key(path)
                self._blank()
                self._expect("=")
                self._blank()
                self._value(key)
                self.spans.append(Span("inline", key, begin, self.i))
                self._blank()
                if s[self.i : self.i + 1] == ",":
                    self.i += 1
            self.i += 1
        else:
            match = SCALAR.match(s, self.i)
            if not match:
                raise ValueError(f"expected a value at offset {self.i}")
            self.i = match.end()
        self.spans.append(Span("value", path, start, self.i))


def _escaped(s: str, i: int) -> bool:
    backslashes = 0
    while i - 1 - backslashes >= 0 and s[i - 1 - backslashes] == "\\":
        backslashes += 1
    return backslashes % 2 == 1


def _get(data: Any, path: Key) -> Any:
    for part in path:
        data = data[part]
    return data


class TomlDoc:
    """A TOML file being edited as text; `result()` returns the text after checking it."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file
        problems: list[Problem] = []
        self.data: dict[str, Any] = parse_toml(text, file, problems)
        if problems:
            raise ModelError(problems)
        self.expected = copy.deepcopy(self.data)

    def _spans(self) -> list[Span]:
        try:
            return _Parser(self.text).parse()
        except (ValueError, IndexError, tomllib.TOMLDecodeError) as error:
            raise self._refuse(f"its layout is not understood ({error})") from None

    def _refuse(self, why: str) -> ModelError:
        return ModelError(
            [
                Problem(
                    self.file,
                    None,
                    f"cannot edit {self.file} without losing its comments or layout: {why}",
                    "nothing was changed; make this edit by hand",
                )
            ]
        )

    def _splice(self, edits: Sequence[tuple[int, int, str]]) -> None:
        text = self.text
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        self.text = text

    def has(self, path: Key) -> bool:
        try:
            _get(self.expected, path)
        except (KeyError, IndexError, TypeError):
            return False
        return True

    def rename_key(self, path: Key, new: str) -> None:
        """Rename the last part of `path` wherever it is spelled (headers, dotted keys, inline)."""
        spans = [s for s in self._spans() if s.kind == "key" and s.path == path]
        self._splice([(s.start, s.end, toml_key(new)) for s in spans])
        parent = _get(self.expected, path[:-1])
        items = list(parent.items())
        parent.clear()
        parent.update((new if k == path[-1] else k, v) for k, v in items)

    def set_string(self, path: Key, value: str) -> None:
        """Replace the string at `path` (a key's value or an array element)."""
        spans = [s for s in self._spans() if s.kind == "value" and s.path == path]
        self._splice([(s.start, s.end, toml_value(value)) for s in spans])
        parent = _get(self.expected, path[:-1])
        parent[path[-1]] = value

    def delete(self, path: Key) -> None:
        """Remove the key, table or array element at `path`, with everything under it."""
        spans = [
            s
            for s in self._spans()
            if s.kind in ("line", "inline", "element", "section") and s.path[: len(path)] == path
        ]
        outer = [s for s in spans if not any(o is not s and _inside(s, o) for o in spans)]
        self._splice([self._removal(s) for s in outer])
        parent = _get(self.expected, path[:-1])
        del parent[path[-1]]

    def _removal(self, span: Span) -> tuple[int, int, str]:
        s = self.text
        if span.kind == "line":
            return span.start, span.end, ""
        if span.kind == "section":
            # Comments just above the next table describe that table: they stay.
            lines = re.findall(r"[^\n]*\n|[^\n]+\Z", s[span.start : span.end])
            cut = len(lines)
            while cut > 1 and (not lines[cut - 1].strip() or lines[cut - 1].lstrip()[0] == "#"):
                cut -= 1
            comments = [i for i in range(cut, len(lines)) if lines[i].strip()]
            keep = comments[0] if comments else len(lines)
            start, end = span.start, span.start + sum(len(line) for line in lines[:keep])
            if s[:start].endswith("\n\n") and (end == len(s) or s[end] == "\n"):
                start -= 1  # no double blank line where the table was
            return start, end, ""
        start, end = span.start, span.end
        while end < len(s) and s[end] in " \t":
            end += 1
        if s[end : end + 1] == ",":
            end += 1
            while end < len(s) and s[end] in " \t":
                end += 1
        else:
            end = span.end
            while start > 0 and s[start - 1] in " \t\r\n":
                start -= 1
            if s[start - 1 : start] == ",":
                start -= 1
            else:
                start = span.start
        # An element alone on its line takes the line with it.
        line_start = s.rfind("\n", 0, start) + 1
        line_end = s.find("\n", end)
        line_end = len(s) if line_end < 0 else line_end
        if not s[line_start:start].strip() and not s[end:line_end].strip() and line_end < len(s):
            return line_start, line_end + 1, ""
        return start, end, ""

    def append(self, path: Key, value: Any) -> None:
        """Append `value` to the array at `path`."""
        spans = self._spans()
        array = [s for s in spans if s.kind == "value" and s.path == path]
        if len(array) != 1 or self.text[array[0].start] != "[":
            raise self._refuse(f"{'.'.join(map(str, path))} is not a single array")
        elements = [s for s in spans if s.kind == "element" and s.path[:-1] == path]
        literal = toml_value(value)
        if elements:
            self._splice([(elements[-1].end, elements[-1].end, ", " + literal)])
        else:
            self._splice([(array[0].start, array[0].end, f"[{literal}]")])
        _get(self.expected, path).append(value)

    def set_value(self, table: Key, key: str, value: Any) -> None:
        """Set `table.key = value`, adding the key (and the table) where the table is written."""
        literal = toml_value(value)
        spans = self._spans()
        if self.has((*table, key)):
            old = [s for s in spans if s.kind == "value" and s.path == (*table, key)]
            self._splice([(s.start, s.end, literal) for s in old])
        elif inline := [s for s in spans if s.kind == "value" and s.path == table]:
            span = inline[0]
            if self.text[span.start] != "{":
                raise self._refuse(f"{'.'.join(map(str, table))} is not a table")
            body = self.text[span.start + 1 : span.end - 1].strip()
            entry = f"{toml_key(key)} = {literal}"
            new = "{ " + (f"{body}, {entry}" if body else entry) + " }"
            self._splice([(span.start, span.end, new)])
        elif not table:  # the root table ends where the first [table] starts
            at = min((s.start for s in spans if s.kind == "section"), default=len(self.text))
            prefix = "" if not self.text[:at] or self.text[:at].endswith("\n") else "\n"
            self._splice([(at, at, f"{prefix}{toml_key(key)} = {literal}\n")])
        elif sections := [s for s in spans if s.kind == "section" and s.path == table]:
            section = sections[0]
            lines = [
                s for s in spans if s.kind == "line" and section.start <= s.start < section.end
            ]
            after_header = self.text.find("\n", section.start) + 1 or len(self.text)
            at = max((s.end for s in lines), default=after_header)
            prefix = "" if self.text[:at].endswith("\n") else "\n"
            self._splice([(at, at, f"{prefix}{toml_key(key)} = {literal}\n")])
        else:
            header = ".".join(toml_key(str(p)) for p in table)
            gap = "" if not self.text else "\n" if self.text.endswith("\n") else "\n\n"
            self.text += f"{gap}[{header}]\n{toml_key(key)} = {literal}\n"
        target: Any = self.expected
        for part in table:
            target = target.setdefault(part, {})
        target[key] = value

    def result(self) -> str:
        """The edited text, checked to mean exactly what the edits meant."""
        try:
            got = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as error:
            raise self._refuse(f"the edited text would not parse ({error})") from None
        if _pruned(got) != _pruned(self.expected):
            raise self._refuse("the edited text would not mean what the edit means")
        return self.text


def _pruned(data: Any) -> Any:
    """Data without empty tables (a table left empty by a deletion may vanish with it)."""
    if isinstance(data, dict):
        items = {k: _pruned(v) for k, v in data.items()}
        return {k: v for k, v in items.items() if v != {}}
    if isinstance(data, list):
        return [_pruned(v) for v in data]
    return data


def _inside(inner: Span, outer: Span) -> bool:
    return outer.start <= inner.start and inner.end <= outer.end and inner != outer
