"""Asset use cases: register, get, list, archive and materialise data, environments, models and
components, with Azure ML's semantics.

Owns turning local paths into stored, content-addressed copies (``LocalUpload/<hash>/<name>``,
``code/<hash>``) so that later edits to the originals never change a version; resolving every
reference form to a stored version; and the ``get(name, version=, label=)`` rules. Never
mutates content of a stored version; description and tags may change.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TypeVar

from lakeworks.core.assets import (
    AssetSpec,
    AssetVersion,
    ComponentSpec,
    DataSpec,
    ModelSpec,
    ModelType,
)
from lakeworks.core.names import safe_relative_path, validate_name
from lakeworks.core.refs import (
    DEFAULT_DATASTORE,
    AssetKind,
    AssetRef,
    datastore_uri,
    parse_asset_ref,
    parse_datastore_uri,
)
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.services.datastores import DatastoreService, StoredPath
from lakeworks.services.hashing import SNAPSHOT_EXCLUDES, hash_path
from lakeworks.services.workspace import Workspace

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
LATEST = "latest"
DEFAULT_LABEL = "default"

S = TypeVar("S", bound=AssetSpec)

#: kinds whose unversioned re-registration with unchanged content returns the latest version
_DEDUPLICATED = frozenset({AssetKind.COMPONENT, AssetKind.ENVIRONMENT})


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` strings (including ``azureml://``), False for local paths."""
    return bool(_URI.match(path))


