"""The analytic brief as text: `Facts` (see `bn.report.gather`) -> one HTML page, and Markdown.

Table cells are written exactly as in the CSV files; computed probabilities have three significant
digits. All text from the model is escaped for HTML and for Markdown.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bn import __version__
from bn.charts import bar_chart, histogram_chart, number, tornado_chart
from bn.forms import NoisyMax, Ranked
from bn.model import Model, Node
from bn.numbers import format_number

if TYPE_CHECKING:
    from bn.analysis.compare import Row
    from bn.report import Card, Facts, Section

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
    """Header, cell texts (probabilities exactly as in the CSV file) and notes of one table, rows
    in parent-state order."""
    import math

    node = model[node_id]
    if node.form is not None:
        return _form_rows(node.id, node.form)
    header = [*node.parents, *node.states, "ess"]
    rows, notes = [], []
    for flat, (combo, probs) in enumerate(node.rows()):
        ess = float(node.ess[combo])
        rows.append(
            [
                *node.row_label(combo),
                *(format_number(float(p)) for p in probs),
                "" if math.isnan(ess) else f"{ess:g}",
            ]
        )
        notes.append(node.notes[flat])
    return header, rows, notes


def _form_rows(
    node_id: str, form: NoisyMax | Ranked
) -> tuple[list[str], list[list[str]], list[str]]:
    """A compact node's parameters as the report's table: its links and leak, or its weights."""
    import math

    if isinstance(form, Ranked):
        rows = [
            [p, format_number(float(w))] for p, w in zip(form.parents, form.weights, strict=True)
        ]
        return ["parent", "weight"], rows, list(form.notes)
    rows = [
        [p, s, *(format_number(float(x)) for x in row), "" if math.isnan(e) else f"{e:g}"]
        for (p, s), row, e in zip(form.labels, form.rows, form.ess, strict=True)
    ]
    return (
        ["parent", "state", *(f"{node_id}={s}" for s in form.states), "ess"],
        rows,
        list(form.notes),
    )


def form_summary(node: Node) -> str:
    """One sentence on a compact node's form ('' for a full table)."""
    form = node.form
    rows = math.prod(node.parent_shape)
    if isinstance(form, Ranked):
        text = (
            f"Ranked node: a normal truncated to [0, 1] around the {form.function} of its parents "
            f"(weights below), variance {format_number(form.variance)}; states {', '.join(form.states)}, "
            f"lowest first; {rows} rows expanded."
        )
        return text + (
            f" Mix: min {form.mix[0]:g}, max {form.mix[1]:g}."
            if form.function == "mixminmax"
            else ""
        )
    if isinstance(form, NoisyMax):
        absent = ", ".join(
            f"{p}={s}" for p, s in zip(form.parents, form.parent_absent, strict=True)
        )
        return (
            f"{form.form}: {len(form.labels) - 1} link(s) and a leak stand for {rows} rows. Absent: "
            f"{node.id}={form.absent}; {absent}."
        )
    return ""


def register(node: Node) -> list[tuple[str, str]]:
    """The assumptions register of one table: (rows, note) for each distinct note, in row order.

    A note shared by several rows is listed once, at its first row, with all of them. Its rows are
    named as few grids as possible: each parent by the states it takes there, or left out ("any
    ...") when it takes them all; grids are separated by semicolons. A table without parents has
    one row, named "".

    >>> import numpy as np
    >>> def node(*notes):
    ...     return Node("c", ("x", "y"), ("a", "b"), np.full((2, 2, 2), 0.5), notes=notes,
    ...                 parent_states=(("0", "1"), ("0", "1")))
    >>> register(node("same", "same", "own", "same"))
    [('a=0 (any b); a=1, b=1', 'same'), ('a=1, b=0', 'own')]
    >>> register(node("same", "own", "same", "own"))
    [('b=0 (any a)', 'same'), ('b=1 (any a)', 'own')]
    >>> register(node("all", "all", "all", "all"))
    [('every row', 'all')]
    """
    if isinstance(node.form, NoisyMax):
        return [
            ("leak" if not s else f"link {p}={s}", n)
            for (p, s), n in zip(node.form.labels, node.form.notes, strict=True)
            if n
        ]
    if isinstance(node.form, Ranked):
        return [
            (f"weight of {p}", n)
            for p, n in zip(node.form.parents, node.form.notes, strict=True)
            if n
        ]
    groups: dict[str, list[tuple[int, ...]]] = {}
    for flat, (combo, _) in enumerate(node.rows()):
        if node.notes[flat]:
            groups.setdefault(node.notes[flat], []).append(tuple(combo))
    return [
        ("; ".join(_grid_label(node, box) for box in _grids(combos)), note)
        for note, combos in groups.items()
    ]


