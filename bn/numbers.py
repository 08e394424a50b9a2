"""Number syntax shared by the files and the command line: reading decimals, writing them exactly.

The lowest layer: imports nothing of the package.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

# A decimal as people and spreadsheets write it (exponents accepted, as some exports use them);
# stricter than float(), which also takes "inf", "nan" and "1_000".
DECIMAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")


def parse_decimal(cell: str) -> float | None:
    """A finite decimal as people and spreadsheets write it, or None.

    >>> parse_decimal(" 0.25"), parse_decimal("1e-05"), parse_decimal("20")
    (0.25, 1e-05, 20.0)
    >>> parse_decimal("1_0"), parse_decimal("inf"), parse_decimal("0x1"), parse_decimal("")
    (None, None, None, None)
    """
    cell = cell.strip()
    if not DECIMAL.match(cell):
        return None
    value = float(cell)
    return value if math.isfinite(value) else None


def format_number(value: float) -> str:
    """Shortest text that reads back as the same float, written without exponents.

    >>> format_number(0.3), format_number(1.0), format_number(1e-05), format_number(0.1 + 0.2)
    ('0.3', '1', '0.00001', '0.30000000000000004')
    >>> float(format_number(1.5e-25)) == 1.5e-25
    True
    """
    text = format(Decimal(repr(float(value))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def computed_number(value: float) -> str:
    """A computed probability as text: 15 significant digits, so 0.1 + 0.2 is written 0.3.

    Every value bn computes and writes into a table (an edit, `--fix-sums`) goes through this.

    >>> computed_number(0.1 + 0.2), computed_number(1 / 3), computed_number(2e-7)
    ('0.3', '0.333333333333333', '0.0000002')
    """
    return format_number(float(f"{value:.15g}"))
