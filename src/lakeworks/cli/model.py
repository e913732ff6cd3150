"""``lakeworks model``: register, show, list, download, archive and restore models.

Owns the model noun's ``create`` (from a YAML file or flags) and ``download``, and how a
``Model`` entity is shown (with its lineage: the job and MLflow run that produced it). Shared
verbs come from ``cli.asset_verbs``; the SDK is imported inside commands, for startup time.
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
    NameOption,
    PathOption,
    SetOption,
    add_asset_verbs,
    cli_path,
    from_file_or_flags,
    operations,
)
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    info,
)

app = command_group("Models: registered, with lineage to their job.")


def model_view(model: Any) -> Mapping[str, Any]:
    """What ``model show`` and ``model list`` print of a ``Model`` entity."""
    return {
        "name": model.name,
        "version": model.version,
        "type": model.type,
        "path": model.path,
        "description": model.description,
        "stage": model.stage,
        "job_name": model.job_name,
        "run_id": model.run_id,
        "flavors": model.flavors,
        "tags": model.tags,
        "created_at": model.created_at,
        "id": model.id,
    }


NOUN = AssetNoun(
    command="model",
    group="models",
    what="model",
    example="credit_defaults_model",
    view=model_view,
    columns=(
        Column("name", "Name", no_wrap=True),
        Column("version", "Version", no_wrap=True),
        Column("type", "Type"),
        Column("created_at", "Created"),
        Column("job_name", "Job"),
    ),
)


@app.command(
    "create",
    short_help="Register a model from a YAML file or flags.",
    help="Register a model from a YAML file or from flags; local files are copied into the "
    "workspace. Without a version, the next free number is used.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks model create --file model.yml\n"
    "  lakeworks model create --name credit_defaults_model --version 1 --type mlflow_model "
    "--path ./model",
)
def create(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="The model YAML file.")] = None,
    set_values: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the model.")] = None,
    version: CreateVersionOption = None,
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help="custom_model (default), mlflow_model or triton_model."),
    ] = None,
    path: PathOption = None,
    description: DescriptionOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.entities.assets import Model  # imported here for startup time
    from lakeworks.client.loaders import load_model

    model = from_file_or_flags(
        file, set_values, load=load_model, build=Model, required=("name", "path"),
        usage="give --file model.yml, or --name and --path (with --type and --version)",
        name=name, version=version, type=type_, path=cli_path(path), description=description,
    )
    created = operations(ctx, NOUN).create_or_update(model)
    emit_record(model_view(created), output, title=f"model {created.name}:{created.version}")


@app.command(
    "download",
    short_help="Copy a model version's files to a folder.",
    help="Copy a model version's files to <download-path>/<name>/.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks model download --name credit_defaults_model --version 1\n"
    "  lakeworks model download -n credit_defaults_model -v 1 --download-path ./models",
)
def download(
    ctx: typer.Context,
    name: NameOption,
    version: Annotated[str, typer.Option("--version", "-v", help="Version of the model.")],
    download_path: Annotated[
        Path, typer.Option("--download-path", "-p", help="Folder to write into.")
    ] = Path("."),
) -> None:
    dest = operations(ctx, NOUN).download(name, version, download_path=download_path)
    info(f"Downloaded model '{name}' version {version} to {dest}")


add_asset_verbs(app, NOUN)
