"""The Starlette application of `bn serve`: the page, its assets and the JSON API.

Every endpoint calls the library function that the matching command calls and returns that
command's `--json`: `GET /api/query` is `bn query --all --json`, `/api/draw` the SVG of `bn draw`,
`/api/cpt/NODE` is `bn cpt show --json`, and so on. Bad input answers 400 with the CLI's message,
an invalid model 409 with `bn check`'s problems; nothing answers with a traceback.

>>> import bn
>>> from starlette.testclient import TestClient
>>> app = create_app(bn.packaged_model_path(), host="127.0.0.1", port=8765, token="t")
>>> client = TestClient(app, base_url="http://127.0.0.1:8765")
>>> answer = client.get("/api/query", params={"e": "kaboom:yes"}).json()
>>> round(answer["posteriors"]["nuclear_war"]["yes"], 3)
0.56
"""

from __future__ import annotations

import json
import math
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bn.cli.common import Given, Question
from bn.errors import BNError, EvidenceError, ModelError
from bn.model import Model
from bn.serve import compact
from bn.serve import question as web
from bn.serve.watch import Loaded, Watch

BODY_LIMIT = 1_000_000  # bytes; a table edit is a few hundred
TOKEN_HEADER = "x-bn-token"
# The page's files, and nothing else, are served: no path ever reaches the file system.
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
WILDCARDS = ("0.0.0.0", "[::]")
ANALYSES = {"sensitivity": ("range", "threshold"), "voi": ("candidates",),
            "uncertainty": ("n", "seed", "threshold")}  # fmt: skip


class Refused(Exception):
    """A request the server will not serve (403, 404, 413)."""

    def __init__(self, status: int, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.status, self.hint = status, hint


def error_response(status: int, message: str, hint: str = "", **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "hint": hint, **extra}, status, headers=HEADERS)


