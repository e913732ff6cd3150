"""``lakeworks server``: start, stop and inspect the workspace's tracking server.

Owns the server noun. The server is the workspace's MLflow tracking server, which also serves
the MLflow web UI (the "studio" links jobs print); jobs start it on demand and it stops itself
after ``tracking_idle_timeout`` seconds without requests. The services are imported inside
commands, for startup time.
"""

from __future__ import annotations

from typing import Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    info,
    spinner,
)

app = command_group("The tracking server and MLflow web UI.")


@app.command(
    "start",
    short_help="Start the tracking server and print its URL.",
    help="Start the workspace's tracking server (if it is not running) and print the URL of "
    "its web UI.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks server start\n"
    "  lakeworks -w ./my-workspace server start",
)
def start(ctx: typer.Context) -> None:
    from lakeworks.services.web import start_server  # imported here for startup time

    ws = CliContext.of(ctx).workspace()
    with spinner(f"Starting the tracking server of workspace '{ws.name}'"):
        url = start_server(ws)
    info(f"Tracking server and web UI of workspace '{ws.name}': {url}")


@app.command(
    "stop",
    short_help="Stop the tracking server.",
    help="Stop the workspace's tracking server; the next job starts it again.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks server stop",
)
def stop(ctx: typer.Context) -> None:
    from lakeworks.services.web import stop_server  # imported here for startup time

    ws = CliContext.of(ctx).workspace()
    with spinner("Stopping the tracking server"):
        stopped = stop_server(ws)
    if stopped:
        info(f"Stopped the tracking server of workspace '{ws.name}'.")
    else:
        info(f"No tracking server was running for workspace '{ws.name}'.")


@app.command(
    "status",
    short_help="Show whether the tracking server runs, and its URL.",
    help="Show whether the workspace's tracking server runs, and its URL, pid and port.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks server status\n"
    "  lakeworks server status -o json",
)
def status(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    from lakeworks.services.web import server_status  # imported here for startup time

    ws = CliContext.of(ctx).workspace()
    found = server_status(ws)
    record: dict[str, Any] = {"workspace": ws.name, "running": found is not None}
    if found is not None:
        record.update({k: v for k, v in found.items() if k != "workspace"})
    if output is OutputFormat.TABLE and found is None:
        info(
            f"No tracking server is running for workspace '{ws.name}' "
            "(start one with `lakeworks server start`)."
        )
        return
    emit_record(record, output, title="tracking server")
