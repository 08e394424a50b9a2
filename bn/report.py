"""`bn report`: a self-contained analytic brief (HTML and Markdown) built from the model alone.

The brief holds the headline with 90% intervals and the arithmetic behind it, the scenario table with a
chart, network diagrams, the tornado of the main target, the uncertainty histogram, every table with
its notes, an assumptions register, the sources and the provenance (a content hash of the model
directory, the bn version and the command that regenerates the brief).

Everything is deterministic: charts are hand-written SVG, draws use a fixed seed (by default the same
100,000 draws with seed 0 as `bn uncertainty` and `bn scenarios --intervals`, so the brief and the
command line agree), and the date comes from `--date`, else `SOURCE_DATE_EPOCH`, else today. Table
cells are written exactly as in the CSV files; computed probabilities have three significant digits. All text from the
model is escaped for HTML and for Markdown. The main target is the model's first target, at its event
(`Node.event`: the state `yes` if it has one, else its last state).

This module gathers the facts and writes the files; `bn.report_render` writes the text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bn.charts import number
from bn.errors import BNError, param
from bn.evidence import Evidence
from bn.model import Model
from bn.report_render import slug, to_html, to_markdown

if TYPE_CHECKING:
    from bn.analysis.compare import Row
    from bn.analysis.sensitivity import Cell
    from bn.analysis.uncertainty import Uncertainty

SEED = 0  # the defaults of `bn uncertainty` and `bn scenarios --intervals`
DRAWS = 100_000
FORMATS = ("html", "md")
TOP_CELLS = 12


def content_hash(directory: Path) -> str:
    """SHA-256 over every file of the model directory (relative paths and bytes, sorted)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative.startswith(".") or "/." in relative or "__pycache__" in relative:
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def report_date(date: str | None) -> str:
    """The brief's date: `date` (YYYY-MM-DD), else $SOURCE_DATE_EPOCH (seconds since 1970, UTC),
    else today.

    >>> report_date("2026-11-25")
    '2026-11-25'
    >>> report_date("")
    Traceback (most recent call last):
    bn.errors.BNError: date '' is not a date of the form YYYY-MM-DD (e.g. 2026-11-25)
    """
    if date is not None:
        try:
            return dt.date.fromisoformat(date).isoformat()
        except ValueError:
            raise BNError(
                f"{param('date')} '{date}' is not a date of the form YYYY-MM-DD (e.g. 2026-11-25)"
            ) from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch != "":
        return epoch_date(epoch)
    return dt.date.today().isoformat()


def epoch_date(epoch: str) -> str:
    """The UTC date of a SOURCE_DATE_EPOCH value, or a BNError saying what the value should be.

    >>> epoch_date("1700000000")
    '2023-11-14'
    >>> epoch_date("abc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    bn.errors.BNError: SOURCE_DATE_EPOCH='abc' is not a time: expected a whole number of seconds ...
    """
    expected = (
        "expected a whole number of seconds since 1970-01-01 UTC (e.g. 1700000000) giving a "
        f"year from 1970 to 9999; or pass {param('date')} YYYY-MM-DD, which takes precedence"
    )
    if not re.fullmatch(r"[0-9]+", epoch.strip()):
        raise BNError(f"SOURCE_DATE_EPOCH={epoch!r} is not a time: {expected}")
    try:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        raise BNError(f"SOURCE_DATE_EPOCH={epoch!r} is out of range: {expected}") from None


