"""Draw a network with each node's probabilities inside it, the way GeNIe and Netica show it.

Three steps, each testable on its own:
1. `spec(model, posteriors, evidence, ...)` -> a plain dict: nodes with their states and
   probabilities, evidence marks, changes against a comparison, and edges (pure, no Graphviz);
2. `to_dot(spec)` -> DOT text with HTML-like labels (one table per node, one bar per state);
3. `render(dot_text, fmt)` -> SVG or PNG bytes, from the system `dot` when it is installed,
   otherwise from the `graphviz-pure` binary that pip installs with bn.

Every text taken from the model (labels, descriptions, state names) is escaped for the HTML-like
labels and the tooltips, so `<script>` in a description is drawn as text, never run.

>>> import bn
>>> m = bn.load(bn.packaged_model_path())
>>> s = spec(m, posteriors(m, m.evidence(hard={"kaboom": "yes"})), m.evidence(hard={"kaboom": "yes"}))
>>> kaboom = next(n for n in s["nodes"] if n["id"] == "nuclear_use")
>>> kaboom["mark"], [(st["name"], st["p"], st["observed"]) for st in kaboom["states"]]
('evidence', [('no', 0.0, False), ('yes', 1.0, True)])
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bn.errors import BNError, EvidenceError, param
from bn.escape import escape_html, escape_string
from bn.evidence import KIND_NAMES, Evidence
from bn.forms import NoisyMax
from bn.model import Model, Node

FORMATS = ("svg", "png", "dot")
RANKDIRS = ("TB", "LR")
FALLBACK = "graphviz-pure"
INSTALL_HINT = (
    "install Graphviz (https://graphviz.org/download/, e.g. `apt install graphviz` or "
    "`brew install graphviz`) or the pip package: `pip install graphviz-pure`; "
    "`--format dot` writes the DOT text without either"
)

BAR_WIDTH = 110  # points, the bar of a probability of 1
FONT = "Helvetica"
PNG_DPI = 144

# One colour theme per mark: (border, header background, bar).
THEMES = {
    None: ("#5b6b7b", "#e3e9f0", "#3b6ea5"),
    "evidence": ("#b3261e", "#f6d6d3", "#c0392b"),
    "do": ("#6a3d9a", "#e7dbf2", "#7e4fb3"),
    "likelihood": ("#1b7f5f", "#d5ede4", "#2e9e79"),
    "soft": ("#1b7f5f", "#d5ede4", "#2e9e79"),
}
TRACK = "#e8ebef"
GHOST = "#8c96a0"
UP, DOWN, SAME = "#1a5fb4", "#b3261e", "#6b7280"
SHADE = (0xF7, 0xC4, 0x5E)  # fill of a node whose largest change reaches SHADE_FULL
SHADE_FULL = 0.25


def posteriors(model: Model, evidence: Evidence) -> dict[str, dict[str, float]]:
    """Every node's posterior under resolved `evidence`, in one call to the engine.

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> round(posteriors(m, m.evidence())["nuclear_war"]["yes"], 3)
    0.168
    """
    from bn.engine import posterior

    result = posterior(model, list(model.ids), evidence)
    return {
        node.id: {s: float(p) for s, p in zip(node.states, result.marginals[node.id], strict=True)}
        for node in model
    }


def spec(
    model: Model,
    posteriors: Mapping[str, Mapping[str, float]],
    evidence: Evidence,
    compare: Mapping[str, Mapping[str, float]] | None = None,
    focus: str | None = None,
    depth: int | None = None,
    rankdir: str = "TB",
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
    compare_label: str | None = None,
) -> dict[str, Any]:
    """A plain description of the picture: nodes, states, probabilities, marks, changes, edges.

    `posteriors` maps node ids to {state: probability} (see `posteriors`); `evidence` is resolved;
    `compare` holds another question's posteriors: each state then gets `change` = p - p_other
    and each node its `largest_change`. `focus` keeps the nodes within `depth` links (default 1)
    of one node; `hidden_links` counts the links of a kept node to nodes left out.

    >>> from bn.model import Node
    >>> rain = Node("rain", ("no", "yes"), (), [0.8, 0.2])
    >>> wet = Node("wet", ("dry", "wet"), ("rain",), [[0.9, 0.1], [0.2, 0.8]])
    >>> m = Model((rain, wet))
    >>> e = m.evidence(hard={"wet": "wet"})
    >>> s = spec(m, posteriors(m, e), e, compare=posteriors(m, m.evidence()))
    >>> [(st["name"], round(st["p"], 3), round(st["change"], 3)) for st in s["nodes"][0]["states"]]
    [('no', 0.333, -0.467), ('yes', 0.667, 0.467)]
    >>> s["nodes"][1]["mark"], s["edges"]
    ('evidence', [{'source': 'rain', 'target': 'wet', 'cut': False}])
    """
    if rankdir not in RANKDIRS:
        raise BNError(f"rankdir must be one of {', '.join(RANKDIRS)}, not '{rankdir}'")
    shown = _neighbourhood(model, focus, depth)
    depth = (1 if depth is None else depth) if focus else None
    fixed = {**evidence.hard, **evidence.do}
    nodes = []
    for node in model:
        if node.id not in shown:
            continue
        given = posteriors.get(node.id)
        if given is None:
            raise EvidenceError(f"no posterior given for node {node.id}")
        other = compare.get(node.id) if compare is not None else None
        states = []
        for state in node.states:
            p = float(given[state])
            entry: dict[str, Any] = {
                "name": state,
                "description": node.state_descriptions.get(state, ""),
                "p": p,
                "observed": fixed.get(node.id) == state,
            }
            if compare is not None:
                q = float(other[state]) if other is not None else math.nan
                entry["compare"] = q if math.isfinite(q) else None
                entry["change"] = p - q if math.isfinite(q) else None
            states.append(entry)
        changes = [abs(s["change"]) for s in states if s.get("change") is not None]
        nodes.append(
            {
                "id": node.id,
                "label": node.label,
                "description": node.description,
                "aliases": list(node.aliases),
                "mark": _mark(node.id, evidence),
                "given": _given(node.id, evidence),
                "states": states,
                "largest_change": max(changes) if changes else None,
                "form": _form_text(node),
                "hidden_links": sum(
                    1
                    for other_id in (*node.parents, *model.children(node.id))
                    if other_id not in shown
                ),
            }
        )
    edges = [
        {"source": parent, "target": node.id, "cut": node.id in evidence.do}
        for node in model
        if node.id in shown
        for parent in node.parents
        if parent in shown
    ]
    return {
        "title": model.title if title is None else title,
        "notes": list(notes),
        "compare": (compare_label or "the other question") if compare is not None else None,
        "rankdir": rankdir,
        "focus": model.resolve(focus) if focus else None,
        "depth": depth,
        "nodes": nodes,
        "edges": edges,
    }


def question_spec(
    base: Model,
    model: Model,
    evidence: Evidence,
    *,
    scenario: str | None = None,
    compare: str | None = None,
    focus: str | None = None,
    depth: int | None = None,
    rankdir: str = "TB",
    found: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, Any]:
    """The spec `bn draw` draws for a question: `model` and resolved `evidence` are `base` after
    `scenario` (named in the caption); `compare` names a scenario ('baseline': no evidence when
    the model has none of that name) whose posteriors every state is compared with. `found`:
    every node's posterior under `evidence`, when the caller has computed it already."""
    from bn import scenarios

    other = None
    if compare:
        if compare == "baseline":
            c_model, c_evidence, _ = scenarios.baseline(base, Evidence())
        else:
            c_model, c_evidence = scenarios.pose(base, compare, Evidence())
        other = posteriors(c_model, c_evidence)
    notes = [f"scenario: {scenario}"] if scenario else []
    if evidence:
        notes.append("given: " + "; ".join(evidence.describe()))
    return spec(
        model,
        posteriors(model, evidence) if found is None else found,
        evidence,
        compare=other,
        focus=focus,
        depth=depth,
        rankdir=rankdir,
        notes=notes or ["no evidence"],
        compare_label=compare,
    )


