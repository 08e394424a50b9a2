"""`bn serve`: the interactive "what if" page on a local web server."""

from __future__ import annotations

from types import FrameType

import click

from bn.cli.base import cli
from bn.cli.common import model_option

LOOPBACK = ("127.0.0.1", "localhost", "::1")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
    help="Port (0: any free port).",
)  # fmt: skip
@click.option("--open/--no-open", "open_browser", default=False, show_default=True,
              help="Open the page in a web browser.")  # fmt: skip
@click.option("--read-only", is_flag=True, help="No saving: the page cannot change the files.")
@model_option
def serve(host: str, port: int, open_browser: bool, read_only: bool, model_dir: str | None) -> None:
    """Explore the model by clicking: a local web page with live posteriors.

    Click a state to observe it (again to clear it); set do(), likelihood and soft evidence, pick
    a scenario, compare, read each table and the sensitivity of a target, and try new numbers
    before saving them (as `bn cpt set` does). The page's URL holds the whole question, and the
    page follows the model's files as they change on disk. The first line printed is the URL;
    Ctrl-C stops the server. The JSON API is described in the README.

    \b
    Examples:
      bn serve                          # the flagship model, read-only (it is packaged)
      bn serve --model my-model --open  # edit a copy: cp -r cpts my-model
      bn serve --port 0 --read-only     # any free port, no saving
    """
    import secrets
    import socket
    import webbrowser

    import uvicorn

    from bn import BNError, model_path
    from bn.serve.app import create_app

    if model_dir is not None and not model_dir.strip():
        raise BNError("--model is empty: name a model directory (or leave the option out)")
    path = model_path(model_dir)
    if not path.is_dir():
        raise BNError(f"{path}: no such model directory")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise BNError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    sock.listen(128)  # connections wait in the backlog from now on: the URL printed works at once
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    app = create_app(
        path,
        host=shown,
        port=port,
        token=secrets.token_urlsafe(24),
        read_only=read_only,
        model_arg=model_dir,
    )
    if host not in LOOPBACK:  # on stderr, before the URL: stdout's first line stays the URL
        click.secho(
            f"warning: listening on {host}: anyone who can reach this address can read the model",
            err=True,
            fg="yellow",
        )
    click.echo(url)
    if open_browser:
        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    _server_class()(config).run(sockets=[sock])


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """Stops on Ctrl-C or SIGTERM, then returns (exit code 0) instead of raising the signal
        again after the shutdown, as uvicorn does for a process manager's sake."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if isinstance(captured, list):
                captured.clear()

    return Server
