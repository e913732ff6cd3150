"""Datastores: named storage roots, their credentials, and resolving ``azureml://datastores/...``.

Owns creating, listing and deleting datastores (local folders, S3, Azure Blob, ADLS Gen2), the
default datastore ``workspaceblobstore`` (the workspace's artifact store: implicit, never
stored, never deleted), keeping credentials out of plain text (references to environment
variables, or values encrypted with the user's key through the ``secrets`` adapter) and
resolving them only when a datastore is used, and turning a datastore URI
``azureml://datastores/<name>/paths/<p>`` (short or long form) into a ``StorageLocation`` or an
``ArtifactStore`` rooted at the datastore. It never returns or logs a secret except through
``secrets()``, which callers ask for explicitly.

``StorageLocation.options`` are flat fsspec-style strings: for S3 ``endpoint_url``, ``region``,
``key``, ``secret``; for Azure ``account_name``, ``account_host``, ``account_key``,
``sas_token``, ``tenant_id``, ``client_id``, ``client_secret``; none for local folders.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lakeworks.core.datastores import (
    AZURE_TYPES,
    CREDENTIAL_FIELDS,
    DEFAULT_AZURE_ENDPOINT,
    OPTION_FIELDS,
    check_credential_fields,
    join_path,
    parse_azure_url,
    type_of_url,
)
from lakeworks.core.lake import DatastoreRecord, DatastoreType
from lakeworks.core.names import validate_name
from lakeworks.core.refs import DEFAULT_DATASTORE, datastore_uri, parse_datastore_uri
from lakeworks.errors import InvalidInputError, LakeworksError, NotFoundError
from lakeworks.ports.artifacts import ArtifactStore
from lakeworks.ports.lake import StorageLocation
from lakeworks.services import adapter_registry
from lakeworks.services.credentials import open_secrets, seal
from lakeworks.services.workspace import Workspace

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def default_options(ws: Workspace, url: str) -> dict[str, str]:
    """Storage options for the workspace's own artifact store (S3 endpoint and keys)."""
    if not url.startswith(("s3://", "s3a://")):
        return {}
    options: dict[str, str] = {}
    endpoint = ws.settings.s3_endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["endpoint_url"] = endpoint
    for key, env in (("key", "AWS_ACCESS_KEY_ID"), ("secret", "AWS_SECRET_ACCESS_KEY"),
                     ("region", "AWS_DEFAULT_REGION")):
        if os.environ.get(env):
            options[key] = os.environ[env]
    return options


@dataclass(frozen=True)
class StoredPath:
    """A path inside a datastore: the datastore's name, its store and the key in it."""

    datastore: str
    store: ArtifactStore
    key: str

    @property
    def uri(self) -> str:
        """The short datastore URI ``azureml://datastores/<datastore>/paths/<key>``."""
        return datastore_uri(self.key, self.datastore)


@dataclass(frozen=True)
class ConnectionCheck:
    """The outcome of ``test``: whether the root could be listed, and what was seen."""

    name: str
    url: str
    ok: bool
    detail: str
    entries: tuple[str, ...] = ()


def _local_root(url: str) -> str:
    """The folder of a ``file://`` URL (a plain path is returned as is)."""
    return unquote(urlsplit(url).path) if url.startswith("file://") else url