class Guard:
    """Refuses requests that name another host (DNS rebinding) or announce a body over the limit."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = {h.lower() for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "").lower()
            response = None
            if host not in self.hosts:
                response = error_response(
                    403,
                    f"this server answers for {', '.join(sorted(self.hosts))}, not '{host}'",
                    "open the address that `bn serve` printed",
                )
            elif not headers.get("content-length", "0").isdigit():
                response = error_response(400, "Content-Length is not a number")
            elif int(headers.get("content-length", "0")) > BODY_LIMIT:
                response = error_response(413, f"request body over {BODY_LIMIT:,} bytes")
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    model_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    token: str,
    read_only: bool = False,
    model_arg: str | None = None,
) -> Starlette:
    """The application serving `model_dir` at http://HOST:PORT; POSTs need `token`.

    `model_arg` is the `--model` as typed, repeated in the commands the page shows.
    """
    from bn import packaged_model_path

    root = Path(model_dir)
    watch = Watch(root)
    saving = threading.Lock()
    packaged = root.resolve() == packaged_model_path().resolve()
    hosts = {f"{host}:{port}"}
    if host in ("127.0.0.1", "localhost", "[::1]", *WILDCARDS):
        hosts |= {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    if host in WILDCARDS:  # every address: the machine's own names and addresses
        hosts |= {f"{name}:{port}" for name in _own_names()}
    origins = {f"http://{h}" for h in hosts}
    layouts: dict[tuple[str, str], dict[str, Any]] = {}

    def loaded() -> tuple[Loaded, Model]:
        now = watch.current()
        if now.model is None:
            raise ModelError(now.problems)
        return now, now.model

    def respond(call: Callable[[], Any]) -> Response:
        """The JSON of `call()`; BNError -> 400 with the CLI's message, an invalid model -> 409."""
        try:
            result = call()
        except Refused as refused:
            return error_response(refused.status, str(refused), refused.hint)
        except ModelError as error:
            now = watch.current()
            if now.model is None:
                return JSONResponse(
                    {
                        "error": "the model has errors: fix them and the page recovers",
                        "hint": "run `bn check` for the same list",
                        "version": now.version,
                        "problems": [p.to_dict() for p in now.problems],
                    },
                    409,
                    headers=HEADERS,
                )
            return error_response(
                400,
                error.render(web.spell),
                "; ".join(p.hint for p in error.problems if p.hint),
                problems=[p.to_dict() for p in error.problems],
            )
        except BNError as error:
            hint = (
                "GET /api/model lists every node, its states and the scenarios"
                if isinstance(error, EvidenceError)
                else ""
            )
            return error_response(400, error.render(web.spell), hint)
        except OSError as error:
            return error_response(400, f"{error.filename or ''}: {error.strerror}")
        if isinstance(result, Response):
            return result
        return JSONResponse(_finite(result), headers=HEADERS)

    def endpoint(keys: Sequence[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A GET endpoint taking the query parameters `keys` (any other is a 400)."""

        def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
            def run(request: Request) -> Response:
                params = request.query_params.multi_items()

                def call() -> Any:
                    web.check_keys(params, keys)
                    return function(request, params)

                return respond(call)

            return run

        return wrap

    def ask(params: Sequence[tuple[str, str]]) -> tuple[Question, Given, Model, list[Any]]:
        """The question of the query parameters, on the model with any unsaved table edits (the
        model before the scenario is third)."""
        _, model = loaded()
        given = web.given(params)
        edits = web.edits(params)
        base = with_edits(model, edits) if edits else model
        return given.question(model=base), given, base, edits

    def with_edits(model: Model, edits: Sequence[dict[str, Any]]) -> Model:
        """The model with table edits made in memory, through the edit of `bn cpt set`."""
        from bn.edit.tables import set_rows
        from bn.edit.workspace import Workspace
        from bn.scenarios import overlay

        tables = [e for e in edits if not compact.is_compact_edit(e)]
        ws = Workspace(root, wait=None)  # computed in memory only: no writer's lock
        for edit in tables:
            set_rows(
                ws,
                edit["node"],
                {str(k): str(v) for k, v in edit.get("when", {}).items()},
                None,
                {str(k): _number_text(v) for k, v in edit["probabilities"].items()},
            )
        if tables:
            with tempfile.TemporaryDirectory(prefix="bn-serve-") as scratch:
                for path, text in ws.pending().items():
                    if text is not None:
                        (Path(scratch) / path).write_text(text, encoding="utf-8")
                model = overlay(model, scratch)
        for edit in edits:
            if compact.is_compact_edit(edit):  # a compact node's parameters, re-expanded
                model = compact.apply(model, edit)
        return model

    # --- the page ------------------------------------------------------------------------------

    def page(request: Request) -> Response:
        text = resources.files("bn.serve").joinpath("static/index.html").read_text("utf-8")
        config = json.dumps({"token": token, "readOnly": read_only or packaged,
                             "packaged": packaged})  # fmt: skip
        text = text.replace("{{CONFIG}}", config.replace("<", "\\u003c"))
        return Response(text, media_type="text/html; charset=utf-8", headers=HEADERS)

    def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return error_response(404, f"no such file: {name}")
        data = resources.files("bn.serve").joinpath(f"static/{name}").read_bytes()
        return Response(data, media_type=ASSETS[name], headers=HEADERS)

    # --- reading -------------------------------------------------------------------------------

    @endpoint(())
    def model_info(request: Request, params: Any) -> Any:
        from bn.scenarios import load_scenarios

        now, model = loaded()
        return {
            "title": model.title,
            "description": model.description,
            "targets": list(model.default_targets()),
            "sources": [dict(s) for s in model.sources],
            "scenarios": [
                {"name": s.name, "description": s.description}
                for s in load_scenarios(model).values()
            ],
            "nodes": [
                {
                    "id": n.id,
                    "label": n.label,
                    "description": n.description,
                    "aliases": list(n.aliases),
                    "parents": list(n.parents),
                    "states": [
                        {"name": s, "description": n.state_descriptions.get(s, "")}
                        for s in n.states
                    ],
                }
                for n in model
            ],
            "version": now.version,
            "read_only": read_only or packaged,
        }

    def version(request: Request) -> Response:
        now = watch.current()
        return JSONResponse(
            {"version": now.version, "valid": now.model is not None}, headers=HEADERS
        )

    @endpoint(())
    def check(request: Request, params: Any) -> Any:
        now = watch.current()
        return {
            "model": str(root),
            "valid": now.model is not None,
            "fixed": [],
            "problems": [p.to_dict() for p in now.problems],
        }

    @endpoint(web.QUESTION_KEYS)
    def query(request: Request, params: Any) -> Any:
        from bn.cli.query import answer

        q, given, _, _ = ask(params)
        return given.tag(answer(q, all_nodes=True).to_dict())

    @endpoint((*web.QUESTION_KEYS, "compare"))
    def view(request: Request, params: Any) -> Any:
        """What the page shows: the drawing's spec, the query's answer and the command."""
        from bn import diagram
        from bn.cli.query import answer

        now, model = loaded()
        q, given, base, edits = ask(params)
        compare = dict(params).get("compare") or None
        found = answer(q, all_nodes=True)  # the one inference of the question: spec and answer
        every = compact.every_node(q.model, q.evidence, found.posteriors)
        spec = diagram.question_spec(
            base,
            q.model,
            q.evidence,
            scenario=given.scenario,
            compare=compare,
            found=every,
        )
        result = given.tag(found.to_dict())
        out: dict[str, Any] = {
            "version": now.version,
            "spec": spec,
            "query": result,
            "command": web.command(given, ["query", "--all"], model_arg),
        }
        if compare:
            out["draw_command"] = web.command(given, ["draw", "--compare", compare], model_arg)
        if edits:
            saved = answer(given.question(model=model)).to_dict()["posteriors"]
            out["saved"] = {"targets": saved, "edited": {t: every[t] for t in saved}}
        return out

    @endpoint(("rankdir",))
    def layout(request: Request, params: Any) -> Any:
        from bn.serve.layout import layout as place

        now, model = loaded()
        rankdir = dict(params).get("rankdir", "TB").upper()
        key = (now.version, rankdir)
        if key not in layouts:
            layouts.clear()
            layouts[key] = place(model, rankdir)
        return {"version": now.version, **layouts[key]}

    @endpoint((*web.QUESTION_KEYS, "compare", "rankdir", "focus", "depth"))
    def draw(request: Request, params: Any) -> Any:
        from bn import diagram

        q, given, base, _ = ask(params)
        values = dict(params)
        picture = diagram.question_spec(
            base,
            q.model,
            q.evidence,
            scenario=given.scenario,
            compare=values.get("compare") or None,
            focus=values.get("focus") or None,
            depth=_integer(values, "depth", 0, 10_000, None),
            rankdir=values.get("rankdir", "TB").upper(),
        )
        svg, _ = diagram.render_with(diagram.to_dot(picture), "svg")
        return Response(svg, media_type="image/svg+xml", headers=HEADERS)

    def analysis(name: str) -> Callable[..., Any]:
        @endpoint((*web.QUESTION_KEYS, "target", *ANALYSES[name]))
        def run(request: Request, params: Any) -> Any:
            from bn.evidence import parse_target

            q, given, _, _ = ask(params)
            values = dict(params)
            if not values.get("target"):
                raise BNError("target is missing: give target=NODE=STATE (or target=NODE)")
            node, state = parse_target(q.model, values["target"])
            if name == "sensitivity":
                from bn.analysis.sensitivity import sensitivity

                tornado = sensitivity(
                    q.model,
                    node,
                    state,
                    q.evidence,
                    width=_real(values, "range", 0.0, 1.0, 0.1, low_open=True) or 0.1,
                    threshold=_real(values, "threshold", 0.0, 1.0, None),
                )
                return given.tag(tornado.to_dict())
            if name == "voi":
                from bn.analysis.voi import value_of_information

                names = [c.strip() for c in values.get("candidates", "").split(",")]
                voi = value_of_information(
                    q.model, node, q.evidence, state=state, candidates=[n for n in names if n]
                )
                return given.tag(voi.to_dict())
            from bn.analysis.uncertainty import uncertainty

            result = uncertainty(
                q.model,
                node,
                state,
                q.evidence,
                n=_integer(values, "n", 100, 10_000_000, 100_000) or 100_000,
                seed=_integer(values, "seed", 0, 2**32 - 1, 0) or 0,
                threshold=_real(values, "threshold", 0.0, 1.0, None),
            )
            return {**result.to_dict(), "scenario": given.scenario}

        return run

    @endpoint(("expanded", "cpt"))
    def cpt(request: Request, params: Any) -> Any:
        """`bn cpt show NODE --json` (`expanded=1`: with `--expanded`); a compact node's
        parameters and expansion with the unsaved edits of `cpt=` made."""
        from bn.edit.forms import compact_node, show_compact, show_expanded
        from bn.edit.tables import show
        from bn.edit.workspace import Workspace

        ws = Workspace(root, wait=None)
        node = compact_node(ws, request.path_params["node"])
        if node is None:
            return show(ws, request.path_params["node"])
        edits = web.edits(params)
        if edits:
            node = with_edits(loaded()[1], edits)[node.id]
        expanded = dict(params).get("expanded", "0") not in ("0", "")
        return show_expanded(node) if expanded else show_compact(node)

    # --- the one write -------------------------------------------------------------------------

    async def cpt_set(request: Request) -> Response:
        """`bn cpt set` from the page: token, origin, size and read-only checked first."""
        from starlette.concurrency import run_in_threadpool

        try:
            if read_only or packaged:
                why = "bn serve --read-only" if read_only else "the packaged model"
                raise Refused(
                    403,
                    f"saving is off: this is {why}",
                    "copy the model (cp -r cpts my-model) and run bn serve --model my-model",
                )
            if request.headers.get(TOKEN_HEADER) != token:
                raise Refused(403, "missing or wrong token: save from the page bn serve opened")
            if request.headers.get("origin") not in origins:
                raise Refused(
                    403, f"cross-origin request refused (Origin: {request.headers.get('origin')})"
                )
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > BODY_LIMIT:
                    raise Refused(413, f"request body over {BODY_LIMIT:,} bytes")
        except Refused as refused:
            return error_response(refused.status, str(refused), refused.hint)
        return await run_in_threadpool(respond, lambda: save(request, body))

    def save(request: Request, body: bytes) -> Any:
        from bn.edit.forms import show_compact
        from bn.edit.tables import set_rows, show
        from bn.edit.workspace import Workspace

        node = request.path_params["node"]
        try:
            edit = json.loads(body)
        except ValueError:
            edit = None
        if compact.compact_id(root, node) is not None:  # its parameters, through bn cpt set
            with saving:
                lines, changes, errors, saved = compact.save(root, node, edit)
            return _saved(root, lines, changes, errors, show_compact(saved))
        if not isinstance(edit, dict) or not isinstance(edit.get("when", {}), dict):
            raise BNError(
                'the body must be a JSON object {"when": {PARENT: STATE}, '
                '"probabilities": {STATE: P}, "note": TEXT, "ess": N}'
            )
        probabilities = edit.get("probabilities") or {}
        if not isinstance(probabilities, dict):
            raise BNError('"probabilities" must be an object {STATE: P}')
        with saving, Workspace(root) as ws:  # the writers' lock, as every bn edit takes it
            lines = set_rows(
                ws,
                node,
                {str(k): str(v) for k, v in edit.get("when", {}).items()},
                None,
                {str(k): _number_text(v) for k, v in probabilities.items()},
                None if edit.get("ess") is None else _number_text(edit["ess"]),
                None if edit.get("note") is None else str(edit["note"]),
            )
            changes = ws.commit()
        return _saved(root, lines, changes, ws.remaining_errors, show(Workspace(root), node))

    routes = [
        Route("/", page),
        Route("/static/{name}", asset),
        Route("/favicon.ico", lambda request: Response(status_code=204, headers=HEADERS)),
        Route("/api/model", model_info),
        Route("/api/version", version),
        Route("/api/check", check),
        Route("/api/query", query),
        Route("/api/view", view),
        Route("/api/layout", layout),
        Route("/api/draw", draw),
        *(Route(f"/api/{name}", analysis(name)) for name in ANALYSES),
        Route("/api/cpt/{node}", cpt, methods=["GET"]),
        Route("/api/cpt/{node}", cpt_set, methods=["POST"]),
    ]

    async def not_found(request: Request, error: Exception) -> Response:
        status = getattr(error, "status_code", 404)
        what = "no such endpoint" if status == 404 else f"{request.method} is not allowed here"
        return error_response(status, f"{what}: {request.url.path}", "the README lists the API")

    return Starlette(
        routes=routes,
        middleware=[Middleware(Guard, hosts=hosts)],
        exception_handlers={404: not_found, 405: not_found},
    )


def _own_names() -> set[str]:
    """This machine's host names and addresses, as a Host header may name them."""
    import socket

    names = {socket.gethostname(), socket.getfqdn()}
    try:
        _, aliases, addresses = socket.gethostbyname_ex(socket.gethostname())
    except OSError:
        aliases, addresses = [], []
    return {n for n in (*names, *aliases, *addresses) if n}


def _saved(
    root: Path, lines: list[str], changes: dict[str, str | None], errors: int, cpt: Any
) -> dict[str, Any]:
    """The answer to a save: what `bn cpt set --json` prints, and the node's table as saved."""
    return {
        "model": str(root),
        "dry_run": False,
        "written": sorted(p for p, t in changes.items() if t is not None),
        "deleted": sorted(p for p, t in changes.items() if t is None),
        "messages": lines,
        "remaining_errors": errors,
        "cpt": cpt,
    }


def _number_text(value: Any) -> str:
    """A JSON number or string as the text `bn cpt set` reads."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise BNError(f"'{value}' is not a number")
    return repr(value) if isinstance(value, float) else str(value)


def _integer(
    values: dict[str, str], key: str, low: int, high: int, default: int | None
) -> int | None:
    if key not in values:
        return default
    try:
        number = int(values[key])
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise BNError(f"{key} must be a whole number from {low:,} to {high:,}, not '{values[key]}'")
    return number


def _real(
    values: dict[str, str],
    key: str,
    low: float,
    high: float,
    default: float | None,
    *,
    low_open: bool = False,
) -> float | None:
    if key not in values:
        return default
    try:
        number = float(values[key])
    except ValueError:
        number = math.nan
    if not (low < number if low_open else low <= number) or not number <= high:
        bound = f"above {low:g}" if low_open else f"from {low:g}"
        raise BNError(f"{key} must be a number {bound} to {high:g}, not '{values[key]}'")
    return number


def _finite(data: Any) -> Any:
    """JSON has no NaN or infinity: they become null, as nowhere else in the schemas they occur."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data
