"""Datastore entities with Azure ML's names, plus Lakeworks' ``LocalDatastore`` and ``S3Datastore``.

Owns the mutable objects users build and get back from ``ml_client.datastores``
(``AzureBlobDatastore``, ``AzureDataLakeGen2Datastore``, ``LocalDatastore``, ``S3Datastore``,
and ``Datastore.from_url`` for Synapse's ``abfss://`` paths) and converting them to and from the
core ``DatastoreRecord``. Their credentials are the configurations of ``credentials.py``
(re-exported here); secrets are encrypted or referenced by the service, never kept here.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from lakeworks.client.entities.credentials import (
    AccountKeyConfiguration,
    Credential,
    EnvVar,
    S3Credentials,
    SasTokenConfiguration,
    Secret,
    ServicePrincipalConfiguration,
    _CredentialConfiguration,
)
from lakeworks.core.datastores import (
    DEFAULT_AZURE_ENDPOINT,
    azure_fields_of_url,
    azure_root_url,
    s3_root_url,
    split_s3_url,
    type_of_url,
)
from lakeworks.core.lake import CredentialKind, DatastoreRecord, DatastoreType
from lakeworks.errors import InvalidInputError

_AZURE_CREDENTIALS = (AccountKeyConfiguration, SasTokenConfiguration, ServicePrincipalConfiguration)


class Datastore:
    """A named storage root (base class; build one of the typed subclasses).

    ``url`` (the fsspec root) and ``is_default`` are filled in on datastores returned by
    ``ml_client.datastores``.
    """

    type: ClassVar[DatastoreType]
    _credential_types: ClassVar[tuple[builtins.type[_CredentialConfiguration], ...]] = ()

    def __init__(
        self,
        *,
        name: str,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        credentials: Credential | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.description = description
        self.tags = dict(tags or {})
        self.credentials = credentials
        self.url: str | None = None
        self.is_default = False
        self.creation_context: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    @property
    def created_at(self) -> datetime | None:
        return self.creation_context["created_at"] if self.creation_context else None

    # -- conversion --------------------------------------------------------------------------

    def _root(self) -> tuple[str, dict[str, Any]]:
        raise NotImplementedError

    def _to_record(self) -> tuple[DatastoreRecord, dict[str, str]]:
        """The record to store and the credential values (references or plain) by field."""
        if not self.name:
            raise InvalidInputError("a datastore needs a name", field="name")
        creds = self.credentials
        secrets: dict[str, str] = {}
        url, options = self._root()
        if creds is not None:
            if not isinstance(creds, self._credential_types):
                allowed = [t.__name__ for t in self._credential_types] or ["none"]
                raise InvalidInputError(
                    f"datastore '{self.name}' ({self.type.value}) cannot use "
                    f"{creds.__class__.__name__} credentials",
                    field="credentials",
                    allowed=allowed,
                )
            secrets = creds._secrets()
            options.update(creds._plain())
        record = DatastoreRecord(
            name=self.name,
            type=self.type,
            url=url,
            options={k: v for k, v in options.items() if v is not None},
            description=self.description,
            tags=self.tags,
            created_at=datetime.now(UTC),
        )
        return record, secrets

    @classmethod
    def from_url(
        cls,
        name: str,
        url: str,
        *,
        credentials: Credential | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
    ) -> Datastore:
        """A datastore for a root URL (Lakeworks addition).

        ``abfss://<container>@<account>.dfs.core.windows.net/<path>`` (Synapse's form) gives an
        ``AzureDataLakeGen2Datastore``, ``.blob.`` an ``AzureBlobDatastore``, ``s3://bucket/p``
        an ``S3Datastore``, a folder or ``file://`` URL a ``LocalDatastore``.

        Example:
            >>> ds = Datastore.from_url("lake", "abfss://files@datalakexyz.dfs.core.windows.net/data")
            >>> type(ds).__name__, ds.account_name, ds.filesystem
            ('AzureDataLakeGen2Datastore', 'datalakexyz', 'files')
        """
        kind = type_of_url(url)
        common: dict[str, Any] = {"name": name, "description": description, "tags": tags,
                                  "credentials": credentials}
        if kind is DatastoreType.LOCAL:
            return LocalDatastore(path=_folder_of(url), **common)
        if kind is DatastoreType.S3:
            bucket, prefix = split_s3_url(url)
            return S3Datastore(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url,
                               region=region, **common)
        fields = azure_fields_of_url(url)
        prefix = fields.pop("prefix", "")
        ds: Datastore
        if kind is DatastoreType.AZURE_DATA_LAKE_GEN2:
            ds = AzureDataLakeGen2Datastore(**fields, **common)
        else:
            ds = AzureBlobDatastore(**fields, **common)
        ds._prefix = prefix
        return ds

    @classmethod
    def _from_record(
        cls, record: DatastoreRecord, secrets: Mapping[str, str] | None = None
    ) -> Datastore:
        """The entity for a stored record; credentials hold ``secrets`` when given, else the
        environment references (as ``EnvVar``) and None for encrypted values."""
        o = record.options
        common: dict[str, Any] = {"name": record.name, "description": record.description,
                                  "tags": dict(record.tags)}
        ds: Datastore
        if record.type is DatastoreType.LOCAL:
            ds = LocalDatastore(path=_folder_of(record.url), **common)
        elif record.type is DatastoreType.S3:
            bucket, prefix = split_s3_url(record.url)
            ds = S3Datastore(bucket=bucket, prefix=prefix, endpoint_url=o.get("endpoint_url"),
                             region=o.get("region"), **common)
        else:
            azure: dict[str, Any] = {
                "account_name": o.get("account_name", ""),
                "protocol": o.get("protocol", "https"),
                "endpoint": o.get("endpoint", DEFAULT_AZURE_ENDPOINT),
            }
            if record.type is DatastoreType.AZURE_DATA_LAKE_GEN2:
                ds = AzureDataLakeGen2Datastore(filesystem=o.get("filesystem", ""), **azure,
                                                **common)
            else:
                ds = AzureBlobDatastore(container_name=o.get("container_name", ""), **azure,
                                        **common)
            ds._prefix = str(o.get("prefix") or "")
        ds.credentials = _credentials_of(record, secrets)
        ds.url = record.url
        ds.is_default = record.is_default
        ds.creation_context = {"created_at": record.created_at}
        return ds


def _folder_of(url: str) -> str:
    """The folder of a ``file://`` URL; a plain path as given."""
    return unquote(urlsplit(url).path) if url.startswith("file://") else url