class DatastoreService:
    """The datastores of one workspace.

    Example:
        >>> svc = DatastoreService(ws)  # doctest: +SKIP
        >>> svc.resolve_location("azureml://datastores/lake/paths/raw/bikes.csv")  # doctest: +SKIP
        StorageLocation(url='/data/lake/raw/bikes.csv', options={})
    """

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    # -- records -----------------------------------------------------------------------------

    def create_or_update(
        self, record: DatastoreRecord, *, credentials: Mapping[str, str] | None = None
    ) -> DatastoreRecord:
        """Save a datastore, replacing one of the same name (keeping its creation time).

        Args:
            record: the datastore; its ``credentials`` may already hold references.
            credentials: credential values by field (``account_key``, ``secret_access_key``
                ...): ``${{env:VAR}}`` references are stored as references, other values
                encrypted with the user's key. Replaces ``record.credentials`` when given.

        Raises:
            InvalidInputError: a bad name, the default's name, a URL that does not match the
                type, an unknown option or credential field, or references mixed with values.
        """
        name = validate_name(record.name, what="datastore name")
        if name == DEFAULT_DATASTORE:
            raise InvalidInputError(
                f"'{DEFAULT_DATASTORE}' is the workspace's default datastore (its artifact "
                "store, set by artifact_url in lakeworks.toml) and cannot be redefined; "
                "pick another name"
            )
        url_type = type_of_url(record.url)
        if url_type is not record.type:
            raise InvalidInputError(
                f"datastore '{name}' is of type {record.type.value} but its URL {record.url!r} "
                f"is a {url_type.value} URL",
                field="url",
            )
        url = record.url
        if record.type is DatastoreType.LOCAL:
            folder = Path(_local_root(url)).expanduser()
            if not folder.is_absolute():
                raise InvalidInputError(
                    f"datastore '{name}': the folder {str(folder)!r} must be an absolute path",
                    field="path",
                )
            url = folder.resolve().as_uri()
        allowed = OPTION_FIELDS[record.type]
        for key in record.options:
            if key not in allowed:
                raise InvalidInputError(
                    f"datastore '{name}': option '{key}' does not apply to type "
                    f"{record.type.value}",
                    field=key,
                    allowed=allowed,
                )
        creds = record.credentials
        if credentials:
            creds = seal(name, record.type, credentials)
        else:
            check_credential_fields(record.type, creds.values, name=name)
        try:
            created_at = self.ws.metadata.datastores.get(name).created_at
        except NotFoundError:
            created_at = datetime.now(UTC)
        stored = record.model_copy(
            update={
                "name": name,
                "url": url,
                "credentials": creds,
                "is_default": False,
                "created_at": created_at,
                "options": {k: v for k, v in record.options.items() if v is not None},
            }
        )
        self.ws.metadata.datastores.put(stored, replace=True)
        return stored

    def get(self, name: str) -> DatastoreRecord:
        """A datastore as stored: credentials are references or encrypted, never plain.

        Raises:
            NotFoundError: no such datastore, naming those that exist.
        """
        if name == DEFAULT_DATASTORE:
            return self.get_default()
        return self.ws.metadata.datastores.get(name)

    def get_default(self) -> DatastoreRecord:
        """The default datastore ``workspaceblobstore``: the workspace's artifact store."""
        url = self.ws.artifacts.url
        try:
            kind = type_of_url(url)
        except InvalidInputError:
            kind = DatastoreType.LOCAL
        options: dict[str, Any] = {}
        if kind is DatastoreType.S3 and self.ws.settings.s3_endpoint_url:
            options["endpoint_url"] = self.ws.settings.s3_endpoint_url
        try:
            created = datetime.fromisoformat(self.ws.info.created_at or "")
        except ValueError:
            created = _EPOCH
        return DatastoreRecord(
            name=DEFAULT_DATASTORE,
            type=kind,
            url=url,
            options=options,
            description="The workspace's artifact store (artifact_url in lakeworks.toml)",
            is_default=True,
            created_at=created,
        )

    def delete(self, name: str) -> None:
        """Forget a datastore; its data is untouched.

        Raises:
            InvalidInputError: ``name`` is the default datastore.
            NotFoundError: no such datastore.
        """
        if name == DEFAULT_DATASTORE:
            raise InvalidInputError(
                f"'{DEFAULT_DATASTORE}' is the workspace's default datastore (its artifact "
                "store) and cannot be deleted"
            )
        self.ws.metadata.datastores.delete(name)

    # -- credentials -------------------------------------------------------------------------

    def secrets(self, record: DatastoreRecord) -> dict[str, str]:
        """The credential values of ``record`` in plain text, by field (see ``open_secrets``)."""
        return open_secrets(record)

    def storage_options(self, record: DatastoreRecord) -> dict[str, str]:
        """The flat storage options reaching ``record``'s root, secrets included."""
        if record.is_default:
            return default_options(self.ws, record.url)
        mapping = OPTION_FIELDS[record.type]
        options = {
            target: str(record.options[key])
            for key, target in mapping.items()
            if target is not None and record.options.get(key) not in (None, "")
        }
        if record.type in AZURE_TYPES:
            endpoint = str(record.options.get("endpoint") or DEFAULT_AZURE_ENDPOINT)
            if endpoint != DEFAULT_AZURE_ENDPOINT and "account_name" in options:
                service = "dfs" if record.type is DatastoreType.AZURE_DATA_LAKE_GEN2 else "blob"
                options["account_host"] = f"{options['account_name']}.{service}.{endpoint}"
        fields = CREDENTIAL_FIELDS[record.type]
        for field_name, value in self.secrets(record).items():
            options[fields[field_name]] = value
        return options

    # -- locations ---------------------------------------------------------------------------

    def location(self, name: str, path: str = "") -> StorageLocation:
        """The storage location of ``path`` inside datastore ``name`` (credentials resolved)."""
        record = self.get(name)
        root = record.url
        if record.type is DatastoreType.LOCAL and "://" in root:
            root = _local_root(root)
        return StorageLocation(url=join_path(root, path), options=self.storage_options(record))

    def resolve_location(self, uri: str) -> StorageLocation:
        """The storage location of a datastore URI, a plain URL or a local path.

        A plain ``s3://`` or ``abfss://`` URL under a datastore's root gets that datastore's
        options (endpoint, credentials), as Synapse maps a path to its linked service.

        Raises:
            InvalidInputError: a malformed datastore URI.
            NotFoundError: an unknown datastore, or a missing credential variable.
        """
        parsed = parse_datastore_uri(uri)
        if parsed is not None:
            return self.location(parsed.datastore, parsed.path)
        if uri.startswith("azureml://"):
            raise InvalidInputError(
                f"{uri!r} is not a datastore URI (azureml://datastores/<name>/paths/<path>)"
            )
        if "://" in uri:
            record = self._owner(uri)
            options = self.storage_options(record) if record is not None else {}
            return StorageLocation(url=uri, options=options)
        return StorageLocation(url=str(Path(uri).expanduser().resolve()))

    def _owner(self, url: str) -> DatastoreRecord | None:
        """The datastore whose root holds ``url`` (the deepest root wins), if any."""
        best: tuple[int, DatastoreRecord] | None = None
        for record in self.list():
            if record.type is DatastoreType.LOCAL:
                continue
            depth = _under(url, record)
            if depth is not None and (best is None or depth > best[0]):
                best = (depth, record)
        return best[1] if best else None

    def store(self, name: str) -> ArtifactStore:
        """An artifact store rooted at datastore ``name`` (job inputs and outputs).

        Raises:
            NotFoundError: no such datastore, or a missing credential variable.
            MissingDependencyError: the package for its protocol is not installed.
        """
        if name == DEFAULT_DATASTORE:
            return self.ws.artifacts
        loc = self.location(name)
        store: ArtifactStore = adapter_registry.load("artifacts")(
            loc.url, storage_options=loc.options
        )
        return store

    def locate(self, uri: str) -> StoredPath:
        """The datastore, store and key of a datastore URI.

        Raises:
            InvalidInputError: not a datastore URI.
            NotFoundError: an unknown datastore.
        """
        parsed = parse_datastore_uri(uri)
        if parsed is None:
            raise InvalidInputError(
                f"{uri!r} is not a datastore URI (azureml://datastores/<name>/paths/<path>)"
            )
        return StoredPath(parsed.datastore, self.store(parsed.datastore), parsed.path)

    def filesystem(self, name: str) -> tuple[Any, str]:
        """The fsspec file system serving datastore ``name`` and its root path on it."""
        loc = self.location(name)
        opened: tuple[Any, str] = adapter_registry.load("filesystem")(loc.url, loc.options)
        return opened

    def test(self, name: str) -> ConnectionCheck:
        """Synapse's "Test connection": list the datastore's root and say what happened.

        Failures (missing folder or bucket, refused credentials, unreachable endpoint, missing
        package or variable) are reported in the result, not raised; an unknown datastore is.
        """
        record = self.get(name)
        try:
            loc = self.location(name)
            entries = adapter_registry.load("list_folder")(loc.url, loc.options)
        except LakeworksError as exc:  # adapters translate every storage failure into these
            return ConnectionCheck(name, record.url, False, str(exc))
        shown = "entry" if len(entries) == 1 else "entries"
        return ConnectionCheck(
            name, record.url, True, f"listed {len(entries)} {shown} at {record.url}",
            tuple(entries),
        )

    # Last in the class: a method named ``list`` would shadow the builtin in later annotations.

    def list(self) -> builtins.list[DatastoreRecord]:
        """Every datastore, the default first, then by name."""
        return [self.get_default(), *self.ws.metadata.datastores.list()]


def _under(url: str, record: DatastoreRecord) -> int | None:
    """How deep ``record``'s root is when it holds ``url``, else None."""
    if record.type in AZURE_TYPES:
        try:
            given, root = parse_azure_url(url), parse_azure_url(record.url)
        except InvalidInputError:
            return None
        if (given.account, given.container) != (root.account, root.container):
            return None
        if root.path and not (given.path + "/").startswith(root.path.rstrip("/") + "/"):
            return None
        return len(root.path) + 1
    root_url = record.url.rstrip("/")
    scheme, _, rest = url.partition("://")
    root_scheme, _, root_rest = root_url.partition("://")
    same = scheme.lower() == root_scheme.lower() or {scheme, root_scheme} <= {"s3", "s3a"}
    if same and (rest == root_rest or rest.startswith(root_rest + "/")):
        return len(root_rest)
    return None


def resolve_location(ws: Workspace, uri: str) -> StorageLocation:
    """The storage location of a datastore URI (or of a plain URL or local path).

    Raises:
        InvalidInputError: a malformed datastore URI.
        NotFoundError: an unknown datastore.
    """
    return DatastoreService(ws).resolve_location(uri)
