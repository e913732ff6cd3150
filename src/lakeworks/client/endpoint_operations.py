"""``ml_client.online_endpoints`` and ``ml_client.online_deployments`` with Azure ML's signatures.

Owns turning endpoint and deployment entities into specs (registering an inline
``Environment`` first, as Azure does), calling ``services.endpoints`` and turning stored
records back into entities with their scoring URI. ``begin_*`` methods do the work and return
an ``LROPoller`` whose ``result()`` gives the entity. ``local=True`` is accepted: every
endpoint is served on this machine.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakeworks.client.entities.assets import Environment
from lakeworks.client.entities.endpoints import (
    EndpointAuthKeys,
    EndpointAuthToken,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    OnlineDeployment,
    OnlineEndpoint,
)
from lakeworks.client.operations import LROPoller
from lakeworks.core.endpoints import AuthMode
from lakeworks.errors import InvalidInputError
from lakeworks.services.assets import AssetService
from lakeworks.services.endpoints import EndpointService
from lakeworks.services.workspace import Workspace as WorkspaceHandle


class _EndpointGroup:
    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    def _service(self) -> EndpointService:
        return EndpointService(self._ws())


class OnlineEndpointOperations(_EndpointGroup):
    """Online endpoints: create, update, get, list, delete, keys, invoke."""

    def _entity(self, service: EndpointService, name: str) -> ManagedOnlineEndpoint:
        record = service.get_endpoint(name)
        entity: ManagedOnlineEndpoint = ManagedOnlineEndpoint._from_record(
            record, service.scoring_uri(name))
        return entity

    def begin_create_or_update(self, endpoint: OnlineEndpoint, *, local: bool = False,
                               **kwargs: Any) -> LROPoller[ManagedOnlineEndpoint]:
        """Create the endpoint (keys generated, the serving process started when none runs)
        or update it (traffic, description, tags; keys kept)."""
        if not isinstance(endpoint, OnlineEndpoint):
            raise InvalidInputError(f"expected a ManagedOnlineEndpoint, got "
                                    f"{type(endpoint).__name__}")
        service = self._service()
        keep = endpoint.traffic is None and endpoint.mirror_traffic is None
        record = service.create_or_update_endpoint(endpoint._to_spec(), keep_traffic=keep)
        result = self._entity(service, record.name)
        return LROPoller(lambda: result)

    def get(self, name: str, *, local: bool = False, **kwargs: Any) -> ManagedOnlineEndpoint:
        return self._entity(self._service(), name)

    def list(self, *, local: bool = False, **kwargs: Any) -> list[ManagedOnlineEndpoint]:
        service = self._service()
        return [ManagedOnlineEndpoint._from_record(r, service.scoring_uri(r.name))
                for r in service.list_endpoints()]

    def begin_delete(self, name: str | None = None, *, local: bool = False,
                     **kwargs: Any) -> LROPoller[None]:
        """Delete the endpoint and its deployments."""
        if not name:
            raise InvalidInputError("give the name of the endpoint to delete", field="name")
        self._service().delete_endpoint(name)
        return LROPoller(lambda: None)

    def get_keys(self, name: str) -> EndpointAuthKeys | EndpointAuthToken:
        """The keys (``auth_mode: key``) or an access token (``aml_token``)."""
        service = self._service()
        record = service.get_endpoint(name)
        if record.spec.auth_mode is AuthMode.KEY:
            keys = service.get_keys(name)
            return EndpointAuthKeys(primary_key=keys.primary, secondary_key=keys.secondary)
        token = service.get_token(name)
        return EndpointAuthToken(access_token=token.access_token,
                                 expiry_time_utc=token.expiry_time_utc,
                                 refresh_after_time_utc=token.refresh_after_time_utc,
                                 token_type=token.token_type)

    def begin_regenerate_keys(self, name: str, *, key_type: str = "primary",
                              **kwargs: Any) -> LROPoller[None]:
        """Replace the primary or secondary key; the old key stops working."""
        self._service().regenerate_keys(name, key_type)
        return LROPoller(lambda: None)

    def regenerate_keys(self, name: str, *, key_type: str = "primary") -> None:
        self.begin_regenerate_keys(name, key_type=key_type).result()

    def invoke(self, endpoint_name: str, *, request_file: str | Path | None = None,
               deployment_name: str | None = None, input_data: Any = None,
               params_override: Any = None, local: bool = False, **kwargs: Any) -> str:
        """POST the request file (JSON) to the scoring URI; the raw response text."""
        return self._service().invoke(endpoint_name, request_file=request_file,
                                      input_data=input_data, deployment_name=deployment_name)


class OnlineDeploymentOperations(_EndpointGroup):
    """Online deployments: create, update, get, list, delete, logs."""

    def _environment(self, deployment: OnlineDeployment) -> str | None:
        env = deployment.environment
        if isinstance(env, Environment):
            if not env.name:
                env.name = f"{deployment.endpoint_name}-{deployment.name}-env"
            _spec, stored = AssetService(self._ws()).create_or_update(env._to_spec())
            return f"azureml:{stored.name}:{stored.version}"
        return env

    def begin_create_or_update(self, deployment: OnlineDeployment, *, local: bool = False,
                               vscode_debug: bool = False, skip_script_validation: bool = False,
                               local_enable_gpu: bool = False, all_traffic: bool = False,
                               **kwargs: Any) -> LROPoller[ManagedOnlineDeployment]:
        """Create or update the deployment and wait until it serves (``all_traffic``, a
        Lakeworks addition as the CLI's ``--all-traffic``, gives it 100 % of the traffic)."""
        if not isinstance(deployment, OnlineDeployment):
            raise InvalidInputError(f"expected a ManagedOnlineDeployment, got "
                                    f"{type(deployment).__name__}")
        spec = deployment._to_spec(environment=self._environment(deployment))
        record = self._service().create_or_update_deployment(spec, all_traffic=all_traffic)
        result: ManagedOnlineDeployment = ManagedOnlineDeployment._from_record(record)
        return LROPoller(lambda: result)

    def get(self, name: str, endpoint_name: str, *, local: bool = False,
            **kwargs: Any) -> ManagedOnlineDeployment:
        found: ManagedOnlineDeployment = ManagedOnlineDeployment._from_record(
            self._service().get_deployment(endpoint_name, name))
        return found

    def list(self, endpoint_name: str, *, local: bool = False,
             **kwargs: Any) -> list[ManagedOnlineDeployment]:
        return [ManagedOnlineDeployment._from_record(r)
                for r in self._service().list_deployments(endpoint_name)]

    def begin_delete(self, name: str, endpoint_name: str, *, local: bool = False,
                     **kwargs: Any) -> LROPoller[None]:
        """Delete a deployment that takes no traffic (move its traffic first)."""
        self._service().delete_deployment(endpoint_name, name)
        return LROPoller(lambda: None)

    def get_logs(self, name: str, endpoint_name: str, lines: int, *,
                 container_type: str | None = None, local: bool = False,
                 **kwargs: Any) -> str:
        """The last ``lines`` lines of the ``inference-server`` (default) or
        ``storage-initializer`` log."""
        return self._service().get_logs(endpoint_name, name, lines, container_type)


__all__ = ["OnlineDeploymentOperations", "OnlineEndpointOperations"]
