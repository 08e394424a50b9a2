"""`bn report`: a self-contained analytic brief (HTML and Markdown) built from the model alone.

The brief holds the headline with 90% intervals and the arithmetic behind it, the scenario table with a
chart, network diagrams, the tornado of the main target, the uncertainty histogram, every table with
its notes, an assumptions register, the sources and the provenance (a content hash of the model
directory, the bn version and the command that regenerates the brief).

Everything is deterministic: charts are hand-written SVG, draws use a fixed seed, numbers are rounded
for reading, and the date comes from `--date`, else `SOURCE_DATE_EPOCH`, else today. All text from the
model is escaped for HTML and for Markdown. The main target is the model's first target, at its event
(`Node.event`: the state `yes` if it has one, else its last state).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bn import __version__
from bn.charts import bar_chart, histogram_chart, number, tornado_chart
from bn.errors import BNError
from bn.evidence import Evidence
from bn.model import Model

if TYPE_CHECKING:
    from bn.analysis.sensitivity import Cell
    from bn.analysis.uncertainty import Uncertainty
    from bn.scenarios import Row

SEED = 2022
DRAWS = 20_000
TOP_CELLS = 12
CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;max-width:1000px;
margin:2em auto;padding:0 1.2em;background:#fff}
h1{font-size:1.8em;margin-bottom:.1em}h2{border-bottom:2px solid #e4e7eb;padding-bottom:.2em;margin-top:2em}
.date{color:#616e7c}.headline{display:flex;gap:1.2em;flex-wrap:wrap;margin:1em 0}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:.8em 1.2em;min-width:15em;background:#f8fafc}
.card .p{font-size:2em;font-weight:700;color:#b3261e}.card .i{color:#616e7c;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.9em}
th,td{border:1px solid #d9e2ec;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.figure{overflow-x:auto;margin:1em 0}.figure svg{max-width:100%;height:auto}
.note{color:#52606d;font-size:.9em}code{background:#f0f4f8;padding:0 .25em;border-radius:3px}
"""


def md(text: str) -> str:
    r"""Escape model text for Markdown (tables included).

    >>> md("a|b <script> *x* (y)")
    'a\\|b &lt;script&gt; \\*x\\* (y)'
    """
    text = html.escape(str(text), quote=False)
    text = re.sub(r"([\\`*_\[\]|~])", r"\\\1", text)
    return " ".join(text.split())


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def slug(model: Model) -> str:
    """The report's file name: the title up to any parenthesis, else the directory name.

    >>> from bn.model import Node, Model
    >>> import numpy as np
    >>> slug(Model((Node("a", ("x", "y"), (), np.array([0.5, 0.5])),), title="Nuclear escalation (2022)"))
    'nuclear-escalation'
    """
    head = re.split(r"[(:]", model.title)[0]
    words = re.findall(r"[a-z0-9]+", head.lower())
    if words:
        return "-".join(words)[:60].strip("-")
    return model.path.name if model.path else "model"


