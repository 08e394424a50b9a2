"""The `bn` command line. Each module in this package adds its commands to `cli` (see `base.py`).

Commands stay thin: parse options, call one library function, format the answer. Heavy imports
(pgmpy, pandas, matplotlib, graphviz) happen inside the commands that need them.

A command's module is imported only when the command runs (or its own help is asked for), so a
cold `bn query` does not pay for `bn report` or `bn serve`. `COMMANDS` says which modules define
each command and holds the first paragraph of its help for the list in `bn --help`;
`tests/test_cli_lazy.py` checks it against the commands themselves.
"""

from __future__ import annotations

from bn.cli.base import cli

COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "calibrate": (
        ("calibrate",),
        "Re-solve the free cells so the model meets every [[calibration]] target in model.toml.",
    ),
    "check": (
        ("check",),
        "Validate a model directory and explain every problem (exit 2 if any is an error).",
    ),
    "cpt": (
        ("edit", "forms"),
        "Show and edit conditional probability tables (one CSV per node).",
    ),
    "decide": (
        ("decide",),
        "The optimal policy of every decision and the maximum expected utility (MEU).",
    ),
    "diff": (
        ("diff",),
        "Compare two versions of a model: OLD and NEW are directories or git revisions.",
    ),
    "draw": (
        ("draw",),
        "Draw the network with each node's probabilities (bars and percentages) inside it.",
    ),
    "explain": (
        ("analysis",),
        "Why P(TARGET=STATE) is what it is: each piece of evidence, the MPE, the likeliest paths.",
    ),
    "export": (
        ("interop",),
        "Write the model as a network file (BIF, XMLBIF, GeNIe XDSL, Hugin NET, UAI).",
    ),
    "fmt": (
        ("edit",),
        "Rewrite every table in canonical layout (for diffs and reviews); --check for CI.",
    ),
    "import": (
        ("interop",),
        "Turn a network file (BIF, XMLBIF, GeNIe XDSL, Hugin NET, UAI) into a model directory.",
    ),
    "learn": (
        ("learn",),
        "Learn the model's tables from DATA, a CSV or parquet file of observed cases.",
    ),
    "node": (
        ("edit",),
        "Add, rename and remove nodes and edges; every dependent file is kept consistent.",
    ),
    "query": (
        ("query",),
        "Posterior probabilities of TARGETS (default: the model's targets) given evidence.",
    ),
    "report": (
        ("report",),
        "Write a self-contained analytic brief (HTML and Markdown) of the model.",
    ),
    "sample": (
        ("learn",),
        "Draw N cases from the model by forward sampling (columns: node ids, states as written).",
    ),
    "scenarios": (
        ("scenarios",),
        "Compare every scenario in scenarios.toml: P(target), change against baseline, ratio.",
    ),
    "sensitivity": (
        ("analysis",),
        "One-way sensitivity of P(TARGET=STATE) to every CPT cell that can move it.",
    ),
    "serve": (
        ("serve",),
        "Explore the model by clicking: a local web page with live posteriors.",
    ),
    "state": (
        ("states",),
        "Add, rename and remove states, keeping every dependent table consistent.",
    ),
    "uncertainty": (
        ("uncertainty",),
        "How unsure is P(TARGET=STATE)? Draws the uncertain table rows and reports an interval.",
    ),
    "voi": (
        ("analysis",),
        "Which node is worth watching: its mutual information with TARGET, and how far it moves it.",
    ),
}

cli.lazy = COMMANDS


def main() -> None:
    """Console-script entry point."""
    cli()


__all__ = ["COMMANDS", "cli", "main"]
