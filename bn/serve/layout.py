"""Where the page draws each node: Graphviz places boxes of the page's sizes (`dot -Tplain`).

The page draws the nodes itself (so a click updates bars in place); Graphviz, the same layout
engine as `bn draw`, gives the positions and the links' curves. Sizes are in CSS pixels.
"""

from __future__ import annotations

import subprocess
import textwrap
from typing import Any

from bn.errors import BNError
from bn.model import Model

# The geometry of a node box, shared with the page (it draws with these numbers).
GEOMETRY = {
    "width": 290,  # the narrowest box
    "pad": 6,
    "title": 16,  # one line of the title
    "names": 13,  # the id and aliases line
    "banner": 17,  # what evidence says about the node
    "state": 18,  # one state row
    "name_width": 86,  # the narrowest state name column
    "bar": 96,  # a bar of probability 1
    "percent": 50,  # the percentage column
    "change": 52,  # the change column (when comparing)
}
CHAR_WIDTH = 6.4  # an average character of the state names, at 11 px
TITLE_CHARS = 32
PX_PER_INCH = 72


def title_lines(label: str) -> list[str]:
    """The title as the page wraps it.

    >>> title_lines("Large US-Russia nuclear war (KABOOM)")
    ['Large US-Russia nuclear war', '(KABOOM)']
    """
    return textwrap.wrap(label, TITLE_CHARS) or [label]


def box(model: Model, node_id: str) -> dict[str, Any]:
    node = model[node_id]
    g = GEOMETRY
    lines = title_lines(node.label)
    names = node.label != node.id or bool(node.aliases)
    height = (
        2 * g["pad"]
        + g["title"] * len(lines)
        + (g["names"] if names else 0)
        + g["banner"]
        + g["state"] * node.card
    )
    name_width = max(g["name_width"], round(CHAR_WIDTH * max(len(s) for s in node.states) + 10))
    width = max(g["width"], 2 * g["pad"] + name_width + g["bar"] + g["percent"] + g["change"])
    return {"title": lines, "names": names, "w": width, "h": height, "name_width": name_width}


def layout(model: Model, rankdir: str = "TB") -> dict[str, Any]:
    """Positions (top-left corners) of every node's box and the links' cubic Bézier points.

    >>> import bn
    >>> placed = layout(bn.load(bn.packaged_model_path()))
    >>> sorted(placed["nodes"]["nuclear_war"]) == ["h", "name_width", "names", "title", "w", "x", "y"]
    True
    """
    import graphviz

    from bn.diagram import renderers

    if rankdir not in ("TB", "LR"):
        raise BNError(f"rankdir must be TB or LR, not '{rankdir}'")
    boxes = {n.id: box(model, n.id) for n in model}
    names = {n.id: f"n{i}" for i, n in enumerate(model)}
    ids = {v: k for k, v in names.items()}
    graph = graphviz.Digraph(
        "layout",
        graph_attr={"rankdir": rankdir, "nodesep": "0.35", "ranksep": "0.45", "pad": "0.2"},
        node_attr={"shape": "box", "fixedsize": "true", "label": ""},
        edge_attr={"arrowsize": "0.7"},
    )
    for node in model:
        b = boxes[node.id]
        graph.node(
            names[node.id], width=str(b["w"] / PX_PER_INCH), height=str(b["h"] / PX_PER_INCH)
        )
    for node in model:
        for parent in node.parents:
            graph.edge(names[parent], names[node.id])
    text = _plain(str(graph.source), renderers())
    nodes: dict[str, Any] = {}
    edges = []
    height = 0.0
    width = 0.0
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * PX_PER_INCH, float(parts[3]) * PX_PER_INCH
        elif parts[0] == "node":
            node_id = ids[parts[1]]
            b = boxes[node_id]
            x = float(parts[2]) * PX_PER_INCH - b["w"] / 2
            y = height - float(parts[3]) * PX_PER_INCH - b["h"] / 2
            nodes[node_id] = {**b, "x": round(x, 1), "y": round(y, 1)}
        elif parts[0] == "edge":
            count = int(parts[3])
            coords = [float(c) * PX_PER_INCH for c in parts[4 : 4 + 2 * count]]
            points = [
                [round(coords[i], 1), round(height - coords[i + 1], 1)]
                for i in range(0, len(coords), 2)
            ]
            edges.append({"source": ids[parts[1]], "target": ids[parts[2]], "points": points})
    return {"width": round(width, 1), "height": round(height, 1), "nodes": nodes, "edges": edges,
            "geometry": GEOMETRY}  # fmt: skip


def _plain(dot_text: str, programs: list[Any]) -> str:
    """`dot -Tplain` output from the first renderer that runs."""
    failures = []
    for program in programs:
        try:
            done = subprocess.run(
                [str(program), "-Tplain"], input=dot_text.encode(), capture_output=True, timeout=120
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            failures.append(f"cannot run {program}: {error}")
            continue
        if done.returncode == 0 and done.stdout:
            return done.stdout.decode("utf-8", "replace")
        failures.append(f"{program} failed: {done.stderr.decode('utf-8', 'replace').strip()}")
    raise BNError("cannot lay out the network: " + ("; ".join(failures) or "no Graphviz found"))
