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
from bn.metadata import model_lists
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
    cards: list[Card] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    limitations: list[str] = field(default_factory=list)


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

    progress("forecasts and outcomes")
    lists = model_lists(model)
    names = list(scenarios.load_scenarios(model))
    sections = [forecasters(model), scored(model), consequences(model, names), changes(model)]

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
        cards=cards(model, rows, lists["headline"]),
        sections=[s for s in sections if s is not None],
        limitations=lists["limitations"],
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


# --- the forecasters, what happened, the consequences, what would change the estimate ------------


@dataclass
class Section:
    """A titled block of the brief: paragraphs, then tables (header, rows), then a list."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass
class Card:
    """A headline scenario beside the baseline: P(main) and P(second target) under it."""

    name: str
    description: str
    values: list[tuple[str, float]]  # (event label, probability)
    interval: tuple[float, float] | None
    spread: str = ""
    brier: str = ""


def _p(model: Model, node: str, state: str, evidence: Evidence) -> float:
    from bn.engine import posterior

    result = posterior(model, [node], evidence)
    return float(result.marginals[node][model[node].state_index(state)])


def cards(model: Model, rows: Sequence[Row], names: Sequence[str]) -> list[Card]:
    """The headline scenarios (model.toml [model] headline) after the baseline, with the spread
    of a pooled one and their Brier scores on what happened."""
    from bn import scenarios
    from bn.outcomes import read_record

    record = read_record(model)[0]
    intervals = {r.name: r.interval_90 for r in rows}
    briers = _briers(model)
    found = []
    known = scenarios.load_scenarios(model)
    first = ["baseline"] if names and "baseline" in known and "baseline" not in names else []
    for name in [*first, *names]:
        changed, evidence = scenarios.apply(model, name)
        values = [
            (f"P({t}={changed[t].event})", _p(changed, t, changed[t].event, evidence))
            for t in model.default_targets()[:2]
        ]
        members = [f for f in record.forecasts if f.pool == name]
        spread = ""
        if members:
            on = sorted((f.on_horizon(record.horizon), f.name) for f in members)
            spread = (
                f"pooled from {', '.join(f'{n} {number(v)}' for v, n in on)} "
                f"(P({members[0].query}) on the model's horizon; spread {number(on[0][0])}–"
                f"{number(on[-1][0])})"
            )
        description = scenarios.get_scenario(model, name).description
        found.append(Card(name, description, values, intervals.get(name), spread, briers[name]))
    return found


def _briers(model: Model) -> dict[str, str]:
    """Each scenario's Brier scores on what happened, as text ('' without outcomes.toml)."""
    from bn import scenarios
    from bn.analysis.score import score_scenarios

    found = dict.fromkeys(scenarios.load_scenarios(model), "")
    for s in score_scenarios(model).scenarios:
        found[s.name] = ", ".join(f"{k} {_score(v)}" for k, v in s.scores.items())
    return found


def forecasters(model: Model) -> Section | None:
    """Each published forecast: its window, its number, on the model's horizon, and the model's."""
    from bn import scenarios
    from bn.analysis.score import conditional_probability
    from bn.outcomes import read_record

    record = read_record(model)[0]
    if not record.forecasts:
        return None
    main = model.default_targets()[0]
    event = model[main].event
    rows = []
    for f in record.forecasts:
        window = (
            f"{f.published} to {f.until} ({f.days} days)"
            if f.until
            else f"{f.published}, none stated"
        )
        mine = conditional_probability(model, f, Evidence())
        under = ""
        if f.scenario:
            changed, evidence = scenarios.apply(model, f.scenario)
            under = f"{f.scenario}: {number(_p(changed, main, event, evidence))}"
        rows.append(
            [f.name, f.query, number(f.value), window, number(f.on_horizon(record.horizon)),
             number(mine), under, f.source, f.note]
        )  # fmt: skip
    horizon = record.horizon
    text = (
        f"Every forecast on one horizon, {horizon.text or horizon.start + ' to ' + horizon.end}: "
        f"a chance p within d days becomes 1 − (1 − p)^({horizon.days}/d) (a constant hazard); a "
        "forecast without a window is taken as stated."
        if horizon
        else "The model states no horizon: forecasts are shown as published."
    )
    header = ["forecaster", "event", "published", "window", "on the horizon", "this model",
              f"scenario: P({main}={event})", "source", "note"]  # fmt: skip
    return Section("The forecasters", [text], [(header, rows)])


