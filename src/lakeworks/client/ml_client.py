"""``MLClient``: the entry to a workspace, with Azure ML's constructor and operation groups.

``MLClient(workspace=PATH)`` opens a workspace folder. Azure's form
``MLClient(credential, subscription_id, resource_group_name, workspace_name)`` opens (creating
on first use) the workspace ``workspace_name`` under ``settings.workspace_root``, so Azure code
runs with only its import lines changed. ``MLClient.from_config()`` finds the nearest
``lakeworks.toml`` (or Azure ``config.json``) upward from a folder. Construction is lazy: the
workspace is opened on first use.
"""

from __future__ import annotations

import json
import logging
from functools import cached_property
from pathlib import Path
from typing import Any

from lakeworks.client.datastores import DatastoreOperations
from lakeworks.client.endpoint_operations import (
    OnlineDeploymentOperations,
    OnlineEndpointOperations,
)
from lakeworks.client.entities.assets import Data, Environment, Model
from lakeworks.client.entities.components import Command, CommandComponent
from lakeworks.client.entities.datastores import Datastore
from lakeworks.client.entities.endpoints import OnlineDeployment, OnlineEndpoint
from lakeworks.client.entities.jobs import Job, PipelineJob
from lakeworks.client.lake import LakeOperations
from lakeworks.client.operations import (
    ComponentOperations,
    DataOperations,
    EnvironmentOperations,
    JobOperations,
    LROPoller,
    ModelOperations,
    WorkspaceOperations,
)
from lakeworks.client.sql import SqlOperations
from lakeworks.config import WORKSPACE_FILE, load_settings
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.services.azureml_paths import use_workspace
from lakeworks.services.workspace import (
    Workspace,
    create_workspace,
    find_workspace,
    open_workspace,
    validate_workspace_name,
)

log = logging.getLogger(__name__)

_AZURE_CONFIG_DIRS = (".azureml", "aml_config", "")


