"""``lakeworks online-endpoint`` and ``lakeworks online-deployment``, as ``az ml``'s.

Owns both nouns: endpoints (``create``, ``show``, ``list``, ``update`` with ``--traffic`` and
``--mirror-traffic``, ``invoke``, ``get-credentials``, ``regenerate-keys``, ``delete``) and
deployments (``create`` with ``--all-traffic``, ``update`` from a file or with ``--set``,
``show``, ``list``, ``get-logs``, ``delete``), and how each is shown. Keys are printed only by
``get-credentials``. The SDK is imported inside commands, for startup time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.asset_verbs import SetOption, overrides
from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    emit_rows,
    info,
    spinner,
)
from lakeworks.errors import InvalidInputError

endpoint_app = command_group(
    "Online endpoints: real-time scoring URIs with keys, traffic split and mirroring.")
deployment_app = command_group(
    "Online deployments: models (MLflow, ONNX or a scoring script) served behind an endpoint.")

EndpointNameOption = Annotated[str, typer.Option("--name", "-n", help="Name of the endpoint.")]
EndpointOfOption = Annotated[
    str, typer.Option("--endpoint-name", "-e", help="Name of the endpoint.")]
DeploymentNameOption = Annotated[
    str, typer.Option("--name", "-n", help="Name of the deployment.")]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
FileOption = Annotated[Path | None, typer.Option("--file", "-f", help="The YAML file.")]

ENDPOINT_COLUMNS = (
    Column("name", "Name", no_wrap=True),
    Column("auth_mode", "Auth"),
    Column("traffic", "Traffic"),
    Column("provisioning_state", "State"),
    Column("scoring_uri", "Scoring URI"),
)
DEPLOYMENT_COLUMNS = (
    Column("name", "Name", no_wrap=True),
    Column("endpoint_name", "Endpoint", no_wrap=True),
    Column("model", "Model"),
    Column("instance_count", "Instances"),
    Column("provisioning_state", "State"),
)


def _shares(shares: Mapping[str, int] | None) -> str:
    return " ".join(f"{n}={s}" for n, s in (shares or {}).items())


def endpoint_view(e: Any) -> dict[str, Any]:
    """What ``show`` and ``list`` print of an endpoint (never its keys)."""
    return {
        "name": e.name, "auth_mode": e.auth_mode, "scoring_uri": e.scoring_uri,
        "openapi_uri": e.openapi_uri, "provisioning_state": e.provisioning_state,
        "traffic": dict(e.traffic or {}), "mirror_traffic": dict(e.mirror_traffic or {}),
        "description": e.description, "tags": e.tags, "created_at": e.created_at,
        "updated_at": e.updated_at,
    }


def deployment_view(d: Any) -> dict[str, Any]:
    """What ``show`` and ``list`` print of a deployment."""
    code = d.code_configuration
    return {
        "name": d.name, "endpoint_name": d.endpoint_name, "model": d.model,
        "code_configuration": code._to_dict() if code else None,
        "environment": d.environment, "instance_type": d.instance_type,
        "instance_count": d.instance_count, "provisioning_state": d.provisioning_state,
        "error": d.error,
        "request_settings": d.request_settings._to_dict() if d.request_settings else None,
        "environment_variables": d.environment_variables, "description": d.description,
        "tags": d.tags, "created_at": d.created_at, "updated_at": d.updated_at,
    }


def _client(ctx: typer.Context) -> Any:
    return CliContext.of(ctx).client()


def _table_row(view: dict[str, Any], output: OutputFormat) -> dict[str, Any]:
    if output is OutputFormat.TABLE:
        view = dict(view, traffic=_shares(view.get("traffic")))
    return view


# -- online-endpoint ---------------------------------------------------------------------------


@endpoint_app.command(
    "create",
    short_help="Create an online endpoint from a YAML file.",
    help="Create an online endpoint (keys are generated; the workspace's serving process "
    "starts when none runs).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint create -f endpoint.yml\n"
    "  lakeworks online-endpoint create -f endpoint.yml --name credit-endpoint\n"
    "  lakeworks online-endpoint create --name credit-endpoint --auth-mode aml_token",
)
def endpoint_create(
    ctx: typer.Context,
    file: FileOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the endpoint "
                                             "(overrides the file's).")] = None,
    auth_mode: Annotated[str | None, typer.Option(
        "--auth-mode", help="key (default) or aml_token.")] = None,
    set_values: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.endpoint_yaml import load_online_endpoint  # for startup time
    from lakeworks.client.entities.endpoints import ManagedOnlineEndpoint

    if file is not None:
        endpoint = load_online_endpoint(file, params_override=overrides(
            set_values, name=name, auth_mode=auth_mode))
    elif name:
        if set_values:
            raise InvalidInputError("--set overrides fields of a YAML file: give --file too")
        endpoint = ManagedOnlineEndpoint(name=name, auth_mode=auth_mode or "key")
    else:
        raise InvalidInputError("give --file endpoint.yml, or --name")
    client = _client(ctx)
    with spinner(f"Creating online endpoint '{endpoint.name}'"):
        created = client.online_endpoints.begin_create_or_update(endpoint).result()
    emit_record(endpoint_view(created), output, title=f"online endpoint {created.name}")


@endpoint_app.command(
    "show",
    help="Show an online endpoint: scoring URI, traffic, state (not its keys).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint show -n credit-endpoint\n"
    "  lakeworks online-endpoint show -n credit-endpoint -o json",
)
def endpoint_show(ctx: typer.Context, name: EndpointNameOption,
                  output: OutputOption = OutputFormat.TABLE) -> None:
    found = _client(ctx).online_endpoints.get(name)
    emit_record(endpoint_view(found), output, title=f"online endpoint {found.name}")


@endpoint_app.command(
    "list",
    help="List the workspace's online endpoints.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint list\n"
    "  lakeworks online-endpoint list -o json",
)
def endpoint_list(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    rows = [_table_row(endpoint_view(e), output) for e in _client(ctx).online_endpoints.list()]
    emit_rows(rows, ENDPOINT_COLUMNS, output, empty="No online endpoints.")


@endpoint_app.command(
    "update",
    short_help="Change an endpoint's traffic, mirror traffic, or fields from a file.",
    help="Update an online endpoint: its traffic split (shares adding up to 100), its mirror "
    "traffic (one deployment, at most 50), or its fields from a YAML file. Keys are kept.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint update -n credit-endpoint --traffic \"blue=90 green=10\"\n"
    "  lakeworks online-endpoint update -n credit-endpoint --mirror-traffic \"green=10\"\n"
    "  lakeworks online-endpoint update -f endpoint.yml",
)
def endpoint_update(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the endpoint.")] = None,
    traffic: Annotated[str | None, typer.Option(
        "--traffic", "-t", help="Live traffic: \"blue=90 green=10\".")] = None,
    mirror_traffic: Annotated[str | None, typer.Option(
        "--mirror-traffic", help="Mirror traffic: \"green=10\" (\"green=0\" stops it).")] = None,
    file: FileOption = None,
    set_values: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.endpoint_yaml import load_online_endpoint  # for startup time
    from lakeworks.core.endpoints import parse_traffic
    from lakeworks.services.endpoints import EndpointService

    client = _client(ctx)
    if file is not None:
        endpoint = load_online_endpoint(file, params_override=overrides(set_values, name=name))
        client.online_endpoints.begin_create_or_update(endpoint).result()
        name = endpoint.name
    elif set_values:
        raise InvalidInputError("--set overrides fields of a YAML file: give --file too")
    if not name:
        raise InvalidInputError("give --name (or --file endpoint.yml)")
    if traffic is not None or mirror_traffic is not None:
        live = parse_traffic(traffic) if traffic is not None else None
        mirror = (parse_traffic(mirror_traffic, field="mirror_traffic")
                  if mirror_traffic is not None else None)
        if mirror is not None:
            mirror = {n: s for n, s in mirror.items() if s > 0}
        EndpointService(CliContext.of(ctx).workspace()).update_traffic(
            name, traffic=live, mirror_traffic=mirror)
    elif file is None:
        raise InvalidInputError("nothing to update: give --traffic, --mirror-traffic or --file")
    found = client.online_endpoints.get(name)
    emit_record(endpoint_view(found), output, title=f"online endpoint {found.name}")


@endpoint_app.command(
    "invoke",
    help="Send a request file (JSON) to an endpoint's scoring URI and print the answer as "
    "it comes.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint invoke -n credit-endpoint --request-file sample-request.json\n"
    "  lakeworks online-endpoint invoke -n credit-endpoint -r sample.json --deployment-name blue",
)
def endpoint_invoke(
    ctx: typer.Context,
    name: EndpointNameOption,
    request_file: Annotated[Path, typer.Option("--request-file", "-r",
                                               help="The JSON request body.")],
    deployment_name: Annotated[str | None, typer.Option(
        "--deployment-name", "-d", help="Send it to this deployment, bypassing the split.")] = None,
) -> None:
    answer = _client(ctx).online_endpoints.invoke(
        name, request_file=request_file, deployment_name=deployment_name)
    typer.echo(answer)


@endpoint_app.command(
    "get-credentials",
    help="Print an endpoint's keys (auth_mode key: primaryKey, secondaryKey) or an access "
    "token (aml_token: accessToken, expiryTimeUtc, refreshAfterTimeUtc).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint get-credentials -n credit-endpoint\n"
    "  lakeworks online-endpoint get-credentials -n credit-endpoint -o yaml",
)
def endpoint_credentials(ctx: typer.Context, name: EndpointNameOption,
                         output: OutputOption = OutputFormat.JSON) -> None:
    from lakeworks.client.entities.endpoints import EndpointAuthKeys  # for startup time

    found = _client(ctx).online_endpoints.get_keys(name)
    record: dict[str, Any]
    if isinstance(found, EndpointAuthKeys):
        record = {"primaryKey": found.primary_key, "secondaryKey": found.secondary_key}
    else:
        record = {"accessToken": found.access_token, "expiryTimeUtc": found.expiry_time_utc,
                  "refreshAfterTimeUtc": found.refresh_after_time_utc,
                  "tokenType": found.token_type}
    emit_record(record, output, title=f"credentials of {name}")


@endpoint_app.command(
    "regenerate-keys",
    help="Replace an endpoint's primary or secondary key; the old key stops working at "
    "once.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint regenerate-keys -n credit-endpoint --key-type primary\n"
    "  lakeworks online-endpoint regenerate-keys -n credit-endpoint --key-type secondary",
)
def endpoint_regenerate(
    ctx: typer.Context,
    name: EndpointNameOption,
    key_type: Annotated[str, typer.Option("--key-type", help="primary or secondary.")] = "primary",
) -> None:
    _client(ctx).online_endpoints.begin_regenerate_keys(name, key_type=key_type).result()
    info(f"Regenerated the {key_type} key of endpoint '{name}'.")


@endpoint_app.command(
    "delete",
    help="Delete an online endpoint and all its deployments.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-endpoint delete -n credit-endpoint\n"
    "  lakeworks online-endpoint delete -n credit-endpoint --yes",
)
def endpoint_delete(ctx: typer.Context, name: EndpointNameOption, yes: YesOption = False) -> None:
    ops = _client(ctx).online_endpoints
    ops.get(name)  # a clear error for an unknown name, before asking
    if not yes:
        typer.confirm(f"Delete online endpoint '{name}' and all its deployments?", abort=True)
    ops.begin_delete(name).result()
    info(f"Deleted online endpoint '{name}'.")


# -- online-deployment -------------------------------------------------------------------------


@deployment_app.command(
    "create",
    short_help="Create a deployment from a YAML file and wait until it serves.",
    help="Create a deployment from a YAML file and wait until it serves: an MLflow or ONNX "
    "model needs no code; a scoring script (code_configuration) runs in its environment.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment create -f blue-deployment.yml --all-traffic\n"
    "  lakeworks online-deployment create -f green.yml --endpoint-name credit-endpoint\n"
    "  lakeworks online-deployment create -f blue.yml --set instance_count=2",
)
def deployment_create(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", "-f", help="The deployment YAML file.")],
    endpoint_name: Annotated[str | None, typer.Option(
        "--endpoint-name", "-e", help="The endpoint (overrides the file's).")] = None,
    name: Annotated[str | None, typer.Option(
        "--name", "-n", help="Name of the deployment (overrides the file's).")] = None,
    all_traffic: Annotated[bool, typer.Option(
        "--all-traffic", help="Give it 100% of the endpoint's traffic once it serves.")] = False,
    set_values: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    _deploy(ctx, file, set_values, endpoint_name=endpoint_name, name=name,
            all_traffic=all_traffic, output=output)


def _deploy(ctx: typer.Context, file: Path, set_values: list[str] | None, *,
            endpoint_name: str | None, name: str | None, all_traffic: bool,
            output: OutputFormat) -> None:
    from lakeworks.client.endpoint_yaml import load_online_deployment  # for startup time

    deployment = load_online_deployment(file, params_override=overrides(
        set_values, endpoint_name=endpoint_name, name=name))
    client = _client(ctx)
    with spinner(f"Deploying '{deployment.name}' to endpoint '{deployment.endpoint_name}'"):
        created = client.online_deployments.begin_create_or_update(
            deployment, all_traffic=all_traffic).result()
    emit_record(deployment_view(created), output,
                title=f"deployment {created.endpoint_name}/{created.name}")


def _parse_sets(pairs: list[str]) -> dict[str, Any]:
    import yaml  # for startup time

    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--set {pair!r} must look like KEY=VALUE, e.g. "
                                    "instance_count=2", field="set")
        value = yaml.safe_load(raw) if raw.strip() else ""
        target = changes
        *parents, leaf = key.strip().split(".")
        for part in parents:
            target = target.setdefault(part, {})
        target[leaf] = value
    return changes


@deployment_app.command(
    "update",
    short_help="Update a deployment from a file, or change fields with --set.",
    help="Update a deployment: from its YAML file, or by name with --set (instance_count, "
    "request_settings.*, environment_variables.*). The server replaces its workers without "
    "failing a request.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment update -f blue-deployment.yml\n"
    "  lakeworks online-deployment update -n blue -e credit-endpoint --set instance_count=2\n"
    "  lakeworks online-deployment update -n blue -e credit-endpoint "
    "--set request_settings.request_timeout_ms=10000",
)
def deployment_update(
    ctx: typer.Context,
    file: FileOption = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Name of the deployment.")] = None,
    endpoint_name: Annotated[str | None, typer.Option(
        "--endpoint-name", "-e", help="Name of the endpoint.")] = None,
    set_values: SetOption = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    if file is not None:
        _deploy(ctx, file, set_values, endpoint_name=endpoint_name, name=name,
                all_traffic=False, output=output)
        return
    if not name or not endpoint_name or not set_values:
        raise InvalidInputError("give --file deployment.yml, or --name, --endpoint-name and "
                                "--set KEY=VALUE")
    from lakeworks.client.entities.endpoints import ManagedOnlineDeployment  # for startup time
    from lakeworks.services.endpoints import EndpointService

    service = EndpointService(CliContext.of(ctx).workspace())
    changes = _parse_sets(set_values)
    current = service.get_deployment(endpoint_name, name).spec.model_dump(mode="json")
    merged = _merge(current, changes)
    with spinner(f"Updating deployment '{name}' of endpoint '{endpoint_name}'"):
        record = service.update_deployment(endpoint_name, name, merged)
    emit_record(deployment_view(ManagedOnlineDeployment._from_record(record)), output,
                title=f"deployment {endpoint_name}/{name}")


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@deployment_app.command(
    "show",
    help="Show a deployment: model, code, environment, instances, state.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment show -n blue -e credit-endpoint\n"
    "  lakeworks online-deployment show -n blue -e credit-endpoint -o json",
)
def deployment_show(ctx: typer.Context, name: DeploymentNameOption,
                    endpoint_name: EndpointOfOption,
                    output: OutputOption = OutputFormat.TABLE) -> None:
    found = _client(ctx).online_deployments.get(name, endpoint_name)
    emit_record(deployment_view(found), output, title=f"deployment {endpoint_name}/{name}")


@deployment_app.command(
    "list",
    help="List the deployments of an endpoint.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment list -e credit-endpoint\n"
    "  lakeworks online-deployment list -e credit-endpoint -o json",
)
def deployment_list(ctx: typer.Context, endpoint_name: EndpointOfOption,
                    output: OutputOption = OutputFormat.TABLE) -> None:
    found = _client(ctx).online_deployments.list(endpoint_name)
    emit_rows([deployment_view(d) for d in found], DEPLOYMENT_COLUMNS, output,
              empty=f"Endpoint '{endpoint_name}' has no deployments.")


@deployment_app.command(
    "get-logs",
    help="Print the last lines of a deployment's logs: the inference server's (workers, "
    "requests) or the storage initializer's (model, code and environment resolution).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment get-logs -n blue -e credit-endpoint\n"
    "  lakeworks online-deployment get-logs -n blue -e credit-endpoint --lines 100\n"
    "  lakeworks online-deployment get-logs -n blue -e credit-endpoint "
    "--container storage-initializer",
)
def deployment_logs(
    ctx: typer.Context,
    name: DeploymentNameOption,
    endpoint_name: EndpointOfOption,
    lines: Annotated[int, typer.Option("--lines", "-l", help="How many lines, from the end.")]
    = 5000,
    container: Annotated[str, typer.Option(
        "--container", "-c", help="inference-server or storage-initializer.")]
    = "inference-server",
) -> None:
    text = _client(ctx).online_deployments.get_logs(name, endpoint_name, lines,
                                                    container_type=container)
    typer.echo(text)


@deployment_app.command(
    "delete",
    help="Delete a deployment that takes no traffic (move its traffic to other deployments "
    "first with `online-endpoint update --traffic`).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks online-deployment delete -n blue -e credit-endpoint\n"
    "  lakeworks online-deployment delete -n blue -e credit-endpoint --yes",
)
def deployment_delete(ctx: typer.Context, name: DeploymentNameOption,
                      endpoint_name: EndpointOfOption, yes: YesOption = False) -> None:
    ops = _client(ctx).online_deployments
    ops.get(name, endpoint_name)
    if not yes:
        typer.confirm(f"Delete deployment '{name}' of endpoint '{endpoint_name}'?", abort=True)
    ops.begin_delete(name, endpoint_name).result()
    info(f"Deleted deployment '{name}' of endpoint '{endpoint_name}'.")