def content_hash(directory: Path) -> str:
    """SHA-256 over every file of the model directory (relative paths and bytes, sorted)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative.startswith(".") or "/." in relative or "__pycache__" in relative:
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def report_date(given: str | None) -> str:
    if given:
        try:
            return dt.date.fromisoformat(given).isoformat()
        except ValueError:
            raise BNError(f"--date '{given}' is not a date of the form YYYY-MM-DD") from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date().isoformat()
    return dt.date.today().isoformat()


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
) -> Facts:
    """Compute every number of the brief."""
    from bn import diagram, scenarios
    from bn.analysis.sensitivity import sensitivity
    from bn.analysis.uncertainty import uncertain_rows, uncertainty

    targets = model.default_targets()
    none = Evidence()
    uncertain = uncertain_rows(model) > 0
    progress("headline")
    headlines = []
    spread: Uncertainty | None = None  # the main target's draws: its interval and its histogram
    for target in targets[:2]:
        state = model[target].event
        result = uncertainty(model, target, state, none, n=DRAWS, seed=SEED) if uncertain else None
        if target == targets[0]:
            spread = result
        interval = result.interval_90 if result else None
        headlines.append(Headline(target, state, _event_probability(model, target, none), interval))
    main = (targets[0], model[targets[0]].event)
    arithmetic = _arithmetic(model, targets)

    progress("scenarios")
    rows: list[Row] = []
    if scenarios.load_scenarios(model):
        table = scenarios.compare(
            model, f"{main[0]}={main[1]}", intervals=True, draws=DRAWS, seed=SEED
        )
        rows = list(table.rows)

    progress("diagrams")
    baseline = diagram.posteriors(model, none)
    pictures = []
    for name in ["", *scenario_names]:
        if name:
            changed, evidence = scenarios.apply(model, name)
            post, compare = diagram.posteriors(changed, evidence), baseline
        else:
            changed, evidence, post, compare = model, none, baseline, None
        title = f"Scenario {name}" if name else "Baseline: no evidence"
        spec = diagram.spec(changed, post, evidence, compare=compare, title="")
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


# --- rendering ---------------------------------------------------------------------------------


def _interval_text(interval: tuple[float, float] | None) -> str:
    return f"{number(interval[0])}–{number(interval[1])}" if interval else "exact"


def _scenario_numbers(row: Row) -> tuple[str, str, str, str]:
    """Probability, 90% interval, change in points and ratio of a scenario, as text."""
    if row.probability is None:
        return "impossible", "", "", ""
    ratio = f"{row.ratio:.2f}" if row.ratio is not None else ""
    delta = f"{row.delta * 100:+.1f}" if row.delta is not None else ""
    return number(row.probability), _interval_text(row.interval_90), delta, ratio


def _cpt_rows(model: Model, node_id: str) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, cell texts and notes of one table, rows in parent-state order."""
    import math

    node = model[node_id]
    header = [*node.parents, *node.states, "ess"]
    rows, notes = [], []
    for flat, (combo, probs) in enumerate(node.rows()):
        ess = float(node.ess[combo])
        rows.append(
            [
                *node.row_label(combo),
                *(number(float(p)) for p in probs),
                "" if math.isnan(ess) else f"{ess:g}",
            ]
        )
        notes.append(node.notes[flat])
    return header, rows, notes


