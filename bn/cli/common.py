"""Options and output shared by the commands: model choice, evidence flags, bars and JSON."""

from __future__ import annotations

import functools
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar

import click

from bn.errors import BNError, EvidenceError
from bn.evidence import Evidence, parse_assignment, parse_weights
from bn.influence import Diagram
from bn.model import Model

F = TypeVar("F", bound=Callable[..., Any])

EVIDENCE_HELP = """
\b
Evidence (repeat any flag):
  -e NODE=STATE            hard evidence: NODE was observed in STATE
  --likelihood NODE=w1,w2  likelihood (virtual) evidence: a report whose likelihood
                           ratio over NODE's states is w1:w2:... (or NODE=state:w,...)
  --soft NODE=p1,p2        fixed-marginal (Jeffrey) evidence: NODE's marginal becomes
                           p1,p2,... (or NODE=yes:0.07: other states share the rest)
  --do NODE=STATE          intervention: set NODE, cutting its incoming edges
  --scenario NAME          start from a named scenario in scenarios.toml
"""


def model_option(function: F) -> F:
    return click.option(
        "--model",
        "model_dir",
        metavar="DIR",
        help="Model directory (default: $BN_MODEL, else ./cpts, else the flagship model).",
    )(function)


# Parameter draws: fewer than 100 give no interval worth printing; more than ten million would need
# gigabytes for the draws alone.
DRAWS = click.IntRange(100, 10_000_000)


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(function)


def evidence_options(function: F) -> F:
    """-e/--evidence, --do, --likelihood, --soft and --scenario, as in `bn query`.

    The command receives them together as `given: Given`.
    """
    return _evidence_flags(function, scenario=True)


def evidence_flags_without_scenario(function: F) -> F:
    """The evidence flags without --scenario, for commands that run every scenario."""
    return _evidence_flags(function, scenario=False)


def _evidence_flags(function: F, *, scenario: bool) -> F:
    options = [
        click.option("-e", "--evidence", "hard", multiple=True, metavar="NODE=STATE",
                     help="Hard evidence (repeatable)."),
        click.option("--do", "do", multiple=True, metavar="NODE=STATE",
                     help="Intervention do(NODE=STATE) (repeatable)."),
        click.option("--likelihood", multiple=True, metavar="NODE=W1,W2,...",
                     help="Likelihood evidence, one weight per state (repeatable)."),
        click.option("--soft", multiple=True, metavar="NODE=P1,P2,...",
                     help="Fixed-marginal (Jeffrey) evidence (repeatable)."),
    ]  # fmt: skip
    if scenario:
        options.append(
            click.option("--scenario", metavar="NAME", help="Apply a scenario from scenarios.toml.")
        )

    @functools.wraps(function)
    def command(
        *args: Any,
        hard: Sequence[str],
        do: Sequence[str],
        likelihood: Sequence[str],
        soft: Sequence[str],
        scenario: str | None = None,
        **kwargs: Any,
    ) -> Any:
        given = Given(tuple(hard), tuple(do), tuple(likelihood), tuple(soft), scenario)
        return function(*args, given=given, **kwargs)

    for option in reversed(options):
        command = option(command)
    return command  # type: ignore[return-value]


@dataclass(frozen=True)
class Given:
    """The evidence flags of a command as typed; `question` checks them against a model."""

    hard: Sequence[str] = ()
    do: Sequence[str] = ()
    likelihood: Sequence[str] = ()
    soft: Sequence[str] = ()
    scenario: str | None = None

    def evidence(self) -> Evidence:
        """The flags' own evidence (without the scenario's), not yet checked against a model."""
        return parse_evidence(self.hard, self.do, self.likelihood, self.soft)

    def question(self, model_dir: str | None = None, model: Model | None = None) -> Question:
        return question(
            model_dir, self.hard, self.do, self.likelihood, self.soft, self.scenario, model
        )

    def tag(self, data: dict[str, Any]) -> dict[str, Any]:
        """JSON output with the scenario named, when there is one."""
        return {**data, "scenario": self.scenario} if self.scenario else data

    def echo(self, evidence: Evidence) -> None:
        """The scenario and every piece of evidence a human answer was conditioned on."""
        if self.scenario:
            click.echo(f"scenario: {self.scenario}")
        for line in evidence.describe():
            click.echo(f"given: {line}")


@dataclass(frozen=True)
class Question:
    """A model (with any scenario overlay applied) and resolved evidence, ready to query."""

    model: Model
    evidence: Evidence
    scenario: str | None = None


def load_model(model_dir: str | None) -> Model:
    from bn import load, model_path

    if model_dir is not None and not model_dir.strip():
        raise BNError("--model is empty: name a model directory (or leave the option out)")
    return load(model_path(model_dir))


