"""``lakeworks component``: register, show, list, archive and restore command components.

Owns the component noun's ``create`` (from a YAML file, snapshotting its code) and how a
``CommandComponent`` is shown (command, environment, inputs and outputs). Shared verbs come
from ``cli.asset_verbs``; the SDK is imported inside commands, for startup time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.asset_verbs import AssetNoun, SetOption, add_asset_verbs, operations, overrides
from lakeworks.cli.output import Column, OutputFormat, OutputOption, command_group, emit_record

app = command_group("Command components: reusable steps.")


def _environment_text(env: Any) -> str | None:
    if env is None or isinstance(env, str):
        return env
    name = getattr(env, "name", None)
    version = getattr(env, "version", None)
    return f"{name}:{version}" if version else f"{name} (inline)"


def _io(io: Any) -> dict[str, Any]:
    fields = {
        "type": getattr(io, "type", None),
        "default": getattr(io, "default", None),
        "optional": getattr(io, "optional", None) or None,
        "description": getattr(io, "description", None),
    }
    return {k: v for k, v in fields.items() if v is not None}


def component_view(component: Any) -> Mapping[str, Any]:
    """What ``component show`` and ``component list`` print of a ``CommandComponent``."""
    return {
        "name": component.name,
        "version": component.version,
        "display_name": component.display_name,
        "type": component.type,
        "description": component.description,
        "command": component.command,
        "code": component.code,
        "environment": _environment_text(component.environment),
        "inputs": {k: _io(v) for k, v in component.inputs.items()},
        "outputs": {k: _io(v) for k, v in component.outputs.items()},
        "is_deterministic": component.is_deterministic,
        "tags": component.tags,
        "id": component.id,
    }


NOUN = AssetNoun(
    command="component",
    group="components",
    what="component",
    example="train_model",
    view=component_view,
    columns=(
        Column("name", "Name", no_wrap=True),
        Column("version", "Version", no_wrap=True),
        Column("display_name", "Display name"),
        Column("environment", "Environment"),
        Column("description", "Description"),
    ),
    default_label="default",
)


@app.command(
    "create",
    short_help="Register a command component from its YAML file.",
    help="Register a command component from its YAML file; its code folder is snapshotted "
    "and its environment checked. Without a version, the next free number is used.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks component create --file components/train/train.yml\n"
    "  lakeworks component create --file train.yml --version 2 --set display_name=Train",
)
def create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="The component YAML file.")],
    version: Annotated[
        str | None, typer.Option("--version", "-v", help="Version (default: next number).")
    ] = None,
    set_values: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.loaders import load_component  # imported here for startup time

    component = load_component(file, params_override=overrides(set_values))
    created = operations(ctx, NOUN).create_or_update(component, version=version)
    emit_record(
        component_view(created), output, title=f"component {created.name}:{created.version}"
    )


add_asset_verbs(app, NOUN)
