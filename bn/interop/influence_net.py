"""Influence diagrams in Hugin's NET language: `node`, `decision` and `utility` blocks, and one
`potential` per node, written and read by bn (pgmpy's NET reader has no decision or utility nodes).

The layout is that of a chance node's potential, which `bn.interop.net` reads: in `potential (X |
A B) { data = ...; }` the first parent varies slowest and X's own states fastest, one level of
parentheses per parent. A decision's potential lists its informational parents and has no data
(`potential (drill | test seismic) { }`); a utility's `data` runs over its parents the same way,
one number per combination (`potential (payoff | drill oil) { data = (( 0 0 0 ) ( -70 50 200 )); }`).

>>> from bn.influence import Decision, Diagram, Utility
>>> from bn.model import Node
>>> rain = Node("rain", ("no", "yes"), (), np.array([0.7, 0.3]))
>>> take = Decision("umbrella", ("leave", "take"), ())
>>> comfort = Utility("comfort", ("rain", "umbrella"), np.array([[100.0, 80.0], [0.0, 70.0]]))
>>> text = diagram_net(Diagram.build((rain,), (take,), (comfort,), title="rain"))
>>> print(text[text.index("potential (comfort"):].strip())
potential (comfort | rain umbrella)
{
    data = (( 100 80 )
            ( 0 70 ));
}
>>> same_diagram(read_diagram_net(text, "rain.net"), Diagram.build((rain,), (take,), (comfort,)))
''
"""

from __future__ import annotations

import math
import re

import numpy as np

from bn.influence import Decision, Diagram, Utility
from bn.interop.convert import fail
from bn.interop.influence_xdsl import _decision_order, same_diagram
from bn.interop.net import _LABEL, _STATES
from bn.interop.scan import STRING, blocks, line_of, numbers, strip_comments
from bn.model import Node
from bn.numbers import format_number

__all__ = ["diagram_net", "read_diagram_net", "same_diagram"]

_KINDS = {"node": "chance", "decision": "decision", "utility": "utility"}


