"""The pgmpy bridge: its readers and writers, with the pitfalls measured on pgmpy 1.1.2 fixed.

The only module of bn that imports pgmpy, inside the functions that need it. Fixed here: the BIF
reader spends 1.2 s building a grammar it does not use, the NET reader rescans the file once per
node, the XMLBIF writer rewrites state names (`<5` -> `_5`), the NET writer rounds to 8 decimals.
The readers' other gaps are closed before pgmpy sees a file (bif.py, net.py, xmlbif.py, xdsl.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from bn.interop.convert import Variable, fail, valid_id
from bn.model import Model
from bn.numbers import format_number

if TYPE_CHECKING:
    from bn.interop import Format


def read_variables(
    kind: str,
    source: str,
    file: str,
    names: Sequence[str],
    lines: Mapping[str, int | None],
    labels: Mapping[str, str],
) -> list[Variable]:
    """The variables `names` (in that order) of a file's text, as pgmpy reads it.

    Failures pgmpy hits become `FileFormatError`.
    """
    import xml.etree.ElementTree as etree

    from pyparsing import ParseBaseException

    try:
        network = _readers()[kind](string=source).get_model()
    # pgmpy's readers raise whatever their parsing hits on a malformed file
    except (ParseBaseException, etree.ParseError, ValueError, KeyError, IndexError,
            AttributeError, TypeError, ArithmeticError) as error:  # fmt: skip
        message = str(error).splitlines()[0] if str(error) else repr(error)
        raise fail(
            file,
            getattr(error, "lineno", None),
            f"pgmpy cannot read this file: {message}",
            f"is the {kind.upper()} file truncated or hand-edited?",
        ) from error
    variables = []
    for name in names:
        cpd = network.get_cpds(name)
        if cpd is None:  # pgmpy skips a table it cannot parse
            raise fail(
                file,
                lines.get(name),
                f"pgmpy cannot read the probability table of {name}",
                f"is the {kind.upper()} file truncated or hand-edited?",
            )
        variables.append(
            Variable(
                name=name,
                states=tuple(str(s) for s in cpd.state_names[name]),
                parents=tuple(str(p) for p in cpd.variables[1:]),
                table=np.moveaxis(np.asarray(cpd.values, dtype=float), 0, -1),
                label=labels.get(name, ""),
                line=lines.get(name),
            )
        )
    return variables


def _readers() -> dict[str, Any]:
    import pyparsing as pp
    from pgmpy.readwrite import BIFReader, NETReader, XDSLReader, XMLBIFReader

    class FastBIFReader(BIFReader):  # type: ignore[misc]
        """pgmpy's BIFReader with its grammar built from ASCII word characters.

        pgmpy builds two words from `pyparsing.unicode.alphanums` (1.2 s per process) for
        expressions its reader never uses: it parses with regular expressions, the variable name
        expression and `cpd_expr`, which are the same here.
        """

        def get_variable_grammar(self) -> Any:
            name = pp.Regex(r"[^{]+").set_parse_action(lambda t: t[0].strip())
            name_expr = pp.Suppress("variable") + name + pp.Suppress("{")
            state = pp.Regex(r"[^,};]+").set_parse_action(lambda t: t[0].strip())
            state_expr = (
                pp.Suppress("type" + pp.Word(pp.alphanums + "_-.") + "[" + pp.Word(pp.nums))
                + pp.Suppress("]" + pp.Literal("{"))
                + pp.Group(state + pp.ZeroOrMore(pp.Suppress(",") + state))
                + pp.Suppress("}" + pp.Literal(";"))
            )
            property_expr = pp.Suppress("property") + pp.CharsNotIn(";") + pp.Suppress(";")
            return name_expr, state_expr, property_expr

        def get_probability_grammar(self) -> Any:
            word = pp.Word(pp.alphanums + "-_.") + pp.Suppress(pp.Optional("|"))
            word += pp.Suppress(pp.Optional(","))
            number = pp.Word(pp.nums + "-+eE.") + pp.Suppress(pp.Optional(","))
            probability_expr = pp.Suppress("probability" + pp.Literal("(")) + pp.OneOrMore(word)
            state = pp.Regex(r"[^,)]+").set_parse_action(lambda t: t[0].strip())
            given = pp.Suppress("(") + state + pp.ZeroOrMore(pp.Suppress(",") + state)
            head = given + pp.Suppress(")") | pp.Suppress("table") | pp.Suppress("default")
            return probability_expr + pp.Suppress(")"), head + pp.OneOrMore(number)

    class LinearNETReader(NETReader):  # type: ignore[misc]
        """pgmpy's NETReader with `get_states` scanning the file once rather than once per node
        (2.3 s on alarm's 37 nodes, quadratic in general); the result is the same."""

        def get_states(self) -> dict[str, list[str]]:
            names = [match[0].nodename for match in self.name_expr.scan_string(self.network)]
            found = [match[0].statenames for match in self.state_expr.scan_string(self.network)]
            pairs = zip(names, found, strict=False)
            return {name: [s.replace('"', "") for s in states] for name, states in pairs}

    return {
        "bif": FastBIFReader,
        "net": LinearNETReader,
        "xmlbif": XMLBIFReader,
        "xdsl": XDSLReader,
    }


def pgmpy_writer(model: Model, form: Format) -> Any:
    """pgmpy's writer of `form` holding `model`: `str()` of it is the text (XDSL: its `.root`)."""
    network = _network(model, form)
    writer = _writers()[form.name]
    if form.name == "xdsl":
        return writer(network, network_id=_network_name(model))
    return writer(network)


def _network(model: Model, form: Format) -> Any:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.models import DiscreteBayesianNetwork

    network = DiscreteBayesianNetwork()
    network.add_nodes_from(model.ids)
    network.add_edges_from((p, n.id) for n in model for p in n.parents)
    network.name = _network_name(model)
    for node in model:
        names = {node.id: list(node.states)}
        names.update({p: list(s) for p, s in zip(node.parents, node.parent_states, strict=True)})
        values = np.moveaxis(node.table, -1, 0).reshape(node.card, -1)
        cards = [len(s) for s in node.parent_states]
        parents = list(node.parents)
        network.add_cpds(
            TabularCPD(node.id, node.card, values, parents or None, cards or None, names)
        )
        if node.label != node.id and form.name in {"bif", "net", "xmlbif"}:
            label = plain_label(node.label, form)
            network.nodes[node.id]["label"] = f'"{label}"' if form.name == "net" else label
    return network


def _writers() -> dict[str, Any]:
    from pgmpy.readwrite import BIFWriter, NETWriter, XDSLWriter, XMLBIFWriter

    class ExactXMLBIFWriter(XMLBIFWriter):  # type: ignore[misc]
        """pgmpy's XMLBIFWriter without its renaming of states (`<5` would become `_5`)."""

        def _make_valid_state_name(self, state_name: Any) -> str:
            return str(state_name)

    class ExactNETWriter(NETWriter):  # type: ignore[misc]
        """pgmpy's NETWriter writing every digit (it rounds to 8 decimals)."""

        def net_cpd(self, var_name: str) -> str:
            return _nested(np.moveaxis(np.asarray(self.tables[var_name], dtype=float), 0, -1))

    return {
        "bif": BIFWriter,
        "net": ExactNETWriter,
        "xmlbif": ExactXMLBIFWriter,
        "xdsl": XDSLWriter,
    }


def _nested(table: np.ndarray) -> str:
    """Hugin's nested data: the first parent outermost, the node's states innermost.

    >>> print(_nested(np.array([[0.25, 0.75], [1.0, 0.0]])))
    ((0.25 0.75)
     (1.0 0.0))
    """
    if table.ndim > 1:
        return "(" + "\n ".join(_nested(sub) for sub in table) + ")"
    numbers = (format_number(v) for v in table)
    return "(" + " ".join(n if "." in n else n + ".0" for n in numbers) + ")"


def plain_label(label: str, form: Format) -> str:
    """A label on one line, without the characters the format's syntax reserves."""
    text = " ".join(label.split())
    if form.name in {"bif", "net"}:
        reserved = {'"': "'", ";": ",", "{": "(", "}": ")", "//": "/ /", "/*": "/ *", "\\": "/"}
        for old, new in reserved.items():
            text = text.replace(old, new)
    return text


def _network_name(model: Model) -> str:
    return valid_id(model.title or (model.path.name if model.path else "") or "network")[:60]
