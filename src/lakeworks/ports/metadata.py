"""Metadata ports: versioned assets, job records, the step-reuse cache and online endpoints (one
repo per aggregate).

Implementations must pass ``tests/contract/test_metadata_contract.py`` and, for endpoints,
``tests/contract/test_endpoint_repo_contract.py`` (SQLite and PostgreSQL).
Every write is atomic; a version, once added, never changes content.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from lakeworks.core.assets import AssetVersion
from lakeworks.core.endpoints import OnlineDeploymentSpec, OnlineEndpointSpec
from lakeworks.core.jobs import JobRecord, JobStatus
from lakeworks.core.refs import AssetKind
from lakeworks.ports.catalog import CatalogRepo, DatastoreRepo


class AssetRepo(Protocol):
    """Immutable, versioned assets of every kind."""

    def add_version(
        self,
        kind: AssetKind,
        name: str,
        version: str | None,
        spec: Mapping[str, Any],
        content_hash: str,
    ) -> tuple[AssetVersion, bool]:
        """Add a version, or auto-increment one when ``version`` is None.

        Auto-increment picks one more than the largest all-digit version (``"1"`` first) and is
        safe under concurrent writers (two processes adding 50 versions each get 100 distinct
        versions). Adding an existing version with the same ``content_hash`` returns it
        unchanged; with another hash raises ``ConflictError``.

        Returns:
            The stored version and whether it was created now (False when it already existed).
        """
        ...

    def update_spec(
        self, kind: AssetKind, name: str, version: str, spec: Mapping[str, Any]
    ) -> AssetVersion:
        """Replace the stored spec of a version whose content hash is unchanged (metadata edit)."""
        ...

    def get_version(self, kind: AssetKind, name: str, version: str) -> AssetVersion:
        """Return one version, archived or not; ``NotFoundError`` names the kind and version."""
        ...

    def get_latest(self, kind: AssetKind, name: str) -> AssetVersion:
        """The most recently created version that is not archived; ``NotFoundError`` if none."""
        ...

    def list_versions(
        self, kind: AssetKind, name: str | None = None, *, include_archived: bool = False
    ) -> list[AssetVersion]:
        """Versions of one asset (or of all assets of the kind), newest first."""
        ...

    def set_archived(
        self, kind: AssetKind, name: str, version: str | None, archived: bool
    ) -> None:
        """Archive or restore one version, or every version when ``version`` is None."""
        ...


class JobRepo(Protocol):
    """Job and pipeline-step records."""

    def create(self, record: JobRecord) -> None:
        """Insert a record; ``ConflictError`` if the name is taken."""
        ...

    def get(self, name: str) -> JobRecord:
        """Return a record; ``NotFoundError`` if absent."""
        ...

    def list(
        self,
        *,
        parent: str | None = None,
        experiment: str | None = None,
        top_level_only: bool = False,
        include_archived: bool = False,
        limit: int | None = None,
    ) -> list[JobRecord]:
        """Records, newest first, filtered by parent job or experiment."""
        ...

    def update(
        self,
        name: str,
        changes: Mapping[str, Any],
        *,
        expect_status: frozenset[JobStatus] | None = None,
    ) -> JobRecord | None:
        """Apply ``changes`` (JobRecord field -> value) atomically.

        With ``expect_status``, the change applies only if the current status is in the set
        (compare-and-set); otherwise nothing changes and None is returned.
        """
        ...


class CacheEntry(BaseModel):
    """Outputs of a finished deterministic step, keyed by everything that determined them."""

    model_config = ConfigDict(frozen=True)

    key: str
    job_name: str
    outputs: dict[str, str] = Field(default_factory=dict)
    output_hashes: dict[str, str] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    created_at: datetime


class StepCacheRepo(Protocol):
    """The reuse index: reuse key -> outputs of the step that produced them."""

    def get(self, key: str) -> CacheEntry | None:
        ...

    def put(self, entry: CacheEntry) -> None:
        """Insert or replace the entry for ``entry.key``."""
        ...

    def delete(self, key: str) -> None:
        ...


class EndpointRecord(BaseModel):
    """A stored online endpoint: its spec, its keys sealed (encrypted), and its state."""

    model_config = ConfigDict(frozen=True)

    name: str
    spec: OnlineEndpointSpec
    #: ``primary``, ``secondary`` and ``token_secret``, each encrypted with the user's key
    sealed_keys: dict[str, str]
    provisioning_state: str = "Succeeded"
    created_at: datetime
    updated_at: datetime


class DeploymentRecord(BaseModel):
    """A stored online deployment: its spec (model pinned to a version, code snapshotted)
    and what it was resolved to on this machine."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    name: str
    spec: OnlineDeploymentSpec
    kind: str  # onnx | mlflow | script
    model_name: str | None = None
    model_version: str | None = None
    model_dir: str | None = None
    model_path: str | None = None
    onnx_path: str | None = None
    code_uri: str | None = None
    code_dir: str | None = None
    python: str
    state: str = "Creating"  # Creating | Succeeded | Failed
    error: str | None = None
    created_at: datetime
    updated_at: datetime


class EndpointRepo(Protocol):
    """Online endpoints and their deployments (a deployment belongs to an existing endpoint)."""

    def put_endpoint(self, record: EndpointRecord, *, replace: bool = False) -> None:
        """Save an endpoint; ``ConflictError`` if it exists unless ``replace``."""
        ...

    def get_endpoint(self, name: str) -> EndpointRecord:
        """``NotFoundError`` naming the existing endpoints when absent."""
        ...

    def list_endpoints(self) -> list[EndpointRecord]:
        """Endpoints sorted by name."""
        ...

    def delete_endpoint(self, name: str) -> None:
        """Remove an endpoint and its deployments; ``NotFoundError`` if absent."""
        ...

    def put_deployment(self, record: DeploymentRecord, *, replace: bool = False) -> None:
        """Save a deployment of an existing endpoint (``NotFoundError`` otherwise);
        ``ConflictError`` if it exists unless ``replace``."""
        ...

    def get_deployment(self, endpoint: str, name: str) -> DeploymentRecord:
        """``NotFoundError`` naming the endpoint's deployments when absent."""
        ...

    def list_deployments(self, endpoint: str | None = None) -> list[DeploymentRecord]:
        """Deployments of one endpoint (or all), sorted by endpoint then name."""
        ...

    def delete_deployment(self, endpoint: str, name: str) -> None:
        """Remove a deployment's record; ``NotFoundError`` if absent."""
        ...


class MetadataStore(Protocol):
    """The bundle of repos over one database."""

    url: str
    assets: AssetRepo
    jobs: JobRepo
    cache: StepCacheRepo
    catalog: CatalogRepo
    datastores: DatastoreRepo
    endpoints: EndpointRepo

    def close(self) -> None:
        ...