class MLClient:
    """A client of one Lakeworks workspace.

    Args:
        credential: accepted for Azure compatibility and ignored (use
            ``lakeworks.identity.DefaultAzureCredential()``).
        subscription_id: recorded on a workspace created by name.
        resource_group_name: recorded as the workspace's ``resource_group``.
        workspace_name: the workspace to open under the workspace root.
        workspace: a workspace folder to open instead (Lakeworks form).

    Example:
        >>> ml_client = MLClient(workspace="./my-workspace")  # doctest: +SKIP
        >>> ml_client.data.get("credit-card", version="initial")  # doctest: +SKIP
    """

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str | None = None,
        resource_group_name: str | None = None,
        workspace_name: str | None = None,
        registry_name: str | None = None,
        *,
        workspace: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        if workspace is None and workspace_name is None:
            raise InvalidInputError(
                "MLClient needs a workspace: MLClient(workspace='path/to/workspace'), "
                "MLClient(credential, subscription_id, resource_group_name, workspace_name), "
                "or MLClient.from_config()"
            )
        self._credential = credential
        self._path = Path(workspace).expanduser() if workspace is not None else None
        self._subscription_id = subscription_id
        self._resource_group = resource_group_name
        self._workspace_name = workspace_name
        self.data = DataOperations(self._workspace)
        self.environments = EnvironmentOperations(self._workspace)
        self.components = ComponentOperations(self._workspace)
        self.models = ModelOperations(self._workspace)
        self.jobs = JobOperations(self._workspace)
        self.workspaces = WorkspaceOperations(self._workspace)
        self.datastores = DatastoreOperations(self._workspace)
        self.lake = LakeOperations(self._workspace)
        self.sql = SqlOperations(self._workspace)
        self.online_endpoints = OnlineEndpointOperations(self._workspace)
        self.online_deployments = OnlineDeploymentOperations(self._workspace)

    @classmethod
    def from_config(
        cls,
        credential: Any = None,
        *,
        path: str | Path | None = None,
        file_name: str | None = None,
        **kwargs: Any,
    ) -> MLClient:
        """Open the workspace configured nearest to ``path`` (default: the current folder).

        Looks upward for ``lakeworks.toml``, or Azure's ``config.json`` (in ``.azureml/``,
        ``aml_config/`` or the folder itself) naming ``workspace_name``.

        Raises:
            NotFoundError: no configuration was found, with how to create one.
        """
        start = Path(path or Path.cwd()).expanduser().resolve()
        if start.is_file():
            start = start.parent
        for folder in (start, *start.parents):
            if (folder / WORKSPACE_FILE).is_file():
                return cls(credential, workspace=folder)
            for sub in _AZURE_CONFIG_DIRS:
                cfg = folder / sub / (file_name or "config.json")
                if cfg.is_file():
                    try:
                        data = json.loads(cfg.read_text())
                    except ValueError as exc:
                        raise InvalidInputError(f"{cfg}: not valid JSON: {exc}") from None
                    if "workspace_name" not in data:
                        raise InvalidInputError(f"{cfg}: missing 'workspace_name'")
                    return cls(
                        credential,
                        data.get("subscription_id"),
                        data.get("resource_group"),
                        data["workspace_name"],
                    )
        raise NotFoundError(
            f"no workspace configuration found in '{start}' or above; create one with "
            "`lakeworks workspace create .` or pass MLClient(workspace=PATH)"
        )

    @cached_property
    def _ws(self) -> Workspace:
        if self._path is not None:
            return open_workspace(self._path)
        assert self._workspace_name is not None
        name = validate_workspace_name(self._workspace_name)
        root = load_settings().workspace_root
        path = root / name
        found = find_workspace(path) if path.exists() else None
        if found == path.resolve():
            return open_workspace(path)
        log.info("creating workspace '%s' at %s", name, path)
        return create_workspace(
            path,
            name=name,
            resource_group=self._resource_group or "local",
            exist_ok=True,
        )

    def _workspace(self) -> Workspace:
        ws = self._ws
        use_workspace(ws.path)  # azureml:// paths read with pandas refer to this workspace
        return ws

    @property
    def workspace_name(self) -> str:
        return self._workspace_name or self._ws.name

    @property
    def resource_group_name(self) -> str:
        return self._resource_group or self._ws.info.resource_group

    @property
    def subscription_id(self) -> str:
        return self._subscription_id or self._ws.info.subscription_id

    @property
    def workspace_path(self) -> Path:
        """The workspace folder (Lakeworks addition)."""
        return self._ws.path

    def create_or_update(self, entity: Any, **kwargs: Any) -> Any:
        """Create or update any entity, dispatching on its type."""
        if isinstance(entity, Job | PipelineJob | Command) and not isinstance(
            entity, CommandComponent
        ):
            return self.jobs.create_or_update(entity, **kwargs)
        if isinstance(entity, CommandComponent):
            return self.components.create_or_update(entity, **kwargs)
        if isinstance(entity, Data):
            return self.data.create_or_update(entity)
        if isinstance(entity, Environment):
            return self.environments.create_or_update(entity)
        if isinstance(entity, Model):
            return self.models.create_or_update(entity)
        if isinstance(entity, Datastore):
            return self.datastores.create_or_update(entity)
        if isinstance(entity, OnlineEndpoint):
            return self.online_endpoints.begin_create_or_update(entity, **kwargs).result()
        if isinstance(entity, OnlineDeployment):
            return self.online_deployments.begin_create_or_update(entity, **kwargs).result()
        raise InvalidInputError(f"cannot create or update a {type(entity).__name__}")

    def begin_create_or_update(self, entity: Any, **kwargs: Any) -> LROPoller[Any]:
        """As ``create_or_update``, returning a poller."""
        result = self.create_or_update(entity, **kwargs)
        return LROPoller(lambda: result)

    def close(self) -> None:
        self.sql.close()
        if "_ws" in self.__dict__:
            self._ws.close()

    def __repr__(self) -> str:
        target = self._path or self._workspace_name
        return f"MLClient(workspace={str(target)!r})"
