"""Storage options for the lake adapters: flat Lakeworks names -> delta-rs keys and fsspec keywords.

Owns translating a ``StorageLocation``'s flat, fsspec-style options (``endpoint_url``,
``key``, ``secret``, ``token``, ``region`` for S3; ``account_name``, ``account_key``,
``sas_token``, ``tenant_id``, ``client_id``, ``client_secret``, ``account_host`` for Azure)
into what delta-rs (object_store) and fsspec (s3fs, adlfs) expect, and the table root as
delta-rs wants it (a plain absolute path for local folders). Keys already in delta-rs form
(``AWS_*``, ``AZURE_*``, ``aws_*`` ...) pass through unchanged.

S3 and concurrent commits: delta-rs 1.x commits a new log entry with a conditional put
(``If-None-Match``), so two writers can never both create version N. We set
``aws_conditional_put=etag`` for every ``s3://`` table: AWS S3 (since 2024), MinIO, R2 and
moto honour it; a store that ignores conditional headers is not safe for concurrent writers
(use one writer at a time there). Plain ``http://`` endpoints need ``AWS_ALLOW_HTTP``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from lakeworks.core.datastores import OBJECT_STORE_KEYS

_S3 = ("s3", "s3a")
_AZURE = ("abfs", "abfss", "az", "adl")

_PASS_THROUGH = ("aws_", "azure_", "google_", "gcs_", "hdfs_")


def protocol(url: str) -> str:
    """The URL's scheme in lower case, ``file`` for plain paths."""
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def is_local(url: str) -> bool:
    return protocol(url) == "file"


def local_path(url: str) -> str:
    """The folder of a plain path or ``file://`` URL."""
    if url.startswith("file:"):
        return unquote(urlsplit(url).path)
    return url


def table_uri(url: str) -> str:
    """The table root as delta-rs wants it: a plain absolute path, or the URL without a
    trailing slash.

    Example:
        >>> table_uri("file:///tmp/lake/t/")
        '/tmp/lake/t'
    """
    if is_local(url):
        return str(Path(local_path(url)).expanduser().resolve())
    return url.rstrip("/")


def delta_options(url: str, options: Mapping[str, Any]) -> dict[str, str]:
    """delta-rs ``storage_options`` for a table at ``url``.

    Example:
        >>> sorted(delta_options("s3://b/t", {"endpoint_url": "http://127.0.0.1:9000"}).items())
        [('AWS_ALLOW_HTTP', 'true'), ('AWS_ENDPOINT_URL', 'http://127.0.0.1:9000'), \
('aws_conditional_put', 'etag')]
    """
    result: dict[str, str] = {}
    scheme = protocol(url)
    for raw_key, value in options.items():
        if value is None or value == "":
            continue
        key = str(raw_key)
        if key.lower().startswith(_PASS_THROUGH):
            result[key] = str(value)
        elif key == "account_host":
            host = str(value)
            result["AZURE_STORAGE_ENDPOINT"] = host if "://" in host else f"https://{host}"
        elif key in OBJECT_STORE_KEYS:
            result[OBJECT_STORE_KEYS[key]] = str(value)
        else:
            result[key.upper()] = str(value)
    if scheme in _S3:
        endpoint = result.get("AWS_ENDPOINT_URL", "")
        if endpoint.startswith("http://"):
            result.setdefault("AWS_ALLOW_HTTP", "true")
        if not any(k.lower() == "aws_conditional_put" for k in result):
            result["aws_conditional_put"] = "etag"
    return result


def fsspec_options(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """fsspec keywords (s3fs, adlfs) for a file at ``url``.

    Example:
        >>> fsspec_options("s3://b/f.csv", {"endpoint_url": "http://h:1", "region": "eu"})
        {'endpoint_url': 'http://h:1', 'client_kwargs': {'region_name': 'eu'}}
    """
    result: dict[str, Any] = {}
    scheme = protocol(url)
    for key, value in options.items():
        if value is None or value == "":
            continue
        if scheme in _S3 and key in ("region", "region_name"):
            result.setdefault("client_kwargs", {})["region_name"] = value
        else:
            result[key] = value
    return result
