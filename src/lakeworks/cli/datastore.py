"""``lakeworks datastore``: named storage roots (folders, S3, Azure Blob, ADLS Gen2), as ``az ml datastore``.

Owns the datastore noun: ``create`` (from a YAML file with ``--set``, or from flags for a
folder or URL), ``show``, ``list``, ``delete`` and ``test`` (Synapse's "Test connection"), and
how a datastore is shown. Secrets are never printed: environment references are shown as
``${{env:VAR}}``, encrypted values as ``(encrypted)``. The SDK is imported inside commands,
for startup time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.asset_verbs import DescriptionOption, SetOption, cli_path, overrides
from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    emit_rows,
    error,
    info,
)
from lakeworks.errors import InvalidInputError

#: exit code of a failed connection test (as the app's FAILURE_EXIT: not the user's input)
FAILED_TEST_EXIT = 1

app = command_group("Datastores: named storage roots (folders, S3, Azure Blob, ADLS Gen2).")

NameOption = Annotated[str, typer.Option("--name", "-n", help="Name of the datastore.")]
_TYPE_FIELDS = ("account_name", "container_name", "filesystem", "protocol", "endpoint", "bucket",
                "prefix", "endpoint_url", "region", "path")
COLUMNS = (
    Column("name", "Name", no_wrap=True),
    Column("type", "Type", no_wrap=True),
    Column("url", "Root"),
    Column("credentials", "Credentials"),
    Column("is_default", "Default"),
)


def credentials_view(ds: Any) -> dict[str, str]:
    """Credential fields as shown: references as ``${{env:VAR}}``, secrets as ``(encrypted)``."""
    from lakeworks.core.datastores import env_reference  # imported here for startup time

    creds = ds.credentials
    if creds is None:
        return {}
    shown: dict[str, str] = {}
    for name in creds._secret_fields:
        value = getattr(creds, name)
        if value is None:
            shown[name] = "(encrypted)"
        elif env_reference(str(value)):  # an EnvVar or ${{env:VAR}}: a name, not a secret
            shown[name] = str(value)
        else:
            shown[name] = "(hidden)"
    shown.update(creds._plain())
    return shown


def datastore_view(ds: Any) -> Mapping[str, Any]:
    """What ``datastore show`` and ``datastore list`` print of a datastore entity."""
    view: dict[str, Any] = {
        "name": ds.name,
        "type": ds.type.value,
        "url": ds.url,
        "is_default": ds.is_default,
        "description": ds.description,
        "tags": ds.tags,
    }
    for field in _TYPE_FIELDS:
        value = getattr(ds, field, None)
        if value not in (None, ""):
            view[field] = value
    view["credentials"] = credentials_view(ds)
    view["created_at"] = ds.created_at
    return view


def _env_pairs(pairs: list[str] | None) -> dict[str, str]:
    from lakeworks.core.datastores import format_env_reference  # for startup time

    result: dict[str, str] = {}
    for pair in pairs or []:
        field, sep, var = pair.partition("=")
        if not sep or not field or not var:
            raise InvalidInputError(
                f"--credential-env {pair!r} must look like FIELD=VARIABLE, e.g. "
                "account_key=AZURE_STORAGE_KEY"
            )
        result[field.strip()] = format_env_reference(var.strip())
    return result


@app.command(
    "create",
    short_help="Create or update a datastore from a YAML file or flags.",
    help="Create or update a datastore from a YAML file (Azure's datastore YAML, plus "
    "type: s3 and type: local) or from flags. Credentials in a file are kept encrypted with "
    "your Lakeworks key, or as references when written ${{env:VAR}}; from flags, give "
    "references only (--credential-env FIELD=VAR).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks datastore create --file blob.yml\n"
    "  lakeworks datastore create --file blob.yml --set account_name=other\n"
    "  lakeworks datastore create --name lake --path ./lake\n"
    "  lakeworks datastore create --name raw --url s3://bucket/raw "
    "--endpoint-url http://127.0.0.1:9000 --credential-env access_key_id=AWS_ACCESS_KEY_ID "
    "--credential-env secret_access_key=AWS_SECRET_ACCESS_KEY\n"
    "  lakeworks datastore create --name adls "
    "--url abfss://files@datalakexyz.dfs.core.windows.net/data "
    "--credential-env account_key=AZURE_STORAGE_KEY",
)
def create(
    ctx: typer.Context,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The datastore YAML file.")
    ] = None,
    set_values: SetOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the datastore.")] = None,
    path: Annotated[
        str | None, typer.Option("--path", "-p", help="A local folder (a local datastore).")
    ] = None,
    url: Annotated[
        str | None,
        typer.Option("--url", "-u", help="The root: s3://bucket/prefix, abfss://c@acct.dfs."
                     "core.windows.net/path, file:///folder."),
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option("--endpoint-url", help="S3 endpoint (MinIO, a local server).")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="S3 region.")] = None,
    credential_env: Annotated[
        list[str] | None,
        typer.Option("--credential-env", metavar="FIELD=VAR",
                     help="Read credential FIELD from environment variable VAR when used "
                     "(repeat for several)."),
    ] = None,
    description: DescriptionOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.datastore_yaml import (  # imported here for startup time
        credentials_from_fields,
        load_datastore,
    )
    from lakeworks.client.entities.datastores import Datastore

    refs = _env_pairs(credential_env)
    if file is not None:
        extra = overrides(set_values, name=name, description=description, path=cli_path(path),
                          url=cli_path(url), endpoint_url=endpoint_url, region=region)
        if refs:
            extra.append({f"credentials.{k}": v for k, v in refs.items()})
        ds = load_datastore(file, params_override=extra)
    else:
        if set_values:
            raise InvalidInputError("--set overrides fields of a YAML file: give --file too")
        if not name or (path is None) == (url is None):
            raise InvalidInputError(
                "give --file datastore.yml, or --name with one of --path (a folder) or --url"
            )
        root = cli_path(path if path is not None else url) or ""
        from lakeworks.core.datastores import type_of_url  # for startup time

        creds = credentials_from_fields(type_of_url(root), refs)
        ds = Datastore.from_url(name, root, credentials=creds, description=description,
                                endpoint_url=endpoint_url, region=region)
    created = CliContext.of(ctx).client().datastores.create_or_update(ds)
    emit_record(datastore_view(created), output, title=f"datastore {created.name}")


@app.command(
    "show",
    help="Show a datastore (never its secrets).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks datastore show --name workspaceblobstore\n"
    "  lakeworks datastore show -n lake -o json",
)
def show(ctx: typer.Context, name: NameOption, output: OutputOption = OutputFormat.TABLE) -> None:
    ds = CliContext.of(ctx).client().datastores.get(name)
    emit_record(datastore_view(ds), output, title=f"datastore {ds.name}")


@app.command(
    "list",
    help="List the workspace's datastores, the default first.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks datastore list\n"
    "  lakeworks datastore list -o json",
)
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    stores = CliContext.of(ctx).client().datastores.list()
    rows = []
    for ds in stores:
        row = dict(datastore_view(ds))
        if output is OutputFormat.TABLE:
            row["credentials"] = ", ".join(f"{k}: {v}" for k, v in row["credentials"].items())
        rows.append(row)
    emit_rows(rows, COLUMNS, output, empty="No datastores.")


@app.command(
    "delete",
    help="Delete a datastore: Lakeworks forgets it, its data is not touched. The default "
    "datastore cannot be deleted.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks datastore delete --name lake\n"
    "  lakeworks datastore delete --name lake --yes",
)
def delete(
    ctx: typer.Context,
    name: NameOption,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    ops = CliContext.of(ctx).client().datastores
    ops.get(name)  # a clear error for an unknown name, before asking
    if not yes:
        typer.confirm(f"Delete datastore '{name}'? Its data is not touched.", abort=True)
    ops.delete(name)
    info(f"Deleted datastore '{name}'.")


@app.command(
    "test",
    help="Test a datastore's connection (Synapse's \"Test connection\"): list its root and "
    "report success, or the failure and how to fix it (exit code 1).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks datastore test --name lake\n"
    "  lakeworks datastore test -n raw -o json",
)
def test(ctx: typer.Context, name: NameOption, output: OutputOption = OutputFormat.TABLE) -> None:
    check = CliContext.of(ctx).client().datastores.test_connection(name)
    record = {"name": check.name, "url": check.url, "ok": check.ok, "detail": check.detail,
              "entries": list(check.entries)}
    if output is not OutputFormat.TABLE:
        emit_record(record, output, title=f"datastore {name}")
    elif check.ok:
        info(f"Connection to datastore '{name}' succeeded: {check.detail}.")
        for entry in check.entries[:20]:
            info(f"  {entry}")
        if len(check.entries) > 20:
            info(f"  ... and {len(check.entries) - 20} more")
    else:
        error(f"connection to datastore '{name}' failed: {check.detail}")
    if not check.ok:
        raise typer.Exit(FAILED_TEST_EXIT)
