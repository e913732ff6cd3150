"""``lakeworks environment``: register, show, list, archive and restore environments.

Owns the environment noun's ``create`` (from a YAML file, or from ``--conda-file``/``--image``
flags) and how an ``Environment`` entity is shown. Shared verbs come from ``cli.asset_verbs``;
the SDK is imported inside commands, for startup time.
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
    SetOption,
    add_asset_verbs,
    cli_path,
    from_file_or_flags,
    operations,
)
from lakeworks.cli.output import Column, OutputFormat, OutputOption, command_group, emit_record

app = command_group("Environments: conda/pip specs, built as virtualenvs.")


def environment_view(env: Any) -> Mapping[str, Any]:
    """What ``environment show`` and ``environment list`` print of an ``Environment``."""
    build = env.build
    return {
        "name": env.name,
        "version": env.version,
        "image": env.image,
        "conda_file": env.conda_file,
        "build": {"path": build.path, "dockerfile_path": build.dockerfile_path}
        if build is not None
        else None,
        "description": env.description,
        "tags": env.tags,
        "created_at": env.created_at,
        "id": env.id,
    }


NOUN = AssetNoun(
    command="environment",
    group="environments",
    what="environment",
    example="sklearn-env",
    view=environment_view,
    columns=(
        Column("name", "Name", no_wrap=True),
        Column("version", "Version", no_wrap=True),
        Column("image", "Image"),
        Column("created_at", "Created"),
        Column("description", "Description"),
    ),
)


@app.command(
    "create",
    short_help="Register an environment from a YAML file or flags.",
    help="Register an environment from a YAML file or from flags. Without a version, the "
    "next free number is used.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks environment create --file env.yml\n"
    "  lakeworks environment create --name sklearn-env --conda-file conda.yaml "
    "--image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04",
)
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The environment YAML file.")
    ] = None,
    set_values: SetOption = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Name of the environment.")
    ] = None,
    version: CreateVersionOption = None,
    conda_file: Annotated[
        str | None, typer.Option("--conda-file", help="Conda YAML file (dependencies, pip).")
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Base Docker image (recorded).")
    ] = None,
    description: DescriptionOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.entities.assets import Environment  # imported for startup time
    from lakeworks.client.loaders import load_environment

    env = from_file_or_flags(
        file, set_values, load=load_environment, build=Environment,
        required=("name", ("conda_file", "image")),
        usage="give --file env.yml, or --name with --conda-file and/or --image",
        name=name, version=version, conda_file=cli_path(conda_file), image=image,
        description=description,
    )
    created = operations(ctx, NOUN).create_or_update(env)
    emit_record(
        environment_view(created), output, title=f"environment {created.name}:{created.version}"
    )


add_asset_verbs(app, NOUN)
