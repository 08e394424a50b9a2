"""Model text made safe for Graphviz: inside HTML-like labels and as quoted DOT strings.

The lowest layer: imports nothing of the package.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HTML = str.maketrans(
    # Graphviz expands \N, \G, ... even inside HTML-like labels; a doubled backslash stays one.
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "\\": "\\\\"}
)
REVERSE_SOLIDUS = "\u29f5"  # looks like a backslash; quoted DOT strings treat backslashes unevenly


def escape_html(text: str) -> str:
    r"""Model text made safe inside a Graphviz HTML-like label (markup characters as entities).

    >>> escape_html('<script>alert("x") & {y}</script> \\N')
    '&lt;script&gt;alert(&quot;x&quot;) &amp; {y}&lt;/script&gt; \\\\N'
    """
    return _CONTROL.sub(" ", str(text)).translate(_HTML)


def escape_string(text: str) -> str:
    r"""Model text made safe as a quoted DOT string (tooltips); the `graphviz` package escapes
    the quotes. `&` becomes `&amp;` because Graphviz passes entities through to SVG as they are.
    Backslashes become a look-alike: Graphviz versions disagree on how `\\` in a quoted string
    is read, and a lone one would start an escape such as `\N` (the node's name).

    >>> escape_string('C:\\dir "q" &amp;\x00')
    'C:⧵dir "q" &amp;amp; '
    """
    text = _CONTROL.sub(" ", str(text)).replace("&", "&amp;")
    return text.replace("\\", REVERSE_SOLIDUS)
