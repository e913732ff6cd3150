"""``lakeworks workspace``: create, show and list workspaces.

Owns the workspace noun: creating a workspace folder (``lakeworks.toml``, ``.lakeworks/``,
``artifacts/``), showing the selected one, and listing those under ``workspace_root`` (where
``MLClient(..., workspace_name=NAME)`` keeps them). The services are imported inside commands,
for startup time.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    emit_rows,
    info,
)

if TYPE_CHECKING:
    from lakeworks.services.workspace import Workspace

app = command_group("Workspaces: create, show and list workspace folders.")

_COLUMNS = (
    Column("current", ""),
    Column("name", "Name", no_wrap=True),
    Column("path", "Path"),
    Column("location", "Location"),
    Column("resource_group", "Resource group"),
    Column("description", "Description"),
)


def workspace_view(ws: Workspace) -> dict[str, Any]:
    """What ``workspace show`` prints: identity, folder and stores."""
    return {
        "name": ws.name,
        "path": ws.path,
        "location": ws.info.location,
        "resource_group": ws.info.resource_group,
        "subscription_id": ws.info.subscription_id,
        "description": ws.info.description,
        "created_at": ws.info.created_at,
        "database_url": ws.metadata_url,
        "artifact_url": ws.artifact_url,
    }


@app.command(
    "create",
    short_help="Create a workspace folder.",
    help="Create a workspace in PATH (default: the current folder). Commands run in it or "
    "below it use it; elsewhere, pass --workspace PATH.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks workspace create ./credit-ws --name credit-ws\n"
    "  lakeworks workspace create . --database-url postgresql://me@localhost/lakeworks "
    "--artifact-url s3://bucket/lakeworks",
)
def create(
    path: Annotated[Path, typer.Argument(help="The workspace folder (created if missing).")] = Path(
        "."
    ),
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Workspace name (default: folder name).")
    ] = None,
    location: Annotated[str, typer.Option("--location", "-l", help="Shown as location.")] = "local",
    resource_group: Annotated[
        str, typer.Option("--resource-group", "-g", help="Shown as resource group.")
    ] = "local",
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="Free text.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Metadata database (default: SQLite inside)."),
    ] = None,
    artifact_url: Annotated[
        str | None,
        typer.Option("--artifact-url", help="Artifact store folder or URL (default: ./artifacts)."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.services.workspace import create_workspace  # imported for startup time

    settings = {"database_url": database_url, "artifact_url": artifact_url}
    ws = create_workspace(
        path,
        name=name,
        location=location,
        resource_group=resource_group,
        description=description,
        settings={k: v for k, v in settings.items() if v is not None},
    )
    try:
        emit_record(workspace_view(ws), output, title=f"workspace {ws.name}")
    finally:
        ws.close()
    if output is OutputFormat.TABLE:
        info(
            f"Created workspace '{ws.name}'. Run commands inside {ws.path}, or pass "
            f"--workspace {ws.path}."
        )


@app.command(
    "show",
    help="Show the selected workspace: name, folder, location and stores.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks workspace show\n"
    "  lakeworks -w ./credit-ws workspace show -o json",
)
def show(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    state = CliContext.of(ctx)
    entity = state.client().workspaces.get()
    view = workspace_view(state.workspace())
    view["name"] = entity.name
    emit_record(view, output, title=f"workspace {entity.name}")


@app.command(
    "list",
    short_help="List the workspaces under the workspace root.",
    help="List the workspaces under the workspace root (setting workspace_root, where "
    "MLClient(..., workspace_name=NAME) keeps them); * marks the selected one.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks workspace list\n"
    "  LAKEWORKS_WORKSPACE_ROOT=/data/workspaces lakeworks workspace list -o json",
)
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    from lakeworks.config import WORKSPACE_FILE, load_settings  # imported for startup time
    from lakeworks.services.workspace import open_workspace

    root = load_settings().workspace_root.expanduser()
    current = CliContext.of(ctx).workspace_path_if_any()
    rows: list[dict[str, Any]] = []
    folders = (
        sorted(p for p in root.iterdir() if (p / WORKSPACE_FILE).is_file()) if root.is_dir() else []
    )
    for folder in folders:
        ws = open_workspace(folder)
        row = workspace_view(ws)
        row["current"] = "*" if current is not None and ws.path == current.resolve() else ""
        rows.append(row)
    emit_rows(
        rows,
        _COLUMNS,
        output,
        title=f"Workspaces under {root}",
        empty=f"No workspaces under {root}.",
    )
