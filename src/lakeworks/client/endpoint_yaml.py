"""``load_online_endpoint`` and ``load_online_deployment``: entities from Azure ML's online YAML.

Owns the managedOnlineEndpoint and managedOnlineDeployment YAML schemas (the ``$schema`` header
of Azure's files is accepted): an endpoint's ``name``, ``auth_mode``, ``traffic``,
``mirror_traffic``; a deployment's ``model`` (``azureml:name@latest``, ``name:version``, a
local path, or inline ``{path, type}``), ``code_configuration``, ``environment`` (a reference
or inline), ``instance_count``, ``request_settings``, probes, ``data_collector`` and Lakeworks'
``batching``. Local paths are read relative to the YAML file. Every field is checked at load,
so errors name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from lakeworks.client.entities.assets import Model, _abs
from lakeworks.client.entities.endpoints import (
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    OnlineDeployment,
)
from lakeworks.client.loaders import Overrides, _environment_entity
from lakeworks.client.schemas import EnvironmentYaml, Scalar, _Doc, _Strict
from lakeworks.errors import InvalidInputError
from lakeworks.services.documents import Document, load_document, validate


class EndpointYaml(_Doc):
    name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    auth_mode: str = "key"
    traffic: dict[str, int] | None = None
    mirror_traffic: dict[str, int] | None = None
    identity: dict[str, Any] | None = None
    public_network_access: str | None = None
    kind: str | None = None
    location: str | None = None


class ModelYamlInline(_Strict):
    name: str | None = None
    version: str | int | None = None
    path: str | None = None
    type: str = "custom_model"
    description: str | None = None


class CodeConfigurationYaml(_Strict):
    code: str
    scoring_script: str


class DeploymentYaml(_Doc):
    name: str
    endpoint_name: str | None = None
    type: str | None = None  # managed (kubernetes is not served here)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    model: str | ModelYamlInline | None = None
    code_configuration: CodeConfigurationYaml | None = None
    environment: str | EnvironmentYaml | None = None
    environment_variables: dict[str, Scalar] = Field(default_factory=dict)
    instance_type: str | None = None
    instance_count: int | None = None
    app_insights_enabled: bool = False
    scale_settings: dict[str, Any] | None = None
    request_settings: dict[str, Any] | None = None
    liveness_probe: dict[str, Any] | None = None
    readiness_probe: dict[str, Any] | None = None
    data_collector: dict[str, Any] | None = None
    batching: dict[str, Any] | None = None
    egress_public_network_access: str | None = None


def _load(source: str | Path | None, params_override: Overrides, what: str) -> Document:
    if source is None:
        raise InvalidInputError(f"give the {what} YAML file to load (source=...)")
    return load_document(source, overrides=params_override)  # type: ignore[arg-type]


def _checked(doc: Document, check: Any) -> None:
    """Run a spec conversion now, so a bad field is reported with its file and line."""
    try:
        check()
    except InvalidInputError as exc:
        loc = tuple(exc.field.split(".")) if exc.field else ()
        raise doc.error(exc.detail, loc, allowed=exc.allowed) from None


def load_online_endpoint(source: str | Path | None = None, *,
                         params_override: Overrides = None,
                         **kwargs: Any) -> ManagedOnlineEndpoint:
    """Load a managed online endpoint YAML.

    Example:
        >>> endpoint = load_online_endpoint("endpoint.yml")  # doctest: +SKIP
        >>> ml_client.online_endpoints.begin_create_or_update(endpoint).result()  # doctest: +SKIP
    """
    doc = _load(source, params_override, "online endpoint")
    y: EndpointYaml = validate(doc, EndpointYaml, "an online endpoint")
    if not y.name:
        raise doc.error("required field 'name' is missing in an online endpoint", ("name",))
    endpoint = ManagedOnlineEndpoint(
        name=y.name, description=y.description, tags=y.tags, properties=y.properties,
        auth_mode=y.auth_mode, traffic=y.traffic, mirror_traffic=y.mirror_traffic,
        identity=y.identity, public_network_access=y.public_network_access, kind=y.kind,
        location=y.location)
    _checked(doc, endpoint._to_spec)
    return endpoint


def _model(value: str | ModelYamlInline | None, base: Path) -> str | Model | None:
    if value is None:
        return None
    if isinstance(value, str):
        local = base / value
        if not value.startswith("azureml:") and "://" not in value and local.exists():
            return str(local.resolve())
        return value
    if value.path is None and value.name is None:
        raise InvalidInputError("an inline model needs a path (or a name and version)",
                                field="model.path")
    return Model(name=value.name, version=value.version, path=_abs(value.path, base),
                 type=value.type, description=value.description)


def load_online_deployment(source: str | Path | None = None, *,
                           params_override: Overrides = None,
                           **kwargs: Any) -> ManagedOnlineDeployment:
    """Load a managed online deployment YAML.

    Example:
        >>> blue = load_online_deployment("blue-deployment.yml")  # doctest: +SKIP
        >>> ml_client.online_deployments.begin_create_or_update(blue).result()  # doctest: +SKIP
    """
    doc = _load(source, params_override, "online deployment")
    y: DeploymentYaml = validate(doc, DeploymentYaml, "an online deployment")
    if y.type not in (None, "managed"):
        raise doc.error(f"deployment type {y.type!r} is not served by Lakeworks", ("type",),
                        allowed=["managed"])
    base = doc.folder
    try:
        model = _model(y.model, base)
    except InvalidInputError as exc:
        raise doc.error(exc.detail, ("model", "path")) from None
    environment: Any = y.environment
    if isinstance(environment, EnvironmentYaml):
        environment = _environment_entity(environment, base)
    code = None
    if y.code_configuration is not None:
        code = {"code": _abs(y.code_configuration.code, base),
                "scoring_script": y.code_configuration.scoring_script}
    deployment = ManagedOnlineDeployment(
        name=y.name, endpoint_name=y.endpoint_name, description=y.description, tags=y.tags,
        properties=y.properties, model=model, code_configuration=code, environment=environment,
        environment_variables={k: str(v) for k, v in y.environment_variables.items()},
        instance_type=y.instance_type, instance_count=y.instance_count,
        app_insights_enabled=y.app_insights_enabled, scale_settings=y.scale_settings,
        request_settings=y.request_settings, liveness_probe=y.liveness_probe,
        readiness_probe=y.readiness_probe, data_collector=y.data_collector,
        batching=y.batching, egress_public_network_access=y.egress_public_network_access)
    _checked(doc, lambda: _validation_copy(deployment)._to_spec(
        base=base, environment=None if isinstance(environment, str | None) else
        "azureml:inline:1"))
    return deployment


def _validation_copy(deployment: OnlineDeployment) -> OnlineDeployment:
    """The deployment with a stand-in endpoint name when the YAML has none (the CLI's
    ``--endpoint-name`` gives it later)."""
    if deployment.endpoint_name:
        return deployment
    copy = ManagedOnlineDeployment.__new__(ManagedOnlineDeployment)
    copy.__dict__.update(deployment.__dict__)
    copy.endpoint_name = "endpoint-to-be-named"
    return copy


__all__ = ["DeploymentYaml", "EndpointYaml", "load_online_deployment",
           "load_online_endpoint"]
