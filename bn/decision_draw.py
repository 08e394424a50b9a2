"""An influence diagram drawn: chance nodes with their bars, decisions as rectangles with each
option's expected utility and the optimal one marked, utilities as diamonds with their expected value.

The chance nodes' probabilities are those under the optimal policy (every decision that `do` does
not set follows it). As for networks (`bn.diagram`), the picture is first a plain spec (a dict) and
then DOT text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bn.analysis.decide import Solution, policy_network
from bn.diagram import FONT, node_label, percent, posteriors, spec
from bn.engine import condition
from bn.errors import BNError, param
from bn.escape import escape_html, escape_string
from bn.influence import Diagram


def influence_spec(
    diagram: Diagram,
    solution: Solution,
    rankdir: str = "TB",
    *,
    compare: tuple[str, Diagram, Solution] | None = None,
    focus: str | None = None,
    depth: int | None = None,
) -> dict[str, Any]:
    """The picture as data: `spec`'s nodes and edges, decisions and utilities described.

    `compare` is another question (its name, diagram and solution): every state then shows its
    change from that question's probability under that question's own optimal policy, and every
    utility and the MEU their change. `focus` keeps the nodes (decisions and utilities too) within
    `depth` links of one node, informational arcs counted as links.
    """
    evidence = solution.evidence
    network = policy_network(diagram, solution)
    links = _links(diagram)
    shown = _around(diagram, links, focus, depth)
    other, other_diagram, other_network = None, diagram, network
    notes = [f"maximum expected utility: {solution.meu:.6g} (under the optimal policy)"]
    if evidence:
        notes.append("given: " + "; ".join(evidence.describe()))
    if compare is not None:
        name, other_diagram, other = compare
        other_network = policy_network(other_diagram, other)
        change = solution.meu - other.meu
        notes.append(
            f"compared with: {name} (MEU {other.meu:.6g}, change {change:+.6g}; "
            "probabilities in percentage points, each under its own optimal policy)"
        )
    if focus is not None:
        depth = 1 if depth is None else depth
        notes.append(f"around {_resolve(diagram, focus)}, {depth} link(s) deep")
    picture = spec(
        network,
        posteriors(network, evidence),
        evidence,
        compare=posteriors(other_network, other.evidence) if other is not None else None,
        rankdir=rankdir,
        title=diagram.title,
        notes=notes,
        compare_label=compare[0] if compare else None,
    )
    picture["nodes"] = [n for n in picture["nodes"] if n["id"] in shown]
    picture["focus"], picture["depth"] = (
        (_resolve(diagram, focus), depth) if focus else (None, None)
    )
    policies = {p.node: p for p in solution.decisions}
    for node in picture["nodes"]:
        node["hidden_links"] = sum(
            1 for a, b in links if node["id"] in (a, b) and not {a, b} <= shown
        )
        node["kind"] = "decision" if diagram.is_decision(node["id"]) else "chance"
        if node["kind"] != "decision":
            continue
        policy = policies.get(node["id"])
        first = policy.rows[0] if policy is not None and len(policy.rows) == 1 else None
        node["best"] = first.best if first else evidence.do.get(node["id"])
        node["policy_rows"] = len(policy.rows) if policy else 0
        for state in node["states"]:
            state["expected_utility"] = first.expected_utility[state["name"]] if first else None
    expected = _expected(diagram, network, evidence)
    before = _expected(other_diagram, other_network, other.evidence) if other else {}
    picture["utilities"] = [
        {
            "id": u.id,
            "label": u.label,
            "kind": "utility",
            "description": u.description,
            "expected": expected[u.id],
            **({"compare": before[u.id], "change": expected[u.id] - before[u.id]} if other else {}),
        }
        for u in diagram.utilities
        if u.id in shown
    ]
    picture["edges"] = [
        {"source": a, "target": b, "cut": b in evidence.do and not diagram.is_decision(b)}
        for a, b in links
        if a in shown and b in shown
    ]
    picture["meu"] = solution.meu
    if other is not None:
        picture["meu_compare"] = other.meu
    return picture


def _links(diagram: Diagram) -> list[tuple[str, str]]:
    """Every arc: chance parents, informational arcs into decisions, arcs into utilities."""
    links = [
        (p, n.id)
        for n in diagram.network
        for p in (diagram.decision(n.id).parents if diagram.is_decision(n.id) else n.parents)
    ]
    return links + [(p, u.id) for u in diagram.utilities for p in u.parents]


def _resolve(diagram: Diagram, name: str) -> str:
    """A node of the diagram (an id or alias of a chance node or decision, or a utility's id)."""
    if any(u.id == name for u in diagram.utilities):
        return name
    return diagram.network.resolve(name)


def _around(
    diagram: Diagram, links: list[tuple[str, str]], focus: str | None, depth: int | None
) -> set[str]:
    """The nodes within `depth` links of `focus` in either direction (all without a focus)."""
    every = {*diagram.network.ids, *(u.id for u in diagram.utilities)}
    if focus is None:
        if depth is not None:
            raise BNError(
                f"{param('depth')} needs {param('focus')} NODE: the depth counts links from that node"
            )
        return every
    depth = 1 if depth is None else depth
    if depth < 0:
        raise BNError(f"depth must be 0 or more, not {depth}")
    seen = {_resolve(diagram, focus)}
    for _ in range(min(depth, len(every))):
        near = {b for a, b in links if a in seen} | {a for a, b in links if b in seen}
        if near <= seen:
            break
        seen |= near
    return seen


def _expected(diagram: Diagram, network: Any, evidence: Any) -> dict[str, float]:
    """Each utility's expected value in `network` (the decisions set) given `evidence`."""
    conditioned = condition(network, evidence)
    values = {}
    for u in diagram.utilities:
        joint = conditioned.joint(list(u.parents)) if u.parents else np.array(1.0)
        values[u.id] = float((joint * u.values).sum())
    return values


def decision_label(node: Mapping[str, Any]) -> str:
    """A rectangle: the decision's title, then each option with P(chosen) and its EU."""
    rows = [
        '<TR><TD COLSPAN="3" BGCOLOR="#dbeafe" CELLPADDING="4">'
        f"<B>{escape_html(node['label'])}</B></TD></TR>",
        '<TR><TD COLSPAN="3" BGCOLOR="#dbeafe" CELLPADDING="1"><FONT POINT-SIZE="8" '
        f'COLOR="#4b5563">decision · {escape_html(node["id"])}</FONT></TD></TR>',
    ]
    for state in node["states"]:
        name = escape_html(state["name"])
        eu = state.get("expected_utility")
        value = "" if eu is None else f"EU {eu:.4g}"
        if node.get("best") == state["name"]:
            name, value = f"<B>{name} (best)</B>", f"<B>{value}</B>"
        rows.append(
            f'<TR><TD ALIGN="LEFT">{name}</TD><TD ALIGN="RIGHT">{escape_html(percent(state["p"]))}'
            f'</TD><TD ALIGN="RIGHT">{value}</TD></TR>'
        )
    if node.get("best") is None and node.get("policy_rows"):
        rows.append(
            '<TR><TD COLSPAN="3"><FONT POINT-SIZE="8" COLOR="#6b7280"><I>best option depends on '
            f"what is known ({node['policy_rows']} cases: bn decide)</I></FONT></TD></TR>"
        )
    return (
        '<<TABLE BORDER="2" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2" COLOR="#1d4ed8" '
        'BGCOLOR="#ffffff">' + "".join(rows) + "</TABLE>>"
    )


def influence_dot(picture: Mapping[str, Any]) -> str:
    """DOT text for `influence_spec`'s picture."""
    import graphviz

    graph = graphviz.Digraph(
        "bn",
        graph_attr={
            "rankdir": picture["rankdir"],
            "bgcolor": "white",
            "fontname": FONT,
            "fontsize": "11",
            "labelloc": "t",
            "label": "<"
            + '<BR ALIGN="CENTER"/>'.join(
                [f"<B>{escape_html(picture['title'])}</B>", *map(escape_html, picture["notes"])]
            )
            + ">",
        },
        node_attr={"shape": "plain", "fontname": FONT, "fontsize": "10"},
        edge_attr={"color": "#5b6b7b", "arrowsize": "0.7"},
    )
    for node in picture["nodes"]:
        comparing = picture["compare"] is not None
        label = decision_label(node) if node["kind"] == "decision" else node_label(node, comparing)
        graph.node(node["id"], label=label, tooltip=graphviz.nohtml(escape_string(node["label"])))
    for u in picture["utilities"]:
        change = f" ({u['change']:+.4g})" if u.get("change") is not None else ""
        graph.node(
            u["id"],
            label=f"{u['label']}\nE = {u['expected']:.6g}{change}",
            shape="diamond",
            style="filled",
            fillcolor="#fef3c7",
            color="#b45309",
        )
    for edge in picture["edges"]:
        graph.edge(edge["source"], edge["target"])
    return str(graph.source)
