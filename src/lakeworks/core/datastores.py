"""Datastore rules: roots built from Azure-style fields, storage URLs parsed, credential fields.

Owns what each datastore type needs (``account_name`` + ``container_name`` for Azure Blob,
``account_name`` + ``filesystem`` for ADLS Gen2, ``bucket`` for S3, a folder for ``local``),
building a ``DatastoreRecord``'s root URL from those fields or from a URL (Synapse's
``abfss://<container>@<account>.dfs.core.windows.net/<path>``, ``s3://bucket/prefix``,
``file:///folder``), which credential fields each type accepts and the storage option each
becomes, and the ``${{env:VAR}}`` reference syntax. No I/O: environment variables are read and
secrets decrypted by the datastore service.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from lakeworks.core.lake import DatastoreType
from lakeworks.errors import InvalidInputError

#: ``${{env:NAME}}``: a credential value kept as a reference to an environment variable
_ENV_REF = re.compile(r"^\$\{\{\s*env:\s*(?P<var>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_AZURE_HOST = re.compile(
    r"^(?P<account>[a-z0-9]{3,24})\.(?P<service>dfs|blob)\.(?P<endpoint>[A-Za-z0-9.\-]+)$"
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")

#: per type: credential field -> the storage option (fsspec keyword) it becomes
CREDENTIAL_FIELDS: Mapping[DatastoreType, Mapping[str, str]] = {
    DatastoreType.LOCAL: {},
    DatastoreType.S3: {"access_key_id": "key", "secret_access_key": "secret"},
    DatastoreType.AZURE_BLOB: {
        "account_key": "account_key",
        "sas_token": "sas_token",
        "client_secret": "client_secret",
    },
    DatastoreType.AZURE_DATA_LAKE_GEN2: {
        "account_key": "account_key",
        "sas_token": "sas_token",
        "client_secret": "client_secret",
    },
}

#: per type: non-secret option kept in ``DatastoreRecord.options`` -> storage option (or None
#: when it only describes the root and is not passed to the file system)
OPTION_FIELDS: Mapping[DatastoreType, Mapping[str, str | None]] = {
    DatastoreType.LOCAL: {},
    DatastoreType.S3: {"endpoint_url": "endpoint_url", "region": "region"},
    DatastoreType.AZURE_BLOB: {
        "account_name": "account_name",
        "container_name": None,
        "protocol": None,
        "endpoint": None,
        "prefix": None,
        "tenant_id": "tenant_id",
        "client_id": "client_id",
        "authority_url": None,
        "resource_url": None,
    },
    DatastoreType.AZURE_DATA_LAKE_GEN2: {
        "account_name": "account_name",
        "filesystem": None,
        "protocol": None,
        "endpoint": None,
        "prefix": None,
        "tenant_id": "tenant_id",
        "client_id": "client_id",
        "authority_url": None,
        "resource_url": None,
    },
}

AZURE_TYPES = frozenset({DatastoreType.AZURE_BLOB, DatastoreType.AZURE_DATA_LAKE_GEN2})

#: Storage option names as datastores and fsspec spell them -> the configuration keys of
#: object_store, the storage layer of delta-rs (what the lake and Spark adapters pass on)
OBJECT_STORE_KEYS: Mapping[str, str] = {
    "endpoint_url": "AWS_ENDPOINT_URL",
    "endpoint": "AWS_ENDPOINT_URL",
    "key": "AWS_ACCESS_KEY_ID",
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret": "AWS_SECRET_ACCESS_KEY",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "token": "AWS_SESSION_TOKEN",
    "session_token": "AWS_SESSION_TOKEN",
    "region": "AWS_REGION",
    "region_name": "AWS_REGION",
    "account_name": "AZURE_STORAGE_ACCOUNT_NAME",
    "account_key": "AZURE_STORAGE_ACCOUNT_KEY",
    "sas_token": "AZURE_STORAGE_SAS_TOKEN",
    "tenant_id": "AZURE_STORAGE_TENANT_ID",
    "client_id": "AZURE_STORAGE_CLIENT_ID",
    "client_secret": "AZURE_STORAGE_CLIENT_SECRET",
}
DEFAULT_AZURE_ENDPOINT = "core.windows.net"


def env_reference(value: str) -> str | None:
    """The variable named by ``${{env:VAR}}``, else None (the value is a literal).

    Example:
        >>> env_reference("${{env:AZURE_STORAGE_KEY}}")
        'AZURE_STORAGE_KEY'
        >>> env_reference("s3cr3t") is None
        True
    """
    m = _ENV_REF.match(value.strip()) if isinstance(value, str) else None
    return m.group("var") if m else None


def format_env_reference(var: str) -> str:
    """``${{env:VAR}}`` for a variable name; ``InvalidInputError`` for an illegal name."""
    if not isinstance(var, str) or not _ENV_NAME.match(var):
        raise InvalidInputError(
            f"environment variable name {var!r} is not valid: use letters, digits and '_', "
            "not starting with a digit"
        )
    return "${{env:" + var + "}}"


def check_credential_fields(kind: DatastoreType, fields: Mapping[str, Any], *, name: str) -> None:
    """Raise ``InvalidInputError`` naming any credential field the type does not accept."""
    allowed = CREDENTIAL_FIELDS[kind]
    for field_name in fields:
        if field_name not in allowed:
            if not allowed:
                raise InvalidInputError(
                    f"datastore '{name}' of type {kind.value} takes no credentials, "
                    f"got '{field_name}'"
                )
            raise InvalidInputError(
                f"datastore '{name}': credential '{field_name}' does not apply to type "
                f"{kind.value}",
                field=f"credentials.{field_name}",
                allowed=allowed,
            )


@dataclass(frozen=True)
class AzureStorageUrl:
    """The parts of an Azure storage URL (``abfss://c@a.dfs.core.windows.net/p`` and kin)."""

    account: str
    container: str
    path: str = ""
    service: str = "dfs"  # dfs (ADLS Gen2) or blob
    endpoint: str = DEFAULT_AZURE_ENDPOINT
    secure: bool = True

    @property
    def type(self) -> DatastoreType:
        return DatastoreType.AZURE_DATA_LAKE_GEN2 if self.service == "dfs" else DatastoreType.AZURE_BLOB


def parse_azure_url(url: str) -> AzureStorageUrl:
    """Parse Synapse's and Azure's storage URL forms.

    ``abfss://<container>@<account>.dfs.core.windows.net/<path>`` (``abfs://`` without TLS;
    ``.blob.`` for Blob storage), ``wasbs://<container>@<account>.blob.core.windows.net/<path>``
    and ``https://<account>.dfs.core.windows.net/<container>/<path>``.

    Raises:
        InvalidInputError: the URL is none of these forms.

    Example:
        >>> parse_azure_url("abfss://files@datalakexyz.dfs.core.windows.net/data/bike.csv")
        AzureStorageUrl(account='datalakexyz', container='files', path='data/bike.csv', service='dfs', endpoint='core.windows.net', secure=True)
    """
    expected = (
        "expected abfss://<container>@<account>.dfs.core.windows.net/<path> or "
        "https://<account>.dfs.core.windows.net/<container>/<path>"
    )
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path).strip("/")
    if scheme in ("abfs", "abfss", "wasb", "wasbs", "az"):
        container, at, host = parts.netloc.partition("@")
        if not at or not container:
            raise InvalidInputError(f"Azure storage URL {url!r} names no container; {expected}")
        secure = scheme in ("abfss", "wasbs", "az")
    elif scheme in ("https", "http"):
        host = parts.netloc
        container, _, path = path.partition("/")
        if not container:
            raise InvalidInputError(f"Azure storage URL {url!r} names no container; {expected}")
        secure = scheme == "https"
    else:
        raise InvalidInputError(f"{url!r} is not an Azure storage URL; {expected}")
    m = _AZURE_HOST.match(host.lower())
    if m is None:
        raise InvalidInputError(
            f"Azure storage URL {url!r}: host {host!r} is not '<account>.dfs.<endpoint>' or "
            f"'<account>.blob.<endpoint>' (account: 3-24 lower-case letters and digits); {expected}"
        )
    return AzureStorageUrl(
        account=m.group("account"),
        container=container,
        path=path,
        service=m.group("service"),
        endpoint=m.group("endpoint"),
        secure=secure,
    )


