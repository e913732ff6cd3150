"""``load_datastore``: a datastore entity from Azure ML's datastore YAML (plus ``s3`` and ``local``).

Owns the datastore YAML schema: ``type: azure_blob`` (``account_name``, ``container_name``),
``azure_data_lake_gen2`` (``account_name``, ``filesystem``), both with ``protocol``,
``endpoint`` and ``credentials: {account_key | sas_token | tenant_id, client_id,
client_secret}``; Lakeworks' ``s3`` (``bucket``, ``prefix``, ``endpoint_url``, ``region``,
``credentials: {access_key_id, secret_access_key}``) and ``local`` (``path``, relative to the
file); or a ``url`` (Synapse's ``abfss://<container>@<account>.dfs.core.windows.net/<path>``,
``s3://...``, a folder) from which the type follows. Errors name the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lakeworks.client.entities.assets import _abs
from lakeworks.client.entities.credentials import (
    AccountKeyConfiguration,
    Credential,
    S3Credentials,
    SasTokenConfiguration,
    ServicePrincipalConfiguration,
)
from lakeworks.client.entities.datastores import (
    AzureBlobDatastore,
    AzureDataLakeGen2Datastore,
    Datastore,
    LocalDatastore,
    S3Datastore,
)
from lakeworks.client.loaders import Overrides
from lakeworks.client.schemas import _Doc, _Strict
from lakeworks.core.datastores import DEFAULT_AZURE_ENDPOINT, type_of_url
from lakeworks.core.lake import DatastoreType
from lakeworks.errors import InvalidInputError
from lakeworks.services.documents import Document, load_document, validate


class CredentialsYaml(_Strict):
    account_key: str | None = None
    sas_token: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    authority_url: str | None = None
    resource_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None


class DatastoreYaml(_Doc):
    name: str
    type: Literal["azure_blob", "azure_data_lake_gen2", "s3", "local"] | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    url: str | None = None
    account_name: str | None = None
    container_name: str | None = None
    filesystem: str | None = None
    protocol: str | None = None
    endpoint: str | None = None
    bucket: str | None = None
    prefix: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    path: str | None = None
    credentials: CredentialsYaml | None = None


#: the fields each type takes besides name, type, description, tags, url and credentials
_FIELDS: dict[DatastoreType, tuple[str, ...]] = {
    DatastoreType.AZURE_BLOB: ("account_name", "container_name", "protocol", "endpoint"),
    DatastoreType.AZURE_DATA_LAKE_GEN2: ("account_name", "filesystem", "protocol", "endpoint"),
    DatastoreType.S3: ("bucket", "prefix", "endpoint_url", "region"),
    DatastoreType.LOCAL: ("path",),
}
_REQUIRED: dict[DatastoreType, tuple[str, ...]] = {
    DatastoreType.AZURE_BLOB: ("account_name", "container_name"),
    DatastoreType.AZURE_DATA_LAKE_GEN2: ("account_name", "filesystem"),
    DatastoreType.S3: ("bucket",),
    DatastoreType.LOCAL: ("path",),
}
_COMMON = ("name", "type", "description", "tags", "url", "credentials", "$schema")


def credentials_from_fields(kind: DatastoreType, given: dict[str, str]) -> Credential | None:
    """The credential configuration for credential fields by name (YAML's ``credentials:``).

    Raises:
        InvalidInputError: a field that does not apply to ``kind`` or to the other fields.

    Example:
        >>> credentials_from_fields(DatastoreType.S3, {"access_key_id": "${{env:K}}",
        ...                                            "secret_access_key": "${{env:S}}"})
        S3Credentials(access_key_id='${{env:K}}', secret_access_key='${{env:S}}')
    """
    if not given:
        return None
    if kind is DatastoreType.LOCAL:
        raise InvalidInputError("a local datastore takes no credentials", field="credentials")
    allowed: tuple[str, ...]
    if kind is DatastoreType.S3:
        allowed = ("access_key_id", "secret_access_key")
    elif "client_secret" in given or "client_id" in given:
        allowed = ("tenant_id", "client_id", "client_secret", "authority_url", "resource_url")
    elif "sas_token" in given:
        allowed = ("sas_token",)
    else:
        allowed = ("account_key",)
    for key in given:
        if key not in allowed:
            raise InvalidInputError(
                f"credential '{key}' does not go with the other credentials given for a "
                f"{kind.value} datastore", field=f"credentials.{key}", allowed=allowed,
            )
    if kind is DatastoreType.S3:
        return S3Credentials(**given)
    if allowed[0] == "tenant_id":
        return ServicePrincipalConfiguration(**given)
    if allowed == ("sas_token",):
        return SasTokenConfiguration(**given)
    return AccountKeyConfiguration(**given)


def _credentials(doc: Document, y: DatastoreYaml, kind: DatastoreType) -> Credential | None:
    given = y.credentials.model_dump(exclude_none=True) if y.credentials is not None else {}
    try:
        return credentials_from_fields(kind, given)
    except InvalidInputError as exc:
        loc = tuple((exc.field or "credentials").split("."))
        raise doc.error(exc.detail, loc, allowed=exc.allowed) from None


def load_datastore(
    source: str | Path | None = None, *, params_override: Overrides = None, **kwargs: Any
) -> Datastore:
    """Load a datastore YAML.

    Credential values may be ``${{env:VAR}}`` references (kept as references) or the secrets
    themselves (encrypted when the datastore is saved).

    Raises:
        InvalidInputError: a field is missing, unknown, or does not apply to the type; the
            message names the file, line and field.

    Example:
        >>> ds = load_datastore("datastores/blob.yml")  # doctest: +SKIP
        >>> ml_client.datastores.create_or_update(ds)  # doctest: +SKIP
    """
    if source is None:
        raise InvalidInputError("give the datastore YAML file to load (source=...)")
    doc = load_document(source, overrides=params_override)  # type: ignore[arg-type]
    y: DatastoreYaml = validate(doc, DatastoreYaml, "a datastore")
    try:
        url_kind = type_of_url(_abs(y.url, doc.folder) or "") if y.url else None
    except InvalidInputError as exc:
        raise doc.error(exc.detail, ("url",)) from None
    kind = DatastoreType(y.type) if y.type else url_kind
    if kind is None:
        raise doc.error("give the datastore's 'type' (or a 'url')", ("type",),
                        allowed=[t.value for t in DatastoreType])
    if url_kind is not None and url_kind is not kind:
        raise doc.error(f"url {y.url!r} is a {url_kind.value} URL, not {kind.value}", ("url",))
    given = {k for k, v in doc.data.items() if v is not None}
    extra = sorted(given - set(_COMMON) - set(_FIELDS[kind]))
    if extra:
        raise doc.error(f"field '{extra[0]}' does not apply to a {kind.value} datastore",
                        (extra[0],), allowed=[*_COMMON[:-1], *_FIELDS[kind]])
    credentials = _credentials(doc, y, kind)
    common: dict[str, Any] = {"description": y.description, "tags": y.tags,
                              "credentials": credentials}
    if y.url:
        fields_given = given & set(_FIELDS[kind])
        if fields_given:
            raise doc.error(f"give either 'url' or {sorted(fields_given)}, not both",
                            (sorted(fields_given)[0],))
        ds = Datastore.from_url(y.name, _abs(y.url, doc.folder) or "", **common)
        return ds
    for key in _REQUIRED[kind]:
        if getattr(y, key) in (None, ""):
            raise doc.error(f"required field '{key}' is missing in a {kind.value} datastore",
                            (key,))
    if kind is DatastoreType.LOCAL:
        return LocalDatastore(name=y.name, path=_abs(y.path, doc.folder) or "", **common)
    if kind is DatastoreType.S3:
        return S3Datastore(name=y.name, bucket=y.bucket or "", prefix=y.prefix or "",
                           endpoint_url=y.endpoint_url, region=y.region, **common)
    azure: dict[str, Any] = {"name": y.name, "account_name": y.account_name or "",
                             "protocol": y.protocol or "https",
                             "endpoint": y.endpoint or DEFAULT_AZURE_ENDPOINT, **common}
    if kind is DatastoreType.AZURE_DATA_LAKE_GEN2:
        return AzureDataLakeGen2Datastore(filesystem=y.filesystem or "", **azure)
    return AzureBlobDatastore(container_name=y.container_name or "", **azure)


__all__ = ["DatastoreYaml", "credentials_from_fields", "load_datastore"]