def _credentials_of(
    record: DatastoreRecord, secrets: Mapping[str, str] | None
) -> Credential | None:
    creds = record.credentials
    if creds.kind is CredentialKind.NONE or not creds.values:
        return None
    values: dict[str, Secret] = {}
    for field_name, stored in creds.values.items():
        if secrets is not None:
            values[field_name] = secrets.get(field_name)
        elif creds.kind is CredentialKind.ENV:
            values[field_name] = EnvVar(stored)
        else:
            values[field_name] = None  # encrypted: shown only with include_secrets=True
    if record.type is DatastoreType.S3:
        return S3Credentials(**values)
    if "client_secret" in values:
        plain = {k: record.options.get(k) for k in ServicePrincipalConfiguration._plain_fields}
        return ServicePrincipalConfiguration(client_secret=values["client_secret"], **plain)
    if "sas_token" in values:
        return SasTokenConfiguration(sas_token=values["sas_token"])
    return AccountKeyConfiguration(account_key=values.get("account_key"))


class _AzureDatastore(Datastore):
    _credential_types = _AZURE_CREDENTIALS

    def __init__(
        self,
        *,
        name: str,
        account_name: str,
        protocol: str = "https",
        endpoint: str = DEFAULT_AZURE_ENDPOINT,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        credentials: Credential | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, description=description, tags=tags, credentials=credentials)
        self.account_name = account_name
        self.protocol = protocol
        self.endpoint = endpoint
        self._prefix = ""

    @property
    def prefix(self) -> str:
        """The folder under the container that is the datastore's root ("" for the container)."""
        return self._prefix

    def _container(self) -> tuple[str, str]:
        raise NotImplementedError

    def _root(self) -> tuple[str, dict[str, Any]]:
        field, container = self._container()
        url = azure_root_url(self.type, self.account_name, container, protocol=self.protocol,
                             endpoint=self.endpoint, prefix=self._prefix)
        options: dict[str, Any] = {"account_name": self.account_name, field: container,
                                   "protocol": self.protocol, "endpoint": self.endpoint}
        if self._prefix:
            options["prefix"] = self._prefix
        return url, options


