"""The model as data: tables are checked when a node is made, and nothing can be changed after."""

from __future__ import annotations

import numpy as np
import pytest

from bn.errors import EvidenceError, ModelError
from bn.model import Model, Node


def test_a_node_refuses_tables_that_would_fail_later() -> None:
    with pytest.raises(ModelError, match="shape"):
        Node("a", ("x", "y"), (), np.array([0.2, 0.3, 0.5]))
    with pytest.raises(ModelError, match=r"sums to 1\.4"):
        Node("a", ("x", "y"), (), np.array([0.7, 0.7]))
    with pytest.raises(ModelError, match="non-negative"):
        Node("a", ("x", "y"), (), np.array([1.5, -0.5]))
    parent = Node("p", ("u", "v", "w"), (), np.full(3, 1 / 3))
    child = Node("c", ("x", "y"), ("p",), np.full((2, 2), 0.5))
    with pytest.raises(ModelError, match="does not match"):
        Model((parent, child))


def test_nodes_and_models_cannot_be_changed() -> None:
    node = Node("a", ("x", "y"), (), np.array([0.5, 0.5]), state_descriptions={"x": "ex"})
    with pytest.raises(ValueError, match="read-only"):
        node.table[0] = 1.0
    with pytest.raises(TypeError):
        node.state_descriptions["x"] = "changed"  # type: ignore[index]
    model = Model((node,))
    assert model.with_nodes([Node("a", ("x", "y"), (), np.array([0.1, 0.9]))])["a"].row(()) == (
        0.1,
        0.9,
    )
    assert model["a"].row(()) == (0.5, 0.5)


def test_row_names_the_valid_states() -> None:
    parent = Node("p", ("u", "v"), (), np.array([0.5, 0.5]))
    child = Node("c", ("x", "y"), ("p",), np.array([[0.1, 0.9], [0.8, 0.2]]))
    model = Model((parent, child))
    assert model["c"].row(("v",)) == (0.8, 0.2)
    with pytest.raises(EvidenceError, match=r"did you mean .v.\? .*states of p: u, v"):
        model["c"].row(("vv",))
