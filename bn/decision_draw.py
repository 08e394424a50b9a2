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
from bn.escape import escape_html, escape_string
from bn.influence import Diagram


def influence_spec(diagram: Diagram, solution: Solution, rankdir: str = "TB") -> dict[str, Any]:
    """The picture as data: `spec`'s nodes and edges, decisions and utilities described."""
    evidence = solution.evidence
    network = policy_network(diagram, solution)
    picture = spec(
        network,
        posteriors(network, evidence),
        evidence,
        rankdir=rankdir,
        title=diagram.title,
        notes=[
            f"maximum expected utility: {solution.meu:.6g} (under the optimal policy)",
            *(["given: " + "; ".join(evidence.describe())] if evidence else []),
        ],
    )
    policies = {p.node: p for p in solution.decisions}
    for node in picture["nodes"]:
        node["kind"] = "decision" if diagram.is_decision(node["id"]) else "chance"
        if node["kind"] != "decision":
            continue
        policy = policies.get(node["id"])
        first = policy.rows[0] if policy is not None and len(policy.rows) == 1 else None
        node["best"] = first.best if first else evidence.do.get(node["id"])
        node["policy_rows"] = len(policy.rows) if policy else 0
        for state in node["states"]:
            state["expected_utility"] = first.expected_utility[state["name"]] if first else None
    conditioned = condition(network, evidence)
    utilities = []
    for u in diagram.utilities:
        joint = conditioned.joint(list(u.parents)) if u.parents else np.array(1.0)
        utilities.append(
            {
                "id": u.id,
                "label": u.label,
                "kind": "utility",
                "description": u.description,
                "expected": float((joint * u.values).sum()),
            }
        )
    picture["utilities"] = utilities
    edges = [
        {"source": p, "target": n.id, "cut": n.id in evidence.do and not diagram.is_decision(n.id)}
        for n in diagram.network
        for p in (diagram.decision(n.id).parents if diagram.is_decision(n.id) else n.parents)
    ]
    edges += [
        {"source": p, "target": u.id, "cut": False} for u in diagram.utilities for p in u.parents
    ]
    picture["edges"] = edges
    picture["meu"] = solution.meu
    return picture


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
        label = decision_label(node) if node["kind"] == "decision" else node_label(node, False)
        graph.node(node["id"], label=label, tooltip=graphviz.nohtml(escape_string(node["label"])))
    for u in picture["utilities"]:
        graph.node(
            u["id"],
            label=f"{u['label']}\nE = {u['expected']:.6g}",
            shape="diamond",
            style="filled",
            fillcolor="#fef3c7",
            color="#b45309",
        )
    for edge in picture["edges"]:
        graph.edge(edge["source"], edge["target"])
    return str(graph.source)