class AssetService:
    """Registers and finds assets in one workspace."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace

    # -- uploads ---------------------------------------------------------------------------

    def upload(
        self, local: Path, *, prefix: str = "LocalUpload", excludes: frozenset[str] = frozenset()
    ) -> tuple[str, str]:
        """Store a local file or folder content-addressed; return (datastore URI, content hash).

        Uploading the same content twice stores it once.

        Raises:
            NotFoundError: the local path does not exist.
        """
        local = local.expanduser()
        if not local.exists():
            raise NotFoundError(f"local path '{local}' does not exist")
        digest = hash_path(local, excludes=excludes)
        name = safe_relative_path(local.resolve().name or "root", what="file name")
        key = f"{prefix}/{digest}/{name}"
        store = self.ws.artifacts
        if not store.exists(key):
            if local.is_dir():
                staging = store.staging_dir()
                _copy_tree(local, staging, excludes)
                try:
                    store.commit_dir(staging, key)
                except ConflictError:
                    # Another writer committed the same content-addressed key first.
                    shutil.rmtree(staging, ignore_errors=True)
            else:
                store.put_file(local, key)
        return datastore_uri(key), digest

    def snapshot_code(self, local: Path) -> tuple[str, str]:
        """Store a component's code folder (or file) as an immutable snapshot."""
        return self.upload(local, prefix="code", excludes=SNAPSHOT_EXCLUDES)

    def key_of(self, uri: str) -> str:
        """The artifact-store key of a default-datastore URI (``locate`` handles any datastore).

        Raises:
            InvalidInputError: not a datastore URI.
            NotFoundError: a datastore other than the workspace's default.
        """
        parsed = parse_datastore_uri(uri)
        if parsed is None:
            raise InvalidInputError(
                f"{uri!r} is not a datastore URI (azureml://datastores/<name>/paths/<path>)"
            )
        if parsed.datastore != DEFAULT_DATASTORE:
            raise NotFoundError(
                f"datastore '{parsed.datastore}' does not exist in workspace "
                f"'{self.ws.name}'; the default datastore is '{DEFAULT_DATASTORE}'"
            )
        return parsed.path

    def locate(self, uri: str) -> StoredPath:
        """The datastore, artifact store and key of a datastore URI (any datastore).

        Raises:
            InvalidInputError: not a datastore URI.
            NotFoundError: an unknown datastore.
        """
        parsed = parse_datastore_uri(uri)
        if parsed is not None and parsed.datastore == DEFAULT_DATASTORE:
            return StoredPath(DEFAULT_DATASTORE, self.ws.artifacts, parsed.path)
        return DatastoreService(self.ws).locate(uri)

    def local_copy(self, uri: str) -> Path:
        """A local path holding the stored file or folder ``uri`` (no copy for a local store).

        Default-datastore content is content-addressed and cached once; a remote named
        datastore may change, so its copy is downloaded again on every call.
        """
        located = self.locate(uri)
        key, store = located.key, located.store
        direct = store.local_path(key)
        if direct is not None:
            if not direct.exists():
                raise NotFoundError(f"'{uri}' does not exist in datastore '{located.datastore}'")
            return direct
        if located.datastore != DEFAULT_DATASTORE:
            return self.download_to(uri, self.ws.state_dir / "cache" / "datastores" /
                                    located.datastore / key, located=located)
        cache = self.ws.state_dir / "cache" / key
        if not cache.exists():
            tmp = cache.with_name(cache.name + ".partial")
            store.download(key, tmp)
            tmp.replace(cache)
        return cache

    def download_to(self, uri: str, dest: Path, *, located: StoredPath | None = None) -> Path:
        """Download a stored file or folder afresh: a folder's files into ``dest``, a file as
        ``dest/<file name>``; returns that path. A previous copy at ``dest`` is replaced."""
        located = located or self.locate(uri)
        if not located.store.exists(located.key):
            raise NotFoundError(f"'{uri}' does not exist in datastore '{located.datastore}'")
        is_dir = located.store.is_dir(located.key) or not located.key
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
        shutil.rmtree(tmp, ignore_errors=True)
        target = tmp if is_dir else tmp / Path(located.key).name
        located.store.download(located.key, target)
        shutil.rmtree(dest, ignore_errors=True)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.replace(dest)
        except OSError:
            if not dest.exists():
                raise
            shutil.rmtree(tmp, ignore_errors=True)  # another process put a fresh copy there
        return dest if is_dir else dest / Path(located.key).name

    # -- registration ----------------------------------------------------------------------

    def _store_paths(self, spec: S) -> S:
        if isinstance(spec, DataSpec | ModelSpec) and not is_uri(spec.path):
            uri, digest = self.upload(Path(spec.path))
            return spec.model_copy(update={"path": uri, "data_hash": digest})  # type: ignore[return-value]
        if isinstance(spec, DataSpec | ModelSpec):
            parsed = parse_datastore_uri(spec.path)
            if parsed is not None and parsed.datastore != DEFAULT_DATASTORE:
                DatastoreService(self.ws).get(parsed.datastore)  # NotFoundError if unknown
        if isinstance(spec, ComponentSpec) and spec.code is not None and not is_uri(spec.code):
            uri, digest = self.snapshot_code(Path(spec.code))
            return spec.model_copy(update={"code": uri, "code_hash": digest})
        return spec

    def create_or_update(self, spec: S) -> tuple[S, AssetVersion]:
        """Register ``spec`` (uploading local paths first) and return the stored spec.

        A version left out is auto-incremented. Registering an existing version with the same
        content returns it (updating description and tags); with other content raises
        ``ConflictError``.
        """
        validate_name(spec.name, what=f"{spec.kind.value} name")
        stored = self._store_paths(spec)
        body = stored.model_dump(mode="json", exclude={"name", "version"})
        if stored.version is None and spec.kind in _DEDUPLICATED:
            # As Azure does for components and environments: registering unchanged content
            # without a version returns the latest version instead of making a new one.
            try:
                latest = self.ws.metadata.assets.get_latest(spec.kind, stored.name)
            except NotFoundError:
                latest = None
            if latest is not None and latest.content_hash == stored.content_hash():
                out = latest.to_spec()
                assert isinstance(out, type(spec))
                return out, latest
        version, created = self.ws.metadata.assets.add_version(
            spec.kind, stored.name, stored.version, body, stored.content_hash()
        )
        if not created and body != version.spec:
            version = self.ws.metadata.assets.update_spec(
                spec.kind, stored.name, version.version, body
            )
        out = version.to_spec()
        assert isinstance(out, type(spec))
        return out, version

    def register_model_files(
        self,
        name: str,
        local: Path,
        *,
        version: str | None = None,
        type: ModelType = ModelType.MLFLOW,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        flavors: dict[str, object] | None = None,
        job_name: str | None = None,
        run_id: str | None = None,
    ) -> AssetVersion:
        """Register a model from local files (used by the MLflow registry and the SDK)."""
        spec = ModelSpec(
            name=name,
            version=version,
            type=type,
            path=str(local),
            description=description,
            tags=tags or {},
            flavors=flavors,
            job_name=job_name,
            run_id=run_id,
        )
        return self.create_or_update(spec)[1]

    # -- lookup ----------------------------------------------------------------------------

    def get(
        self,
        kind: AssetKind,
        name: str,
        version: str | None = None,
        label: str | None = None,
    ) -> AssetVersion:
        """Azure's ``get``: exactly one of version and label (components default to ``default``).

        Raises:
            InvalidInputError: both or (except for components) neither were given, or an
                unknown label.
            NotFoundError: no such asset or version.
        """
        if version is not None and label is not None:
            raise InvalidInputError("Cannot specify both version and label.")
        if version is None and label is None:
            if kind is not AssetKind.COMPONENT:
                raise InvalidInputError(
                    "Must provide either version or label (e.g. label='latest')."
                )
            label = DEFAULT_LABEL
        if version is not None:
            return self.ws.metadata.assets.get_version(kind, name, str(version))
        if label not in (LATEST, DEFAULT_LABEL):
            raise InvalidInputError(
                f"label {label!r} is not known", field="label", allowed=(LATEST, DEFAULT_LABEL)
            )
        return self.ws.metadata.assets.get_latest(kind, name)

    def resolve(self, ref: str | AssetRef, kind: AssetKind) -> AssetVersion:
        """Resolve any reference form (``name:version``, ``azureml:name@latest``, ...)."""
        parsed = parse_asset_ref(ref, kind=kind) if isinstance(ref, str) else ref
        if parsed.registry is not None and parsed.registry != "local":
            raise NotFoundError(
                f"registry '{parsed.registry}' is not available in this workspace; "
                f"register '{parsed.name}' locally and refer to it as {parsed.name}:<version>"
            )
        return self.get(kind, parsed.name, version=parsed.version, label=parsed.label)

    def list(
        self, kind: AssetKind, name: str | None = None, *, include_archived: bool = False
    ) -> list[AssetVersion]:
        """Versions of ``name`` newest first; without a name, the latest version of each."""
        versions = self.ws.metadata.assets.list_versions(
            kind, name, include_archived=include_archived
        )
        if name is not None:
            return versions
        seen: dict[str, AssetVersion] = {}
        for v in versions:
            seen.setdefault(v.name, v)
        return list(seen.values())

    def set_archived(
        self,
        kind: AssetKind,
        name: str,
        archived: bool,
        version: str | None = None,
        label: str | None = None,
    ) -> None:
        """Archive or restore a version (or the whole asset when neither version nor label)."""
        if label is not None:
            version = self.get(kind, name, label=label).version
        self.ws.metadata.assets.set_archived(kind, name, version, archived)


def _copy_tree(src: Path, dest: Path, excludes: frozenset[str]) -> None:
    def ignore(_dir: str, names: list[str]) -> list[str]:
        return [n for n in names if n in excludes or n.endswith(".pyc")]

    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
