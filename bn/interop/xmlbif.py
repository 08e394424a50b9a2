"""XMLBIF, checked before pgmpy parses it: well-formed XML, chance variables only, a sound graph.

Names are stripped of surrounding whitespace, and PROPERTY elements are read here (labels) and
removed: pgmpy's XMLBIFReader splits every PROPERTY at '=' and fails on any other.
"""

from __future__ import annotations

import re

from bn.errors import Problem
from bn.interop.convert import Parsed, fail, failure, structure_problems, unsupported
from bn.interop.pgmpy_fixes import read_variables
from bn.interop.scan import xml_line, xml_root


def read_xmlbif(data: bytes, file: str) -> Parsed:
    """An XMLBIF file's network; `FileFormatError` naming the line of each problem."""
    import xml.etree.ElementTree as etree

    root, text = xml_root(data, file, "XMLBIF")
    network = root.find("NETWORK")
    if network is None:
        raise fail(file, None, "no <NETWORK> element: not an XMLBIF file")
    for element in network.iter():
        if element.tag in {"NAME", "OUTCOME", "FOR", "GIVEN"} and element.text:
            element.text = element.text.strip()
    names, lines, labels = [], {}, {}
    for variable in network.findall("VARIABLE"):
        name = variable.findtext("NAME") or ""
        names.append(name)
        lines[name] = xml_line(text, rf"<NAME>\s*{re.escape(name)}\s*</NAME>")
        if variable.get("TYPE", "nature") != "nature":
            what = f"a {variable.get('TYPE')} variable"
            raise unsupported(file, lines[name], name, what, "bn handles chance nodes only")
        if variable.find("OUTCOME") is None:  # pgmpy divides by the number of states
            raise fail(file, lines[name], f"node {name} has no states (no <OUTCOME>)")
        for prop in variable.findall("PROPERTY"):
            key, sep, value = (prop.text or "").partition("=")
            if sep and key.strip() == "label":
                labels[name] = value.strip()
            variable.remove(prop)
    definitions = network.findall("DEFINITION")
    parents = {
        d.findtext("FOR") or "": [g.text or "" for g in d.findall("GIVEN")] for d in definitions
    }
    problems = structure_problems(file, names, parents, lines)
    problems += [
        Problem(file, lines.get(child), f"the DEFINITION of {child} has no <TABLE>")
        for d in definitions
        if d.find("TABLE") is None and (child := d.findtext("FOR") or "") in lines
    ]
    if problems:
        raise failure(file, "XMLBIF", problems)
    source = etree.tostring(root, encoding="unicode")
    variables = read_variables("xmlbif", source, file, names, lines, labels)
    return Parsed(network.findtext("NAME") or "", variables)
