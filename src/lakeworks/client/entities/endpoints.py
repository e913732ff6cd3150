"""Online endpoint entities with Azure ML's signatures.

``ManagedOnlineEndpoint``, ``ManagedOnlineDeployment`` and their parts (``CodeConfiguration``,
``OnlineRequestSettings``, ``ProbeSettings``, ``DataCollector``, ``DeploymentCollection``, and
Lakeworks' ``BatchingSettings``), plus what ``get_keys`` returns (``EndpointAuthKeys``,
``EndpointAuthToken``). Mutable objects users build and get back; each converts to its frozen
core spec (``core.endpoints``) and back from a stored record, with the read-back fields Azure
has (``scoring_uri``, ``openapi_uri``, ``provisioning_state``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lakeworks.client.entities.assets import Environment, Model, _abs
from lakeworks.core.endpoints import (
    OnlineDeploymentSpec,
    OnlineEndpointSpec,
    build_spec,
)
from lakeworks.errors import InvalidInputError
from lakeworks.ports.metadata import DeploymentRecord, EndpointRecord


class _Settings:
    """A settings object whose fields left None take the service defaults."""

    _fields: tuple[str, ...] = ()

    def __init__(self, **values: Any) -> None:
        for name in self._fields:
            setattr(self, name, values.get(name))

    def _to_dict(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self._fields if getattr(self, n) is not None}

    @classmethod
    def _from(cls, value: Any) -> Any:
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if hasattr(value, "model_dump"):
            return cls(**value.model_dump())
        raise InvalidInputError(f"expected {cls.__name__} or a mapping, got "
                                f"{type(value).__name__}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Settings) and type(other) is type(self) and \
            self._to_dict() == other._to_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._to_dict().items(), key=lambda kv: kv[0])))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._to_dict().items())
        return f"{type(self).__name__}({inner})"


class OnlineRequestSettings(_Settings):
    """How a deployment takes requests (defaults: 1 concurrent request per instance, 5 s)."""

    _fields = ("max_concurrent_requests_per_instance", "request_timeout_ms", "max_queue_wait_ms")

    def __init__(self, max_concurrent_requests_per_instance: int | None = None,
                 request_timeout_ms: int | None = None, max_queue_wait_ms: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(max_concurrent_requests_per_instance=max_concurrent_requests_per_instance,
                         request_timeout_ms=request_timeout_ms,
                         max_queue_wait_ms=max_queue_wait_ms)


class ProbeSettings(_Settings):
    """A liveness or readiness probe; times in seconds."""

    _fields = ("failure_threshold", "success_threshold", "timeout", "period", "initial_delay")

    def __init__(self, *, failure_threshold: int | None = None,
                 success_threshold: int | None = None, timeout: int | None = None,
                 period: int | None = None, initial_delay: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(failure_threshold=failure_threshold,
                         success_threshold=success_threshold, timeout=timeout, period=period,
                         initial_delay=initial_delay)


class BatchingSettings(_Settings):
    """Dynamic batching (Lakeworks): concurrent requests scored in one model call."""

    _fields = ("enabled", "max_batch_size", "max_wait_ms")

    def __init__(self, *, enabled: bool | None = None, max_batch_size: int | None = None,
                 max_wait_ms: float | None = None, **kwargs: Any) -> None:
        super().__init__(enabled=enabled, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)


class CodeConfiguration(_Settings):
    """A scoring script (``init()``, ``run(raw_data)``) in a code folder."""

    _fields = ("code", "scoring_script")

    def __init__(self, code: str | Path | None = None, scoring_script: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(code=str(code) if code is not None else None,
                         scoring_script=scoring_script)


class DeploymentCollection(_Settings):
    """One data collection of a deployment (``model_inputs``, ``model_outputs``, ...)."""

    _fields = ("enabled", "data", "client_id")

    def __init__(self, *, enabled: bool | str | None = None, data: Any = None,
                 client_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(enabled=enabled, data=data, client_id=client_id)


class DataCollector:
    """Which inputs and outputs a deployment writes to the lake."""

    def __init__(self, collections: dict[str, DeploymentCollection | dict[str, Any]] | None = None,
                 *, rolling_rate: str | None = None, sampling_rate: float | None = None,
                 request_logging: Any = None, **kwargs: Any) -> None:
        self.collections = {n: DeploymentCollection._from(c)
                            for n, c in (collections or {}).items()}
        self.rolling_rate = rolling_rate
        self.sampling_rate = sampling_rate
        self.request_logging = request_logging

    def _to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"collections": {n: c._to_dict()
                                               for n, c in self.collections.items()}}
        for name in ("rolling_rate", "sampling_rate", "request_logging"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out

    @classmethod
    def _from(cls, value: Any) -> DataCollector | None:
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, dict):
            return cls(**value)
        raise InvalidInputError(f"expected DataCollector or a mapping, got "
                                f"{type(value).__name__}", field="data_collector")

    def __repr__(self) -> str:
        return f"DataCollector(collections={list(self.collections)!r})"


class EndpointAuthKeys:
    """An endpoint's keys (``get_keys`` for ``auth_mode: key``)."""

    def __init__(self, *, primary_key: str | None = None, secondary_key: str | None = None,
                 **kwargs: Any) -> None:
        self.primary_key = primary_key
        self.secondary_key = secondary_key

    def __repr__(self) -> str:
        return "EndpointAuthKeys(primary_key=***, secondary_key=***)"


