"""Workspaces: the folder layout, its config file, and the stores opened for it.

A workspace is a folder holding ``lakeworks.toml`` (identity and settings), ``.lakeworks/``
(machine-local state: the SQLite metadata and tracking databases by default, logs, the running
tracking server's address, step scratch folders) and ``artifacts/`` (the default datastore
``workspaceblobstore`` unless ``artifact_url`` points elsewhere). ``Workspace`` is the
composition root: it opens the adapters chosen by settings, lazily.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeworks.config import WORKSPACE_FILE, Settings, load_settings
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.services import adapter_registry

if TYPE_CHECKING:
    from lakeworks.ports.artifacts import ArtifactStore
    from lakeworks.ports.environments import EnvironmentBuilder
    from lakeworks.ports.metadata import MetadataStore
    from lakeworks.ports.tracking import Tracking

STATE_DIR = ".lakeworks"
ARTIFACTS_DIR = "artifacts"
LOCAL_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
_WS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,32}$")


@dataclass(frozen=True)
class WorkspaceInfo:
    """Identity of a workspace, shaped like Azure's (``name``, ``location``, ...)."""

    name: str
    location: str = "local"
    resource_group: str = "local"
    subscription_id: str = LOCAL_SUBSCRIPTION
    description: str | None = None
    created_at: str | None = None


def validate_workspace_name(name: str) -> str:
    """Return a legal workspace name or raise InvalidInputError."""
    if not _WS_NAME.match(name or ""):
        raise InvalidInputError(
            f"workspace name {name!r} is not valid: use 1-33 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _write_config(path: Path, info: WorkspaceInfo, settings: dict[str, Any]) -> None:
    lines = ["# Lakeworks workspace. Settings here apply to everything run in this workspace.", ""]
    lines.append("[workspace]")
    for key, value in info.__dict__.items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    lines += ["", "[settings]"]
    for key, value in settings.items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    if not settings:
        lines += [
            "# database_url = \"postgresql://user@host:5432/db\"   # default: SQLite in .lakeworks/",
            "# artifact_url = \"s3://bucket/prefix\"               # default: ./artifacts",
        ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


def find_workspace(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``lakeworks.toml``, or None."""
    cur = start.resolve()
    for folder in (cur, *cur.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    return None


class Workspace:
    """An opened workspace: its identity, settings and (lazily opened) stores."""

    def __init__(self, path: Path, info: WorkspaceInfo, settings: Settings) -> None:
        self.path = path
        self.info = info
        self.settings = settings

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def state_dir(self) -> Path:
        return self.path / STATE_DIR

    @property
    def metadata_url(self) -> str:
        return self.settings.database_url or f"sqlite:///{self.state_dir / 'metadata.db'}"

    @property
    def tracking_store_uri(self) -> str:
        """The MLflow backend store: the metadata database, or SQLite beside it."""
        if self.settings.database_url:
            return self.settings.database_url
        return f"sqlite:///{self.state_dir / 'mlflow.db'}"

    @property
    def artifact_url(self) -> str:
        return self.settings.artifact_url or str(self.path / ARTIFACTS_DIR)

    @cached_property
    def metadata(self) -> MetadataStore:
        store: MetadataStore = adapter_registry.load("metadata")(self.metadata_url)
        return store

    @cached_property
    def artifacts(self) -> ArtifactStore:
        store: ArtifactStore = adapter_registry.load("artifacts")(
            self.artifact_url, s3_endpoint_url=self.settings.s3_endpoint_url
        )
        return store

    @property
    def mlflow_artifacts_url(self) -> str:
        """Where the tracking server keeps MLflow run artifacts (inside the artifact store)."""
        return self.artifacts.url.rstrip("/") + "/mlflow"

    def tracking(self) -> Tracking:
        """A client of this workspace's tracking server, starting the server if needed."""
        tracking: Tracking = adapter_registry.load("tracking")(self)
        return tracking

    def environment_builder(self) -> EnvironmentBuilder:
        builder: EnvironmentBuilder = adapter_registry.load("environments")(
            self.settings.env_cache_dir
        )
        return builder

    def close(self) -> None:
        if "metadata" in self.__dict__:
            self.metadata.close()
            del self.__dict__["metadata"]

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}, path='{self.path}')"


def create_workspace(
    path: Path,
    *,
    name: str | None = None,
    location: str = "local",
    resource_group: str = "local",
    description: str | None = None,
    exist_ok: bool = False,
    settings: dict[str, Any] | None = None,
) -> Workspace:
    """Create a workspace folder (and its stores) at ``path``.

    Args:
        path: the folder; created if missing. It must not hold a workspace unless ``exist_ok``.
        name: the workspace name; default: the folder's name.
        location: shown as ``Workspace.location`` (Azure code prints it).
        resource_group: shown as ``Workspace.resource_group``.
        description: free text.
        exist_ok: return the existing workspace instead of failing.
        settings: values written to the ``[settings]`` table (``database_url``, ...).

    Raises:
        ConflictError: a workspace already exists there and ``exist_ok`` is False.
        InvalidInputError: the name is not valid.

    Example:
        >>> ws = create_workspace(Path(tmp) / "demo")  # doctest: +SKIP
    """
    path = path.expanduser().resolve()
    config = path / WORKSPACE_FILE
    if config.exists():
        if exist_ok:
            return open_workspace(path)
        raise ConflictError(
            f"'{path}' already holds a workspace; open it with MLClient(workspace='{path}')"
        )
    info = WorkspaceInfo(
        name=validate_workspace_name(name or path.name.replace(".", "-") or "workspace"),
        location=location,
        resource_group=resource_group,
        description=description,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    (path / STATE_DIR).mkdir(parents=True, exist_ok=True)
    (path / STATE_DIR / ".gitignore").write_text("*\n")
    _write_config(config, info, settings or {})
    ws = open_workspace(path)
    if ws.settings.artifact_url is None:
        (path / ARTIFACTS_DIR).mkdir(exist_ok=True)
    ws.metadata  # noqa: B018 - creates the database schema now, not at first use
    return ws


def open_workspace(path: Path, **overrides: Any) -> Workspace:
    """Open the workspace at ``path`` (the folder holding ``lakeworks.toml``).

    Raises:
        NotFoundError: no workspace there, with the command that creates one.
    """
    path = path.expanduser().resolve()
    config = path / WORKSPACE_FILE
    if not config.is_file():
        raise NotFoundError(
            f"no Lakeworks workspace at '{path}' ({WORKSPACE_FILE} not found); create one with "
            f"`lakeworks workspace create {path}`"
        )
    try:
        data = tomllib.loads(config.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{config}: not valid TOML: {exc}") from exc
    section = data.get("workspace") or {}
    allowed = set(WorkspaceInfo.__dataclass_fields__)
    unknown = set(section) - allowed
    if unknown:
        raise InvalidInputError(
            f"{config}: unknown key(s) {sorted(unknown)} in [workspace]", allowed=allowed
        )
    info = WorkspaceInfo(**{"name": path.name, **section})
    return Workspace(path, info, load_settings(path, **overrides))