def _neighbourhood(model: Model, focus: str | None, depth: int | None) -> set[str]:
    """The nodes within `depth` links of `focus`, in either direction (all nodes without focus)."""
    if focus is None:
        if depth is not None:
            raise BNError(
                f"{param('depth')} needs {param('focus')} NODE: the depth counts links from that node"
            )
        return set(model.ids)
    depth = 1 if depth is None else depth
    if depth < 0:
        raise BNError(f"depth must be 0 or more, not {depth}")
    seen = {model.resolve(focus)}
    frontier = set(seen)
    for _ in range(min(depth, len(model))):  # no path is longer than the number of nodes
        frontier = {
            near
            for node_id in frontier
            for near in (*model[node_id].parents, *model.children(node_id))
        } - seen
        if not frontier:
            break
        seen |= frontier
    return seen


def _form_text(node: Node) -> str | None:
    """A compact node's form, as the drawing names it ('noisy-max: 9 numbers for 81 rows')."""
    form = node.form
    if form is None:
        return None
    rows = math.prod(node.parent_shape)
    if isinstance(form, NoisyMax):
        return f"{form.form}: {len(form.labels)} rows for {rows}"
    return f"ranked ({form.function}): {len(form.parents)} weights for {rows} rows"


def _mark(node_id: str, evidence: Evidence) -> str | None:
    kind = evidence.kind_of(node_id)
    return None if kind is None else KIND_NAMES[kind]