def azure_root_url(
    kind: DatastoreType,
    account_name: str,
    container: str,
    *,
    protocol: str = "https",
    endpoint: str = DEFAULT_AZURE_ENDPOINT,
    prefix: str = "",
) -> str:
    """The fsspec root of an Azure datastore: ``abfss://<container>@<account>.<dfs|blob>.<endpoint>``.

    Example:
        >>> azure_root_url(DatastoreType.AZURE_DATA_LAKE_GEN2, "datalakexyz", "files")
        'abfss://files@datalakexyz.dfs.core.windows.net'
    """
    if protocol not in ("https", "http", "abfss", "abfs", "wasbs", "wasb"):
        raise InvalidInputError(
            f"protocol {protocol!r} is not valid", field="protocol", allowed=("https", "http")
        )
    if not _AZURE_HOST.match(f"{account_name}.dfs.{endpoint}".lower()):
        raise InvalidInputError(
            f"account_name {account_name!r} is not valid: 3-24 lower-case letters and digits",
            field="account_name",
        )
    if not container or "/" in container or "@" in container:
        raise InvalidInputError(
            f"container {container!r} is not valid: give the container (file system) name only",
            field="filesystem" if kind is DatastoreType.AZURE_DATA_LAKE_GEN2 else "container_name",
        )
    service = "dfs" if kind is DatastoreType.AZURE_DATA_LAKE_GEN2 else "blob"
    scheme = "abfs" if protocol in ("http", "abfs", "wasb") else "abfss"
    root = f"{scheme}://{container}@{account_name.lower()}.{service}.{endpoint}"
    return root + ("/" + prefix.strip("/") if prefix.strip("/") else "")


