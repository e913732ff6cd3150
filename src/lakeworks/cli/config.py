"""``lakeworks config show``: every setting with its value and where the value came from.

Owns the config noun. Settings are read as the rest of Lakeworks reads them (``load_settings``:
arguments, environment, the workspace's ``lakeworks.toml``, the user config, defaults), for the
selected workspace if there is one. ``lakeworks.config`` is imported inside the command, for
startup time.
"""

from __future__ import annotations

from typing import Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import Column, OutputFormat, OutputOption, command_group, emit_rows, info

app = command_group("Settings, with where each value comes from.")

_COLUMNS = (
    Column("setting", "Setting", no_wrap=True),
    Column("value", "Value"),
    Column("source", "Source"),
    Column("description", "Description"),
)


@app.command(
    "show",
    short_help="Show every setting with its value and source.",
    help="Show every setting with its value and source (argument, environment variable "
    "LAKEWORKS_<NAME>, workspace lakeworks.toml, user config, or default).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks config show\n"
    "  lakeworks -w ./my-workspace config show -o json",
)
def show(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    from lakeworks.config import Settings, load_settings, setting_sources  # startup time

    workspace = CliContext.of(ctx).workspace_path_if_any()
    settings = load_settings(workspace)
    sources = setting_sources(settings)
    rows: list[dict[str, Any]] = []
    for key, field in Settings.model_fields.items():
        rows.append(
            {
                "setting": key,
                "value": getattr(settings, key),
                "source": sources.get(key, "default"),
                "description": field.description,
            }
        )
    if output is OutputFormat.TABLE:
        info(f"Workspace: {workspace}" if workspace else "Workspace: none found (defaults apply)")
    emit_rows(rows, _COLUMNS, output)