def parse_formats(formats: str | Sequence[str]) -> list[str]:
    """Report formats from text (comma-separated) or a list: each once, in order.

    >>> parse_formats("html, md,html"), parse_formats(["md"])
    (['html', 'md'], ['md'])
    >>> parse_formats(" , ")
    Traceback (most recent call last):
    bn.errors.BNError: no report format given: use formats html, md or html,md
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = list(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    if not chosen:
        raise BNError(f"no report format given: use {param('formats')} html, md or html,md")
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        raise BNError(f"unknown report format(s) {', '.join(unknown)}; formats: html, md")
    return chosen


# --- the numbers ------------------------------------------------------------------------------


@dataclass
class Headline:
    node: str
    state: str
    point: float
    interval: tuple[float, float] | None


@dataclass
class Facts:
    """Everything the brief shows, computed once and rendered twice (HTML and Markdown)."""

    model: Model
    date: str
    command: str
    digest: str
    headlines: list[Headline]
    arithmetic: list[str]
    scenarios: list[Row]
    diagrams: list[tuple[str, str]]  # (title, svg)
    cells: list[Cell]
    tornado_baseline: float
    histogram: list[int]
    histogram_edges: list[float]
    main: tuple[str, str] = ("", "")
    notes: list[str] = field(default_factory=list)
    draws: int = DRAWS
    seed: int = SEED


def _event_probability(model: Model, node: str, evidence: Evidence) -> float:
    """P(node = its event | evidence)."""
    from bn.engine import posterior

    index = model[node].state_index(model[node].event)
    return float(posterior(model, [node], evidence).marginals[node][index])


def gather(
    model: Model,
    scenario_names: Sequence[str],
    date: str,
    command: str,
    progress: Callable[[str], None] = lambda _: None,
    *,
    draws: int = DRAWS,
    seed: int = SEED,
) -> Facts:
    """Compute every number of the brief (intervals from `draws` parameter sets drawn with `seed`)."""
    from bn import diagram, scenarios
    from bn.analysis.compare import compare
    from bn.analysis.sensitivity import sensitivity
    from bn.analysis.uncertainty import uncertain_rows, uncertainty

    if draws < 1:
        raise BNError(f"the number of draws must be at least 1 (got {draws})")
    if seed < 0:
        raise BNError(f"the seed must be a non-negative integer (got {seed})")
    targets = model.default_targets()
    none = Evidence()
    uncertain = uncertain_rows(model) > 0
    progress("headline")
    headlines = []
    spread: Uncertainty | None = None  # the main target's draws: its interval and its histogram
    for target in targets[:2]:
        state = model[target].event
        result = uncertainty(model, target, state, none, n=draws, seed=seed) if uncertain else None
        if target == targets[0]:
            spread = result
        interval = result.interval_90 if result else None
        headlines.append(Headline(target, state, _event_probability(model, target, none), interval))
    main = (targets[0], model[targets[0]].event)
    arithmetic = _arithmetic(model, targets)

    progress("scenarios")
    rows: list[Row] = []
    if scenarios.load_scenarios(model):
        table = compare(model, f"{main[0]}={main[1]}", intervals=True, draws=draws, seed=seed)
        rows = list(table.rows)

    progress("diagrams")
    baseline = diagram.posteriors(model, none)
    pictures = []
    for name in ["", *scenario_names]:
        if name:
            changed, evidence = scenarios.apply(model, name)
            post, other = diagram.posteriors(changed, evidence), baseline
        else:
            changed, evidence, post, other = model, none, baseline, None
        title = f"Scenario {name}" if name else "Baseline: no evidence"
        spec = diagram.spec(changed, post, evidence, compare=other, title="")
        svg = diagram.render(diagram.to_dot(spec), "svg").decode("utf-8")
        pictures.append((title, _inline_svg(svg)))

    progress("sensitivity")
    tornado = sensitivity(model, main[0], main[1], none)

    progress("uncertainty")
    counts: list[int] = []
    edges: list[float] = []
    if spread is not None:
        import numpy as np

        hist, bins = np.histogram(spread.valid, bins=30)
        counts, edges = [int(c) for c in hist], [float(b) for b in bins]
    return Facts(
        model=model,
        date=date,
        command=command,
        digest=content_hash(model.path) if model.path else "",
        headlines=headlines,
        arithmetic=arithmetic,
        scenarios=rows,
        diagrams=pictures,
        cells=list(tornado.cells[:TOP_CELLS]),
        tornado_baseline=tornado.baseline,
        histogram=counts,
        histogram_edges=edges,
        main=main,
        draws=draws,
        seed=seed,
    )


def _arithmetic(model: Model, targets: Sequence[str]) -> list[str]:
    """P(main) split over the second target by the law of total probability, when it is an ancestor."""
    from bn.engine import posterior

    if len(targets) < 2 or targets[1] not in model.ancestors([targets[0]]) - {targets[0]}:
        return []
    main, cause = model[targets[0]], model[targets[1]]
    event = main.event
    prior = posterior(model, [cause.id], Evidence()).marginals[cause.id]
    terms, parts = [], []
    for i, state in enumerate(cause.states):
        given = _event_probability(model, main.id, Evidence(hard={cause.id: state}))
        terms.append(f"P({cause.id}={state}) × P({main.id}={event} | {cause.id}={state})")
        parts.append(f"{number(float(prior[i]))} × {number(given)}")
    total = _event_probability(model, main.id, Evidence())
    return [
        f"P({main.id}={event}) = " + " + ".join(terms),
        " = " + " + ".join(parts) + f" = {number(total)}",
    ]


def _inline_svg(svg: str) -> str:
    """An SVG document as an element to embed: no XML prolog, doctype or comments."""
    svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
    svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.strip()


def write_report(
    model: Model,
    out_dir: Path,
    formats: Sequence[str] = ("html", "md"),
    scenario_names: Sequence[str] = (),
    date: str | None = None,
    command: str = "bn report",
    progress: Callable[[str], None] = lambda _: None,
    *,
    draws: int = DRAWS,
    seed: int = SEED,
) -> list[Path]:
    """Compute the brief and write `<out_dir>/<name>.html` and/or `.md` atomically; the paths.

    Each format is written once; an empty or unknown format list is refused before any work."""
    from bn.files import write_atomic

    formats = parse_formats(formats)
    facts = gather(
        model, scenario_names, report_date(date), command, progress, draws=draws, seed=seed
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_dir / f"{slug(model)}.{fmt}"
        write_atomic(path, to_html(facts) if fmt == "html" else to_markdown(facts))
        written.append(path)
    return written