def s3_root_url(bucket: str, prefix: str = "") -> str:
    """``s3://bucket/prefix`` after checking the bucket name.

    Example:
        >>> s3_root_url("lake", "/raw/")
        's3://lake/raw'
    """
    if not isinstance(bucket, str) or not _BUCKET.match(bucket):
        raise InvalidInputError(
            f"bucket {bucket!r} is not a valid S3 bucket name: 3-63 lower-case letters, digits, "
            "'.' and '-'",
            field="bucket",
        )
    prefix = (prefix or "").strip("/")
    return f"s3://{bucket}/{prefix}" if prefix else f"s3://{bucket}"


def split_s3_url(url: str) -> tuple[str, str]:
    """``(bucket, prefix)`` of ``s3://bucket/prefix``."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("s3", "s3a") or not parts.netloc:
        raise InvalidInputError(f"{url!r} is not an S3 URL: expected s3://<bucket>/<prefix>")
    return parts.netloc, unquote(parts.path).strip("/")


def type_of_url(url: str) -> DatastoreType:
    """The datastore type a root URL or path stands for.

    Example:
        >>> type_of_url("abfss://files@datalakexyz.dfs.core.windows.net/data").value
        'azure_data_lake_gen2'
    """
    if "://" not in url:
        return DatastoreType.LOCAL
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return DatastoreType.LOCAL
    if scheme in ("s3", "s3a"):
        return DatastoreType.S3
    if scheme in ("abfs", "abfss", "wasb", "wasbs", "az", "https", "http"):
        return parse_azure_url(url).type
    raise InvalidInputError(
        f"datastore URL {url!r} has a protocol '{scheme}' that datastores do not support",
        allowed=("file", "s3", "abfs", "abfss", "wasbs", "https"),
    )


def azure_fields_of_url(url: str) -> dict[str, str]:
    """The Azure YAML fields (``account_name``, ``container_name``/``filesystem``, ``protocol``,
    ``endpoint``, ``prefix``) of an Azure storage URL."""
    parsed = parse_azure_url(url)
    container_field = "filesystem" if parsed.service == "dfs" else "container_name"
    fields = {
        "account_name": parsed.account,
        container_field: parsed.container,
        "protocol": "https" if parsed.secure else "http",
        "endpoint": parsed.endpoint,
    }
    if parsed.path:
        fields["prefix"] = parsed.path
    return fields


def join_path(root: str, path: str) -> str:
    """``root/path`` with exactly one slash between them (``root`` when ``path`` is empty)."""
    if not path:
        return root
    return root.rstrip("/") + "/" + path.lstrip("/")


__all__ = [
    "AZURE_TYPES",
    "CREDENTIAL_FIELDS",
    "DEFAULT_AZURE_ENDPOINT",
    "OPTION_FIELDS",
    "AzureStorageUrl",
    "azure_fields_of_url",
    "azure_root_url",
    "check_credential_fields",
    "env_reference",
    "format_env_reference",
    "join_path",
    "parse_azure_url",
    "s3_root_url",
    "split_s3_url",
    "type_of_url",
]