def question(
    model_dir: str | None,
    hard: Sequence[str] = (),
    do: Sequence[str] = (),
    likelihood: Sequence[str] = (),
    soft: Sequence[str] = (),
    scenario: str | None = None,
    model: Model | None = None,
) -> Question:
    """Load the model, apply the scenario, and put the command line's evidence on top."""
    from bn.scenarios import pose

    if scenario is not None and not scenario.strip():
        raise BNError("--scenario is empty: name a scenario (`bn scenarios` lists them)")
    model, evidence = pose(
        model or load_model(model_dir), scenario, parse_evidence(hard, do, likelihood, soft)
    )
    return Question(model, evidence, scenario)


def parse_evidence(
    hard: Sequence[str] = (),
    do: Sequence[str] = (),
    likelihood: Sequence[str] = (),
    soft: Sequence[str] = (),
) -> Evidence:
    """Evidence from the command line's NODE=... strings (not yet checked against a model).

    A node given twice by the same flag is an error, not a silent "last one wins".
    """
    hard_pairs = [parse_assignment(t) for t in hard]
    do_pairs = [parse_assignment(t) for t in do]
    likelihood_pairs = [parse_weights(t) for t in likelihood]
    soft_pairs = [parse_weights(t) for t in soft]
    for flag, names in (
        ("-e", [n for n, _ in hard_pairs]),
        ("--do", [n for n, _ in do_pairs]),
        ("--likelihood", [n for n, _ in likelihood_pairs]),
        ("--soft", [n for n, _ in soft_pairs]),
    ):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise EvidenceError(f"{flag} names {', '.join(twice)} twice: give each node once")
    return Evidence(
        hard=dict(hard_pairs),
        do=dict(do_pairs),
        likelihood=dict(likelihood_pairs),
        soft=dict(soft_pairs),
    )


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False))


def bar(p: float, width: int = 24) -> str:
    """A horizontal bar of eighth-blocks for a probability.

    >>> bar(0.5, 8)
    '████    '
    """
    if not math.isfinite(p):
        return " " * width
    eighths = round(max(0.0, min(1.0, p)) * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")
    return text.ljust(width)


def percent(p: float) -> str:
    """A probability as a percentage with sensible precision.

    >>> percent(0.168), percent(0.00012), percent(1.0)
    ('16.8%', '0.012%', '100.0%')
    """
    if p != 0 and abs(p) < 0.001:
        return f"{p * 100:.2g}%"
    return f"{p * 100:.1f}%"


def distribution_lines(model: Model, node_id: str, dist: Mapping[str, float]) -> list[str]:
    node = model[node_id]
    width = max(len(s) for s in node.states)
    title = node.id if node.label == node.id else f"{node.id}: {node.label}"
    shown = node.aliases and not any(a in node.label for a in node.aliases)
    alias = f"  (alias {', '.join(node.aliases)})" if shown else ""
    lines = [click.style(title, bold=True) + alias]
    for state, p in dist.items():
        lines.append(f"  {state.ljust(width)}  {bar(p)} {percent(p).rjust(7)}")
    return lines


def is_terminal() -> bool:
    return sys.stderr.isatty()


def diagram_question(given: Given, model_dir: str | None) -> tuple[Diagram, Evidence]:
    """Load a model that may hold decisions, apply the scenario, put the flags' evidence on top."""
    from bn import model_path
    from bn.scenarios import pose
    from bn.validate import load_diagram

    if model_dir is not None and not model_dir.strip():
        raise BNError("--model is empty: name a model directory (or leave the option out)")
    if given.scenario is not None and not given.scenario.strip():
        raise BNError("--scenario is empty: name a scenario (`bn scenarios` lists them)")
    diagram = load_diagram(model_path(model_dir))
    network, evidence = pose(diagram.network, given.scenario, given.evidence())
    return diagram.with_network(network), evidence


class ProgressBar:
    """A one-line bar on stderr, drawn only once a run has lasted `delay` seconds.

    >>> import io
    >>> clock = iter([0.0, 0.5, 2.0, 2.5]).__next__
    >>> out = io.StringIO()
    >>> bar = ProgressBar(out, width=10, clock=clock)
    >>> bar(10, 100)                 # 0.5 s: too early, nothing drawn
    >>> bar(40, 100); bar(100, 100)  # 2.0 s and 2.5 s: drawn
    >>> out.getvalue().split("\\r")[1]
    'draws ████░░░░░░  40%  40/100'
    >>> bar.close()
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        delay: float = 1.0,
        width: int = 10,
        clock: Callable[[], float] = time.monotonic,
        label: str = "draws",
    ) -> None:
        self.stream = stream
        self.label = label
        self.delay = delay
        self.width = width
        self.clock = clock
        self.start = clock()
        self.shown = False
        self.length = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.shown and self.clock() - self.start < self.delay:
            return
        self.shown = True
        filled = round(self.width * done / total)
        line = (
            f"{self.label} {'█' * filled}{'░' * (self.width - filled)} {done / total:4.0%} "
            f"{done:>{len(str(total))}}/{total}"
        )
        self.length = len(line)
        self.stream.write("\r" + line)
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar, if one was drawn."""
        if self.shown:
            self.stream.write("\r" + " " * self.length + "\r")
            self.stream.flush()