class EndpointAuthToken:
    """An access token (``get_keys`` for ``auth_mode: aml_token``)."""

    def __init__(self, *, access_token: str | None = None,
                 expiry_time_utc: datetime | None = None,
                 refresh_after_time_utc: datetime | None = None,
                 token_type: str | None = "Bearer", **kwargs: Any) -> None:
        self.access_token = access_token
        self.expiry_time_utc = expiry_time_utc
        self.refresh_after_time_utc = refresh_after_time_utc
        self.token_type = token_type

    def __repr__(self) -> str:
        return f"EndpointAuthToken(access_token=***, expiry_time_utc={self.expiry_time_utc!r})"


class OnlineEndpoint:
    """Fields every online endpoint has."""

    def __init__(self, *, name: str | None = None, tags: dict[str, str] | None = None,
                 properties: dict[str, str] | None = None, auth_mode: str = "key",
                 description: str | None = None, location: str | None = None,
                 traffic: dict[str, int] | None = None,
                 mirror_traffic: dict[str, int] | None = None, identity: Any = None,
                 kind: str | None = None, public_network_access: str | None = None,
                 **kwargs: Any) -> None:
        self.name = name
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        self.auth_mode = auth_mode
        self.description = description
        self.location = location
        self.traffic = dict(traffic) if traffic is not None else None
        self.mirror_traffic = dict(mirror_traffic) if mirror_traffic is not None else None
        self.identity = identity
        self.kind = kind
        self.public_network_access = public_network_access
        self.scoring_uri: str | None = None
        self.openapi_uri: str | None = None
        self.provisioning_state: str | None = None
        self.created_at: datetime | None = None
        self.updated_at: datetime | None = None
        self.id: str | None = None

    def _to_spec(self) -> OnlineEndpointSpec:
        if not self.name:
            raise InvalidInputError("an online endpoint needs a name", field="name")
        data: dict[str, Any] = {
            "name": self.name, "description": self.description, "tags": self.tags,
            "properties": self.properties, "auth_mode": self.auth_mode or "key",
            "traffic": self.traffic or {}, "mirror_traffic": self.mirror_traffic or {},
        }
        if self.public_network_access:
            data["public_network_access"] = self.public_network_access
        spec: OnlineEndpointSpec = build_spec(OnlineEndpointSpec, data,
                                              source=f"online endpoint '{self.name}'")
        return spec

    @classmethod
    def _from_record(cls, record: EndpointRecord, scoring_uri: str | None) -> Any:
        spec = record.spec
        out = cls(name=spec.name, tags=spec.tags, properties=spec.properties,
                  auth_mode=spec.auth_mode.value, description=spec.description,
                  location="local", traffic=spec.traffic, mirror_traffic=spec.mirror_traffic,
                  public_network_access=spec.public_network_access)
        out.scoring_uri = scoring_uri
        out.openapi_uri = scoring_uri.removesuffix("/score") + "/swagger.json" if scoring_uri \
            else None
        out.provisioning_state = record.provisioning_state
        out.created_at = record.created_at
        out.updated_at = record.updated_at
        out.id = f"azureml:onlineEndpoints/{spec.name}"
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, traffic={self.traffic!r})"


class ManagedOnlineEndpoint(OnlineEndpoint):
    """A managed online endpoint: a stable scoring URI in front of deployments."""


