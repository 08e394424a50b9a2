"""Moving models in and out: network files (BIF, XMLBIF, XDSL, Hugin NET, UAI) <-> model directories.

pgmpy's readers parse the files and its writers write them (this is the only module that imports
pgmpy, inside the functions that need it). Around them bn adds what a careful import needs, each
gap measured on pgmpy 1.1.2:

- a bad file (truncated, a syntax error, a cycle, continuous/decision/utility nodes, a Markov
  network) is an error naming the file and line, found before anything is written;
- names that are not valid ids become valid ids, unique ignoring case, the original kept as the
  node's label; state names are kept exactly (`<5`, `>=7.5`, `Asy/Patch`, `NA`);
- pgmpy's pitfalls are fixed or avoided: its XMLBIF writer rewrites state names (`<5` -> `_5`),
  its NET writer rounds to 8 decimals, its NET reader stops at Hugin's `%` comments, splits quoted
  state names at spaces and rescans the file once per node, its BIF reader drops a last block
  without a final newline and spends 1.2 s building a grammar it does not use, its XDSL reader
  needs single spaces between numbers. UAI is read and written here, by the specification (the
  child last in each scope, the last variable varying fastest): pgmpy's UAI reader and writer put
  the child first and the parents in arbitrary order, and its reader is quadratic.

Row sums: public networks are rounded (alarm and sachs rows are off by up to 1e-7). A row whose sum
is within `KEEP` = 1e-12 of 1 is kept exactly as written; a row off by more, up to `RENORMALISE` =
1e-3, is divided by its sum and reported, so every imported table is exactly stochastic and bn
agrees with any exact engine given the same tables (and `bn check` passes); beyond 1e-3 the row is
an error.

>>> format_for("networks/alarm.bif").title, format_for("x.dat", "xmlbif").title
('BIF', 'XMLBIF')
>>> valid_id("Tuberculosis or cancer"), valid_id("2nd test"), valid_id("ess")
('Tuberculosis_or_cancer', 'n_2nd_test', 'ess_')
"""

from __future__ import annotations

import graphlib
import itertools
import math
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import ID_PATTERN, RESERVED, format_number, write_atomic, write_model
from bn.errors import BNError, FileFormatError, Problem
from bn.model import Model, Node

KEEP = 1e-12
RENORMALISE = 1e-3
PLACEHOLDER_NAMES = {"", "unknown", "untitled", "bn_model", "mynetwork", "anonymousbn", "unnamed"}


@dataclass(frozen=True)
class Format:
    """A network file format: its name, file extensions and what it can carry."""

    name: str
    title: str
    extensions: tuple[str, ...]
    names: bool = True  # node and state names (UAI has neither)


FORMATS = {
    f.name: f
    for f in (
        Format("bif", "BIF", (".bif",)),
        Format("xmlbif", "XMLBIF", (".xml", ".xmlbif", ".bifxml")),
        Format("xdsl", "XDSL", (".xdsl",)),
        Format("net", "NET", (".net",)),
        Format("uai", "UAI", (".uai",), names=False),
    )
}


def format_for(path: str | Path, given: str | None = None) -> Format:
    """The format named by `given`, else the one the file's extension implies."""
    if given:
        if given.lower() not in FORMATS:
            raise FileFormatError(f"unknown format '{given}'; formats: {', '.join(FORMATS)}")
        return FORMATS[given.lower()]
    suffix = Path(path).suffix.lower()
    for form in FORMATS.values():
        if suffix in form.extensions:
            return form
    known = ", ".join(e for f in FORMATS.values() for e in f.extensions)
    raise FileFormatError(
        f"{path}: cannot tell the format from the extension '{suffix}'; "
        f"use --format ({', '.join(FORMATS)}) or one of {known}"
    )


def valid_id(name: str) -> str:
    """A node id (a letter, then letters, digits, _; not 'ess' or 'note') made from any name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9_]+", "_", ascii_name).strip("_") or "node"
    if not text[0].isalpha():
        text = "n_" + text
    return text + "_" if text in RESERVED else text


@dataclass
class Variable:
    """One node as a file states it, before its name becomes an id."""

    name: str
    states: tuple[str, ...]
    parents: tuple[str, ...]
    table: np.ndarray  # shape (*parent cards, card), or flat in that order
    label: str = ""
    line: int | None = None


@dataclass
class Parsed:
    """What a network file says, in bn's table layout."""

    name: str
    variables: list[Variable]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Renormalised:
    node: str
    parents: dict[str, str]
    total: float


@dataclass(frozen=True)
class Imported:
    """A model read from a network file, with what the conversion changed."""

    model: Model
    source: Path
    format: Format
    renamed: dict[str, str]  # original name -> id
    renormalised: tuple[Renormalised, ...]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of `bn import --json`."""
        return {
            "source": str(self.source),
            "format": self.format.name,
            "model": str(self.model.path) if self.model.path else None,
            "nodes": len(self.model),
            "arcs": sum(len(n.parents) for n in self.model),
            "renamed": dict(self.renamed),
            "renormalised": [
                {"node": r.node, "parents": r.parents, "sum": r.total} for r in self.renormalised
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Exported:
    """Where a model was written, and what the format could not carry."""

    file: Path
    format: Format
    nodes: int
    dropped: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON schema of `bn export --json` (with the model path added by the command)."""
        return {
            "file": str(self.file),
            "format": self.format.name,
            "nodes": self.nodes,
            "dropped": list(self.dropped),
            "warnings": list(self.warnings),
        }


# --- import -----------------------------------------------------------------------------------