def _given(node_id: str, evidence: Evidence) -> Any:
    """What the evidence says about the node: a state name, or {state: weight}."""
    for _, node, value in evidence.items():
        if node == node_id:
            if isinstance(value, str):
                return value
            if isinstance(value, Mapping):
                return {str(s): float(w) for s, w in value.items()}
            return [float(w) for w in value]
    return None


# --- DOT --------------------------------------------------------------------------------------

_SAFE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _wrap(text: str, width: int) -> str:
    lines = textwrap.wrap(text, width) or [""]
    return '<BR ALIGN="CENTER"/>'.join(escape_html(line) for line in lines)


def percent(p: float) -> str:
    """A probability as a percentage, with more digits for small ones.

    >>> percent(0.168), percent(0.00012), percent(1.0), percent(0.0)
    ('16.8%', '0.012%', '100.0%', '0.0%')
    """
    if not math.isfinite(p):
        return "n/a"
    if p != 0 and abs(p) < 0.001:
        return f"{p * 100:.2g}%"
    return f"{p * 100:.1f}%"


def points(change: float) -> str:
    """A change in probability as percentage points.

    >>> points(0.042), points(-0.1234), points(0.0001)
    ('+4.2 pts', '-12.3 pts', '0.0 pts')
    """
    if abs(change) < 0.0005:
        return "0.0 pts"
    return f"{change * 100:+.1f} pts"


def shade(change: float | None) -> str:
    """The fill of a node whose largest change is `change`: white for none, amber from 25 pts.

    >>> shade(None), shade(0.0), shade(0.25), shade(1.0)
    ('#ffffff', '#ffffff', '#f7c45e', '#f7c45e')
    """
    t = 0.0 if change is None or not math.isfinite(change) else min(1.0, abs(change) / SHADE_FULL)
    r, g, b = (round(255 + (c - 255) * t) for c in SHADE)
    return f"#{r:02x}{g:02x}{b:02x}"


def _bar(p: float, colour: str, other: float | None, comparing: bool) -> str:
    """A bar of BAR_WIDTH points: a filled part for p, the track for the rest; under it a thin
    grey bar for the compared value when comparing."""

    def row(value: float, height: int, fill: str, rest: str) -> str:
        value = min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0
        done = round(value * BAR_WIDTH)
        cells = []
        for width, bg in ((done, fill), (BAR_WIDTH - done, rest)):
            if width > 0:
                colour_attr = f' BGCOLOR="{bg}"' if bg else ""
                cells.append(
                    f'<TD WIDTH="{width}" HEIGHT="{height}" FIXEDSIZE="TRUE"{colour_attr}></TD>'
                )
        return (
            '<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0"><TR>'
            + "".join(cells)
            + "</TR></TABLE>"
        )

    if not comparing:
        return row(p, 11, colour, TRACK)
    # Rows of different splits need a table each: one grid would align their cells.
    main = row(p, 9, colour, TRACK)
    ghost = row(other if other is not None else 0.0, 3, GHOST, "")
    return (
        '<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">'
        f"<TR><TD>{main}</TD></TR><TR><TD>{ghost}</TD></TR></TABLE>"
    )


def _tag(node: Mapping[str, Any]) -> str:
    """The line under a marked node's title saying what is known or done."""
    mark, given = node["mark"], node["given"]
    if mark == "evidence":
        return f"observed: {given}"
    if mark == "do":
        return f"do({given}): set, incoming links cut"
    if isinstance(given, Mapping):
        values = ", ".join(f"{s} {w:g}" for s, w in given.items())
    else:
        values = ", ".join(f"{w:g}" for w in given or ())
    if mark == "likelihood":
        return f"likelihood evidence  {values}"
    return f"soft evidence (fixed marginal)  {values}"


