"""``lakeworks data``: register, show, list, archive and restore data assets (``az ml data``).

Owns the data noun's ``create`` (from a YAML file with ``--set`` overrides, or from flags) and
how a ``Data`` entity is shown. Shared verbs come from ``cli.asset_verbs``; the SDK is
imported inside commands, for startup time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.asset_verbs import (
    AssetNoun,
    CreateVersionOption,
    DescriptionOption,
    PathOption,
    SetOption,
    add_asset_verbs,
    cli_path,
    from_file_or_flags,
    operations,
)
from lakeworks.cli.output import Column, OutputFormat, OutputOption, command_group, emit_record

app = command_group("Data assets: versioned files and folders.")


def data_view(data: Any) -> Mapping[str, Any]:
    """What ``data show`` and ``data list`` print of a ``Data`` entity."""
    return {
        "name": data.name,
        "version": data.version,
        "type": data.type,
        "path": data.path,
        "description": data.description,
        "tags": data.tags,
        "created_at": data.created_at,
        "id": data.id,
    }


NOUN = AssetNoun(
    command="data",
    group="data",
    what="data asset",
    example="credit-card",
    view=data_view,
    columns=(
        Column("name", "Name", no_wrap=True),
        Column("version", "Version", no_wrap=True),
        Column("type", "Type"),
        Column("created_at", "Created"),
        Column("path", "Path"),
    ),
)


@app.command(
    "create",
    short_help="Register a data asset from a YAML file or flags.",
    help="Register a data asset from a YAML file or from flags; a local path is copied "
    "into the workspace. Without a version, the next free number is used.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks data create --file data.yml\n"
    "  lakeworks data create --file data.yml --set version=2 --set description=cleaned\n"
    "  lakeworks data create --name credit-card --version initial --type uri_file "
    "--path ./default_of_credit_card_clients.csv",
)
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The data asset YAML file.")
    ] = None,
    set_values: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the asset.")] = None,
    version: CreateVersionOption = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="uri_file, uri_folder (default) or mltable."),
    ] = None,
    path: PathOption = None,
    description: DescriptionOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.entities.assets import Data  # imported here for startup time
    from lakeworks.client.loaders import load_data

    data = from_file_or_flags(
        file, set_values, load=load_data, build=Data, required=("name", "path"),
        usage="give --file data.yml, or --name and --path (with --type and --version)",
        name=name, version=version, type=type_, path=cli_path(path), description=description,
    )
    created = operations(ctx, NOUN).create_or_update(data)
    emit_record(data_view(created), output, title=f"data asset {created.name}:{created.version}")


add_asset_verbs(app, NOUN)
