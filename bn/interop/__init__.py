"""Moving models in and out: network files (BIF, XMLBIF, XDSL, Hugin NET, UAI) <-> model directories.

pgmpy's readers parse the files and its writers write them. Around them bn adds what a careful
import needs, each gap measured on pgmpy 1.1.2:

- a bad file (truncated, a syntax error, a cycle, continuous/decision/utility nodes, a Markov
  network) is an error naming the file and line, found before anything is written;
- names that are not valid ids become valid ids, unique ignoring case, the original kept as the
  node's label; state names are kept exactly (`<5`, `>=7.5`, `Asy/Patch`, `NA`);
- pgmpy's pitfalls are fixed or avoided: its XMLBIF writer rewrites state names (`<5` -> `_5`),
  its NET writer rounds to 8 decimals, its NET reader stops at Hugin's `%` comments, splits quoted
  state names at spaces and rescans the file once per node, its BIF reader drops a last block
  without a final newline and spends 1.2 s building a grammar it does not use, its XDSL reader
  needs single spaces between numbers. UAI is read and written by bn, by the specification;
- every row is checked, and rows rounded in the file (off 1 by more than 1e-12, at most 1e-3)
  are divided by their sum and reported, so bn agrees with any exact engine given the same
  tables (and `bn check` passes); an export is read back and compared before it is written.

The rooms: this module (the entry points, and writing the results into place); `convert` (what
a file says -> a checked `Model`, and the located problems); `scan` (the text of a file: comments,
blocks, numbers, lines); `bif`, `net`, `xmlbif`, `xdsl` (each format's checks before pgmpy reads
it); `uai` (UAI both ways); `pgmpy_fixes` (pgmpy's readers and writers, the only module that
imports pgmpy, inside its functions).

>>> format_for("networks/alarm.bif").title, format_for("x.dat", "xmlbif").title
('BIF', 'XMLBIF')
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bn.csvfiles import write_model
from bn.errors import BNError, FileFormatError, param
from bn.files import DEFAULT_WAIT, JOURNAL, LOCK, write_atomic
from bn.forms import Ranked
from bn.interop.bif import read_bif
from bn.interop.convert import Imported, Parsed, convert, fail
from bn.interop.net import read_net
from bn.interop.noisymax import attach, noisy_warnings
from bn.interop.pgmpy_fixes import pgmpy_writer, plain_label
from bn.interop.uai import nameless, read_uai, uai_text
from bn.interop.xdsl import genie_warnings, read_xdsl, xdsl_text
from bn.interop.xmlbif import read_xmlbif
from bn.journal import replace_directory
from bn.model import Model

__all__ = [
    "FORMATS",
    "Exported",
    "Format",
    "Imported",
    "export_network",
    "format_for",
    "import_network",
    "network_text",
    "read_network",
]


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
_READERS = {"bif": read_bif, "xmlbif": read_xmlbif, "xdsl": read_xdsl, "net": read_net}


def format_for(path: str | Path, fmt: str | None = None) -> Format:
    """The format named by `fmt`, else the one the file's extension implies."""
    if fmt:
        if fmt.lower() not in FORMATS:
            raise FileFormatError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
        return FORMATS[fmt.lower()]
    suffix = Path(path).suffix.lower()
    for form in FORMATS.values():
        if suffix in form.extensions:
            return form
    known = ", ".join(e for f in FORMATS.values() for e in f.extensions)
    raise FileFormatError(
        f"{path}: cannot tell the format from the extension '{suffix}'; "
        f"use {param('fmt')} ({', '.join(FORMATS)}) or one of {known}"
    )


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
        raise fail(path.name, None, "the file is empty")
    parsed = _parse(data, form, path.name)
    imported = convert(parsed, form, path)
    if parsed.forms:  # XDSL noisy-MAX nodes stay compact
        model = attach(imported.model, parsed.forms, imported.renamed, path.name)
        imported = replace(imported, model=model)
    return imported


def _parse(data: bytes, form: Format, file: str) -> Parsed:
    """Parse a file's bytes as `form`; `file` names it in messages."""
    return _READERS.get(form.name, read_uai)(data, file)


