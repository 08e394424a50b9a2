"""Textual edits of model.toml and scenarios.toml (bn/edit/toml.py): comments and layout kept,
and an edit that cannot be made faithfully is refused."""

from __future__ import annotations

import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bn.edit.toml import TomlDoc
from bn.errors import BNError

# --- TOML edits ----------------------------------------------------------------------------------

TOML = """\
# top comment
[model]
title = "t"   # trailing comment
targets = [
  "a",  # first
  "b",
]

[nodes.a]
label = "A"
aliases = ["x"]
states = { yes = "y", "no way" = 'n' }

# about b
[nodes.b]
label = '''B'''

[nodes."c d"]
label = "C"
"""


def test_toml_edits_keep_comments_and_layout() -> None:
    doc = TomlDoc(TOML, "model.toml")
    doc.rename_key(("nodes", "a"), "alpha")
    doc.rename_key(("nodes", "alpha", "states", "no way"), "never")
    doc.set_string(("model", "targets", 0), "alpha")
    doc.delete(("model", "targets", 1))
    doc.append(("nodes", "alpha", "aliases"), "al")
    doc.delete(("nodes", "c d"))
    doc.set_value(("nodes", "b"), "description", "about B")
    doc.set_value(("nodes", "alpha", "states"), "maybe", "m")
    text = doc.result()
    assert text == TOML.replace('"a",  # first', '"alpha",  # first').replace(
        '  "b",\n', ""
    ).replace("[nodes.a]", "[nodes.alpha]").replace('"no way"', "never").replace(
        '["x"]', '["x", "al"]'
    ).replace("'n' }", "'n', maybe = \"m\" }").replace(
        "label = '''B'''\n", "label = '''B'''\ndescription = \"about B\"\n"
    ).replace('\n[nodes."c d"]\nlabel = "C"\n', "")
    assert tomllib.loads(text)["nodes"]["alpha"]["states"] == {
        "yes": "y",
        "never": "n",
        "maybe": "m",
    }


def test_toml_delete_keeps_the_next_tables_comment() -> None:
    doc = TomlDoc(TOML, "model.toml")
    doc.delete(("nodes", "a"))
    assert "# about b\n[nodes.b]" in doc.result() and "[nodes.a]" not in doc.text


def test_toml_edit_refuses_what_it_cannot_do_faithfully() -> None:
    doc = TomlDoc("[nodes]\na.label = 'A'\n", "model.toml")
    doc.set_value(("nodes", "a"), "description", "d")
    with pytest.raises(BNError, match=r"cannot edit model\.toml without losing"):
        doc.result()


KEYS = st.sampled_from(["a", "b", "c d", "é", "x-y", "n1"])
VALUES = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 5),
    st.booleans(),
    st.lists(st.text(max_size=4), max_size=3),
)
TABLES = st.dictionaries(
    KEYS, st.one_of(VALUES, st.dictionaries(KEYS, VALUES, max_size=3)), max_size=4
)


@settings(max_examples=60, deadline=None)
@given(
    document=st.dictionaries(KEYS, TABLES, min_size=1, max_size=3),
    comments=st.lists(st.integers(0, 40), max_size=4),
    choice=st.integers(0, 10**6),
)
def test_toml_edits_of_random_documents_are_exact_and_keep_comments(
    document: dict[str, Any], comments: list[int], choice: int
) -> None:
    import tomli_w

    lines = tomli_w.dumps(document).split("\n")
    for i, at in enumerate(comments):
        lines.insert(min(at, len(lines)), f"# comment {i}")
    text = "\n".join(lines)
    paths: list[tuple[str | int, ...]] = []

    def walk(data: Any, path: tuple[str | int, ...]) -> None:
        for key, value in data.items():
            paths.append((*path, key))
            if isinstance(value, dict):
                walk(value, (*path, key))

    walk(tomllib.loads(text), ())
    path = paths[choice % len(paths)]
    doc = TomlDoc(text, "x.toml")
    if choice % 3 == 0:
        doc.delete(path)
    elif choice % 3 == 1:
        siblings = doc.expected
        for part in path[:-1]:
            siblings = siblings[part]
        if "new key" in siblings:
            return
        doc.rename_key(path, "new key")
    else:
        doc.set_value(path[:-1], "added", "v")
    result = doc.result()  # checked inside: it means exactly the edit
    for i in range(len(comments)):
        assert f"# comment {i}" in result or choice % 3 == 0