def to_html(facts: Facts) -> str:
    """The brief as one self-contained HTML page (inline CSS and SVG, no scripts, no fetches)."""
    m = facts.model
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(m.title or slug(m))}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(m.title or slug(m))}</h1>",
        f'<p class="date">Analytic brief, {esc(facts.date)} · bn {esc(__version__)}</p>',
    ]
    if m.description:
        out.append(f"<p>{esc(m.description)}</p>")
    out.append("<h2>Headline</h2>")
    out.append('<div class="headline">')
    for h in facts.headlines:
        node = m[h.node]
        out.append(
            f'<div class="card"><div>{esc(node.label)}</div><div class="p">{number(h.point)}</div>'
            f'<div class="i">P({esc(h.node)}={esc(h.state)}); 90% interval {_interval_text(h.interval)}'
            "</div></div>"
        )
    out.append("</div>")
    if facts.arithmetic:
        out.append("<p>The arithmetic behind the headline (law of total probability):</p>")
        out.append(
            "<p><code>" + "<br>".join(esc(line) for line in facts.arithmetic) + "</code></p>"
        )
    out.append(
        '<p class="note">Intervals come from the uncertainty of the tables themselves: each row with '
        f"an ess is drawn from a Dirichlet distribution ({DRAWS:,} draws, seed {SEED}).</p>"
    )
    if facts.scenarios:
        main = f"P({facts.main[0]}={facts.main[1]})"
        out.append("<h2>Scenarios</h2>")
        out.append(
            f"<table><tr><th>scenario</th><th>{esc(main)}</th><th>90% interval</th>"
            "<th>change (pts)</th><th>ratio</th><th>what it assumes</th></tr>"
        )
        for r in facts.scenarios:
            numbers = "".join(f"<td class=n>{text}</td>" for text in _scenario_numbers(r))
            why = esc(r.description) + (f"<br><b>impossible</b>: {esc(r.error)}" if r.error else "")
            out.append(f"<tr><td><code>{esc(r.name)}</code></td>{numbers}<td>{why}</td></tr>")
        out.append("</table>")
        chart = bar_chart(
            [(r.name, r.probability) for r in facts.scenarios], facts.headlines[0].point
        )
        out.append(f'<div class="figure">{chart}</div>')
    out.append("<h2>The network</h2>")
    for title, svg in facts.diagrams:
        out.append(f'<h3>{esc(title)}</h3><div class="figure">{svg}</div>')
    if facts.cells:
        out.append(
            f"<h2>Which numbers matter: sensitivity of P({esc(facts.main[0])}={esc(facts.main[1])})</h2>"
        )
        out.append(
            "<p>Each bar is the range of the answer when one table cell moves over its plausible "
            "interval (5–95% of its Beta distribution, or ±0.1 without an ess), the rest of its row "
            "rescaled.</p>"
        )
        out.append(
            f'<div class="figure">{tornado_chart(facts.cells, facts.tornado_baseline)}</div>'
        )
        out.append(
            "<table><tr><th>cell</th><th>value</th><th>plausible range</th><th>derivative</th>"
            "<th>answer low–high</th></tr>"
        )
        for c in facts.cells:
            out.append(
                f"<tr><td>{esc(c.label())}</td><td class=n>{number(c.value)}</td>"
                f"<td class=n>{number(c.range[0])}–{number(c.range[1])}</td>"
                f"<td class=n>{c.derivative:.3f}</td>"
                f"<td class=n>{number(c.low)}–{number(c.high)}</td></tr>"
            )
        out.append("</table>")
    if facts.histogram:
        out.append("<h2>How sure: the distribution of the answer</h2>")
        out.append(
            f"<p>P({esc(facts.main[0])}={esc(facts.main[1])}) under each of {DRAWS:,} parameter "
            "sets drawn from the tables' uncertainty (rows with an ess).</p>"
        )
        out.append(
            f'<div class="figure">{histogram_chart(facts.histogram, facts.histogram_edges)}</div>'
        )
    out.append("<h2>Tables</h2>")
    for node in m:
        header, rows, notes = _cpt_rows(m, node.id)
        out.append(f"<h3>{esc(node.label)} <code>{esc(node.id)}</code></h3>")
        if node.description:
            out.append(f"<p>{esc(node.description)}</p>")
        if node.state_descriptions:
            out.append(
                "<ul>"
                + "".join(
                    f"<li><b>{esc(s)}</b>: {esc(d)}</li>"
                    for s, d in node.state_descriptions.items()
                )
                + "</ul>"
            )
        out.append(
            "<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "<th>note</th></tr>"
        )
        for row, note in zip(rows, notes, strict=True):
            cells = "".join(
                f"<td class=n>{esc(c)}</td>" if i >= len(node.parents) else f"<td>{esc(c)}</td>"
                for i, c in enumerate(row)
            )
            out.append(f"<tr>{cells}<td>{esc(note)}</td></tr>")
        out.append("</table>")
    out.append("<h2>Assumptions register</h2>")
    for node in m:
        notes = sorted({n for n in node.notes if n})
        if notes:
            out.append(f"<h3>{esc(node.label)}</h3><ul>")
            out.extend(f"<li>{esc(n)}</li>" for n in notes)
            out.append("</ul>")
    if m.sources:
        out.append("<h2>Sources</h2><ul>")
        for s in m.sources:
            out.append(f"<li>{esc(_source_text(s))}</li>")
        out.append("</ul>")
    out.append("<h2>Provenance</h2><ul>")
    out.append(f"<li>model content hash (SHA-256): <code>{esc(facts.digest)}</code></li>")
    out.append(f"<li>bn version: <code>{esc(__version__)}</code></li>")
    out.append(f"<li>regenerate with: <code>{esc(facts.command)}</code></li>")
    out.append("</ul>")
    out.append("</body>")
    out.append("</html>")
    return "\n".join(out) + "\n"


