"""Charts: image files drawn with matplotlib, and the hand-written SVG of `bn report`.

- `tornado` (for `bn sensitivity -o`) and `histogram` (for `bn uncertainty --hist`) write an image
  file whose format comes from its extension, checked by `image_format`, written atomically.
- `bar_chart`, `tornado_chart` and `histogram_chart` return deterministic SVG text for the brief:
  the same numbers give the same bytes on every machine.

matplotlib is imported inside the functions that draw, so importing this module is cheap.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bn.errors import BNError

if TYPE_CHECKING:
    from bn.analysis.sensitivity import Cell, Sensitivity
    from bn.analysis.uncertainty import Uncertainty

NEEDS_LATEX = {"pgf"}  # matplotlib writes these only with a TeX installation
LOW_COLOUR, HIGH_COLOUR = "#4c78a8", "#e45756"


def number(p: float, digits: int = 3) -> str:
    """A computed probability for reading: `digits` significant digits, trailing zeros kept so
    that every number of a column has the same precision (the same text on every machine); an
    exact 0 is "0".

    >>> number(0.16800003), number(0.05), number(0.0154), number(4.19e-05), number(0.99999)
    ('0.168', '0.0500', '0.0154', '0.0000419', '1.00')
    >>> number(0.7), number(0.0999999)  # 0.7 is 0.6999...: rounding up keeps three digits
    ('0.700', '0.100')
    """
    if p == 0:
        return "0"
    exponent = int(f"{p:.{digits - 1}e}".partition("e")[2])  # after rounding: 0.0999999 -> -1
    return f"{p:.{max(0, digits - 1 - exponent)}f}"


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# --- image files (matplotlib) ------------------------------------------------------------------


def image_format(path: str | Path) -> str:
    """The image format for `path`, from its extension; a BNError naming the valid ones, or the
    missing directory. Check before a long computation whose result goes to `path`.

    >>> image_format("tornado.SVG")
    'svg'
    >>> image_format("chart.nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    bn.errors.BNError: cannot write a chart as 'chart.nope': use one of the extensions ...pdf, .png...
    """
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    formats = sorted(set(FigureCanvasBase.get_supported_filetypes()) - NEEDS_LATEX)
    extension = path.suffix.lstrip(".").lower()
    if extension not in formats:
        raise BNError(
            f"cannot write a chart as '{path.name}': use one of the extensions "
            + ", ".join(f".{f}" for f in formats)
        )
    if not path.parent.is_dir():
        raise BNError(f"cannot write '{path}': directory '{path.parent}' does not exist")
    return extension


def _save_figure(figure: Any, path: str | Path) -> None:
    """Render a matplotlib Figure in the format of `path`'s extension and write it atomically.

    SVG and PDF files carry no creation date and SVG ids come from a fixed salt, so the same chart
    gives the same bytes in these formats."""
    import io

    from matplotlib import rc_context

    from bn.files import write_atomic

    path = Path(path)
    kind = image_format(path)
    # Only some formats take metadata (jpeg, tiff, webp... refuse even an empty one).
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(kind)
    extra = {} if metadata is None else {"metadata": metadata}
    buffer = io.BytesIO()
    with rc_context({"svg.hashsalt": "bn"}):  # SVG element ids from a fixed salt, not at random
        figure.savefig(buffer, format=kind, **extra)
    write_atomic(path, buffer.getvalue())


def _tick(cell: Cell) -> str:
    """Two lines: the cell, its value and range; then the parents' states of its row."""
    given = ", ".join(f"{p}={s}" for p, s in cell.parents.items())
    if cell.link is not None:
        given = "leak" if cell.link == "leak" else f"link {cell.link}"
    what = f"{cell.node}={cell.state}" if cell.parameter is None else cell.label()
    head = f"{what}: {cell.value:.3g} ({cell.range[0]:.2g}–{cell.range[1]:.2g})"
    return head + (f"\n| {given}" if given else "")


def tornado(result: Sensitivity, path: str | Path, top: int = 10) -> None:
    """Write a tornado chart (format from the extension) of the `top` cells with the largest swing
    (0: all): a bar per cell from the answer at its low end to the answer at its high end."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    image_format(path)
    cells = result.cells[:top] if top > 0 else result.cells
    base = result.baseline
    height = 1.6 + 0.62 * max(1, len(cells))
    figure = Figure(figsize=(10, height))
    axes = figure.subplots()
    for y, cell in enumerate(reversed(cells)):
        at_low, at_high = cell.at_range
        axes.barh(y, at_low - base, left=base, color=LOW_COLOUR, height=0.6)
        axes.barh(y, at_high - base, left=base, color=HIGH_COLOUR, height=0.6)
    axes.set_yticks(range(len(cells)), [_tick(c) for c in reversed(cells)], fontsize=8)
    axes.axvline(base, color="black", linewidth=1)
    axes.set_xlabel(f"P({result.target}={result.state})")
    axes.set_title(
        f"Sensitivity of P({result.target}={result.state}), baseline {base:.3g}", fontsize=10
    )
    figure.legend(
        handles=[
            Patch(color=LOW_COLOUR, label="cell at the low end of its range"),
            Patch(color=HIGH_COLOUR, label="cell at the high end of its range"),
        ],
        fontsize=8,
        ncols=2,
        loc="lower center",
        frameon=False,
    )
    axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    figure.tight_layout(rect=(0, 0.35 / height, 1, 1))
    _save_figure(figure, path)


def histogram(result: Uncertainty, path: str | Path) -> None:
    """Write a histogram of the draws (format from the extension) with the point value, the mean
    and the 90% interval marked."""
    from matplotlib.figure import Figure

    image_format(path)
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    values = result.valid * 100
    low, high = (x * 100 for x in result.interval_90)
    axes.axvspan(
        low, high, color="#f2c14e", alpha=0.3, zorder=0, label=f"90% interval {low:.1f}-{high:.1f}%"
    )
    axes.hist(values, bins=80, color="#4c72b0", edgecolor="none", zorder=1)
    axes.axvline(
        result.point * 100, color="#b03a2e", zorder=2, label=f"point {result.point * 100:.1f}%"
    )
    axes.axvline(
        result.mean * 100,
        color="#222222",
        linestyle="--",
        zorder=2,
        label=f"mean {result.mean * 100:.1f}%",
    )
    axes.set_xlabel(f"P({result.target} = {result.state}) in %")
    axes.set_ylabel("draws")
    axes.set_title(f"{result.n:,} parameter draws (seed {result.seed})")
    axes.legend(frameon=False)
    _save_figure(figure, path)


# --- SVG for the brief (hand-written, deterministic) --------------------------------------------


def bar_chart(rows: Sequence[tuple[str, float | None]], reference: float | None = None) -> str:
    """Horizontal bars for labelled probabilities (None: impossible, no bar), with an optional
    reference line.

    >>> svg = bar_chart([("a", 0.2), ("b", None)], reference=0.1)
    >>> svg.count("<rect"), ">impossible<" in svg, svg.count("<line")
    (1, True, 1)
    """
    width, left, height = 640, 170, 22
    top = max((p for _, p in rows if p is not None), default=1.0) or 1.0
    scale = (width - left - 60) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height * len(rows) + 10}"'
        f' role="img" font-family="sans-serif" font-size="12">'
    ]
    for i, (label, p) in enumerate(rows):
        y = 5 + i * height
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_esc(label)}</text>')
        if p is None:
            parts.append(f'<text x="{left + 4}" y="{y + 15}">impossible</text>')
            continue
        parts.append(
            f'<rect x="{left}" y="{y + 3}" width="{p * scale:.1f}" height="{height - 8}" fill="#1a5fb4"/>'
        )
        parts.append(f'<text x="{left + p * scale + 4:.1f}" y="{y + 15}">{number(p)}</text>')
    if reference is not None:
        x = left + reference * scale
        parts.append(
            f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height * len(rows) + 10}" '
            'stroke="#b3261e" stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def tornado_chart(cells: Sequence[Cell], baseline: float) -> str:
    """Bars from each cell's low to high target value around the baseline ("" without cells)."""
    if not cells:
        return ""
    longest = max(len(c.label()) for c in cells)
    left = min(520, 40 + int(6.2 * longest))
    width, height = left + 380, 22
    ends = [baseline, *(float(c.low) for c in cells), *(float(c.high) for c in cells)]
    low, high = min(ends), max(ends)
    span = (high - low) or 1.0
    scale = (width - left - 70) / span

    def x(p: float) -> float:
        return left + (p - low) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height * len(cells) + 30}"'
        ' role="img" font-family="sans-serif" font-size="11">'
    ]
    for i, c in enumerate(cells):
        y = 5 + i * height
        a, b = sorted((c.low, c.high))
        parts.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{_esc(c.label())}</text>'
        )
        parts.append(
            f'<rect x="{x(a):.1f}" y="{y + 3}" width="{max(x(b) - x(a), 1):.1f}" '
            f'height="{height - 8}" fill="#e8a33d"/>'
        )
        parts.append(f'<text x="{x(b) + 4:.1f}" y="{y + 14}">{number(a)}–{number(b)}</text>')
    base = x(baseline)
    bottom = height * len(cells) + 8
    parts.append(
        f'<line x1="{base:.1f}" y1="0" x2="{base:.1f}" y2="{bottom}" stroke="#1f2933"/>'
        f'<text x="{base:.1f}" y="{bottom + 16}" text-anchor="middle">'
        f"baseline {number(baseline)}</text></svg>"
    )
    return "".join(parts)


def histogram_chart(counts: Sequence[int], edges: Sequence[float]) -> str:
    """Columns of `counts` between `edges` (one more than counts), three edges labelled."""
    if not counts:
        return ""
    width, height, bottom = 640, 200, 30
    top = max(counts) or 1
    step = (width - 40) / len(counts)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + bottom}" '
        'role="img" font-family="sans-serif" font-size="11">'
    ]
    for i, count in enumerate(counts):
        h = count / top * height
        parts.append(
            f'<rect x="{20 + i * step:.1f}" y="{height - h:.1f}" width="{step - 1:.1f}" '
            f'height="{h:.1f}" fill="#1a5fb4"/>'
        )
    for i in (0, len(counts) // 2, len(counts)):
        parts.append(
            f'<text x="{20 + i * step:.1f}" y="{height + 18}" text-anchor="middle">'
            f"{number(edges[i])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