def _string(text: str) -> str:
    """A NET string literal: one line, with `\\` and `"` escaped."""
    flat = re.sub(r"[\n\r\t]", " ", text)
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unstring(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def _data(values: np.ndarray, indent: int) -> str:
    """Nested parentheses, one level per axis, the last axis on one line."""
    if values.ndim <= 1:
        return "( " + " ".join(format_number(float(v)) for v in values.reshape(-1)) + " )"
    inner = [_data(sub, indent + 1) for sub in values]
    return "(" + ("\n" + " " * (indent + 1)).join(inner) + ")"


def _potential(name: str, parents: tuple[str, ...], values: np.ndarray | None) -> str:
    given = f" | {' '.join(parents)}" if parents else ""
    lines = [f"potential ({name}{given})", "{"]
    if values is not None:
        lines.append(f"    data = {_data(values, 11)};")
    return "\n".join([*lines, "}", ""])


def diagram_net(diagram: Diagram) -> str:
    """The NET text of an influence diagram; labels go in `label`, the title in the net's `name`."""
    net = diagram.network
    out = ["net", "{", f"    name = {_string(diagram.title)};", "    node_size = (80 40);", "}", ""]
    for node in net:
        kind = "decision" if diagram.is_decision(node.id) else "node"
        states = " ".join(_string(s) for s in node.states)
        out += [f"{kind} {node.id}", "{", f"    label = {_string(node.label)};"]
        out += [f"    states = ({states});", "}", ""]
    for u in diagram.utilities:
        out += [f"utility {u.id}", "{", f"    label = {_string(u.label)};", "}", ""]
    for node in net:
        if diagram.is_decision(node.id):
            out.append(_potential(node.id, diagram.decision(node.id).parents, None))
        else:
            out.append(_potential(node.id, node.parents, node.table))
    for u in diagram.utilities:
        out.append(_potential(u.id, u.parents, u.values))
    return "\n".join(out)


def read_diagram_net(text: str, file: str) -> Diagram:
    """An influence diagram from Hugin NET text; an error naming the file and line otherwise."""
    text = strip_comments(text.replace("\r\n", "\n"), "net")
    title = ""
    kinds: dict[str, str] = {}
    states: dict[str, tuple[str, ...]] = {}
    labels: dict[str, str] = {}
    lines: dict[str, int] = {}
    potentials: dict[str, tuple[tuple[str, ...], list[float] | None, int, int]] = {}
    for block in blocks(text, file, "NET"):
        words = re.sub(r"([()|])", r" \1 ", block.header).split() or [""]
        if words[0] == "discrete":
            words = words[1:] or [""]
        if words[0] == "net":
            found = re.search(rf"\bname\s*=\s*({STRING})", block.body)
            title = _unstring(found.group(1)) if found else ""
        elif words[0] in _KINDS and len(words) == 2:
            name = words[1]
            if name in kinds:
                raise fail(
                    file, block.line, f"{name} is declared twice (first on line {lines[name]})"
                )
            kinds[name], lines[name] = _KINDS[words[0]], block.line
            if label := _LABEL.search(block.body):
                labels[name] = _unstring(label.group(1))
            if words[0] == "utility":
                continue
            found = _STATES.search(block.body)
            if found is None:
                raise fail(file, block.line, f"{words[0]} {name} has no 'states = (...);'")
            listed = re.findall(STRING, found.group(1))
            states[name] = tuple(_unstring(s) for s in listed) or tuple(found.group(1).split())
        elif words[0] == "potential" and "(" in words and ")" in words:
            inside = words[words.index("(") + 1 : words.index(")")]
            head, parents = inside[0] if inside else "", inside[2:] if "|" in inside else []
            if not inside or (len(inside) > 1 and inside[1] != "|"):
                raise fail(file, block.line, f"potential ({' '.join(inside)}): one node before '|'")
            found = re.search(r"\bdata\s*=\s*(.*?);", block.body, re.S)
            line = line_of(text, block.offset + found.start(1)) if found else block.line
            values = numbers(found.group(1), file, line) if found else None
            potentials[head] = (tuple(parents), values, block.line, line)
        else:
            what = " ".join(words[:2])
            raise fail(
                file,
                block.line,
                f"{what!r}: bn reads discrete chance, decision and utility nodes only",
                "continuous and function nodes, and object-oriented classes, have no place here",
            )
    return _diagram(file, title, kinds, states, labels, lines, potentials)


def _diagram(
    file: str,
    title: str,
    kinds: dict[str, str],
    states: dict[str, tuple[str, ...]],
    labels: dict[str, str],
    lines: dict[str, int],
    potentials: dict[str, tuple[tuple[str, ...], list[float] | None, int, int]],
) -> Diagram:
    """The diagram the declarations and potentials describe, each table checked."""
    chance: list[Node] = []
    decisions: list[Decision] = []
    utilities: list[Utility] = []
    for head in potentials:
        if head not in kinds:
            raise fail(file, potentials[head][2], f"a potential for {head}, which is not declared")
    for name, kind in kinds.items():
        parents, values, header, line = potentials.get(name, ((), None, lines[name], lines[name]))
        unknown = [p for p in parents if p not in states]
        if unknown:
            what = "utilities" if any(kinds.get(p) == "utility" for p in unknown) else "undeclared"
            raise fail(file, header, f"{name} has parent(s) {unknown}: {what}")
        label = labels.get(name, "") or name
        if kind == "decision":
            decisions.append(Decision(name, states[name], parents, label=label))
            continue
        shape = tuple(len(states[p]) for p in parents)
        own = (len(states[name]),) if kind == "chance" else ()
        if values is None:
            raise fail(file, header, f"{name} has no 'data = (...);' in its potential")
        if len(values) != math.prod(shape + own):
            raise fail(
                file,
                line,
                f"{name}: {len(values)} numbers, but its parents {list(parents)} and states need "
                f"{math.prod(shape + own)}",
            )
        table = np.array(values, dtype=float).reshape(shape + own)
        if kind == "utility":
            utilities.append(Utility(name, parents, table, label=label))
            continue
        sums = table.sum(axis=-1, keepdims=True)
        if np.any(np.abs(sums - 1) > 1e-3) or np.any(table < 0):
            raise fail(
                file, line, f"{name}: a row of its table does not sum to 1 (or has a negative)"
            )
        if np.any(np.abs(sums - 1) > 1e-12):  # rounded in the file, as `bn import` divides them
            table = table / sums
        chance.append(Node(name, states[name], parents, table, label=label))
    order = _decision_order(decisions, chance)
    return Diagram.build(chance, order, utilities, title=title)