def scored(model: Model) -> Section | None:
    """What happened (outcomes.toml), and every scenario and forecast scored on it."""
    from bn.analysis.score import FORMULA, score_scenarios
    from bn.outcomes import read_record

    record = read_record(model)[0]
    if not record.outcomes:
        return None
    scoring = score_scenarios(model, record)
    observed = [[o.node, o.state, o.date, o.source, o.note] for o in record.outcomes]
    labels = [f"{n}={s}" for n, s, _ in scoring.events]
    happened = ", ".join(f"{lab}: {'happened' if h else 'did not happen'}"
                         for lab, (_, _, h) in zip(labels, scoring.events, strict=True))  # fmt: skip
    header = ["scenario"] + [x for lab in labels for x in (f"P({lab})", "Brier")]
    rows = [
        [s.name] + [x for lab in labels for x in (_probability(s.probabilities.get(lab)), _score(s.scores.get(lab)))]
        for s in scoring.scenarios
    ]  # fmt: skip
    frows = []
    for f, s in zip(record.forecasts, scoring.forecasts, strict=True):
        key = f"{f.node}={f.state}"
        p, b = s.probabilities[key], s.scores[key]
        frows.append([f.name, f.query, number(p) if p is not None else "", _score(b), s.why])
    return Section(
        "What happened: every scenario and forecast scored",
        [f"Recorded in outcomes.toml: {happened}. {FORMULA}; each event is scored on its own."],
        [
            (["node", "observed", "by", "source", "note"], observed),
            (header, rows),
            (["forecaster", "event", "p on the horizon", "Brier", "not scored because"], frows),
        ],
    )


def _probability(value: float | None) -> str:
    return "impossible" if value is None else number(value)


def _score(value: float | None) -> str:
    return "" if value is None else number(value)


def consequences(model: Model, names: Sequence[str]) -> Section | None:
    """The main target's descendants (Tegmark's outcome map, the deaths) per scenario."""
    from bn import scenarios
    from bn.engine import posterior

    main = model.default_targets()[0]
    nodes = [n.id for n in model if n.id != main and main in model.ancestors([n.id])]
    if not nodes:
        return None
    tables = []
    for node in nodes:
        rows = []
        for name in names or [""]:
            changed, evidence = scenarios.apply(model, name) if name else (model, Evidence())
            try:
                marginal = posterior(changed, [node], evidence).marginals[node]
            except BNError:  # the scenario's evidence is impossible: the scenario table says so
                rows.append([name, *("impossible" for _ in model[node].states)])
                continue
            rows.append([name or "no evidence", *(number(float(x)) for x in marginal)])
        tables.append(([f"{node} under", *model[node].states], rows))
    return Section(
        "Consequences: " + ", ".join(model[n].label for n in nodes),
        ["The consequences of the main target at baseline and under each scenario."],
        tables,
    )


def changes(model: Model, top: int = 6) -> Section | None:
    """What would change the estimate: the observable indicators with the most information."""
    from bn.analysis.voi import value_of_information

    main = model.default_targets()[0]
    event = model[main].event
    result = value_of_information(model, main, Evidence(), state=event)
    rows = [
        [i.node, f"{i.mutual_information:.3g}", f"{number(i.low)} ({i.low_state})",
         f"{number(i.high)} ({i.high_state})"]
        for i in result.indicators[:top]
    ]  # fmt: skip
    return Section(
        "What would change the estimate",
        [
            f"The indicators with the largest value of information for P({main}={event}) "
            f"(mutual information in bits, as bn voi gives it), among the nodes model.toml marks "
            "observable (an analyst can see them in time to act), with the probability each "
            "moves it to once observed."
        ],
        [(["if we observe", "bits", f"lowest P({main}={event})", f"highest P({main}={event})"], rows)],
    )  # fmt: skip
