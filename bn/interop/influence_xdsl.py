"""Influence diagrams in GeNIe's XDSL: `<cpt>`, `<decision>` and `<utility>` nodes, written and read
by bn (pgmpy has no decision or utility nodes).

Tables are written in XDSL's order, which is bn's: the first parent varies slowest, the node's own
states fastest; a utility's values run over its parents the same way. Nodes are written parents first,
as GeNIe requires.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bn.errors import BNError, FileFormatError, param
from bn.files import DEFAULT_WAIT, write_atomic
from bn.influence import Decision, Diagram, Utility
from bn.model import Node
from bn.numbers import format_number


def diagram_xdsl(diagram: Diagram) -> str:
    """The XDSL text of an influence diagram, with labels as GeNIe names and a layout by depth."""
    import xml.dom.minidom as minidom
    import xml.etree.ElementTree as etree

    net = diagram.network
    root = etree.Element("smile", version="1.0", id=_xml_id(diagram.title), numsamples="10000")
    nodes = etree.SubElement(root, "nodes")
    genie = etree.SubElement(etree.SubElement(root, "extensions"), "genie", version="1.0")
    genie.set("name", diagram.title)
    parents = {n.id: n.parents for n in net} | {d.id: d.parents for d in diagram.decisions}
    depth: dict[str, int] = {}
    for name in _order(parents):
        depth[name] = 1 + max((depth[p] for p in parents[name]), default=-1)
        if diagram.is_decision(name):
            element = etree.SubElement(nodes, "decision", id=name)
        else:
            element = etree.SubElement(nodes, "cpt", id=name)
        for state in net[name].states:
            etree.SubElement(element, "state", id=state)
        if parents[name]:
            etree.SubElement(element, "parents").text = " ".join(parents[name])
        if not diagram.is_decision(name):
            values = net[name].table.reshape(-1)
            etree.SubElement(element, "probabilities").text = " ".join(map(format_number, values))
    for u in diagram.utilities:
        depth[u.id] = 1 + max((depth[p] for p in u.parents), default=-1)
        element = etree.SubElement(nodes, "utility", id=u.id)
        etree.SubElement(element, "parents").text = " ".join(u.parents)
        etree.SubElement(element, "utilities").text = " ".join(
            map(format_number, u.values.reshape(-1))
        )
    column: dict[int, int] = {}
    labels = {n.id: n.label for n in net} | {u.id: u.label for u in diagram.utilities}
    for name, row in depth.items():
        x, y = 40 + 160 * column.get(row, 0), 40 + 100 * row
        column[row] = column.get(row, 0) + 1
        node = etree.SubElement(genie, "node", id=name)
        etree.SubElement(node, "name").text = labels[name]
        etree.SubElement(node, "position").text = f"{x} {y} {x + 120} {y + 48}"
    pretty = minidom.parseString(etree.tostring(root, encoding="utf-8"))
    return pretty.toprettyxml(indent="    ", encoding="utf-8").decode("utf-8")


def read_diagram_xdsl(text: str, file: str) -> Diagram:
    """An influence diagram from XDSL text (`<cpt>`, `<decision>`, `<utility>` nodes)."""
    import xml.etree.ElementTree as etree

    try:
        root = etree.fromstring(text)
    except etree.ParseError as error:
        raise FileFormatError(f"{file}: not valid XML ({error})") from None
    labels = {
        n.get("id", ""): (n.findtext("name") or "").strip()
        for n in root.iterfind("extensions/genie/node")
    }
    states: dict[str, tuple[str, ...]] = {}
    chance: list[Node] = []
    decisions: list[Decision] = []
    utilities: list[Utility] = []
    for element in root.iterfind("nodes/*"):
        name = element.get("id", "")
        parents = tuple((element.findtext("parents") or "").split())
        unknown = [p for p in parents if p not in states]
        if unknown and element.tag != "utility":
            raise FileFormatError(f"{file}: {name} names parents defined after it: {unknown}")
        shape = tuple(len(states[p]) for p in parents if p in states)
        label = labels.get(name, "")
        if element.tag in ("cpt", "decision"):
            own = tuple(s.get("id", "") for s in element.iterfind("state"))
            states[name] = own
            if element.tag == "decision":
                decisions.append(Decision(name, own, parents, label=label or name))
                continue
            values = _numbers(element.findtext("probabilities"), file, name)
            table = np.array(values).reshape(*shape, len(own))
            chance.append(Node(name, own, parents, table, label=label))
        elif element.tag == "utility":
            values = _numbers(element.findtext("utilities"), file, name)
            table = np.array(values).reshape(shape)
            utilities.append(Utility(name, parents, table, label=label))
        else:
            raise FileFormatError(
                f"{file}: {name} is a <{element.tag}> node, which bn does not read"
            )
    genie = root.find("extensions/genie")
    title = (genie.get("name") if genie is not None else None) or root.get("id", "")
    return Diagram.build(chance, _decision_order(decisions, chance), utilities, title=title)


def _numbers(text: str | None, file: str, name: str) -> list[float]:
    try:
        values = [float(v) for v in (text or "").split()]
    except ValueError:
        raise FileFormatError(f"{file}: {name} has a value that is not a number") from None
    if not all(math.isfinite(v) for v in values):
        raise FileFormatError(f"{file}: {name} has a value that is not finite")
    return values


def _order(parents: dict[str, tuple[str, ...]]) -> list[str]:
    done: list[str] = []

    def visit(name: str) -> None:
        if name not in done:
            for p in parents[name]:
                visit(p)
            done.append(name)

    for name in parents:
        visit(name)
    return done


def _decision_order(decisions: list[Decision], chance: list[Node]) -> list[Decision]:
    """Decisions in the order the graph gives them (parents first)."""
    parents = {n.id: n.parents for n in chance} | {d.id: d.parents for d in decisions}
    order = _order(parents)
    return sorted(decisions, key=lambda d: order.index(d.id))


def _xml_id(title: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in title).strip("_")
    return cleaned[:40] or "Network"


def same_diagram(a: Diagram, b: Diagram, tolerance: float = 1e-12) -> str:
    """'' when two diagrams have the same nodes, states, parents and numbers; else the first
    difference."""
    if a.order != b.order or {u.id for u in a.utilities} != {u.id for u in b.utilities}:
        return "decisions or utilities differ"
    for node in a.network:
        other = b.network[node.id]
        if node.states != other.states:
            return f"states of {node.id} differ"
        if a.is_decision(node.id):
            if a.decision(node.id).parents != b.decision(node.id).parents:
                return f"informational parents of {node.id} differ"
        elif node.parents != other.parents or not np.allclose(
            node.table, other.table, atol=tolerance, rtol=0
        ):
            return f"table of {node.id} differs"
    theirs: dict[str, Any] = {u.id: u for u in b.utilities}
    for u in a.utilities:
        if u.parents != theirs[u.id].parents or not np.allclose(
            u.values, theirs[u.id].values, atol=tolerance, rtol=0
        ):
            return f"utility {u.id} differs"
    return ""


def export_diagram(
    diagram: Diagram, path: str | Path, force: bool = False, fmt: str | None = None
) -> int:
    """Write an influence diagram as GeNIe XDSL, pyAgrum BIFXML or Hugin NET (by the file's
    extension) once reading the text back gives it again; the number of nodes written."""
    path = Path(path)
    suffix = f".{fmt}" if fmt else path.suffix.lower()
    if suffix not in DIAGRAM_FORMATS:
        raise BNError(
            f"{path.name}: a model with decisions and utilities is exported as GeNIe XDSL, "
            f"pyAgrum's BIFXML or Hugin NET (a {param('to')} file ending in .xdsl, .bifxml or "
            ".net); the other formats have no decision nodes"
        )
    if path.is_dir():
        raise BNError(f"{path} is a directory; {param('to')} names a file")
    if path.exists() and not force:
        raise BNError(f"{path} already exists; use {param('force')} to replace it")
    write, read = _diagram_io(suffix)
    text = write(diagram)
    back = read(text, path.name)
    difference = same_diagram(diagram, back) or _label_difference(diagram, back)
    if difference:
        raise BNError(
            f"the {DIAGRAM_FORMATS[suffix]} text does not read back as the model ({difference}): "
            "not written"
        )
    write_atomic(path, text)
    return len(diagram.network) + len(diagram.utilities)


DIAGRAM_FORMATS = {".xdsl": "XDSL", ".bifxml": "BIFXML", ".net": "NET"}


def _diagram_io(suffix: str) -> tuple[Callable[[Diagram], str], Callable[[str, str], Diagram]]:
    """The writer and reader of influence diagrams for a file extension."""
    if suffix == ".bifxml":
        from bn.interop.influence_bifxml import diagram_bifxml, read_diagram_bifxml

        return diagram_bifxml, read_diagram_bifxml
    if suffix == ".net":
        from bn.interop.influence_net import diagram_net, read_diagram_net

        return diagram_net, read_diagram_net
    return diagram_xdsl, read_diagram_xdsl


def _label_difference(a: Diagram, b: Diagram) -> str:
    """The first node whose label `b` lost (BIFXML carries no labels: '' there)."""
    if all(n.label == n.id for n in b.network) and all(u.label == u.id for u in b.utilities):
        return ""
    theirs = {n.id: n.label for n in b.network} | {u.id: u.label for u in b.utilities}
    for name, label in (
        {n.id: n.label for n in a.network} | {u.id: u.label for u in a.utilities}
    ).items():
        if theirs[name] not in (label, " ".join(label.split())):
            return f"the label of {name} reads back as {theirs[name]!r}"
    return ""


def diagram_files(diagram: Diagram) -> dict[str, str]:
    """A diagram as the files of a model directory: chance tables, decision headers, utility
    tables and a model.toml that says which node is which kind."""
    from bn.csvfiles import csv_line, table_text

    net = diagram.network
    files: dict[str, str] = {}
    toml = [f"[model]\ntitle = {_toml_string(diagram.title)}\n"]
    for node in net:
        if diagram.is_decision(node.id):
            d = diagram.decision(node.id)
            files[f"{d.id}.csv"] = csv_line([*d.parents, *(f"{d.id}={o}" for o in d.options)])
            toml.append(f'\n[nodes.{d.id}]\nkind = "decision"\nlabel = {_toml_string(d.label)}\n')
        else:
            files[f"{node.id}.csv"] = table_text(node)
            if node.label != node.id:
                toml.append(f"\n[nodes.{node.id}]\nlabel = {_toml_string(node.label)}\n")
    for u in diagram.utilities:
        lines = [csv_line([*u.parents, "utility"])]
        for combo in itertools.product(*(range(n) for n in u.values.shape)):
            states = [net[p].states[i] for p, i in zip(u.parents, combo, strict=True)]
            lines.append(csv_line([*states, format_number(float(u.values[combo]))]))
        files[f"{u.id}.csv"] = "".join(lines)
        toml.append(f'\n[nodes.{u.id}]\nkind = "utility"\nlabel = {_toml_string(u.label)}\n')
    files["model.toml"] = "".join(toml)
    return files


def _toml_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def holds_decisions(path: Path, fmt: str | None = None) -> bool:
    """Whether an XDSL, BIFXML or NET file has decision or utility nodes (a look at its text)."""
    import re

    suffix = f".{fmt}" if fmt else path.suffix.lower()
    if suffix not in DIAGRAM_FORMATS or not path.is_file():
        return False
    data = path.read_bytes()
    if suffix == ".xdsl":
        return b"<decision " in data or b"<utility " in data
    if suffix == ".net":
        return (
            re.search(rb"(?m)^\s*(discrete\s+)?(decision|utility)\s+\w+\s*(\{|$)", data) is not None
        )
    return b'TYPE="decision"' in data or b'TYPE="utility"' in data


def import_diagram(
    path: str | Path,
    out: str | Path,
    force: bool = False,
    fmt: str | None = None,
    wait: float = DEFAULT_WAIT,
) -> Diagram:
    """An XDSL, BIFXML or NET influence diagram as a model directory, checked (and compared)
    before it is moved into place (an existing one replaced only with `force`, as an edit); the
    diagram as read back from the directory."""
    import shutil

    from bn.interop import _check_target, _sibling
    from bn.interop.scan import decode
    from bn.journal import replace_directory
    from bn.validate import check_diagram

    path, out = Path(path), Path(out)
    _check_target(out, force, path)
    suffix = f".{fmt}" if fmt else path.suffix.lower()
    data = path.read_bytes()
    text = decode(data) if suffix == ".net" else data.decode("utf-8", errors="strict")
    diagram = _diagram_io(suffix)[1](text, path.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = _sibling(out, ".tmp")
    try:
        for name, content in diagram_files(diagram).items():
            (temp / name).write_text(content, encoding="utf-8")
        back, problems = check_diagram(temp)
        if back is None:
            raise BNError(
                f"{path.name}: the model read from it is not valid: "
                + "; ".join(p.message for p in problems[:3])
            )
        difference = same_diagram(diagram, back)
        if difference:
            raise BNError(f"{path.name}: the written model differs ({difference})")
        replace_directory(temp, out, wait)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return diagram
