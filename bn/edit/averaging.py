"""Averaging a parent out of a node's rows (`bn node remove-parent`): the weights, given by the
analyst or computed from the model."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bn.errors import BNError, EvidenceError, param
from bn.model import Model
from bn.names import choose


def parse_weights(text: str, states: Sequence[str], parent: str = "PARENT") -> np.ndarray:
    """`weights` as a normalised vector over `states` (the states of `parent`).

    Written as evidence weights are (`bn.evidence.parse_weights`): one weight per state in order,
    or `STATE:W` for some states, the others getting 0; `STATE=W` is read as `STATE:W`.

    >>> parse_weights("1,3", ["no", "yes"]).tolist(), parse_weights("yes:3,no=1", ["no", "yes"])
    ([0.25, 0.75], array([0.25, 0.75]))
    """
    from bn.evidence import parse_weights as parse_evidence_weights

    items = [item.strip() for item in text.split(",") if item.strip()]
    items = [
        ":".join(item.rsplit("=", 1)) if "=" in item and ":" not in item else item for item in items
    ]
    usage = (
        f"{param('weights')} needs {len(states)} numbers ({', '.join(states)}) or STATE:W for some "
        f"states of {parent}, e.g. {states[0]}:0.5"
    )
    try:
        _, given = parse_evidence_weights(f"{parent}={','.join(items)}")
    except EvidenceError:
        raise BNError(f"{param('weights')} '{text}' cannot be read: {usage}") from None
    weights = np.zeros(len(states))
    if isinstance(given, dict):
        for state, value in given.items():
            weights[
                list(states).index(choose(state, states, f"'{state}' is not a state of {parent}"))
            ] = value
    elif len(given) == len(states):
        weights[:] = given
    else:
        raise BNError(usage)
    bad = [w for w in weights if not np.isfinite(w) or w < 0]
    if bad:
        raise BNError(f"{param('weights')}: '{bad[0]:g}' is not a non-negative number")
    if weights.sum() <= 0:
        raise BNError(f"{param('weights')} are all zero")
    normalised: np.ndarray = weights / weights.sum()
    return normalised


def conditional(model: Model, parent: str, others: Sequence[str]) -> np.ndarray:
    """P(parent | others) with shape (card(parent), *cards(others)); the prior where P(others)=0."""
    from bn.engine import contract

    joint = contract(model, [parent, *others])
    prior = contract(model, [parent])
    prior = prior / prior.sum()
    mass = joint.sum(axis=0, keepdims=True)
    shape = (-1,) + (1,) * len(others)
    with np.errstate(invalid="ignore", divide="ignore"):
        table: np.ndarray = np.where(mass > 0, joint / mass, prior.reshape(shape))
    return table
