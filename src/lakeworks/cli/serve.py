"""``lakeworks serve``: the workspace's online endpoints over HTTP, in the foreground.

Owns the ``serve`` command: run the serving process in this terminal until Ctrl+C
(``--host``, ``--port``, ``--max-body-mb``), or, with ``--status``, show the one running in
the background (started by endpoint creation) and, with ``--stop``, stop it. Endpoints live in
the workspace, so a restarted server serves every one of them again. The serving module and
the services are imported inside the command, for startup time.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import OutputFormat, OutputOption, emit_record, info, spinner
from lakeworks.errors import StateError

SERVE_HELP = (
    "Serve the workspace's online endpoints over HTTP in the foreground (Ctrl+C stops), as "
    "http://HOST:PORT/endpoints/<endpoint>/score. Endpoint creation starts the same server in "
    "the background when none runs; --status shows it and --stop stops it.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks serve\n"
    "  lakeworks serve --host 0.0.0.0 --port 8080 --max-body-mb 20\n"
    "  lakeworks serve --status\n"
    "  lakeworks serve --stop"
)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port (0: any free port).")]
    = 5001,
    max_body_mb: Annotated[float, typer.Option(
        "--max-body-mb", help="Answer 413 to request bodies larger than this.")] = 100.0,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running server.")] = False,
    status: Annotated[bool, typer.Option("--status", help="Show the running server.")] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.services import serving_process  # imported here for startup time

    ws = CliContext.of(ctx).workspace()
    if stop:
        with spinner("Stopping the serving process"):
            stopped = serving_process.stop_server(ws)
        info(f"Stopped the serving process of workspace '{ws.name}'." if stopped else
             f"No serving process was running for workspace '{ws.name}'.")
        return
    if status:
        _status(ws, output)
        return
    serving_process.check_port(port)
    running = serving_process.find_server(ws)
    if running is not None:
        raise StateError(
            f"the endpoints of workspace '{ws.name}' are already served at {running.url} "
            f"(pid {running.pid}); stop that server first with `lakeworks serve --stop`")
    from lakeworks.serving.server import serve as run_server  # imported here for startup time

    info(f"Serving the online endpoints of workspace '{ws.name}' on {host}:{port} "
         "(Ctrl+C stops).")
    run_server(ws.path, host=host, port=port, max_body_mb=max_body_mb)


def _status(ws: Any, output: OutputFormat) -> None:
    from lakeworks.services import serving_process  # imported here for startup time

    found = serving_process.find_server(ws)
    if found is None:
        if output is OutputFormat.TABLE:
            info(f"No serving process is running for workspace '{ws.name}' (start one with "
                 "`lakeworks serve`, or create an online endpoint).")
            return
        emit_record({"workspace": ws.name, "running": False}, output, title="serving")
        return
    record: dict[str, Any] = {"workspace": ws.name, "running": True, **found.as_dict()}
    details = serving_process.server_status(ws) or {}
    endpoints = details.get("endpoints") or {}
    record["endpoints"] = {
        name: {d: entry.get("state") for d, entry in (body.get("deployments") or {}).items()}
        for name, body in endpoints.items() if isinstance(body, dict)}
    emit_record(record, output, title="serving")
