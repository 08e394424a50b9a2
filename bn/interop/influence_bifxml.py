"""Influence diagrams in pyAgrum's BIFXML (BIF 0.3 with TYPE="decision" and TYPE="utility"
variables), written and read by bn.

A table lists its node's GIVEN parents; the first parent varies slowest and the node's own states
fastest, as in bn. A decision's DEFINITION lists its informational parents and no TABLE; a
utility's TABLE runs over its parents.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np

from bn.errors import FileFormatError
from bn.influence import Decision, Diagram, Utility
from bn.interop.influence_xdsl import _decision_order, _numbers
from bn.model import Node
from bn.numbers import format_number


def diagram_bifxml(diagram: Diagram) -> str:
    """The BIFXML text of an influence diagram, as pyAgrum's `loadBIFXML` reads it."""
    net = diagram.network
    out = ['<?xml version="1.0" ?>\n<BIF VERSION="0.3">\n<NETWORK>\n']
    out.append(f"<NAME>{escape(diagram.title)}</NAME>\n")
    for node in net:
        kind = "decision" if diagram.is_decision(node.id) else "nature"
        states = "|".join(node.states)
        out.append(f'<VARIABLE TYPE="{kind}">\n\t<NAME>{escape(node.id)}</NAME>\n')
        out.append(f"\t<PROPERTY>fast = {escape(node.id)}{{{escape(states)}}}</PROPERTY>\n")
        out.extend(f"\t<OUTCOME>{escape(s)}</OUTCOME>\n" for s in node.states)
        out.append("</VARIABLE>\n")
    for u in diagram.utilities:
        out.append(f'<VARIABLE TYPE="utility">\n\t<NAME>{escape(u.id)}</NAME>\n')
        out.append(f"\t<PROPERTY>fast = {escape(u.id)}{{0}}</PROPERTY>\n")
        out.append("\t<OUTCOME>0</OUTCOME>\n</VARIABLE>\n")
    for node in net:
        out.append(f"<DEFINITION>\n\t<FOR>{escape(node.id)}</FOR>\n")
        decision = diagram.is_decision(node.id)
        parents = diagram.decision(node.id).parents if decision else node.parents
        out.extend(f"\t<GIVEN>{escape(p)}</GIVEN>\n" for p in parents)
        if not decision:
            values = " ".join(map(format_number, node.table.reshape(-1)))
            out.append(f"\t<TABLE>{values}</TABLE>\n")
        out.append("</DEFINITION>\n")
    for u in diagram.utilities:
        out.append(f"<DEFINITION>\n\t<FOR>{escape(u.id)}</FOR>\n")
        out.extend(f"\t<GIVEN>{escape(p)}</GIVEN>\n" for p in u.parents)
        out.append(f"\t<TABLE>{' '.join(map(format_number, u.values.reshape(-1)))}</TABLE>\n")
        out.append("</DEFINITION>\n")
    out.append("</NETWORK>\n</BIF>\n")
    return "".join(out)


def read_diagram_bifxml(text: str, file: str) -> Diagram:
    """An influence diagram from pyAgrum's BIFXML text."""
    import xml.etree.ElementTree as etree

    try:
        root = etree.fromstring(text)
    except etree.ParseError as error:
        raise FileFormatError(f"{file}: not valid XML ({error})") from None
    network = root.find("NETWORK")
    if network is None:
        raise FileFormatError(f"{file}: no <NETWORK>: not a BIFXML file")
    kinds: dict[str, str] = {}
    states: dict[str, tuple[str, ...]] = {}
    for var in network.iterfind("VARIABLE"):
        name = (var.findtext("NAME") or "").strip()
        kinds[name] = var.get("TYPE", "nature")
        states[name] = tuple((o.text or "").strip() for o in var.iterfind("OUTCOME"))
    chance: list[Node] = []
    decisions: list[Decision] = []
    utilities: list[Utility] = []
    for definition in network.iterfind("DEFINITION"):
        name = (definition.findtext("FOR") or "").strip()
        if name not in kinds:
            raise FileFormatError(f"{file}: a DEFINITION for {name!r}, which no VARIABLE declares")
        parents = tuple((g.text or "").strip() for g in definition.iterfind("GIVEN"))
        unknown = [p for p in parents if p not in states]
        if unknown:
            raise FileFormatError(f"{file}: {name} is given {unknown}, which no VARIABLE declares")
        shape = tuple(len(states[p]) for p in parents)
        if kinds[name] == "decision":
            decisions.append(Decision(name, states[name], parents))
            continue
        values = np.array(_numbers(definition.findtext("TABLE"), file, name))
        if kinds[name] == "utility":
            utilities.append(Utility(name, parents, values.reshape(shape)))
        else:
            table = values.reshape(*shape, len(states[name]))
            sums = table.sum(axis=-1, keepdims=True)
            if np.all(np.abs(sums - 1) <= 1e-3):  # rows rounded in the file, as bn import does
                table = table / sums
            chance.append(Node(name, states[name], parents, table))
    defined = {n.id for n in chance} | {d.id for d in decisions} | {u.id for u in utilities}
    for name, kind in kinds.items():
        if name not in defined:
            if kind != "decision":
                raise FileFormatError(f"{file}: {name} has no DEFINITION (no table)")
            decisions.append(Decision(name, states[name], ()))  # pyAgrum omits a root decision's
    title = (network.findtext("NAME") or "").strip()
    return Diagram.build(chance, _decision_order(decisions, chance), utilities, title=title)