class OnlineDeployment:
    """Fields every online deployment has."""

    def __init__(
        self,
        *,
        name: str,
        endpoint_name: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        description: str | None = None,
        model: str | Model | None = None,
        code_configuration: CodeConfiguration | dict[str, Any] | None = None,
        environment: str | Environment | None = None,
        app_insights_enabled: bool = False,
        scale_settings: Any = None,
        request_settings: OnlineRequestSettings | dict[str, Any] | None = None,
        liveness_probe: ProbeSettings | dict[str, Any] | None = None,
        readiness_probe: ProbeSettings | dict[str, Any] | None = None,
        environment_variables: dict[str, str] | None = None,
        instance_type: str | None = None,
        instance_count: int | None = None,
        egress_public_network_access: str | None = None,
        code_path: str | Path | None = None,
        scoring_script: str | None = None,
        data_collector: DataCollector | dict[str, Any] | None = None,
        batching: BatchingSettings | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.endpoint_name = endpoint_name
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        self.description = description
        self.model = model
        if code_configuration is None and (code_path is not None or scoring_script is not None):
            code_configuration = CodeConfiguration(code=code_path, scoring_script=scoring_script)
        self.code_configuration = CodeConfiguration._from(code_configuration)
        self.environment = environment
        self.app_insights_enabled = app_insights_enabled
        self.scale_settings = scale_settings
        self.request_settings = OnlineRequestSettings._from(request_settings)
        self.liveness_probe = ProbeSettings._from(liveness_probe)
        self.readiness_probe = ProbeSettings._from(readiness_probe)
        self.environment_variables = dict(environment_variables or {})
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.egress_public_network_access = egress_public_network_access
        self.data_collector = DataCollector._from(data_collector)
        self.batching = BatchingSettings._from(batching)
        self.provisioning_state: str | None = None
        self.error: str | None = None
        self.created_at: datetime | None = None
        self.updated_at: datetime | None = None
        self.id: str | None = None

    @property
    def code_path(self) -> str | None:
        return self.code_configuration.code if self.code_configuration else None

    @property
    def scoring_script(self) -> str | None:
        return self.code_configuration.scoring_script if self.code_configuration else None

    def _model_reference(self, base: Path | None) -> str | None:
        model = self.model
        if model is None or isinstance(model, str):
            return _abs(model, base) if isinstance(model, str) and not _is_ref(model) else model
        if model.name and model.version:
            return f"azureml:{model.name}:{model.version}"
        if model.path:
            return _abs(model.path, base)
        if model.name:
            return f"azureml:{model.name}@latest"
        raise InvalidInputError(f"deployment '{self.name}': the model needs a path or a name",
                                field="model")

    def _to_spec(self, *, base: Path | None = None,
                 environment: str | None = None) -> OnlineDeploymentSpec:
        """The core spec; ``environment`` replaces an ``Environment`` entity by the reference
        it was registered as."""
        if not self.endpoint_name:
            raise InvalidInputError(f"deployment '{self.name}' needs an endpoint_name",
                                    field="endpoint_name")
        env = environment if environment is not None else self.environment
        if env is not None and not isinstance(env, str):
            raise InvalidInputError(f"deployment '{self.name}': register the environment "
                                    "first or give a reference", field="environment")
        data: dict[str, Any] = {
            "name": self.name, "endpoint_name": self.endpoint_name,
            "description": self.description, "tags": self.tags, "properties": self.properties,
            "model": self._model_reference(base), "environment": env,
            "environment_variables": self.environment_variables,
            "instance_type": self.instance_type,
            "app_insights_enabled": bool(self.app_insights_enabled),
        }
        if self.instance_count is not None:
            data["instance_count"] = self.instance_count
        if self.egress_public_network_access:
            data["egress_public_network_access"] = self.egress_public_network_access
        if self.code_configuration is not None:
            code = self.code_configuration._to_dict()
            if "code" in code:
                code["code"] = _abs(code["code"], base)
            data["code_configuration"] = code
        for field in ("request_settings", "liveness_probe", "readiness_probe", "batching",
                      "data_collector"):
            value = getattr(self, field)
            if value is not None:
                data[field] = value._to_dict()
        spec: OnlineDeploymentSpec = build_spec(OnlineDeploymentSpec, data,
                                                source=f"deployment '{self.name}'")
        return spec

    @classmethod
    def _from_record(cls, record: DeploymentRecord) -> Any:
        spec = record.spec
        dump = spec.model_dump(mode="json")
        out = cls(
            name=spec.name, endpoint_name=spec.endpoint_name, tags=spec.tags,
            properties=spec.properties, description=spec.description, model=spec.model,
            code_configuration=dump["code_configuration"], environment=spec.environment,
            app_insights_enabled=spec.app_insights_enabled,
            request_settings=dump["request_settings"], liveness_probe=dump["liveness_probe"],
            readiness_probe=dump["readiness_probe"],
            environment_variables=spec.environment_variables, instance_type=spec.instance_type,
            instance_count=spec.instance_count,
            egress_public_network_access=spec.egress_public_network_access,
            data_collector=dump["data_collector"], batching=dump["batching"])
        out.provisioning_state = record.state
        out.error = record.error
        out.created_at = record.created_at
        out.updated_at = record.updated_at
        out.id = f"azureml:onlineEndpoints/{spec.endpoint_name}/deployments/{spec.name}"
        return out

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, endpoint_name="
                f"{self.endpoint_name!r}, model={self.model!r})")


class ManagedOnlineDeployment(OnlineDeployment):
    """A managed online deployment: a model served behind an endpoint."""


def _is_ref(text: str) -> bool:
    """True for a registry reference (``azureml:...``, ``name:version``, ``name@label``) as
    opposed to a local path."""
    if text.startswith("azureml:") or "://" in text:
        return True
    return not (Path(text).expanduser().exists() or "/" in text or text.startswith("."))


__all__ = [
    "BatchingSettings",
    "CodeConfiguration",
    "DataCollector",
    "DeploymentCollection",
    "EndpointAuthKeys",
    "EndpointAuthToken",
    "ManagedOnlineDeployment",
    "ManagedOnlineEndpoint",
    "OnlineDeployment",
    "OnlineEndpoint",
    "OnlineRequestSettings",
    "ProbeSettings",
]