def import_network(
    path: str | Path,
    out: str | Path,
    fmt: str | None = None,
    force: bool = False,
    wait: float = DEFAULT_WAIT,
) -> Imported:
    """Read a network file and write it as the model directory `out`, atomically.

    The directory is built next to `out` under a temporary name, loaded back and compared, and
    only then renamed into place. An existing `out` is replaced only with `force`, as an edit
    (under its lock, waiting up to `wait` seconds for another writer; all files or none).
    """
    from bn.validate import check

    path, out = Path(path), Path(out)
    _check_target(out, force, path)
    imported = read_network(path, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = _sibling(out, ".tmp")
    try:
        write_model(imported.model, temp)
        loaded, problems = check(temp)
        if loaded is None or _difference(imported.model, loaded, tolerance=0.0):
            raise FileFormatError(
                f"{path}: the model directory written from it does not read back"
                + "".join(f"\n{p}" for p in problems if p.severity == "error")
            )
        replace_directory(temp, out, wait)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return replace(imported, model=replace(imported.model, path=out))


def _check_target(out: Path, force: bool, source: Path) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise BNError(f"{out} exists and is not a directory; choose another {param('out')}")
    if not force:
        raise BNError(f"{out} already exists; use {param('force')} to replace it")
    resolved = out.resolve()
    if any(p == resolved or resolved in p.parents for p in (Path.cwd(), source.resolve())):
        raise BNError(f"refusing to replace {out}: it holds the current directory or the input")
    strangers = [
        p.name
        for p in out.iterdir()
        if p.suffix not in {".csv", ".toml"}
        and not (p.name == "overlays" and p.is_dir())
        and p.name not in (LOCK, JOURNAL)  # bn's own: a writer's lock, an edit to recover
    ]
    if strangers:
        raise BNError(
            f"refusing to replace {out}: it is not a model directory "
            f"(it holds {', '.join(sorted(strangers)[:5])})"
        )


def _sibling(out: Path, suffix: str) -> Path:
    """A new hidden directory next to `out`, on the same file system (so renames are atomic)."""
    return Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=suffix))


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
        raise BNError(f"{path} is a directory; {param('to')} names a file")
    if path.exists() and not force:
        raise BNError(f"{path} already exists; use {param('force')} to replace it")
    text = network_text(model, form)
    cannot = f"{path}: {form.title} cannot carry this model exactly (nothing written)"
    try:
        back = convert(_parse(text.encode("utf-8"), form, path.name), form, path, False).model
    except FileFormatError as error:
        back_text = error.render(param)  # keeps parameter references for the face to spell
        raise FileFormatError(f"{cannot}; reading the text back gives:\n{back_text}") from None
    if form.names:
        expected = model.with_nodes(replace(n, label=plain_label(n.label, form)) for n in model)
    else:
        expected = nameless(model)
    difference = _difference(expected, back, tolerance=1e-12)
    if difference:
        raise FileFormatError(f"{cannot}: {difference}")
    write_atomic(path, text)
    warnings = genie_warnings(model) if form.name == "xdsl" else ()
    return Exported(path, form, len(model), _dropped(model, form), warnings)


def network_text(model: Model, form: Format) -> str:
    """`model` as the text of a `form` file, written by pgmpy's writers (UAI: by bn)."""
    if form.name == "uai":
        return uai_text(model)
    writer = pgmpy_writer(model, form)
    return xdsl_text(writer.root, model) if form.name == "xdsl" else str(writer)


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
        "compact forms (written as full tables)": any(n.form is not None for n in nodes)
        and (
            form.name != "xdsl"
            or bool(noisy_warnings(model))
            or any(isinstance(n.form, Ranked) for n in nodes)
        ),
        "aliases": any(n.aliases for n in nodes),
        "descriptions": bool(model.description) or any(n.description for n in nodes),
        "state descriptions": any(n.state_descriptions for n in nodes),
        "targets": bool(model.targets),
        "sources": bool(model.sources),
        "scenarios": bool(model.path and (model.path / "scenarios.toml").exists()),
    }
    return tuple(what for what, gone in lost.items() if gone)
