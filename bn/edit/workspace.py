"""A model directory being edited: the files as read, the new contents, and one transaction that
checks the whole new model and then writes every file or none (see `bn.edit`)."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

from bn.csvfiles import decode_text, node_files, scenario_tables
from bn.decisioncheck import kind_of
from bn.edit.sheet import Sheet
from bn.errors import BNError, ModelError, Problem, param
from bn.files import DEFAULT_WAIT, MODEL_TOML, SCENARIOS_TOML, ModelLock
from bn.influence import utility_header
from bn.journal import replace_files
from bn.metadata import alias_map, parse_toml
from bn.model import Model
from bn.names import choose
from bn.numbers import computed_number
from bn.validate import check_diagram


class Workspace:
    """A model directory being edited: files as read, and the new contents not yet written."""

    def __init__(self, directory: str | Path, wait: float | None = DEFAULT_WAIT) -> None:
        """Read the model directory to edit it, under its lock (`bn.files.ModelLock`), waiting
        up to `wait` seconds for another writer; `wait=None` to only read (no lock).

        The lock is held from before the first file is read until `commit` returns (or `close`,
        or the end of a `with` block); an interrupted edit is recovered first.
        """
        self.root = Path(directory)
        if not self.root.is_dir():
            raise ModelError([Problem(str(self.root), None, "no such model directory")])
        self._lock = None if wait is None else ModelLock(self.root, wait)
        if self._lock is not None:
            self._lock.acquire()
        try:
            self.model, self.problems, self.hidden = survey(self.root)
        except BaseException:
            self.close()
            raise
        self.read: dict[str, bytes | None] = {}
        self.changes: dict[str, str | None] = {}
        self.remaining_errors = _errors(self.problems)  # after the edit: set by `check`
        self._sheets: dict[str, Sheet] = {}
        self._moves: list[tuple[str, str, str, str]] = []
        self._structure: Model | None = None

    def close(self) -> None:
        """Release the model's lock (nothing is written)."""
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------

    def bytes(self, path: str) -> bytes | None:
        if path not in self.read:
            file = self.root / path
            try:
                self.read[path] = file.read_bytes() if file.is_file() else None
            except OSError as error:
                raise BNError(f"cannot read {path}: {error.strerror}") from None
        return self.read[path]

    def text(self, path: str) -> str | None:
        """A file's current text (pending changes included), newlines as LF, without BOM."""
        if path in self.changes:
            return self.changes[path]
        data = self.bytes(path)
        if data is None:
            return None
        problems: list[Problem] = []
        text = decode_text(data, path, problems)
        if text is None:
            raise ModelError(problems)
        return text

    def toml(self, path: str) -> dict[str, Any]:
        """A TOML file's current content; {} when it is missing, not UTF-8 or malformed (the
        model's check reports why)."""
        if path in self.changes:
            text = self.changes[path]
        else:
            data = self.bytes(path)
            text = None if data is None else decode_text(data, path, [])
        return {} if text is None else parse_toml(text, path, [])

    def compact(self, path: str) -> str:
        """The form model.toml declares for the node file at `path` ('' for a full table)."""
        if "/" in path:
            return ""  # overlays hold full tables
        nodes = self.toml(MODEL_TOML).get("nodes", {})
        entry = nodes.get(Path(path).stem, {}) if isinstance(nodes, Mapping) else {}
        return str(entry.get("form", "")) if isinstance(entry, Mapping) else ""

    def kind(self, node: str) -> str:
        """A node's kind: "decision" or "utility" as model.toml or its file says, else "chance"."""
        kind = kind_of(self.toml(MODEL_TOML), node)
        data = self.bytes(f"{node}.csv")
        if (
            kind == "chance"
            and data is not None
            and utility_header(decode_text(data, "", []) or "")
        ):
            return "utility"
        return kind

    def influence_files(self) -> list[str]:
        """The files of the decisions and utilities (whose parents the graph does not list)."""
        return [p for p in self.node_paths() if self.kind(Path(p).stem) != "chance"]

    def sheet(self, path: str, keep_bad_rows: bool = False) -> Sheet:
        """The node file at `path` (relative to the model directory), parsed once and shared
        (`keep_bad_rows`: see `Sheet.parse`). A compact node's file is no table: `BNError`."""
        if self.compact(path):
            node = Path(path).stem
            raise BNError(
                f"{node} is a compact node ({self.compact(path)}): this edit works on full tables; "
                f"run bn cpt expand {node} first (bn cpt fit makes it compact again)"
            )
        if path not in self._sheets:
            data = self.bytes(path)
            if data is None:
                raise BNError(f"{path} does not exist")
            self._sheets[path] = Sheet.parse(data, path, keep_bad_rows)
        return self._sheets[path]

    def valid_model(self) -> Model:
        """The model as read; `ModelError` (listing every problem) when it is not valid."""
        if self.model is None:
            raise ModelError(self.problems)
        return self.model

    def structure(self) -> Model:
        """The model's graph, for an edit that changes nodes, edges or states: ids, states,
        parents, aliases, targets, with scenarios and overlays checked against them.

        On a valid model it is the model. On an invalid one whose only errors are in numbers
        (probabilities, sums, ess) it is the model with every table uniform: its numbers are
        placeholders, never to be computed with. `StructureError` when the structure itself is
        invalid (a file that cannot be read, rows that do not match the parents' states, a cycle,
        a model.toml or scenario error, ...): those errors must be fixed first.
        """
        if self.model is not None:
            return self.model
        if self._structure is None:
            overlays = self.overlays()
            with tempfile.TemporaryDirectory(prefix="bn-edit-") as scratch:
                copy = Path(scratch) / "model"
                _copy_model(self.root, copy, overlays, {})
                _blank_numbers(copy, ["", *overlays])
                model, problems = check_model(copy)
            if model is None:
                raise StructureError(problems)
            self._structure = replace(model, path=self.root)
        return self._structure

    def node_paths(self) -> list[str]:
        return [p.name for p in node_files(self.root)]

    def overlays(self) -> list[str]:
        """The overlay directories that scenarios.toml names (relative paths that exist)."""
        names = _overlay_names(self.toml(SCENARIOS_TOML))
        return [n for n in dict.fromkeys(names) if (self.root / n).is_dir()]

    def copies(self, node: str) -> list[str]:
        """Every file holding a table of `node`: its own file, then each overlay's."""
        paths = [f"{node}.csv"] if self.bytes(f"{node}.csv") is not None else []
        return paths + [
            f"{o}/{node}.csv" for o in self.overlays() if (self.root / o / f"{node}.csv").is_file()
        ]

    def names(self) -> dict[str, str]:
        """Every node id and alias -> its node id, read from the file names and model.toml (so on
        an invalid model too)."""
        ids = [Path(p).stem for p in self.node_paths()]
        names = {i: i for i in ids}
        for alias, owner in alias_map(self.toml(MODEL_TOML)).items():
            names.setdefault(alias, owner)
        return names

    def resolve(self, name: str) -> str:
        """A node id from an id or alias; works on an invalid model too (file names, aliases).

        On an invalid model: an exact id, else an exact alias, else an id equal ignoring case.
        """
        ids = [Path(p).stem for p in self.node_paths()]
        if self.model is not None:
            utilities = [i for i in ids if i not in self.model]
            if name in utilities or name.lower() in (u.lower() for u in utilities):
                return choose(name, utilities, f"unknown node '{name}'", "nodes")
            return self.model.resolve(name)
        aliases = alias_map(self.toml(MODEL_TOML))
        if name not in ids and name in aliases:
            return aliases[name]
        return choose(name, ids, f"unknown node '{name}'", "nodes")

    # --- changing ------------------------------------------------------------------------------

    def write(self, path: str, text: str) -> None:
        self.changes[path] = text

    def moved(self, path: str, new_path: str, old_name: str = "", new_name: str = "") -> None:
        """Tell the check that an error of `path` is, after this edit, the same error of
        `new_path`, with `old_name` renamed `new_name` where its message starts with it (the
        node or `node=state` that a cell's error names): a node or state rename moves the errors
        the model already had, it does not add them."""
        self._moves.append((path, new_path, old_name, new_name))

    def delete(self, path: str) -> None:
        self.changes[path] = None
        self._sheets.pop(path, None)

    def save(self, *paths: str) -> None:
        """Record the current text of the given (or all parsed) sheets as changes."""
        for path in paths or list(self._sheets):
            sheet = self._sheets[path]
            if path not in self.changes or self.changes[path] is not None:
                self.changes[path] = sheet.text()

    def pending(self) -> dict[str, str | None]:
        """The changes that differ from what is on disk."""
        out: dict[str, str | None] = {}
        for path, text in self.changes.items():
            old = self.bytes(path)
            if text is None:
                if old is not None:
                    out[path] = None
            elif old is None or _encoded(text, old) != old:
                out[path] = text
        return out

    def check(self) -> list[Problem]:
        """Problems the pending changes would add (empty when the edit is safe to write).

        The whole new model is checked in a temporary copy, as `survey` checks it (so scenarios
        and overlays too, even while the model is invalid); an error it already had may remain,
        and `remaining_errors` says how many errors `bn check` will then report.
        """
        pending = self.pending()
        with tempfile.TemporaryDirectory(prefix="bn-edit-") as scratch:
            copy = Path(scratch) / "model"
            _copy_model(self.root, copy, self.overlays(), pending)
            for path, text in pending.items():
                target = copy / path
                if not target.resolve().is_relative_to(Path(scratch).resolve()):
                    raise BNError(
                        f"{path}: bn does not edit an overlay given by an absolute path; make "
                        f"the overlay's path in {SCENARIOS_TOML} relative to the model directory"
                    )
                if text is None:
                    target.unlink(missing_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(_encoded(text, self.bytes(path)))
            _, problems, hidden = survey(copy)
        self.remaining_errors = _errors(problems)
        before = {self._translate(p) for p in [*self.problems, *self.hidden]}
        return [p for p in [*problems, *hidden] if p.severity == "error" and _key(p) not in before]

    def _translate(self, problem: Problem) -> tuple[str, str]:
        """An error's key as the edit's renames (`moved`) will have changed it."""
        file, message = problem.file, problem.message
        for path, new_path, old, new in self._moves:
            if file == path:
                if old and message.startswith(old) and message[len(old) : len(old) + 1] in "= :":
                    message = new + message[len(old) :]
                file = new_path
        return file, message

    def commit(self, dry_run: bool = False) -> dict[str, str | None]:
        """Validate, then write every pending change atomically; return what changed. The lock
        is released in any case: a workspace commits once."""
        try:
            return self._commit(dry_run)
        finally:
            self.close()

    def _commit(self, dry_run: bool) -> dict[str, str | None]:
        pending = self.pending()
        if not pending:
            return {}
        added = self.check()
        if added:
            raise ModelError(
                [
                    Problem(
                        p.file,
                        p.line,
                        p.message,
                        (p.hint + "; " if p.hint else "") + "nothing was changed",
                    )
                    for p in added
                ]
            )
        if not dry_run:
            data = {
                p: None if t is None else _encoded(t, self.bytes(p)) for p, t in pending.items()
            }
            replace_files(self.root, data, self.read)
        return pending


def _encoded(text: str, like: bytes | None) -> bytes:
    """`text` (LF newlines) with the line endings and BOM of the file it replaces.

    In a file that mixes line endings, each line keeps the ending of the line it was (or
    replaces); a line inserted takes the ending of the line before it.

    >>> _encoded("a\\nB\\nc\\nd\\n", b"\\xef\\xbb\\xbfa\\r\\nb\\r\\nc\\n")
    b'\\xef\\xbb\\xbfa\\r\\nB\\r\\nc\\nd\\n'
    """
    if like is None:
        return text.encode("utf-8")
    pieces = re.split(r"(\r\n|\r|\n)", like.decode("utf-8-sig", errors="replace"))
    old_lines, old_ends = pieces[0::2], pieces[1::2]
    kinds = Counter(old_ends)
    newline = kinds.most_common(1)[0][0] if kinds else "\n"
    if len(kinds) <= 1:
        text = text.replace("\n", newline)
    else:
        lines = text.split("\n")
        ends: list[str] = []
        matcher = SequenceMatcher(None, old_lines, lines, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            for k in range(j2 - j1):
                if tag == "equal":
                    old = i1 + k
                elif tag == "replace":
                    old = min(i1 + k, i2 - 1)
                else:  # inserted
                    old = i1 - 1
                ends.append(old_ends[old] if 0 <= old < len(old_ends) else newline)
        ends[-1] = ""  # after the last line: nothing (text ends with its own newline, if any)
        text = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if like.startswith(b"\xef\xbb\xbf") and not text.startswith("\ufeff"):
        text = "\ufeff" + text
    return text.encode("utf-8")


def _key(problem: Problem) -> tuple[str, str]:
    return problem.file, problem.message


def _errors(problems: Iterable[Problem]) -> int:
    return sum(p.severity == "error" for p in problems)


class StructureError(ModelError):
    """An edit of the graph or the states on a model whose structure (not only its numbers) has
    errors; `problems` are those errors."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems)
        errors = [p for p in problems if p.severity == "error"]
        head = (
            "this edit finds the files to change through the model's graph, which must be valid "
            f"(only probabilities, sums and ess may be wrong); first fix {len(errors)} error(s):"
        )
        self.args = ("\n".join([head, *(p.render(param) for p in errors)]),)


def check_model(directory: Path) -> tuple[Model | None, list[Problem]]:
    """`bn.validate.check_diagram`: a model with decisions and utilities is valid to edit too (its
    chance tables are edited like any other; the model is its network of chance nodes)."""
    diagram, problems = check_diagram(directory)
    return (None if diagram is None else diagram.network), problems


def survey(directory: Path) -> tuple[Model | None, list[Problem], list[Problem]]:
    """`bn.validate.check(directory)`, and the errors it leaves unseen in an invalid model.

    `check` looks at scenarios.toml and the overlays only once the model is valid; an edit of an
    invalid model must not break them unseen. The third item is their errors, found by checking a
    copy whose node tables hold placeholder numbers (uniform rows, no ess): the model then stands
    if only numbers were wrong, and its scenarios and overlays are checked (their own numbers as
    written). Empty when the model is valid.
    """
    model, problems = check_model(directory)
    if model is not None:
        return model, problems, []
    overlays = [o for o in _overlay_names(_toml_at(directory / SCENARIOS_TOML)) if o]
    with tempfile.TemporaryDirectory(prefix="bn-edit-") as scratch:
        copy = Path(scratch) / "model"
        _copy_model(directory, copy, overlays, {})
        _blank_numbers(copy, [""])
        _, more = check_model(copy)
    seen = {_key(p) for p in problems}
    return None, problems, [p for p in more if p.severity == "error" and _key(p) not in seen]


def _toml_at(path: Path) -> dict[str, Any]:
    """A TOML file's content; {} when it is missing or unreadable (the check says why)."""
    try:
        data = path.read_bytes() if path.is_file() else None
    except OSError:
        return {}
    text = None if data is None else decode_text(data, path.name, [])
    return {} if text is None else parse_toml(text, path.name, [])


def _blank_numbers(root: Path, folders: Sequence[str]) -> None:
    """Give every row of the node files in `folders` (relative to `root`; "" is the model itself)
    uniform probabilities and no ess, in place; a file that cannot be read as a table is left."""
    for folder in folders:
        if Path(folder).is_absolute():
            continue  # outside the copy: the files of the real overlay
        for path in node_files(root / folder):
            try:
                sheet = Sheet.parse(path.read_bytes(), path.name)
            except (ModelError, OSError):
                continue
            if not sheet.states:
                continue
            for row in sheet.rows:
                row.probs = [computed_number(1 / len(sheet.states))] * len(sheet.states)
                row.ess = ""
            path.write_text(sheet.text(), encoding="utf-8")


def _copy_model(
    source: Path, target: Path, overlays: Sequence[str], pending: Mapping[str, str | None]
) -> None:
    target.mkdir()
    for path in [*node_files(source), source / MODEL_TOML, source / SCENARIOS_TOML]:
        if path.is_file():
            shutil.copyfile(path, target / path.name)
    scenarios = pending.get(SCENARIOS_TOML)
    for overlay in {*overlays, *_overlay_names(parse_toml(scenarios or "", SCENARIOS_TOML, []))}:
        folder = source / overlay
        if folder.is_dir() and not Path(overlay).is_absolute():  # an absolute one is read in place
            (target / overlay).mkdir(parents=True, exist_ok=True)
            for path in node_files(folder):
                shutil.copyfile(path, target / overlay / path.name)


def _overlay_names(document: Mapping[str, Any]) -> list[str]:
    """The overlay folders a parsed scenarios.toml names."""
    return [str(e["overlay"]) for e in scenario_tables(document).values() if e.get("overlay")]