def read_network(path: str | Path, fmt: str | None = None) -> Imported:
    """Read a network file into a `Model` (nothing is written); `FileFormatError` if it is bad."""
    path = Path(path)
    form = format_for(path, fmt)
    if not path.is_file():
        raise FileFormatError(f"{path}: no such file")
    data = path.read_bytes()
    if not data.strip():
        raise _fail(path.name, None, "the file is empty")
    return convert(parse(data, form, path.name), form, path)


def parse(data: bytes, form: Format, file: str) -> Parsed:
    """Parse a file's bytes as `form`; `file` names it in messages."""
    readers = {"bif": _read_bif, "xmlbif": _read_xmlbif, "xdsl": _read_xdsl, "net": _read_net}
    return readers.get(form.name, _read_uai)(data, file)


def import_network(
    path: str | Path, out: str | Path, fmt: str | None = None, force: bool = False
) -> Imported:
    """Read a network file and write it as the model directory `out`, atomically.

    The directory is built next to `out` under a temporary name, loaded back and compared, and
    only then renamed into place. An existing `out` is replaced only with `force`.
    """
    from bn.validate import check

    path, out = Path(path), Path(out)
    _check_target(out, force, path)
    imported = read_network(path, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        write_model(imported.model, temp)
        loaded, problems = check(temp)
        if loaded is None or _difference(imported.model, loaded, tolerance=0.0):
            raise FileFormatError(
                f"{path}: the model directory written from it does not read back"
                + "".join(f"\n{p}" for p in problems if p.severity == "error")
            )
        _move_into_place(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return replace(imported, model=replace(imported.model, path=out, _index={}))


def _check_target(out: Path, force: bool, source: Path) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise BNError(f"{out} exists and is not a directory; choose another --out")
    if not force:
        raise BNError(f"{out} already exists; use --force to replace it")
    resolved = out.resolve()
    if any(p == resolved or resolved in p.parents for p in (Path.cwd(), source.resolve())):
        raise BNError(f"refusing to replace {out}: it holds the current directory or the input")
    strangers = [
        p.name
        for p in out.iterdir()
        if p.suffix not in {".csv", ".toml"} and not (p.name == "overlays" and p.is_dir())
    ]
    if strangers:
        raise BNError(
            f"refusing to replace {out}: it is not a model directory "
            f"(it holds {', '.join(sorted(strangers)[:5])})"
        )


def _move_into_place(temp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(temp, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
    os.rename(out, old / out.name)
    try:
        os.rename(temp, out)
    except OSError:
        os.rename(old / out.name, out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def convert(parsed: Parsed, form: Format, source: Path, renormalise: bool = True) -> Imported:
    """What a file says as a checked `Model`: valid ids, states kept, every row checked.

    With `renormalise`, rows off by more than `KEEP` (up to `RENORMALISE`) are divided by their
    sum; without it (to compare an export with its model) they are kept as read.
    """
    file = source.name
    declared = {v.name: v for v in parsed.variables}
    problems = [p for v in parsed.variables for p in _state_problems(v, file)]
    problems += _structure_problems(
        file,
        declared,
        {v.name: v.parents for v in parsed.variables},
        {v.name: v.line for v in parsed.variables},
    )
    if len(declared) < len(parsed.variables):
        problems.append(Problem(file, None, "a node is declared twice"))
    if problems:
        raise _failure(file, form.title, problems)
    ids = _ids([v.name for v in parsed.variables])
    renamed = {v.name: ids[v.name] for v in parsed.variables if ids[v.name] != v.name}
    nodes: list[Node] = []
    fixed: list[Renormalised] = []
    for var in parsed.variables:
        table = _checked_table(var, declared, file, problems, fixed, ids, renormalise)
        label = var.label or (var.name if var.name in renamed else "")
        nodes.append(
            Node(
                id=ids[var.name],
                states=var.states,
                parents=tuple(ids[p] for p in var.parents),
                table=table,
                label="" if label == ids[var.name] else label,
            )
        )
    if problems:
        raise _failure(file, form.title, problems)
    model = Model(
        tuple(nodes),
        title=parsed.name if parsed.name.lower() not in PLACEHOLDER_NAMES else source.stem,
        sources=({"title": f"{source.name} ({form.title} file imported with bn import)"},),
    )
    return Imported(model, source, form, renamed, tuple(fixed), tuple(parsed.notes))


def _state_problems(var: Variable, file: str) -> list[Problem]:
    where = f"node {var.name}"
    problems = [] if var.states else [Problem(file, var.line, f"{where} has no states")]
    problems += [
        Problem(file, var.line, f"{where}: state name {s!r} cannot be kept exactly")
        for s in var.states
        if not s or s != s.strip() or "\n" in s or "\r" in s
    ]
    twice = sorted({s for s in var.states if var.states.count(s) > 1})
    if twice:
        problems.append(Problem(file, var.line, f"{where} lists state(s) twice: {twice}"))
    return problems


def _structure_problems(
    file: str,
    declared: Iterable[str],
    parents: Mapping[str, Sequence[str]],
    lines: Mapping[str, int | None],
) -> list[Problem]:
    """Undeclared nodes, nodes without a table, and cycles."""
    names = set(declared)
    problems = [
        Problem(file, lines.get(child), f"the table of {child} names undeclared {v}")
        for child, given in parents.items()
        for v in [child, *given]
        if v not in names
    ]
    problems += [
        Problem(file, lines.get(n), f"node {n} has no probability table")
        for n in names
        if n not in parents
    ]
    if not problems:
        try:
            graphlib.TopologicalSorter(parents).prepare()
        except graphlib.CycleError as error:
            cycle = error.args[1]
            problems.append(
                Problem(
                    file,
                    lines.get(cycle[0]),
                    f"the graph has a cycle: {' -> '.join(cycle)}",
                    "a Bayesian network is acyclic: remove one of these arcs",
                )
            )
    return problems


def _ids(names: Sequence[str]) -> dict[str, str]:
    """Valid ids for names, unique ignoring case; valid names that collide with none keep theirs.

    >>> _ids(["Smoke", "smoke", "smoke_2", "x y"])
    {'Smoke': 'Smoke', 'smoke_2': 'smoke_2', 'smoke': 'smoke_3', 'x y': 'x_y'}
    """
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        if ID_PATTERN.match(name) and name not in RESERVED and name.lower() not in taken:
            ids[name] = name
            taken.add(name.lower())
    for name in (n for n in names if n not in ids):
        base = valid_id(name)
        candidate, k = base, 2
        while candidate.lower() in taken:
            candidate, k = f"{base}_{k}", k + 1
        taken.add(candidate.lower())
        ids[name] = candidate
    return ids


def _checked_table(
    var: Variable,
    declared: Mapping[str, Variable],
    file: str,
    problems: list[Problem],
    fixed: list[Renormalised],
    ids: Mapping[str, str],
    renormalise: bool,
) -> np.ndarray:
    """The table in bn's shape, each row checked (and renormalised: see the module docstring)."""
    shape = (*(len(declared[p].states) for p in var.parents), len(var.states))
    table = np.array(var.table, dtype=float)
    if table.size != math.prod(shape):
        expected = f"{' x '.join(map(str, shape))} = {math.prod(shape)}"
        problems.append(
            Problem(file, var.line, f"{var.name}: {table.size} numbers, {expected} expected")
        )
        return np.full(shape, 1.0 / shape[-1])
    table = table.reshape(shape)
    for combo in itertools.product(*(range(n) for n in shape[:-1])):
        row = table[combo]
        given = {ids[p]: declared[p].states[i] for p, i in zip(var.parents, combo, strict=True)}
        where = ", ".join(f"{p}={s}" for p, s in given.items())
        where = f"{var.name} given {where}" if given else var.name
        total = math.fsum(row) if np.all(np.isfinite(row)) else math.nan
        if not (row >= 0).all() or not abs(total - 1) <= RENORMALISE:
            values = " ".join(format_number(v) if np.isfinite(v) else "?" for v in row)
            problems.append(
                Problem(
                    file,
                    var.line,
                    f"the row of {where} sums to {total:.10g}, not 1: {values}",
                    "each row holds probabilities between 0 and 1 that sum to 1",
                )
            )
        elif abs(total - 1) > KEEP and renormalise:
            table[combo] = row / total
            fixed.append(Renormalised(ids[var.name], given, total))
    return table


def _fail(file: str, line: int | None, message: str, hint: str = "") -> FileFormatError:
    """One located problem as an error: `file:line: error: message`."""
    return FileFormatError(str(Problem(file, line, message, hint)))


def _failure(file: str, form: str, problems: Sequence[Problem]) -> FileFormatError:
    head = f"cannot import {file} as {form}: {len(problems)} problem(s)"
    return FileFormatError("\n".join([head, *(str(p) for p in problems)]))


# --- reading: shared helpers ------------------------------------------------------------------


def _decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_STRING = r'"(?:[^"\\\n]|\\.)*"'
_COMMENTS = {
    "bif": re.compile(rf"{_STRING}|//[^\n]*|/\*.*?\*/", re.S),
    "net": re.compile(rf"{_STRING}|%[^\n]*|//[^\n]*|/\*.*?\*/", re.S),
}


def _strip_comments(text: str, kind: str) -> str:
    """Comments blanked out, newlines kept: line numbers and offsets stay those of the file."""

    def blank(match: re.Match[str]) -> str:
        token = match.group(0)
        return token if token.startswith('"') else re.sub(r"[^\n]", " ", token)

    return _COMMENTS[kind].sub(blank, text)


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


@dataclass
class _Block:
    header: str  # the text before the block's '{', whitespace collapsed
    body: str
    line: int  # the header's line
    offset: int  # where the body starts in the text


def _blocks(text: str, file: str, form: str) -> list[_Block]:
    """Top-level `header { body }` blocks; a truncated file or a stray brace is an error."""
    blocks: list[_Block] = []
    depth, start, header_start = 0, 0, 0
    for match in re.finditer(rf"{_STRING}|[{{}}]", text):
        if match.group(0) == "{":
            if depth == 0:
                start = match.end()
            depth += 1
        elif match.group(0) == "}":
            depth -= 1
            if depth < 0:
                raise _fail(file, _line(text, match.start()), "unmatched '}'")
            if depth == 0:
                header = text[header_start : start - 1]
                skipped = len(header) - len(header.lstrip("; \n\t"))
                header = " ".join(header.split()).strip(";").strip()
                line = _line(text, header_start + skipped)
                blocks.append(_Block(header, text[start : match.start()], line, start))
                header_start = match.end()
    if depth > 0:
        header = " ".join(text[header_start : start - 1].split()).strip(";").strip()
        raise _fail(
            file,
            _line(text, start),
            f"the file ends inside the block {header!r} opened here",
            f"the {form} file is truncated or a '}}' is missing",
        )
    trailing = text[header_start:].strip("; \n\t")
    if trailing:
        line = _line(text, text.index(trailing[:1], header_start))
        raise _fail(file, line, f"unexpected text after the last block: {trailing[:40]!r}")
    return blocks


def _numbers(text: str, file: str, line: int) -> list[float]:
    values = []
    for token in re.split(r"[\s,()]+", text.strip()):
        try:
            values.append(float(token))
        except ValueError:
            if token:
                raise _fail(file, line, f"{token!r} is not a number") from None
    return values


def _pgmpy_model(kind: str, source: str, file: str) -> Any:
    """pgmpy's model for a file's text; failures pgmpy hits become `FileFormatError`."""
    import xml.etree.ElementTree as etree

    from pyparsing import ParseBaseException

    try:
        return _pgmpy_readers()[kind](string=source).get_model()
    # pgmpy's readers raise whatever their parsing hits on a malformed file
    except (ParseBaseException, etree.ParseError, ValueError, KeyError, IndexError,
            AttributeError, TypeError) as error:  # fmt: skip
        message = str(error).splitlines()[0] if str(error) else repr(error)
        raise _fail(
            file,
            getattr(error, "lineno", None),
            f"pgmpy cannot read this file: {message}",
            f"is the {kind.upper()} file truncated or hand-edited?",
        ) from error


def _variables(
    network: Any, names: Sequence[str], lines: Mapping[str, int | None], labels: Mapping[str, str]
) -> list[Variable]:
    """Variables from a pgmpy network, in the file's order."""
    variables = []
    for name in names:
        cpd = network.get_cpds(name)
        variables.append(
            Variable(
                name=name,
                states=tuple(str(s) for s in cpd.state_names[name]),
                parents=tuple(str(p) for p in cpd.variables[1:]),
                table=np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1),
                label=labels.get(name, ""),
                line=lines.get(name),
            )
        )
    return variables


def _pgmpy_readers() -> dict[str, Any]:
    import pyparsing as pp
    from pgmpy.readwrite import BIFReader, NETReader, XDSLReader, XMLBIFReader

    class FastBIFReader(BIFReader):  # type: ignore[misc]
        """pgmpy's BIFReader with its grammar built from ASCII word characters.

        pgmpy builds two words from `pyparsing.unicode.alphanums` (1.2 s per process) for
        expressions its reader never uses: it parses with regular expressions, the variable name
        expression and `cpd_expr`, which are the same here.
        """

        def get_variable_grammar(self) -> Any:
            name = pp.Regex(r"[^{]+").set_parse_action(lambda t: t[0].strip())
            name_expr = pp.Suppress("variable") + name + pp.Suppress("{")
            state = pp.Regex(r"[^,};]+").set_parse_action(lambda t: t[0].strip())
            state_expr = (
                pp.Suppress("type" + pp.Word(pp.alphanums + "_-.") + "[" + pp.Word(pp.nums))
                + pp.Suppress("]" + pp.Literal("{"))
                + pp.Group(state + pp.ZeroOrMore(pp.Suppress(",") + state))
                + pp.Suppress("}" + pp.Literal(";"))
            )
            property_expr = pp.Suppress("property") + pp.CharsNotIn(";") + pp.Suppress(";")
            return name_expr, state_expr, property_expr

        def get_probability_grammar(self) -> Any:
            word = pp.Word(pp.alphanums + "-_.") + pp.Suppress(pp.Optional("|"))
            word += pp.Suppress(pp.Optional(","))
            number = pp.Word(pp.nums + "-+eE.") + pp.Suppress(pp.Optional(","))
            probability_expr = pp.Suppress("probability" + pp.Literal("(")) + pp.OneOrMore(word)
            state = pp.Regex(r"[^,)]+").set_parse_action(lambda t: t[0].strip())
            given = pp.Suppress("(") + state + pp.ZeroOrMore(pp.Suppress(",") + state)
            head = given + pp.Suppress(")") | pp.Suppress("table") | pp.Suppress("default")
            return probability_expr + pp.Suppress(")"), head + pp.OneOrMore(number)

    class LinearNETReader(NETReader):  # type: ignore[misc]
        """pgmpy's NETReader with `get_states` scanning the file once rather than once per node
        (2.3 s on alarm's 37 nodes, quadratic in general); the result is the same."""

        def get_states(self) -> dict[str, list[str]]:
            names = [match[0].nodename for match in self.name_expr.scan_string(self.network)]
            found = [match[0].statenames for match in self.state_expr.scan_string(self.network)]
            pairs = zip(names, found, strict=False)
            return {name: [s.replace('"', "") for s in states] for name, states in pairs}

    return {
        "bif": FastBIFReader,
        "net": LinearNETReader,
        "xmlbif": XMLBIFReader,
        "xdsl": XDSLReader,
    }


# --- BIF --------------------------------------------------------------------------------------

_BIF_TYPE = re.compile(r"type\s+(\w+)\s*\[\s*(\d+)\s*\]\s*\{([^}]*)\}\s*;")
_BIF_HEAD = re.compile(r"probability\s*\(\s*(.+?)(?:\s*\|\s*(.+?))?\s*\)$", re.S)


def _read_bif(data: bytes, file: str) -> Parsed:
    """BIF, checked block by block (pgmpy fills a missing row with zeros and a short one with
    NaN, silently), then parsed by pgmpy."""
    text = _strip_comments(_decode(data), "bif")
    states: dict[str, list[str]] = {}
    lines: dict[str, int | None] = {}
    labels: dict[str, str] = {}
    tables: dict[str, tuple[list[str], _Block]] = {}
    problems: list[Problem] = []
    name = ""
    for block in _blocks(text, file, "BIF"):
        kind, _, rest = block.header.replace('"', " ").partition(" ")
        if kind == "network":
            name = rest.strip()
        elif kind == "variable":
            found = _BIF_TYPE.search(block.body)
            if found is None:
                problems.append(
                    Problem(file, block.line, f"{rest}: no 'type discrete [ n ] {{ }};'")
                )
                continue
            if found.group(1) != "discrete":
                raise _fail(
                    file, block.line, f"{rest.strip()} is {found.group(1)}: unsupported",
                    "bn handles discrete nodes only",
                )  # fmt: skip
            raw = found.group(3).replace('"', " ")
            listed = [s.strip() for s in raw.split(",") if s.strip()] if "," in raw else raw.split()
            if len(listed) != int(found.group(2)):
                message = f"{rest.strip()} declares {found.group(2)} states but lists {listed}"
                problems.append(Problem(file, block.line, message))
            states[rest.strip()], lines[rest.strip()] = listed, block.line
            label = re.search(r"property\s+label\s*=\s*(.*?)\s*;", block.body)
            if label:
                labels[rest.strip()] = label.group(1).strip()
        elif kind == "probability" and (head := _BIF_HEAD.match(block.header.replace('"', " "))):
            child, given = head.group(1).strip(), head.group(2)
            parents = [p.strip() for p in given.split(",")] if given else child.split()[1:]
            tables[child.split()[0] if not given else child] = (parents, block)
        else:
            problems.append(Problem(file, block.line, f"unexpected {block.header[:40]!r}"))
    parents = {child: given for child, (given, _) in tables.items()}
    block_lines = {child: block.line for child, (_, block) in tables.items()}
    problems += _structure_problems(file, states, parents, {**block_lines, **lines})
    if not problems:
        for child, (given, block) in tables.items():
            problems += _bif_rows(text, block, child, given, states, file)
    if problems:
        raise _failure(file, "BIF", problems)
    network = _pgmpy_model("bif", text + "\n", file)
    return Parsed(name, _variables(network, list(states), lines, labels))


def _bif_rows(
    text: str,
    block: _Block,
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
        line = _line(text, offset + len(statement) - len(statement.lstrip()))
        offset += len(statement) + 1
        body = statement.strip()
        keyword = body.split(None, 1)[0] if body else ""
        if keyword in {"table", "default"}:
            if keyword == "default" and parents:
                problems.append(Problem(file, line, f"{child}: 'default' rows are not supported"))
            count, whole = len(_numbers(body[len(keyword) :], file, line)), True
            if count != card * len(combos):
                expected = card * len(combos)
                problems.append(
                    Problem(file, line, f"{child}: {count} numbers, {expected} expected")
                )
        elif found := re.match(r"\((.*?)\)(.*)", body, re.S):
            given = tuple(s.strip() for s in found.group(1).split(","))
            count = len(_numbers(found.group(2), file, line))
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
                problems.append(Problem(file, line, f"{child}: {count} numbers, {card} expected"))
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


# --- Hugin NET --------------------------------------------------------------------------------

_NET_STATES = re.compile(rf"\bstates\s*=\s*\(((?:{_STRING}|[^()\"])*)\)\s*;")
_NET_LABEL = re.compile(rf"\blabel\s*=\s*({_STRING})\s*;")
_NET_KINDS = {"continuous", "decision", "utility", "function", "class"}


def _read_net(data: bytes, file: str) -> Parsed:
    """Hugin NET: comments blanked, structure checked, state names swapped for neutral ones that
    pgmpy cannot split (and swapped back), then parsed by pgmpy."""
    text = _strip_comments(_decode(data), "net")
    states: dict[str, list[str]] = {}
    labels: dict[str, str] = {}
    lines: dict[str, int | None] = {}
    parents: dict[str, list[str]] = {}
    counts: dict[str, tuple[int, int]] = {}
    problems: list[Problem] = []
    edits: list[tuple[int, int, str]] = []
    name = ""
    for block in _blocks(text, file, "NET"):
        words = re.sub(r"([()|])", r" \1 ", block.header).split() or [""]
        if words[0] == "net":
            found = re.search(r"\bname\s*=\s*\"?([^\";]+)", block.body)
            name = found.group(1).strip() if found else ""
        elif words[0] in _NET_KINDS:
            kind = "an object-oriented class" if words[0] == "class" else f"a {words[0]} node"
            raise _fail(
                file, block.line, f"{words[-1]} is {kind}: unsupported",
                "bn handles discrete chance nodes only",
            )  # fmt: skip
        elif "node" in words[:2]:
            node, found = words[-1], _NET_STATES.search(block.body)
            if found is None:
                problems.append(Problem(file, block.line, f"node {node} has no 'states = (...);'"))
                continue
            listed = re.findall(_STRING, found.group(1)) or found.group(1).split()
            states[node] = [s[1:-1] if s.startswith('"') else s for s in listed]
            lines[node] = block.line
            if label := _NET_LABEL.search(block.body):
                labels[node] = label.group(1)[1:-1]
            start, end = block.offset + found.start(1) - 1, block.offset + found.end()
            neutral = "(" + " ".join(f'"s{i}"' for i in range(len(listed))) + ");"
            edits.append((start, end, neutral + "\n" * text.count("\n", start, end)))
        elif words[0] == "potential" and ")" in words:
            inside = words[words.index("(") + 1 : words.index(")")]
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
            line = _line(text, block.offset + found.start(1))
            counts[heads[0]] = (len(_numbers(found.group(1), file, line)), line)
        else:
            problems.append(Problem(file, block.line, f"unexpected {block.header[:40]!r}"))
    problems += _structure_problems(file, states, parents, lines)
    for child, (count, line) in counts.items():
        expected = math.prod(len(states.get(v, ())) for v in [*parents[child], child])
        if count != expected and not problems:
            problems.append(Problem(file, line, f"{child}: {count} numbers, {expected} expected"))
    if problems:
        raise _failure(file, "NET", problems)
    for start, end, neutral in reversed(edits):
        text = text[:start] + neutral + text[end:]
    variables = _variables(_pgmpy_model("net", text, file), list(states), lines, labels)
    for var in variables:
        var.states = tuple(states[var.name][int(s[1:])] for s in var.states)
    return Parsed(name, variables)


# --- XML: XMLBIF and XDSL ---------------------------------------------------------------------


def _xml_root(data: bytes, file: str, form: str) -> Any:
    import xml.etree.ElementTree as etree

    try:
        return etree.fromstring(data)
    except etree.ParseError as error:
        raise _fail(
            file,
            error.position[0],
            f"not well-formed XML ({error})",
            f"is the {form} file truncated?",
        ) from None


def _xml_line(text: str, pattern: str) -> int | None:
    found = re.search(pattern, text)
    return _line(text, found.start()) if found else None


def _read_xmlbif(data: bytes, file: str) -> Parsed:
    import xml.etree.ElementTree as etree

    root, text = _xml_root(data, file, "XMLBIF"), _decode(data)
    network = root.find("NETWORK")
    if network is None:
        raise _fail(file, None, "no <NETWORK> element: not an XMLBIF file")
    for element in network.iter():
        if element.tag in {"NAME", "OUTCOME", "FOR", "GIVEN"} and element.text:
            element.text = element.text.strip()
    names, lines, labels = [], {}, {}
    for variable in network.findall("VARIABLE"):
        name = variable.findtext("NAME") or ""
        names.append(name)
        lines[name] = _xml_line(text, rf"<NAME>\s*{re.escape(name)}\s*</NAME>")
        if variable.get("TYPE", "nature") != "nature":
            raise _fail(
                file, lines[name], f"{name} is a {variable.get('TYPE')} variable: unsupported",
                "bn handles chance nodes only",
            )  # fmt: skip
        # pgmpy splits every PROPERTY at '=' and fails on any other: read them here instead
        for prop in variable.findall("PROPERTY"):
            key, sep, value = (prop.text or "").partition("=")
            if sep and key.strip() == "label":
                labels[name] = value.strip()
            variable.remove(prop)
    parents = {
        d.findtext("FOR") or "": [g.text or "" for g in d.findall("GIVEN")]
        for d in network.findall("DEFINITION")
    }
    problems = _structure_problems(file, names, parents, lines)
    if problems:
        raise _failure(file, "XMLBIF", problems)
    network_model = _pgmpy_model("xmlbif", etree.tostring(root, encoding="unicode"), file)
    return Parsed(network.findtext("NAME") or "", _variables(network_model, names, lines, labels))


_XDSL_UNSUPPORTED = {
    "equation": "a continuous (equation) node",
    "decision": "a decision node",
    "utility": "a utility node",
    "mau": "a multi-attribute utility node",
    "noisymax": "a noisy-MAX node",
    "noisyadder": "a noisy-adder node",
}


def _read_xdsl(data: bytes, file: str) -> Parsed:
    import xml.etree.ElementTree as etree

    root, text = _xml_root(data, file, "XDSL"), _decode(data)
    nodes = root.find("nodes")
    if root.tag != "smile" or nodes is None:
        raise _fail(file, None, "no <smile><nodes>: not an XDSL file")
    lines: dict[str, int | None] = {}
    parents: dict[str, list[str]] = {}
    for element in nodes:
        name = element.get("id", "")
        lines[name] = _xml_line(text, rf"<{element.tag}\s[^>]*id=\"{re.escape(name)}\"")
        if element.tag == "deterministic":
            _deterministic_to_cpt(element, file, lines[name])
        elif element.tag != "cpt":
            what = _XDSL_UNSUPPORTED.get(element.tag, f"a <{element.tag}> node")
            raise _fail(
                file, lines[name], f"{name} is {what}: unsupported",
                "bn reads <cpt> and <deterministic> nodes",
            )  # fmt: skip
        parents[name] = (element.findtext("parents") or "").split()
        probabilities = element.find("probabilities")
        if probabilities is None:
            raise _fail(file, lines[name], f"{name} has no <probabilities>")
        probabilities.text = " ".join((probabilities.text or "").split())  # pgmpy: single spaces
    problems = _structure_problems(file, parents, parents, lines)
    if problems:
        raise _failure(file, "XDSL", problems)
    labels = {
        node.get("id", ""): (node.findtext("name") or "").strip()
        for node in root.iterfind("extensions/genie//node")
    }
    model = _pgmpy_model("xdsl", etree.tostring(root, encoding="unicode"), file)
    return Parsed(root.get("id", ""), _variables(model, list(parents), lines, labels))


def _deterministic_to_cpt(element: Any, file: str, line: int | None) -> None:
    """A GeNIe deterministic node as its 0/1 table (pgmpy reads <cpt> only)."""
    import xml.etree.ElementTree as etree

    states = [s.get("id", "") for s in element.findall("state")]
    resulting = (element.findtext("resultingstates") or "").split()
    if not resulting or any(s not in states for s in resulting):
        raise _fail(file, line, f"{element.get('id')}: resulting states {resulting} unknown")
    element.tag = "cpt"
    for child in element.findall("resultingstates"):
        element.remove(child)
    rows = (" ".join("1" if s == r else "0" for s in states) for r in resulting)
    etree.SubElement(element, "probabilities").text = " ".join(rows)


# --- UAI --------------------------------------------------------------------------------------


def _read_uai(data: bytes, file: str) -> Parsed:
    """UAI by its specification: each scope ends with the child, and its values run with the last
    variable of the scope fastest, which is bn's layout. Not read by pgmpy: its UAIReader puts the
    child first and the parents in arbitrary order, reads no exponents, and re-parses the whole
    file once per table (16 s on alarm)."""
    tokens = [
        (token, number)
        for number, line in enumerate(_decode(data).split("\n"), start=1)
        if not re.match(r"\s*c(\s|$)", line)  # comment lines of the UAI 2010+ format
        for token in line.split("#")[0].split()
    ]
    kind = tokens[0][0] if tokens else ""
    if kind == "MARKOV":
        raise _fail(file, 1, "a MARKOV (undirected) network: unsupported", "bn reads BAYES files")
    if kind != "BAYES":
        raise _fail(file, 1, f"expected BAYES, found {kind[:20]!r}")
    stream = iter(tokens[1:])

    def take(what: str, whole: bool = True) -> float:
        token, line = next(stream, ("", tokens[-1][1]))
        if not token:
            raise _fail(file, line, f"the file ends where {what} was expected", "is it truncated?")
        try:
            value = float(token)
        except ValueError:
            raise _fail(file, line, f"{token!r} is not a number ({what})") from None
        if whole and (value < 0 or value != int(value)):
            raise _fail(file, line, f"{token!r}: {what} must be a whole number")
        return value

    cards = [int(take("a cardinality")) for _ in range(int(take("the number of variables")))]
    count = int(take("the number of tables"))
    scopes = [
        [int(take("a variable")) for _ in range(int(take("a scope size")))] for _ in range(count)
    ]
    names = [f"var_{i}" for i in range(len(cards))]
    variables: dict[str, Variable] = {}
    for k, scope in enumerate(scopes):
        values = [take(f"a value of table {k}", False) for _ in range(int(take("a table size")))]
        if not scope or max(scope) >= len(cards) or names[scope[-1]] in variables:
            raise _fail(file, None, f"table {k} has a bad scope {scope} ({len(cards)} variables)")
        variables[names[scope[-1]]] = Variable(
            name=names[scope[-1]],
            states=tuple(f"s{i}" for i in range(cards[scope[-1]])),
            parents=tuple(names[v] for v in scope[:-1]),
            table=np.array(values),
        )
    if len(variables) < len(names):
        missing = ", ".join(n for n in names if n not in variables)
        raise _fail(file, None, f"no table for {missing}")
    note = "UAI files carry no names: nodes are var_0, var_1, ... by position, states s0, s1, ..."
    return Parsed("", [variables[n] for n in names], [note])


# --- export -----------------------------------------------------------------------------------


def export_network(
    model: Model, path: str | Path, fmt: str | None = None, force: bool = False
) -> Exported:
    """Write `model` as a network file, once reading the text back gives the model again.

    The file is written atomically; an existing file is replaced only with `force`.
    """
    path = Path(path)
    form = format_for(path, fmt)
    if path.is_dir():
        raise BNError(f"{path} is a directory; --to names a file")
    if path.exists() and not force:
        raise BNError(f"{path} already exists; use --force to replace it")
    text = network_text(model, form)
    cannot = f"{path}: {form.title} cannot carry this model exactly (nothing written)"
    try:
        back = convert(parse(text.encode("utf-8"), form, path.name), form, path, False).model
    except FileFormatError as error:
        raise FileFormatError(f"{cannot}; reading the text back gives:\n{error}") from None
    if form.names:
        expected = model.with_nodes(replace(n, label=_plain_label(n.label, form)) for n in model)
    else:
        order = _uai_order(model)
        renamed = {n: f"var_{k}" for k, n in enumerate(order)}
        expected = Model(
            tuple(
                Node(
                    renamed[n.id],
                    tuple(f"s{i}" for i in range(n.card)),
                    tuple(renamed[p] for p in n.parents),
                    n.table,
                )
                for n in model
            )
        )
    difference = _difference(expected, back, tolerance=1e-12)
    if difference:
        raise FileFormatError(f"{cannot}: {difference}")
    write_atomic(path, text)
    return Exported(path, form, len(model), _dropped(model, form), _warnings(model, form))


def network_text(model: Model, form: Format) -> str:
    """`model` as the text of a `form` file, written by pgmpy's writers (UAI: by bn)."""
    if form.name == "uai":
        return _uai_text(model)
    network = _pgmpy_network(model, form)
    writer = _pgmpy_writers()[form.name]
    if form.name != "xdsl":
        return str(writer(network))
    import xml.dom.minidom as minidom
    import xml.etree.ElementTree as etree

    root = writer(network, network_id=_network_name(model)).root
    _annotate_xdsl(root, model)
    pretty = minidom.parseString(etree.tostring(root, encoding="utf-8"))
    return pretty.toprettyxml(indent="    ", encoding="utf-8").decode("utf-8")


def _pgmpy_network(model: Model, form: Format) -> Any:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    network = DiscreteBayesianNetwork()
    network.add_nodes_from(model.ids)
    network.add_edges_from((p, n.id) for n in model for p in n.parents)
    network.name = _network_name(model)
    for node in model:
        names = {node.id: list(node.states)}
        names.update({p: list(s) for p, s in zip(node.parents, node.parent_states, strict=True)})
        values = np.moveaxis(node.table, -1, 0).reshape(node.card, -1)
        cards = [len(s) for s in node.parent_states]
        parents = list(node.parents)
        network.add_cpds(
            TabularCPD(node.id, node.card, values, parents or None, cards or None, names)
        )
        if node.label != node.id and form.name in {"bif", "net", "xmlbif"}:
            label = _plain_label(node.label, form)
            network.nodes[node.id]["label"] = f'"{label}"' if form.name == "net" else label
    return network


def _pgmpy_writers() -> dict[str, Any]:
    from pgmpy.readwrite import BIFWriter, NETWriter, XDSLWriter, XMLBIFWriter

    class ExactXMLBIFWriter(XMLBIFWriter):  # type: ignore[misc]
        """pgmpy's XMLBIFWriter without its renaming of states (`<5` would become `_5`)."""

        def _make_valid_state_name(self, state_name: Any) -> str:
            return str(state_name)

    class ExactNETWriter(NETWriter):  # type: ignore[misc]
        """pgmpy's NETWriter writing every digit (it rounds to 8 decimals)."""

        def net_cpd(self, var_name: str) -> str:
            return _nested(np.moveaxis(np.asarray(self.tables[var_name], dtype=float), 0, -1))

    return {
        "bif": BIFWriter,
        "net": ExactNETWriter,
        "xmlbif": ExactXMLBIFWriter,
        "xdsl": XDSLWriter,
    }


def _nested(table: np.ndarray) -> str:
    """Hugin's nested data: the first parent outermost, the node's states innermost."""
    if table.ndim > 1:
        return "(" + "\n ".join(_nested(sub) for sub in table) + ")"
    numbers = (format_number(v) for v in table)
    return "(" + " ".join(n if "." in n else n + ".0" for n in numbers) + ")"


def _plain_label(label: str, form: Format) -> str:
    """A label on one line, without the characters the format's syntax reserves."""
    text = " ".join(label.split())
    if form.name in {"bif", "net"}:
        reserved = {'"': "'", ";": ",", "{": "(", "}": ")", "//": "/ /", "/*": "/ *", "\\": "/"}
        for old, new in reserved.items():
            text = text.replace(old, new)
    return text


def _network_name(model: Model) -> str:
    return valid_id(model.title or (model.path.name if model.path else "") or "network")[:60]


def _annotate_xdsl(root: Any, model: Model) -> None:
    """GeNIe shows bn's labels as names, on a grid by depth (pgmpy places nodes at random)."""
    depth: dict[str, int] = {}
    for node in model:  # parents first
        depth[node.id] = 1 + max((depth[p] for p in node.parents), default=-1)
    column: dict[int, int] = {}
    for element in root.iterfind("extensions/genie/node"):
        node = model[element.get("id")]
        row = depth[node.id]
        x, y = 40 + 160 * column.get(row, 0), 40 + 100 * row
        column[row] = column.get(row, 0) + 1
        element.find("name").text = node.label
        element.find("position").text = f"{x} {y} {x + 120} {y + 48}"


def _uai_order(model: Model) -> list[str]:
    """UAI numbers variables: var_k keeps number k (a model from UAI), otherwise model order."""
    ids = list(model.ids)
    numbered = [f"var_{k}" for k in range(len(ids))]
    return numbered if set(ids) == set(numbered) else ids


def _uai_text(model: Model) -> str:
    order = _uai_order(model)
    index = {name: k for k, name in enumerate(order)}
    lines = ["BAYES", str(len(order)), " ".join(str(model[n].card) for n in order), str(len(order))]
    for name in order:
        scope = [*(index[p] for p in model[name].parents), index[name]]
        lines.append(" ".join(map(str, [len(scope), *scope])))
    for name in order:
        table = model[name].table  # (*parents, child): the UAI order already
        lines += ["", str(table.size)]
        lines += [
            " ".join(format_number(v) for v in row) for row in table.reshape(-1, table.shape[-1])
        ]
    return "\n".join(lines) + "\n"


def _difference(a: Model, b: Model, tolerance: float) -> str:
    """How `b` differs from `a` (nodes, states in order, parents, labels, tables), or ''."""
    if sorted(a.ids) != sorted(b.ids):
        return f"the nodes differ: {sorted(set(a.ids) ^ set(b.ids))[:5]}"
    for node in a:
        other = b[node.id]
        if other.states != node.states:
            return f"the states of {node.id} read back as {other.states}, not {node.states}"
        if other.parents != node.parents:
            return f"the parents of {node.id} read back as {other.parents}"
        if other.label != node.label:
            return f"the label of {node.id} reads back as {other.label!r}"
        if np.max(np.abs(other.table - node.table)) > tolerance:
            return f"the table of {node.id} does not read back"
    return ""


def _dropped(model: Model, form: Format) -> tuple[str, ...]:
    """What the model has that the file does not carry."""
    nodes = list(model)
    lost = {
        "node names": not form.names,
        "state names": not form.names,
        "labels": not form.names and any(n.label != n.id for n in nodes),
        "notes": any(any(n.notes) for n in nodes),
        "ess": any(np.isfinite(n.ess).any() for n in nodes),
        "aliases": any(n.aliases for n in nodes),
        "descriptions": bool(model.description) or any(n.description for n in nodes),
        "state descriptions": any(n.state_descriptions for n in nodes),
        "targets": bool(model.targets),
        "sources": bool(model.sources),
        "scenarios": bool(model.path and (model.path / "scenarios.toml").exists()),
    }
    return tuple(what for what, gone in lost.items() if gone)


def _warnings(model: Model, form: Format) -> tuple[str, ...]:
    odd = sorted({s for n in model for s in n.states if not ID_PATTERN.match(s)})
    if form.name != "xdsl" or not odd:
        return ()
    shown = ", ".join(odd[:8]) + (" ..." if len(odd) > 8 else "")
    return (f"GeNIe wants state ids made of letters, digits and _; these will not load: {shown}",)