class AzureBlobDatastore(_AzureDatastore):
    """An Azure Blob Storage container (read through adlfs: ``pip install 'lakeworks[azure]'``).

    Example:
        >>> AzureBlobDatastore(name="blob_example", account_name="mytestblobstore",
        ...                    container_name="data-container",
        ...                    credentials=AccountKeyConfiguration(account_key=EnvVar("KEY")))
        AzureBlobDatastore(name='blob_example')
    """

    type = DatastoreType.AZURE_BLOB

    def __init__(self, *, name: str, account_name: str, container_name: str, **kwargs: Any) -> None:
        super().__init__(name=name, account_name=account_name, **kwargs)
        self.container_name = container_name

    def _container(self) -> tuple[str, str]:
        return "container_name", self.container_name


class AzureDataLakeGen2Datastore(_AzureDatastore):
    """An ADLS Gen2 file system (read through adlfs: ``pip install 'lakeworks[azure]'``)."""

    type = DatastoreType.AZURE_DATA_LAKE_GEN2

    def __init__(self, *, name: str, account_name: str, filesystem: str, **kwargs: Any) -> None:
        super().__init__(name=name, account_name=account_name, **kwargs)
        self.filesystem = filesystem

    def _container(self) -> tuple[str, str]:
        return "filesystem", self.filesystem


class LocalDatastore(Datastore):
    """A folder on this machine (Lakeworks). A relative path is taken from the current folder.

    Example:
        >>> LocalDatastore(name="lake", path="/data/lake")
        LocalDatastore(name='lake')
    """

    type = DatastoreType.LOCAL

    def __init__(
        self,
        *,
        name: str,
        path: str | Path,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, description=description, tags=tags,
                         credentials=kwargs.pop("credentials", None))
        self.path = str(path)

    def _root(self) -> tuple[str, dict[str, Any]]:
        if not self.path:
            raise InvalidInputError(f"datastore '{self.name}' needs a path", field="path")
        return Path(self.path).expanduser().resolve().as_uri(), {}


class S3Datastore(Datastore):
    """An S3 bucket (and prefix), on AWS or an S3-compatible server (Lakeworks).

    Example:
        >>> S3Datastore(name="raw", bucket="lake", prefix="raw",
        ...             endpoint_url="http://127.0.0.1:9000",
        ...             credentials=S3Credentials(access_key_id=EnvVar("AWS_ACCESS_KEY_ID"),
        ...                                       secret_access_key=EnvVar("AWS_SECRET_ACCESS_KEY")))
        S3Datastore(name='raw')
    """

    type = DatastoreType.S3
    _credential_types = (S3Credentials,)

    def __init__(
        self,
        *,
        name: str,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        credentials: S3Credentials | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, description=description, tags=tags, credentials=credentials)
        self.bucket = bucket
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region

    def _root(self) -> tuple[str, dict[str, Any]]:
        return s3_root_url(self.bucket, self.prefix), {
            "endpoint_url": self.endpoint_url, "region": self.region,
        }


__all__ = [
    "AccountKeyConfiguration",
    "AzureBlobDatastore",
    "AzureDataLakeGen2Datastore",
    "Datastore",
    "EnvVar",
    "LocalDatastore",
    "S3Credentials",
    "S3Datastore",
    "SasTokenConfiguration",
    "ServicePrincipalConfiguration",
]