def _source_text(source: Any) -> str:
    parts = [str(source.get(k, "")) for k in ("author", "title", "date", "url")]
    return ". ".join(p for p in parts if p)


def to_markdown(facts: Facts) -> str:
    """The brief as Markdown: the same numbers and tables; diagrams are in the HTML version."""
    m = facts.model
    title = m.title or slug(m)
    out = [f"# {md(title)}", "", f"Analytic brief, {facts.date} · bn {__version__}", ""]
    if m.description:
        out += [md(m.description), ""]
    out += ["## Headline", "", "| event | probability | 90% interval |", "|---|---|---|"]
    for h in facts.headlines:
        out.append(f"| {md(m[h.node].label)} | {number(h.point)} | {_interval_text(h.interval)} |")
    out.append("")
    if facts.arithmetic:
        out += ["```text", *facts.arithmetic, "```", ""]
    if facts.scenarios:
        out += [
            "## Scenarios",
            "",
            f"| scenario | P({md(facts.main[0])}={md(facts.main[1])}) | 90% interval | change (pts) | ratio | what it assumes |",
            "|---|---|---|---|---|---|",
        ]
        for r in facts.scenarios:
            why = md(r.description) + (f" **impossible**: {md(r.error)}" if r.error else "")
            out.append(f"| `{r.name}` | {' | '.join(_scenario_numbers(r))} | {why} |")
        out.append("")
    if facts.cells:
        out += [
            f"## Sensitivity of P({md(facts.main[0])}={md(facts.main[1])})",
            "",
            "| cell | value | plausible range | derivative | answer low–high |",
            "|---|---|---|---|---|",
        ]
        for c in facts.cells:
            out.append(
                f"| {md(c.label())} | {number(c.value)} | {number(c.range[0])}–"
                f"{number(c.range[1])} | {c.derivative:.3f} | {number(c.low)}–{number(c.high)} |"
            )
        out.append("")
    out += ["## Tables", ""]
    for node in m:
        header, rows, notes = _cpt_rows(m, node.id)
        out += [f"### {md(node.label)} (`{node.id}`)", ""]
        if node.description:
            out += [md(node.description), ""]
        out.append("| " + " | ".join(md(h) for h in header) + " | note |")
        out.append("|" + "---|" * (len(header) + 1))
        for row, note in zip(rows, notes, strict=True):
            out.append("| " + " | ".join(md(c) for c in row) + f" | {md(note)} |")
        out.append("")
    out += ["## Assumptions register", ""]
    for node in m:
        notes = sorted({n for n in node.notes if n})
        if notes:
            out += [f"### {md(node.label)}", "", *(f"- {md(n)}" for n in notes), ""]
    if m.sources:
        out += ["## Sources", "", *(f"- {md(_source_text(s))}" for s in m.sources), ""]
    out += [
        "## Provenance",
        "",
        f"- model content hash (SHA-256): `{facts.digest}`",
        f"- bn version: `{__version__}`",
        f"- regenerate with: `{facts.command}`",
        "",
    ]
    return "\n".join(out)


def write_report(
    model: Model,
    out_dir: Path,
    formats: Sequence[str] = ("html", "md"),
    scenario_names: Sequence[str] = (),
    date: str | None = None,
    command: str = "bn report",
    progress: Callable[[str], None] = lambda _: None,
) -> list[Path]:
    """Compute the brief and write `<out_dir>/<name>.html` and/or `.md` atomically; the paths."""
    from bn.csvfiles import write_atomic

    unknown = [f for f in formats if f not in ("html", "md")]
    if unknown:
        raise BNError(f"unknown report format(s) {', '.join(unknown)}; formats: html, md")
    facts = gather(model, scenario_names, report_date(date), command, progress)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in formats:
        path = out_dir / f"{slug(model)}.{fmt}"
        write_atomic(path, to_html(facts) if fmt == "html" else to_markdown(facts))
        written.append(path)
    return written
