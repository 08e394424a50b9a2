"""GeNIe's noisy-MAX nodes in XDSL: read as compact nodes, written where GeNIe's layout allows.

A `<noisymax>` element lists the child's states (GeNIe puts the distinguished, absent, state
last), its `<parents>`, `<strengths>` (for each parent in turn, its state indices from the
strongest to the distinguished one, which comes last) and `<parameters>`: for each parent, for
each of its states in strengths order, the child's distribution; then the leak. A distinguished
parent state's distribution puts everything on the child's absent state. The parameters are
Díez's, as bn's (a link is what its cause produces with the leak switched off).

This is SMILE's layout (its `DSL_noisyMAX::GetOutcomeOfStrength(parent, k)` is the k-th entry
of the parent's strengths, and the last column of each parent is the constrained one), checked
against files saved by GeNIe 2.0, whose noisy-OR expands to the table GeNIe itself wrote for
the same node (README, "Moving models in and out").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from bn.forms import LEAK, NoisyMax
from bn.interop.convert import fail
from bn.model import Model
from bn.numbers import format_number


def read_noisymax(element: Any, file: str, line: int | None) -> dict[str, Any]:
    """A `<noisymax>` element's parameters, checked; the element becomes its expanded `<cpt>` (for
    pgmpy). The result (names as in the file) is attached to the model by `attach`."""
    import xml.etree.ElementTree as etree

    name = element.get("id", "")
    states = tuple(s.get("id", "") for s in element.findall("state"))
    parents = tuple((element.findtext("parents") or "").split())
    try:
        strengths = [int(s) for s in (element.findtext("strengths") or "").split()]
        numbers = [float(p) for p in (element.findtext("parameters") or "").split()]
    except ValueError:
        raise fail(file, line, f"{name}: <strengths> or <parameters> holds a non-number") from None
    return {
        "name": name,
        "states": states,
        "parents": parents,
        "strengths": strengths,
        "parameters": numbers,
        "line": line,
        "element": element,
        "etree": etree,
    }


def expand_elements(found: list[dict[str, Any]], cards: dict[str, int], file: str) -> None:
    """Turn each read `<noisymax>` element into a `<cpt>` with its expanded table, in place."""
    for item in found:
        form = _form(item, {p: tuple(map(str, range(cards[p]))) for p in item["parents"]}, file)
        element, etree = item["element"], item["etree"]
        element.tag = "cpt"
        for child in [*element.findall("strengths"), *element.findall("parameters")]:
            element.remove(child)
        table = form.expand()
        etree.SubElement(element, "probabilities").text = " ".join(
            format_number(float(p)) for p in table.ravel()
        )


def _form(item: dict[str, Any], parent_states: dict[str, tuple[str, ...]], file: str) -> NoisyMax:
    name, states, parents = item["name"], item["states"], item["parents"]
    strengths, numbers, line = item["strengths"], item["parameters"], item["line"]
    card = len(states)
    sizes = [len(parent_states[p]) for p in parents]
    if len(strengths) != sum(sizes):
        raise fail(
            file, line, f"{name}: <strengths> has {len(strengths)} numbers, not {sum(sizes)}"
        )
    if len(numbers) != card * (sum(sizes) + 1):
        raise fail(
            file,
            line,
            f"{name}: <parameters> has {len(numbers)} numbers, not {card * (sum(sizes) + 1)} "
            "(a distribution per parent state, then the leak)",
        )
    rows = np.array(numbers).reshape(-1, card)
    labels: list[tuple[str, str]] = []
    links: list[np.ndarray] = []
    absent: list[str] = []
    at = 0
    for parent, size in zip(parents, sizes, strict=True):
        order = strengths[at : at + size]
        if sorted(order) != list(range(size)):
            raise fail(file, line, f"{name}: the strengths of {parent} are not its states' order")
        off = parent_states[parent][order[-1]]
        absent.append(off)
        for k, index in enumerate(order):
            row = rows[at + k]
            if index == order[-1]:
                if abs(row[-1] - 1) > 1e-9:
                    raise fail(
                        file,
                        line,
                        f"{name}: the distinguished state of {parent} must put everything on "
                        f"{states[-1]} (GeNIe's absent state, the last)",
                    )
                continue
            labels.append((parent, parent_states[parent][index]))
            links.append(row)
        at += size
    for (parent, state), row in zip(labels, links, strict=True):
        if np.any(row < 0) or abs(row.sum() - 1) > 1e-6:
            raise fail(file, line, f"{name}: the link of {parent}={state} is not a distribution")
    labels.append((LEAK, ""))
    links.append(rows[-1])
    # rows in parent order, each parent's states in its own order (as bn.formcheck reads them)
    order = sorted(
        range(len(labels) - 1),
        key=lambda r: (
            parents.index(labels[r][0]),
            parent_states[labels[r][0]].index(labels[r][1]),
        ),
    )
    order.append(len(labels) - 1)
    return NoisyMax(
        "noisy-max" if card > 2 else "noisy-or",
        states,
        states[-1],
        parents,
        tuple(parent_states[p] for p in parents),
        tuple(absent),
        tuple(labels[r] for r in order),
        np.array([links[r] for r in order]),
    )


def attach(model: Model, found: list[dict[str, Any]], renamed: dict[str, str], file: str) -> Model:
    """The imported model with each noisy-MAX node compact again (ids and state names now)."""
    nodes = []
    for item in found:
        node = model[renamed.get(item["name"], item["name"])]
        by_name = dict(zip(item["parents"], node.parents, strict=True))
        states = dict(zip(node.parents, node.parent_states, strict=True))
        form = _form(item, {p: states[by_name[p]] for p in item["parents"]}, file)
        form = replace(
            form,
            parents=node.parents,
            labels=tuple((by_name[p], s) if p != LEAK else (p, s) for p, s in form.labels),
        )
        nodes.append(replace(node, form=form, table=form.expand()))
    return model.with_nodes(nodes)


def _genie_layout(form: NoisyMax) -> bool:
    """Whether the child's absent state comes last, as GeNIe's distinguished state must (a
    parent's distinguished state can be any of its states: `<strengths>` puts it last)."""
    return form.absent == form.states[-1]


def noisy_warnings(model: Model) -> list[str]:
    """The noisy nodes an XDSL export writes as full tables."""
    return [
        f"{node.id}: written as its full table; GeNIe's noisy-MAX wants the child's absent "
        f"state ({node.form.absent}) last"
        for node in model
        if isinstance(node.form, NoisyMax) and not _genie_layout(node.form)
    ]


def write_noisymax(root: Any, model: Model) -> None:
    """Replace the `<cpt>` of each noisy node whose child's absent state comes last (GeNIe's
    layout) by a `<noisymax>`; the others stay full tables (`noisy_warnings` names them).
    `<strengths>` lists each parent's present states in their order, then its absent one (the
    order of the present ones does not change the table)."""
    import xml.etree.ElementTree as etree

    elements = {e.get("id"): e for e in root.iterfind("nodes/cpt")}
    for node in model:
        form = node.form
        if not isinstance(form, NoisyMax) or not _genie_layout(form):
            continue
        element = elements[node.id]
        element.tag = "noisymax"
        for child in element.findall("probabilities"):
            element.remove(child)
        strengths, parameters = [], []
        for parent, states, off in zip(
            form.parents, form.parent_states, form.parent_absent, strict=True
        ):
            present = [i for i, state in enumerate(states) if state != off]
            strengths += [str(i) for i in (*present, states.index(off))]
            for i in present:
                parameters += list(form.rows[form.row_of(parent, states[i])])
            parameters += [0.0] * (node.card - 1) + [1.0]
        parameters += list(form.rows[-1])
        etree.SubElement(element, "strengths").text = " ".join(strengths)
        etree.SubElement(element, "parameters").text = " ".join(
            format_number(float(p)) for p in parameters
        )