def node_label(node: Mapping[str, Any], comparing: bool) -> str:
    """The HTML-like label of one node: title, id, mark, then one row per state."""
    mark = node["mark"]
    border, header, bar_colour = THEMES[mark]
    columns = 4 if comparing else 3
    style = ' STYLE="dashed"' if mark in ("likelihood", "soft") else ""
    fill = shade(node["largest_change"]) if comparing else "#ffffff"
    thick = 1 if mark is None else 2
    rows = [
        f'<TR><TD COLSPAN="{columns}" BGCOLOR="{header}" CELLPADDING="4">'
        f"<B>{_wrap(node['label'], 34)}</B></TD></TR>"
    ]
    names = [node["id"], *node["aliases"]]
    if node["label"] != node["id"] or node["aliases"]:
        rows.append(
            f'<TR><TD COLSPAN="{columns}" BGCOLOR="{header}" CELLPADDING="1">'
            f'<FONT POINT-SIZE="8" COLOR="#4b5563">{escape_html(" · ".join(names))}</FONT>'
            "</TD></TR>"
        )
    if mark is not None:
        rows.append(
            f'<TR><TD COLSPAN="{columns}" BGCOLOR="{border}" CELLPADDING="2">'
            f'<FONT POINT-SIZE="9" COLOR="#ffffff"><B>{_wrap(_tag(node), 44)}</B></FONT>'
            "</TD></TR>"
        )
    for state in node["states"]:
        strong = state["observed"]
        name = escape_html(state["name"])
        value = escape_html(percent(state["p"]))
        if strong:
            name, value = f"<B>{name}</B>", f"<B>{value}</B>"
        cells = [
            f'<TD ALIGN="LEFT" BALIGN="LEFT">{name}</TD>',
            '<TD CELLPADDING="0">'
            f"{_bar(state['p'], bar_colour, state.get('compare'), comparing)}</TD>",
            f'<TD ALIGN="RIGHT">{value}</TD>',
        ]
        if comparing:
            change = state.get("change")
            if change is None:
                text, colour = "n/a", SAME
            else:
                text = points(change)
                colour = SAME if text == "0.0 pts" else (UP if change > 0 else DOWN)
            cells.append(
                f'<TD ALIGN="RIGHT"><FONT POINT-SIZE="9" COLOR="{colour}">{text}</FONT></TD>'
            )
        rows.append("<TR>" + "".join(cells) + "</TR>")
    if node.get("form"):
        rows.append(
            f'<TR><TD COLSPAN="{columns}" ALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="#6b7280">'
            f"<I>{escape_html(node['form'])}</I></FONT></TD></TR>"
        )
    if node["hidden_links"]:
        rows.append(
            f'<TR><TD COLSPAN="{columns}" ALIGN="LEFT"><FONT POINT-SIZE="8" COLOR="#6b7280">'
            f"<I>+ {node['hidden_links']} link(s) not shown</I></FONT></TD></TR>"
        )
    return (
        f'<<TABLE BORDER="{thick}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" '
        f'COLOR="{border}" BGCOLOR="{fill}"{style}>' + "".join(rows) + "</TABLE>>"
    )


def graph_label(spec: Mapping[str, Any]) -> str:
    """The caption above the picture: title, the question, and what it is compared with."""
    lines = []
    if spec["title"]:
        lines.append(f'<FONT POINT-SIZE="14"><B>{_wrap(spec["title"], 90)}</B></FONT>')
    for note in spec["notes"]:
        lines.append(_wrap(note, 120))
    if spec["compare"] is not None:
        lines.append(
            escape_html(
                f"compared with: {spec['compare']}  (change in percentage points; "
                "node shading = its largest change, grey bar = the other value)"
            )
        )
    if spec["focus"]:
        lines.append(escape_html(f"around {spec['focus']}, {spec['depth']} link(s) deep"))
    if not lines:
        return ""
    return "<" + '<BR ALIGN="CENTER"/>'.join(lines) + ">"


