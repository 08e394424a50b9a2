"""The bnlearn reference networks that pgmpy ships, read fast and in double precision.

pgmpy's reader needs most of a minute for diabetes; these files are regular enough for a short
parser of their own (`variable ... type discrete [ n ] { states };` and `probability ( child |
parents ) { (states) p, ...; }` or `table p, ...;`). Rows are divided by their sums, as `bn import`
does. Also: the same network as a pyAgrum BayesNet filled from those double-precision tables.
"""

from __future__ import annotations

import functools
import gzip
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from bn.model import Model, Node

_VARIABLE = re.compile(r"variable\s+(\S+)\s*\{[^}]*?\[\s*\d+\s*\]\s*\{([^}]*)\}", re.S)
_PROBABILITY = re.compile(r"probability\s*\(\s*([^|)]+?)\s*(?:\|\s*([^)]*))?\)\s*\{([^}]*)\}", re.S)


def example_models() -> Path:
    import pgmpy

    return Path(pgmpy.__file__).parent / "utils" / "example_models"


def _id(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return clean if re.match(r"[A-Za-z]", clean) else "n_" + clean


@functools.cache
def load_bnlearn(name: str) -> Model:
    """The network `name` (alarm, andes, link, ...) as a bn Model."""
    text = gzip.decompress((example_models() / f"{name}.bif.gz").read_bytes()).decode()
    states = {
        v: tuple(s.strip() for s in body.split(",") if s.strip())
        for v, body in _VARIABLE.findall(text)
    }
    nodes = []
    for child, given, body in _PROBABILITY.findall(text):
        child = child.strip()
        parents = tuple(p.strip() for p in given.split(",") if p.strip()) if given else ()
        shape = (*(len(states[p]) for p in parents), len(states[child]))
        table = np.zeros(shape)
        for line in body.split(";"):
            line = line.strip()
            if not line:
                continue
            if line.startswith("table"):
                values = np.array([float(x) for x in line[5:].replace(",", " ").split()])
                table = _reorder(values, shape) if parents else values
                continue
            combo, _, numbers = line.partition(")")
            labels = [s.strip() for s in combo.strip().lstrip("(").split(",")]
            index = tuple(states[p].index(s) for p, s in zip(parents, labels, strict=True))
            table[index] = [float(x) for x in numbers.replace(",", " ").split()]
        table = table / table.sum(axis=-1, keepdims=True)
        nodes.append(Node(_id(child), states[child], tuple(_id(p) for p in parents), table))
    return Model(tuple(nodes), title=name)


def _reorder(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A BIF `table` lists the child's state slowest, then the parents in order."""
    table: np.ndarray = np.moveaxis(values.reshape((shape[-1], *shape[:-1])), 0, -1)
    return table


def pyagrum_net(model: Model) -> Any:
    """The model as a pyAgrum BayesNet, every table copied in double precision."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import pyagrum as gum

    net = gum.BayesNet(model.title or "model")
    for node in model.nodes:
        net.add(gum.LabelizedVariable(node.id, node.id, list(node.states)))
    for node in model.nodes:
        for parent in node.parents:
            net.addArc(parent, node.id)
    for node in model.nodes:
        cpt = net.cpt(node.id)
        axes = [*node.parents, node.id]
        order = [axes.index(n) for n in reversed(cpt.names)]
        cpt.fillWith(node.table.transpose(order).ravel().tolist())
    return net
