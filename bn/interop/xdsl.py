"""GeNIe's XDSL: read (checked, deterministic nodes as tables) and laid out for GeNIe on export.

pgmpy's XDSLReader reads <cpt> nodes only and needs single spaces between numbers; its writer
places nodes at random and names them by id.
"""

from __future__ import annotations

import re
from typing import Any

from bn.csvfiles import ID_PATTERN
from bn.interop.convert import Parsed, fail, failure, structure_problems, unsupported
from bn.interop.noisymax import expand_elements, noisy_warnings, read_noisymax, write_noisymax
from bn.interop.pgmpy_fixes import read_variables
from bn.interop.scan import xml_line, xml_root
from bn.model import Model

_UNSUPPORTED = {
    "equation": "a continuous (equation) node",
    "decision": "a decision node",
    "utility": "a utility node",
    "mau": "a multi-attribute utility node",
    "noisyadder": "a noisy-adder node",
}


def read_xdsl(data: bytes, file: str) -> Parsed:
    """An XDSL file's network; `FileFormatError` naming the line of each problem."""
    import xml.etree.ElementTree as etree

    root, text = xml_root(data, file, "XDSL")
    nodes = root.find("nodes")
    if root.tag != "smile" or nodes is None:
        raise fail(file, None, "no <smile><nodes>: not an XDSL file")
    lines: dict[str, int | None] = {}
    parents: dict[str, list[str]] = {}
    noisy = []
    for element in nodes:
        name = element.get("id", "")
        lines[name] = xml_line(text, rf"<{element.tag}\s[^>]*id=\"{re.escape(name)}\"")
        if element.tag == "deterministic":
            _deterministic_to_cpt(element, file, lines[name])
        elif element.tag == "noisymax":
            noisy.append(read_noisymax(element, file, lines[name]))
        elif element.tag != "cpt":
            what = _UNSUPPORTED.get(element.tag, f"a <{element.tag}> node")
            hint = "bn reads <cpt> and <deterministic> nodes"
            raise unsupported(file, lines[name], name, what, hint)
        if element.find("state") is None:
            raise fail(file, lines[name], f"node {name} has no states (no <state>)")
        parents[name] = (element.findtext("parents") or "").split()
        if element.tag == "noisymax":
            continue  # expanded below, once every parent is known
        probabilities = element.find("probabilities")
        if probabilities is None:
            raise fail(file, lines[name], f"{name} has no <probabilities>")
        probabilities.text = " ".join((probabilities.text or "").split())  # pgmpy: single spaces
    problems = structure_problems(file, parents, parents, lines)
    if problems:
        raise failure(file, "XDSL", problems)
    expand_elements(noisy, {e.get("id", ""): len(e.findall("state")) for e in nodes}, file)
    labels = {
        node.get("id", ""): (node.findtext("name") or "").strip()
        for node in root.iterfind("extensions/genie//node")
    }
    source = etree.tostring(root, encoding="unicode")
    variables = read_variables("xdsl", source, file, list(parents), lines, labels)
    return Parsed(root.get("id", ""), variables, forms=noisy)


def _deterministic_to_cpt(element: Any, file: str, line: int | None) -> None:
    """A GeNIe deterministic node as its 0/1 table (pgmpy reads <cpt> only)."""
    import xml.etree.ElementTree as etree

    states = [s.get("id", "") for s in element.findall("state")]
    resulting = (element.findtext("resultingstates") or "").split()
    if not resulting or any(s not in states for s in resulting):
        raise fail(file, line, f"{element.get('id')}: resulting states {resulting} unknown")
    element.tag = "cpt"
    for child in element.findall("resultingstates"):
        element.remove(child)
    rows = (" ".join("1" if s == r else "0" for s in states) for r in resulting)
    etree.SubElement(element, "probabilities").text = " ".join(rows)


def xdsl_text(root: Any, model: Model) -> str:
    """The text of pgmpy's XDSL tree for `model`, with GeNIe's names and layout filled in."""
    import xml.dom.minidom as minidom
    import xml.etree.ElementTree as etree

    _annotate(root, model)
    write_noisymax(root, model)
    pretty = minidom.parseString(etree.tostring(root, encoding="utf-8"))
    return pretty.toprettyxml(indent="    ", encoding="utf-8").decode("utf-8")


def _annotate(root: Any, model: Model) -> None:
    """GeNIe shows bn's labels as names, on a grid by depth (pgmpy places nodes at random)."""
    depth: dict[str, int] = {}
    for node in model:  # parents first
        depth[node.id] = 1 + max((depth[p] for p in node.parents), default=-1)
    column: dict[int, int] = {}
    for element in root.iterfind("extensions/genie/node"):
        node = model[element.get("id")]
        row = depth[node.id]
        x, y = 40 + 160 * column.get(row, 0), 40 + 100 * row
        column[row] = column.get(row, 0) + 1
        element.find("name").text = node.label
        element.find("position").text = f"{x} {y} {x + 120} {y + 48}"


def genie_warnings(model: Model) -> tuple[str, ...]:
    """What GeNIe will refuse in an XDSL file that pgmpy reads: states that are not ids."""
    odd = sorted({s for n in model for s in n.states if not ID_PATTERN.match(s)})
    noisy = tuple(noisy_warnings(model))
    if not odd:
        return noisy
    shown = ", ".join(odd[:8]) + (" ..." if len(odd) > 8 else "")
    return (
        f"GeNIe wants state ids made of letters, digits and _; these will not load: {shown}",
        *noisy,
    )
