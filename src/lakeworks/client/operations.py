"""Operation groups of ``MLClient`` with Azure ML's method names and signatures.

``data``, ``environments``, ``components``, ``models``, ``jobs`` and ``workspaces``. Each turns
entities into core specs, calls a service, and turns stored results back into entities. Long
operations return an ``LROPoller`` whose ``result()`` waits.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

from lakeworks.client.entities.assets import Data, Environment, Model, Workspace
from lakeworks.client.entities.components import Command, CommandComponent
from lakeworks.client.entities.jobs import CommandJob, Job, PipelineJob, command_job_spec
from lakeworks.client.entities.spark import component_from_stored
from lakeworks.core.jobs import JobRecord, JobSpec, JobStatus
from lakeworks.core.refs import AssetKind
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.services.assets import AssetService
from lakeworks.services.jobs import JobService
from lakeworks.services.resolution import JobResolver
from lakeworks.services.web import job_url
from lakeworks.services.workspace import Workspace as WorkspaceHandle

T = TypeVar("T")

_STOPPED = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.NOT_RESPONDING}
)


class ListViewType(StrEnum):
    """Which assets ``list`` shows (Azure's ``ListViewType``)."""

    ACTIVE_ONLY = "ActiveOnly"
    ARCHIVED_ONLY = "ArchivedOnly"
    ALL = "All"


class LROPoller(Generic[T]):
    """A finished-or-waitable operation, like Azure's ``LROPoller``."""

    def __init__(self, get: Callable[[], T], done: Callable[[], bool] = lambda: True) -> None:
        self._get = get
        self._done = done

    def done(self) -> bool:
        return self._done()

    def status(self) -> str:
        return "Succeeded" if self._done() else "InProgress"

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done():
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def result(self, timeout: float | None = None) -> T:
        self.wait(timeout)
        return self._get()


def _filter(items: list[Any], view: ListViewType | str) -> list[Any]:
    view = ListViewType(view)
    if view is ListViewType.ALL:
        return items
    want_archived = view is ListViewType.ARCHIVED_ONLY
    return [i for i in items if i.archived == want_archived]


class _AssetOperations:
    kind: AssetKind
    entity: Any

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    @property
    def _service(self) -> AssetService:
        return AssetService(self._ws())

    def get(self, name: str, version: str | int | None = None, label: str | None = None) -> Any:
        """Get one version (``version=``) or the newest (``label="latest"``)."""
        stored = self._service.get(
            self.kind, name, str(version) if version is not None else None, label
        )
        return self.entity._from_stored(stored)

    def list(
        self,
        name: str | None = None,
        *,
        list_view_type: ListViewType | str = ListViewType.ACTIVE_ONLY,
        **_: Any,
    ) -> list[Any]:
        """Versions of ``name`` (newest first), or the latest version of every asset."""
        versions = _filter(
            self._ws().metadata.assets.list_versions(self.kind, name, include_archived=True),
            list_view_type,
        )
        if name is None:  # the newest version of each asset, among those in view
            newest: dict[str, Any] = {}
            for v in versions:
                newest.setdefault(v.name, v)
            versions = list(newest.values())
        return [self.entity._from_stored(v) for v in versions]

    def archive(self, name: str, version: str | None = None, label: str | None = None) -> None:
        """Hide a version (or the whole asset) from lists and ``latest``; nothing is deleted."""
        self._service.set_archived(self.kind, name, True, version=version, label=label)

    def restore(self, name: str, version: str | None = None, label: str | None = None) -> None:
        """Undo ``archive``."""
        self._service.set_archived(self.kind, name, False, version=version, label=label)


class DataOperations(_AssetOperations):
    """``ml_client.data``."""

    kind = AssetKind.DATA
    entity = Data

    def create_or_update(self, data: Data) -> Data:
        """Register a data asset; a local path is uploaded into the workspace first."""
        _, stored = self._service.create_or_update(data._to_spec())
        return Data._from_stored(stored)

    def local_path(self, name: str, version: str | None = None, label: str | None = None) -> Path:
        """A local file-system path holding the data (Lakeworks addition)."""
        data = self.get(name, version=version, label=label or (None if version else "latest"))
        return self._service.local_copy(data.path)


class EnvironmentOperations(_AssetOperations):
    """``ml_client.environments``."""

    kind = AssetKind.ENVIRONMENT
    entity = Environment

    def create_or_update(self, environment: Environment) -> Environment:
        spec = environment._to_spec()
        if spec.build is not None:
            uri, _ = self._service.upload(Path(spec.build["path"]), prefix="build")
            spec = spec.model_copy(update={"build": {**spec.build, "path": uri}})
        _, stored = self._service.create_or_update(spec)
        return Environment._from_stored(stored)


class ModelOperations(_AssetOperations):
    """``ml_client.models``."""

    kind = AssetKind.MODEL
    entity = Model

    def create_or_update(self, model: Model) -> Model:
        """Register a model; local files are uploaded into the workspace first."""
        _, stored = self._service.create_or_update(model._to_spec())
        return Model._from_stored(stored)

    def list(
        self,
        name: str | None = None,
        stage: str | None = None,
        *,
        list_view_type: ListViewType | str = ListViewType.ACTIVE_ONLY,
        **_: Any,
    ) -> list[Any]:
        models = super().list(name, list_view_type=list_view_type)
        return [m for m in models if stage is None or m.stage == stage]

    def download(self, name: str, version: str, download_path: str | Path = ".") -> Path:
        """Copy a model's files to ``<download_path>/<name>/``."""
        model = self.get(name, version=version)
        dest = Path(download_path) / name
        located = self._service.locate(model.path)
        located.store.download(located.key, dest / Path(located.key).name)
        return dest


class _AnyComponent:
    """Builds the right component entity (command or spark) from a stored version."""

    _from_stored = staticmethod(component_from_stored)


class ComponentOperations(_AssetOperations):
    """``ml_client.components``."""

    kind = AssetKind.COMPONENT
    entity = _AnyComponent

    def create_or_update(
        self,
        component: CommandComponent | Command,
        version: str | None = None,
        *,
        skip_validation: bool = False,
        **_: Any,
    ) -> CommandComponent:
        """Register a component: its code is snapshotted, its environment checked."""
        if isinstance(component, Command):
            component = component.component
        spec = component._to_spec()
        if version is not None:
            spec = spec.model_copy(update={"version": str(version)})
        ws = self._ws()
        resolver = JobResolver(self._service, ws.metadata.jobs)
        if not skip_validation and isinstance(spec.environment, str):
            resolver.resolve_environment(spec.environment, where=f"component '{spec.name}'")
        if spec.code is not None and not spec.code.startswith("azureml://"):
            uri, digest = self._service.snapshot_code(Path(spec.code))
            spec = spec.model_copy(update={"code": uri, "code_hash": digest})
        stored = self._service.create_or_update(spec)[1]
        return component_from_stored(stored)

    def validate(self, component: CommandComponent, raise_on_failure: bool = False) -> list[str]:
        """Check a component; returns the problems found (or raises the first)."""
        try:
            spec = component._to_spec()
            if isinstance(spec.environment, str):
                JobResolver(self._service, self._ws().metadata.jobs).resolve_environment(
                    spec.environment, where="environment"
                )
        except (InvalidInputError, NotFoundError) as exc:
            if raise_on_failure:
                raise
            return [str(exc)]
        return []


class JobOperations:
    """``ml_client.jobs``."""

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    @property
    def _service(self) -> JobService:
        return JobService(self._ws())

    def _spec(self, job: Any) -> JobSpec:
        if isinstance(job, PipelineJob):
            service = AssetService(self._ws())
            for node in job.jobs.values():
                ref = getattr(node.component, "ref", None)
                if ref is not None:
                    stored = service.resolve(ref, AssetKind.COMPONENT)
                    node._component = component_from_stored(stored)
            return job._to_job_spec()
        if isinstance(job, JobSpec):
            return job
        to_job_spec = getattr(job, "_to_job_spec", None)
        if callable(to_job_spec):  # sweep and AutoML jobs build their own single-step spec
            ref = getattr(getattr(job, "component", None), "ref", None)
            if ref is not None:  # a sweep whose trial is a registered component
                stored = AssetService(self._ws()).resolve(ref, AssetKind.COMPONENT)
                job._component = component_from_stored(stored)
            spec: JobSpec = to_job_spec()
            return spec
        if isinstance(job, Command):
            return command_job_spec(job)
        raise InvalidInputError(
            f"cannot submit a {type(job).__name__}; give a pipeline job or a command",
        )

    def _entity(self, record: JobRecord) -> Job:
        ws = self._ws()
        url = job_url(ws, record)
        if record.type == "pipeline":
            return PipelineJob._from_record(record, url, self._service.steps(record.name))
        return CommandJob._from_record(record, url)

    def create_or_update(
        self,
        job: Any,
        *,
        description: str | None = None,
        compute: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        skip_validation: bool = False,
        **_: Any,
    ) -> Job:
        """Submit a job; it runs in the background and this returns at once.

        Raises:
            InvalidInputError: the job is invalid (unbound input, cycle, unknown field...).
            NotFoundError: a local path, asset or environment it names does not exist.
        """
        spec = self._spec(job)
        update: dict[str, Any] = {}
        if experiment_name:
            update["experiment_name"] = experiment_name
        if description:
            update["description"] = description
        if tags:
            update["tags"] = {**spec.tags, **tags}
        if compute:
            update["compute"] = compute
        if update:
            spec = spec.model_copy(update=update)
        name = getattr(job, "name", None) if not isinstance(job, JobSpec) else None
        record = self._service.submit(spec, name=name)
        return self._entity(record)

    def validate(self, job: Any, *, raise_on_failure: bool = False, **_: Any) -> list[str]:
        """Check a job without running it; returns the problems found (or raises)."""
        try:
            self._service.validate(self._spec(job))
        except (InvalidInputError, NotFoundError) as exc:
            if raise_on_failure:
                raise
            return [str(exc)]
        return []

    def get(self, name: str) -> Job:
        return self._entity(self._service.get(name))

    def list(
        self,
        *,
        parent_job_name: str | None = None,
        list_view_type: ListViewType | str = ListViewType.ACTIVE_ONLY,
        **_: Any,
    ) -> list[Job]:
        records = self._service.list(
            parent=parent_job_name,
            include_archived=ListViewType(list_view_type) is not ListViewType.ACTIVE_ONLY,
        )
        return [self._entity(r) for r in _filter(records, list_view_type)]

    def stream(self, name: str) -> None:
        """Print the job's logs until it ends, then a summary; raises if it failed."""
        ws = self._ws()
        self._service.stream(name, sys.stdout, web_view=lambda r: job_url(ws, r))

    def download(
        self,
        name: str,
        *,
        download_path: str | Path = ".",
        output_name: str | None = None,
        all: bool = False,
    ) -> None:
        """Write logs and ./outputs to ``artifacts/``, named outputs to ``named-outputs/<n>/``."""
        self._service.download(name, Path(download_path), output_name=output_name, all=all)

    def begin_cancel(self, name: str, **_: Any) -> LROPoller[Job]:
        """Cancel a job; ``.result()`` waits until it has stopped."""
        service = self._service
        service.cancel(name)
        return LROPoller(
            lambda: self.get(name),
            lambda: service.get(name).status in _STOPPED,
        )

    def resume(self, name: str) -> Job:
        """Run a failed or abandoned job again, reusing its finished steps (Lakeworks addition)."""
        return self._entity(self._service.resume(name))

    def archive(self, name: str) -> None:
        self._ws().metadata.jobs.update(name, {"archived": True})

    def restore(self, name: str) -> None:
        self._ws().metadata.jobs.update(name, {"archived": False})


class WorkspaceOperations:
    """``ml_client.workspaces``."""

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    def get(self, name: str | None = None, **_: Any) -> Workspace:
        ws = self._ws()
        if name is not None and name != ws.name:
            raise NotFoundError(
                f"workspace '{name}' is not the one this client opened ('{ws.name}' at "
                f"'{ws.path}')"
            )
        return Workspace(
            name=ws.name,
            location=ws.info.location,
            resource_group=ws.info.resource_group,
            description=ws.info.description,
            path=str(ws.path),
        )

    def list(self, **_: Any) -> list[Workspace]:
        return [self.get()]