def to_dot(spec: Mapping[str, Any]) -> str:
    """DOT text for a spec: one HTML-like table per node, cut links dashed with a bar end.

    >>> import bn
    >>> m = bn.load(bn.packaged_model_path())
    >>> e = m.evidence(do={"starlink": "cut"})
    >>> text = to_dot(spec(m, posteriors(m, e), e))
    >>> "digraph" in text and "do(cut)" in text
    True
    """
    import graphviz

    comparing = spec["compare"] is not None
    names = {node["id"]: _dot_name(node["id"], i) for i, node in enumerate(spec["nodes"])}
    graph = graphviz.Digraph(
        "bn",
        graph_attr={
            "rankdir": spec["rankdir"],
            "bgcolor": "white",
            "fontname": FONT,
            "fontsize": "11",
            "labelloc": "t",
            "nodesep": "0.35",
            "ranksep": "0.45",
            "pad": "0.2",
        },
        node_attr={"shape": "plain", "fontname": FONT, "fontsize": "10"},
        edge_attr={"color": "#5b6b7b", "arrowsize": "0.7", "fontname": FONT, "fontsize": "8"},
    )
    label = graph_label(spec)
    if label:
        graph.attr(label=label)
    for node in spec["nodes"]:
        tooltip = node["label"] + (f"\n\n{node['description']}" if node["description"] else "")
        meanings = [f"{s['name']}: {s['description']}" for s in node["states"] if s["description"]]
        if meanings:
            tooltip += "\n\n" + "\n".join(meanings)
        graph.node(
            names[node["id"]],
            label=node_label(node, comparing),
            # nohtml: a tooltip that starts with < and ends with > must stay a quoted string.
            tooltip=graphviz.nohtml(escape_string(tooltip)),
        )
    for edge in spec["edges"]:
        attrs = (
            {"style": "dashed", "color": "#a0a7b0", "arrowhead": "tee", "tooltip": "cut by do()"}
            if edge["cut"]
            else {}
        )
        graph.edge(names[edge["source"]], names[edge["target"]], **attrs)
    return str(graph.source)


def _dot_name(node_id: str, index: int) -> str:
    # Model ids read from files are plain identifiers; anything else gets a neutral name.
    if _SAFE_ID.match(node_id) and node_id.lower() not in {
        "node",
        "edge",
        "graph",
        "digraph",
        "subgraph",
        "strict",
    }:
        return node_id
    return f"n{index}"


# --- rendering --------------------------------------------------------------------------------


def renderers() -> list[Path]:
    """Programs that can render DOT, in order of preference: the system `dot` on PATH, then the
    `graphviz-pure` binary installed with bn (beside this Python, else on PATH)."""
    found: list[Path] = []
    system = shutil.which("dot")
    if system:
        found.append(Path(system))
    exe = FALLBACK + (".exe" if os.name == "nt" else "")
    scripts = Path(sys.executable).parent
    for candidate in (scripts / exe, scripts / "Scripts" / exe):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            found.append(candidate)
            break
    else:
        on_path = shutil.which(FALLBACK)
        if on_path:
            found.append(Path(on_path))
    return found


def find_renderer() -> Path | None:
    """The program `render` tries first, or None when neither `dot` nor graphviz-pure is found."""
    found = renderers()
    return found[0] if found else None


def render(dot_text: str, fmt: str) -> bytes:
    """Render DOT text to `fmt` ('svg' or 'png'; 'dot' returns the text); BNError if none runs."""
    return render_with(dot_text, fmt)[0]


def render_with(dot_text: str, fmt: str) -> tuple[bytes, Path | None]:
    """The rendered bytes and the program that drew them. When the system `dot` fails (a build
    without PNG support, say), graphviz-pure gets its turn before giving up."""
    if fmt == "dot":
        return dot_text.encode("utf-8"), None
    if fmt not in FORMATS:
        raise BNError(f"unknown format '{fmt}'; formats: {', '.join(FORMATS)}")
    programs = renderers()
    if not programs:
        raise BNError(
            f"cannot draw {fmt}: neither `dot` nor `{FALLBACK}` is installed; {INSTALL_HINT}"
        )
    failures = []
    for program in programs:
        args = [str(program), f"-T{fmt}"]
        if fmt == "png":
            args.append(f"-Gdpi={PNG_DPI}")
        try:
            done = subprocess.run(
                args, input=dot_text.encode("utf-8"), capture_output=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(f"cannot run {program}: {error}")
            continue
        if done.returncode == 0 and done.stdout:
            return done.stdout, program
        message = done.stderr.decode("utf-8", "replace").strip() or f"exit code {done.returncode}"
        failures.append(f"{program.name} failed to draw {fmt}: {message}")
    raise BNError("; ".join(failures))


def write_bytes(path: Path, data: bytes) -> None:
    """Write a picture atomically (see `bn.csvfiles.write_atomic`), creating its directory."""
    from bn.files import write_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)
