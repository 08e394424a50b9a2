"""UAI, read and written here by the specification (not by pgmpy).

Each scope ends with the child, and a table's values run with the last variable of the scope
fastest, which is bn's layout. pgmpy's UAIReader puts the child first and the parents in arbitrary
order, reads no exponents, and re-parses the whole file once per table (16 s on alarm); its writer
puts the child first too. UAI carries no names: nodes are var_0, var_1, ... by position, states
s0, s1, ...

>>> print(uai_text(nameless(Model((Node("rain", ("no", "yes"), (), np.array([0.8, 0.2])),)))))
BAYES
1
2
1
1 0
<BLANKLINE>
2
0.8 0.2
<BLANKLINE>
"""

from __future__ import annotations

import math
import re

import numpy as np

from bn.interop.convert import Parsed, Variable, fail
from bn.interop.scan import decode
from bn.model import Model, Node
from bn.numbers import format_number


def read_uai(data: bytes, file: str) -> Parsed:
    """A UAI (BAYES) file's network; `FileFormatError` naming the line of the first problem."""
    tokens = [
        (token, number)
        for number, line in enumerate(decode(data).split("\n"), start=1)
        if not re.match(r"\s*c(\s|$)", line)  # comment lines of the UAI 2010+ format
        for token in line.split("#")[0].split()
    ]
    kind = tokens[0][0] if tokens else ""
    if kind == "MARKOV":
        raise fail(file, 1, "a MARKOV (undirected) network: unsupported", "bn reads BAYES files")
    if kind != "BAYES":
        raise fail(file, 1, f"expected BAYES, found {kind[:20]!r}")
    stream = iter(tokens[1:])
    where = [1]  # the line of the last token taken

    def take(what: str, whole: bool = True) -> float:
        token, line = next(stream, ("", tokens[-1][1]))
        where[0] = line
        if not token:
            raise fail(file, line, f"the file ends where {what} was expected", "is it truncated?")
        try:
            value = float(token)
        except ValueError:
            raise fail(file, line, f"{token!r} is not a number ({what})") from None
        if whole and not (math.isfinite(value) and value >= 0 and value == int(value)):
            raise fail(file, line, f"{token!r}: {what} must be a whole number")
        return int(token) if whole and token.isdigit() else value  # exact beyond 2**53

    cards = [int(take("a cardinality")) for _ in range(int(take("the number of variables")))]
    count = int(take("the number of tables"))
    scopes = [
        [int(take("a variable")) for _ in range(int(take("a scope size")))] for _ in range(count)
    ]
    names = [f"var_{i}" for i in range(len(cards))]
    variables: dict[str, Variable] = {}
    for k, scope in enumerate(scopes):
        if not scope or max(scope) >= len(cards) or names[scope[-1]] in variables:
            raise fail(file, None, f"table {k} has a bad scope {scope} ({len(cards)} variables)")
        size = int(take("a table size"))
        expected = math.prod(cards[v] for v in scope)
        if size != expected:  # this also bounds the states made below by the file's length
            shape = " x ".join(str(cards[v]) for v in scope)
            raise fail(
                file, where[0], f"table {k} has {size} values, {shape} = {expected} expected"
            )
        values = [take(f"a value of table {k}", False) for _ in range(size)]
        variables[names[scope[-1]]] = Variable(
            name=names[scope[-1]],
            states=tuple(f"s{i}" for i in range(cards[scope[-1]])),
            parents=tuple(names[v] for v in scope[:-1]),
            table=np.array(values),
        )
    if len(variables) < len(names):
        missing = ", ".join(n for n in names if n not in variables)
        raise fail(file, None, f"no table for {missing}")
    note = "UAI files carry no names: nodes are var_0, var_1, ... by position, states s0, s1, ..."
    return Parsed("", [variables[n] for n in names], [note])


def uai_text(model: Model) -> str:
    """`model` as the text of a UAI file (`_order` numbers the variables)."""
    order = _order(model)
    index = {name: k for k, name in enumerate(order)}
    lines = ["BAYES", str(len(order)), " ".join(str(model[n].card) for n in order), str(len(order))]
    for name in order:
        scope = [*(index[p] for p in model[name].parents), index[name]]
        lines.append(" ".join(map(str, [len(scope), *scope])))
    for name in order:
        table = model[name].table  # (*parents, child): the UAI order already
        lines += ["", str(table.size)]
        lines += [
            " ".join(format_number(v) for v in row) for row in table.reshape(-1, table.shape[-1])
        ]
    return "\n".join(lines) + "\n"


def nameless(model: Model) -> Model:
    """`model` as its UAI file reads back: var_k and s0, s1, ... for names, no labels.

    >>> chain = Model((Node("a", ("x", "y"), (), np.array([0.5, 0.5])),
    ...                Node("b", ("u", "v"), ("a",), np.array([[1.0, 0.0], [0.5, 0.5]]))))
    >>> [(n.id, n.states, n.parents) for n in nameless(chain)]
    [('var_0', ('s0', 's1'), ()), ('var_1', ('s0', 's1'), ('var_0',))]
    """
    renamed = {n: f"var_{k}" for k, n in enumerate(_order(model))}
    return Model(
        tuple(
            Node(
                renamed[n.id],
                tuple(f"s{i}" for i in range(n.card)),
                tuple(renamed[p] for p in n.parents),
                n.table,
            )
            for n in model
        )
    )


def _order(model: Model) -> list[str]:
    """UAI numbers variables: var_k keeps number k (a model from UAI), otherwise model order."""
    ids = list(model.ids)
    numbered = [f"var_{k}" for k in range(len(ids))]
    return numbered if set(ids) == set(numbered) else ids