def _grids(combos: Sequence[tuple[int, ...]]) -> list[tuple[tuple[int, ...], ...]]:
    """Split a set of rows into disjoint grids (one tuple of state indices per parent), in row
    order: rows that differ in one parent only merge into one grid, last parent first."""
    boxes: list[tuple[tuple[int, ...], ...]] = [tuple((i,) for i in combo) for combo in combos]
    for axis in reversed(range(len(combos[0]))):
        merged: dict[tuple[tuple[int, ...], ...], list[int]] = {}
        for box in boxes:
            merged.setdefault(box[:axis] + box[axis + 1 :], []).extend(box[axis])
        boxes = [(*key[:axis], tuple(sorted(v)), *key[axis:]) for key, v in merged.items()]
    return sorted(boxes, key=lambda box: tuple(states[0] for states in box))


def _grid_label(node: Node, box: tuple[tuple[int, ...], ...]) -> str:
    """`p=s, q=s or t (any r)`; "every row" for all rows of a table with parents."""
    fixed, free = [], []
    for parent, names, taken in zip(node.parents, node.parent_states, box, strict=True):
        if len(taken) == len(names) > 1:
            free.append(parent)
        else:
            fixed.append(f"{parent}={' or '.join(names[i] for i in taken)}")
    if not fixed:
        return "every row" if free else ""
    return ", ".join(fixed) + (f" (any {', '.join(free)})" if free else "")


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
    if facts.cards:
        out.append(
            "<p>Side by side: the baseline (no evidence) and the scenarios model.toml puts in the "
            "headline.</p>"
        )
        out.append('<div class="headline">')
        out.extend(_html_card(card) for card in facts.cards)
        out.append("</div>")
    if facts.arithmetic:
        out.append("<p>The arithmetic behind the headline (law of total probability):</p>")
        out.append(
            "<p><code>" + "<br>".join(esc(line) for line in facts.arithmetic) + "</code></p>"
        )
    note = re.sub(r"`([^`]*)`", r"<code>\1</code>", esc(_interval_note(facts)))
    out.append(f'<p class="note">{note}</p>')
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
    for section in facts.sections:
        out.extend(_html_section(section))
    if facts.limitations:
        out.append("<h2>Limitations</h2><ul>")
        out.extend(f"<li>{esc(item)}</li>" for item in facts.limitations)
        out.append("</ul>")
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
                f"<tr><td>{esc(c.label())}</td><td class=n>{format_number(c.value)}</td>"
                f"<td class=n>{number(c.range[0])}–{number(c.range[1])}</td>"
                f"<td class=n>{c.derivative:.3f}</td>"
                f"<td class=n>{number(c.low)}–{number(c.high)}</td></tr>"
            )
        out.append("</table>")
    if facts.histogram:
        out.append("<h2>How sure: the distribution of the answer</h2>")
        out.append(
            f"<p>P({esc(facts.main[0])}={esc(facts.main[1])}) under each of {facts.draws:,} parameter "
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
        if node.form is not None:
            out.append(f"<p>{esc(form_summary(node))}</p>")
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
    out.append(
        '<p class="note">The notes of every table, each with the rows (parents\' states) it '
        "belongs to.</p>"
    )
    for node in m:
        entries = register(node)
        if entries:
            out.append(f"<h3>{esc(node.label)} <code>{esc(node.id)}</code></h3><ul>")
            out.extend(
                f"<li><b>{esc(rows)}</b>: {esc(note)}</li>" if rows else f"<li>{esc(note)}</li>"
                for rows, note in entries
            )
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


def _html_card(card: Card) -> str:
    lines = [f"<div><code>{esc(card.name)}</code></div>"]
    for i, (label, p) in enumerate(card.values):
        size = "p" if i == 0 else "i"
        lines.append(f'<div class="{size}">{number(p)}</div><div class="i">{esc(label)}</div>')
    of = f" of {card.values[0][0]}" if card.values else ""
    lines.append(f'<div class="i">90% interval{esc(of)}: {_interval_text(card.interval)}</div>')
    for text in (card.spread, f"Brier: {card.brier}" if card.brier else "", card.description):
        if text:
            lines.append(f'<div class="i">{esc(text)}</div>')
    return '<div class="card">' + "".join(lines) + "</div>"


def _html_section(section: Section) -> list[str]:
    out = [f"<h2>{esc(section.title)}</h2>"]
    out.extend(f"<p>{esc(text)}</p>" for text in section.paragraphs)
    for header, rows in section.tables:
        out.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        out.extend("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
        out.append("</table>")
    if section.items:
        out.append("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in section.items) + "</ul>")
    return out


def _md_section(section: Section) -> list[str]:
    out = [f"## {md(section.title)}", ""]
    for text in section.paragraphs:
        out += [md(text), ""]
    for header, rows in section.tables:
        out.append("| " + " | ".join(md(h) for h in header) + " |")
        out.append("|" + "---|" * len(header))
        out.extend("| " + " | ".join(md(c) for c in row) + " |" for row in rows)
        out.append("")
    out += [f"- {md(i)}" for i in section.items] + ([""] if section.items else [])
    return out


def _interval_note(facts: Facts) -> str:
    return (
        "Intervals come from the uncertainty of the tables themselves: each row with an ess is "
        f"drawn from a Dirichlet distribution ({facts.draws:,} draws, seed {facts.seed}, as in "
        "`bn uncertainty` and `bn scenarios --intervals` with the same -n and --seed)."
    )


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
    if facts.cards:
        labels = [f"P({h.node}={h.state})" for h in facts.headlines]
        out += [
            "Side by side: the baseline (no evidence) and the scenarios model.toml puts in the "
            "headline.",
            "",
            "| scenario | " + " | ".join(md(x) for x in labels)
            + f" | 90% interval of {md(labels[0])} | Brier on what happened | spread |",
            "|---|" + "---|" * (len(labels) + 3),
        ]  # fmt: skip
        for card in facts.cards:
            out.append(
                f"| `{card.name}` | " + " | ".join(number(p) for _, p in card.values)
                + f" | {_interval_text(card.interval)} | {md(card.brier)} | {md(card.spread)} |"
            )  # fmt: skip
        out.append("")
    if facts.arithmetic:
        out += ["```text", *facts.arithmetic, "```", ""]
    out += [_interval_note(facts), ""]  # bn's own text, with code spans: not escaped
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
    for section in facts.sections:
        out += _md_section(section)
    if facts.limitations:
        out += ["## Limitations", "", *(f"- {md(item)}" for item in facts.limitations), ""]
    if facts.cells:
        out += [
            f"## Sensitivity of P({md(facts.main[0])}={md(facts.main[1])})",
            "",
            "| cell | value | plausible range | derivative | answer low–high |",
            "|---|---|---|---|---|",
        ]
        for c in facts.cells:
            out.append(
                f"| {md(c.label())} | {format_number(c.value)} | {number(c.range[0])}–"
                f"{number(c.range[1])} | {c.derivative:.3f} | {number(c.low)}–{number(c.high)} |"
            )
        out.append("")
    out += ["## Tables", ""]
    for node in m:
        header, rows, notes = _cpt_rows(m, node.id)
        out += [f"### {md(node.label)} (`{node.id}`)", ""]
        if node.description:
            out += [md(node.description), ""]
        if node.form is not None:
            out += [md(form_summary(node)), ""]
        out.append("| " + " | ".join(md(h) for h in header) + " | note |")
        out.append("|" + "---|" * (len(header) + 1))
        for row, note in zip(rows, notes, strict=True):
            out.append("| " + " | ".join(md(c) for c in row) + f" | {md(note)} |")
        out.append("")
    out += [
        "## Assumptions register",
        "",
        "The notes of every table, each with the rows (parents' states) it belongs to.",
        "",
    ]
    for node in m:
        entries = register(node)
        if entries:
            out += [f"### {md(node.label)} (`{node.id}`)", ""]
            out += [
                f"- **{md(rows)}**: {md(note)}" if rows else f"- {md(note)}"
                for rows, note in entries
            ]
            out.append("")
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
