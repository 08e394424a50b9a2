"""What happened and what was forecast: `outcomes.toml`, and the horizon and `[[forecasts]]` of
`model.toml`, read and checked (every problem with its line), for scoring by `bn.analysis.score`.

```toml
# outcomes.toml
[[outcomes]]
node = "nuclear_use"          # a node id or alias
state = "no"                  # the state it was observed in
date = "2023-10-15"           # by when it was known (YYYY-MM-DD)
source = "outcomes2023"       # a source id of model.toml, or any text
note = "No Russian nuclear detonation through the window."

# model.toml
[model]
horizon = { start = "2022-10-15", end = "2023-10-15", text = "the year from mid-October 2022" }

[[forecasts]]
name = "Swift Centre"
source = "swift2022"
published = "2022-10-17"
query = "nuclear_use=yes"     # or "NODE=STATE | NODE=STATE, ..."
value = 0.09
until = "2023-04-30"          # the forecast's window ends; without it, taken as the model's horizon
scenario = "swift_centre"     # optional: the scenario that poses it
pool = "consensus"            # optional: pooled with the others of this name (geometric mean of odds)
note = "..."
```

A forecast over `d` days is converted to the horizon of `D` days with a constant hazard:
1 - (1 - value)^(D / d).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bn.calibration import parse_query
from bn.errors import BNError, Problem
from bn.files import MODEL_TOML, OUTCOMES_TOML
from bn.metadata import TomlLines, check_keys, plain_text, read_toml
from bn.model import Model
from bn.scenarios import read_scenarios

OUTCOME_KEYS = ("node", "state", "date", "source", "note")
FORECAST_KEYS = (
    "name",
    "source",
    "published",
    "query",
    "value",
    "until",
    "scenario",
    "pool",
    "note",
)
HORIZON_KEYS = ("start", "end", "text")


@dataclass(frozen=True)
class Outcome:
    """A node observed in a state by `date`."""

    node: str
    state: str
    date: str
    source: str = ""
    note: str = ""


@dataclass(frozen=True)
class Horizon:
    start: str
    end: str
    text: str = ""

    @property
    def days(self) -> int:
        return (dt.date.fromisoformat(self.end) - dt.date.fromisoformat(self.start)).days


@dataclass(frozen=True)
class Forecast:
    """A published forecast P(node=state | given) = value over its window (`until`)."""

    name: str
    query: str
    node: str
    state: str
    given: Mapping[str, str]
    value: float
    published: str
    until: str = ""
    source: str = ""
    scenario: str = ""
    pool: str = ""
    note: str = ""

    @property
    def days(self) -> int | None:
        """The window in days, or None when none is stated (taken as the model's horizon)."""
        if not self.until:
            return None
        return (dt.date.fromisoformat(self.until) - dt.date.fromisoformat(self.published)).days

    def on_horizon(self, horizon: Horizon | None) -> float:
        """The forecast converted to the horizon with a constant hazard.

        >>> f = Forecast("x", "a=yes", "a", "yes", {}, 0.03, "2022-10-15", "2023-01-01")
        >>> round(f.on_horizon(Horizon("2022-10-15", "2023-10-15")), 6)
        0.132841
        """
        days = self.days
        if horizon is None or days is None:
            return self.value
        return float(1 - (1 - self.value) ** (horizon.days / days))


@dataclass(frozen=True)
class Record:
    """Everything `outcomes.toml` and model.toml say about the window."""

    horizon: Horizon | None
    forecasts: tuple[Forecast, ...]
    outcomes: tuple[Outcome, ...]

    def observed(self) -> dict[str, str]:
        return {o.node: o.state for o in self.outcomes}

    def pooled(self, pool: str, horizon: Horizon | None = None) -> float:
        """The geometric mean of the odds of the pool's forecasts on the horizon."""
        values = [f.on_horizon(horizon or self.horizon) for f in self.forecasts if f.pool == pool]
        if not values:
            raise BNError(f"no forecast has pool = '{pool}'")
        logit = sum(math.log(v / (1 - v)) for v in values) / len(values)
        return 1 / (1 + math.exp(-logit))


def read_record(model: Model) -> tuple[Record, list[Problem]]:
    """The horizon, the forecasts and the outcomes that could be read, and every problem."""
    problems: list[Problem] = []
    if model.path is None:
        return Record(None, (), ()), problems
    meta_path = model.path / MODEL_TOML
    meta = read_toml(meta_path, []) if meta_path.is_file() else {}
    where = TomlLines(plain_text(meta_path))

    def add_meta(at: Sequence[str], message: str, hint: str = "", severity: str = "error") -> None:
        problems.append(Problem(MODEL_TOML, where.line(*at), message, hint, severity))

    head = meta.get("model", {})
    horizon = _horizon(head.get("horizon") if isinstance(head, Mapping) else None, add_meta)
    scenarios = read_scenarios(model)[0]
    forecasts = []
    entries = meta.get("forecasts", [])
    if not isinstance(entries, list):
        add_meta(["forecasts"], "forecasts must be an array of tables", "write [[forecasts]]")
        entries = []
    for index, entry in enumerate(entries):
        found = _forecast(model, entry, ["forecasts", str(index)], add_meta, scenarios)
        if found is not None:
            forecasts.append(found)
    for pool in sorted({f.pool for f in forecasts if f.pool}):
        if pool not in scenarios:
            add_meta(
                ["forecasts"],
                f"pool '{pool}' names no scenario",
                "pool names the scenario that pools the forecasts",
            )
    outcomes = _outcomes(model, model.path / OUTCOMES_TOML, problems)
    return Record(horizon, tuple(forecasts), tuple(outcomes)), problems


def check_record(model: Model) -> list[Problem]:
    """Every problem of `outcomes.toml` and of model.toml's horizon and [[forecasts]].

    >>> import bn
    >>> check_record(bn.load(bn.packaged_model_path()))
    []
    """
    return read_record(model)[1]


def _date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _horizon(raw: Any, add: Callable[..., None]) -> Horizon | None:
    if raw is None:
        return None
    at = ["model", "horizon"]
    hint = 'horizon = { start = "2022-10-15", end = "2023-10-15", text = "..." }'
    if not isinstance(raw, Mapping) or not _date(raw.get("start")) or not _date(raw.get("end")):
        add(at, "[model] horizon needs start and end dates (YYYY-MM-DD)", hint)
        return None
    check_keys(raw, HORIZON_KEYS, "[model] horizon", at, add)
    horizon = Horizon(str(raw["start"]), str(raw["end"]), str(raw.get("text", "")))
    if horizon.days <= 0:
        add(at, "[model] horizon ends before it starts", hint)
        return None
    return horizon


def _forecast(
    model: Model, entry: Any, at: list[str], add: Callable[..., None], scenarios: Mapping[str, Any]
) -> Forecast | None:
    name = f"forecast {int(at[1]) + 1}"
    if not isinstance(entry, Mapping):
        add(at, f"{name} must be a table", "write [[forecasts]] then name = ..., query = ...")
        return None
    check_keys(entry, FORECAST_KEYS, f"[[forecasts]] ({name})", at, add)
    value, query = entry.get("value"), entry.get("query")
    if not isinstance(entry.get("name"), str) or not isinstance(query, str):
        add(at, f"{name} needs name and query strings", 'name = "...", query = "NODE=STATE"')
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        add([*at, "value"], f"{name}: value must be a probability strictly between 0 and 1")
        return None
    if not _date(entry.get("published")):
        add([*at, "published"], f"{name}: published must be a date (YYYY-MM-DD)")
        return None
    until = entry.get("until", "")
    if until and (not _date(until) or until <= entry["published"]):
        add([*at, "until"], f"{name}: until must be a date (YYYY-MM-DD) after published")
        return None
    try:
        node, state, given = parse_query(model, query)
    except BNError as error:
        add([*at, "query"], f"{name}: {error}", 'query = "NODE=STATE | NODE=STATE, ..."')
        return None
    scenario = entry.get("scenario", "")
    if scenario and scenario not in scenarios:
        add([*at, "scenario"], f"{name}: scenario '{scenario}' is not in scenarios.toml")
        return None
    text = {k: str(entry.get(k, "")) for k in ("source", "pool", "note")}
    return Forecast(
        str(entry["name"]), query, node, state, given, float(value), entry["published"],
        str(until), text["source"], str(scenario), text["pool"], text["note"],
    )  # fmt: skip


def _outcomes(model: Model, path: Path, problems: list[Problem]) -> list[Outcome]:
    if not path.is_file():
        return []
    document = read_toml(path, problems)
    where = TomlLines(plain_text(path))

    def add(at: Sequence[str], message: str, hint: str = "", severity: str = "error") -> None:
        problems.append(Problem(OUTCOMES_TOML, where.line(*at), message, hint, severity))

    check_keys(document, ("outcomes",), OUTCOMES_TOML, [], add)
    entries = document.get("outcomes", [])
    if not isinstance(entries, list):
        add(["outcomes"], "outcomes must be an array of tables", "write [[outcomes]]")
        return []
    found: list[Outcome] = []
    for index, entry in enumerate(entries):
        at = ["outcomes", str(index)]
        name = f"outcome {index + 1}"
        if not isinstance(entry, Mapping):
            add(at, f"{name} must be a table", 'write [[outcomes]] then node = "..."')
            continue
        check_keys(entry, OUTCOME_KEYS, f"[[outcomes]] ({name})", at, add)
        node, state = entry.get("node"), entry.get("state")
        if not isinstance(node, str) or not isinstance(state, str):
            add(at, f"{name} needs node and state strings", 'node = "n", state = "s"')
            continue
        if not _date(entry.get("date")):
            add([*at, "date"], f"{name}: date must be a date (YYYY-MM-DD)")
            continue
        try:
            node_id, state = parse_query(model, f"{node}={state}")[:2]
        except BNError as error:
            add(at, f"{name}: {error}")
            continue
        if any(o.node == node_id for o in found):
            add(at, f"{name}: {node_id} is observed twice", "keep one [[outcomes]] per node")
            continue
        found.append(
            Outcome(
                node_id,
                state,
                str(entry["date"]),
                str(entry.get("source", "")),
                str(entry.get("note", "")),
            )
        )
    return found
