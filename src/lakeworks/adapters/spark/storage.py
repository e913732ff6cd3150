"""Where a ``deltars`` table lives: its URL, delta-rs storage options, and a file system for it.

Owns translating Spark data source options (fsspec-style ``endpoint_url``/``key``/``secret``
or object_store-style ``aws_*``/``azure_*`` keys, lower-cased by Spark) into the options
delta-rs expects, and opening the table root as a pyarrow file system (the local one for
folders, delta-rs' object_store for ``s3://``, ``abfss://`` and the rest). No Spark here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs
from deltalake.fs import DeltaStorageHandler

from lakeworks.core.datastores import OBJECT_STORE_KEYS
from lakeworks.errors import InvalidInputError

# options the data source reads itself, and keys Spark adds to a table's options
RESERVED_OPTIONS = frozenset({
    "path", "location", "owner", "provider", "versionasof", "timestampasof",
    "overwriteschema", "partitionby", "mode", "external",
})

_S3 = ("s3://", "s3a://")


@dataclass(frozen=True)
class TableLocation:
    """A Delta table's root: a local folder path or a URL, and delta-rs storage options."""

    uri: str
    storage_options: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_local(self) -> bool:
        return "://" not in self.uri

    def file_system(self) -> pafs.FileSystem:
        """A pyarrow file system whose paths are relative to the table root (remote) or
        absolute (local)."""
        if self.is_local:
            return pafs.LocalFileSystem()
        return pafs.PyFileSystem(DeltaStorageHandler(self.uri, dict(self.storage_options)))

    def data_path(self, relative: str) -> str:
        """The file system path of a data file, from its path relative to the table root."""
        if self.is_local:
            return str(Path(self.uri) / relative)
        return relative

    def logged_path(self, logged: str) -> str:
        """The file system path of a data file named in the Delta log (URL-encoded there)."""
        if "://" in logged:
            raise InvalidInputError(
                f"Delta table at '{self.uri}' names a data file outside its folder ({logged}); "
                "shallow clones are not supported by the deltars data source"
            )
        return self.data_path(unquote(logged))

    def delta_options(self) -> dict[str, str] | None:
        return dict(self.storage_options) or None


def normalize_uri(path: str) -> str:
    """A table root as delta-rs wants it: ``file:`` URLs become plain absolute paths."""
    text = path.strip()
    if not text:
        raise InvalidInputError("the deltars data source needs a non-empty 'path' option")
    if text.startswith("file:"):
        parsed = urlparse(text)
        text = unquote(parsed.path)
    if "://" in text:
        return text.rstrip("/")
    return str(Path(text).expanduser().resolve())


def storage_options(options: Mapping[str, str], url: str = "") -> dict[str, str]:
    """delta-rs storage options from data source options (reserved and Spark keys left out).

    The same rules as the lake's own Delta adapter: fsspec names are translated, keys
    already in object_store form pass through, and ``s3://`` tables commit with conditional
    puts (``aws_conditional_put=etag``) so that concurrent writers cannot both win a version.

    Example:
        >>> storage_options({"path": "s3://b/t", "endpoint_url": "http://127.0.0.1:9000"})
        {'AWS_ENDPOINT_URL': 'http://127.0.0.1:9000', 'AWS_ALLOW_HTTP': 'true'}
    """
    result: dict[str, str] = {}
    for raw_key, value in options.items():
        key = raw_key.lower()
        if key in RESERVED_OPTIONS or key.startswith(("option.", "__", "spark.")):
            continue
        if value is None or value == "":
            continue
        if key.startswith("storage."):
            key = key[len("storage."):]
        if key == "account_host":
            host = str(value)
            result["AZURE_STORAGE_ENDPOINT"] = host if "://" in host else f"https://{host}"
        elif key.startswith(("aws_", "azure_", "google_", "gcs_", "hdfs_")):
            result[key.upper() if key != "aws_conditional_put" else key] = str(value)
        else:
            result[OBJECT_STORE_KEYS.get(key, key.upper())] = str(value)
    endpoint = result.get("AWS_ENDPOINT_URL", "")
    if endpoint.startswith("http://"):
        result.setdefault("AWS_ALLOW_HTTP", "true")
    if url.lower().startswith(_S3) and not any(k.lower() == "aws_conditional_put"
                                               for k in result):
        result["aws_conditional_put"] = "etag"
    return result


def location_from_options(options: Mapping[str, str]) -> TableLocation | None:
    """The table location named by ``path`` (or ``location``) in ``options``, if any."""
    lowered = {k.lower(): v for k, v in options.items()}
    path = lowered.get("path") or lowered.get("location")
    if not path:
        return None
    uri = normalize_uri(path)
    return TableLocation(uri, storage_options(options, uri))


def _lowered(options: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in options.items()}


def version_option(options: Mapping[str, str]) -> int | str | None:
    """The snapshot to read: ``versionAsOf`` (a number) or ``timestampAsOf`` (a time)."""
    lowered = _lowered(options)
    text = lowered.get("versionasof")
    if text not in (None, ""):
        try:
            return int(str(text))
        except ValueError:
            raise InvalidInputError(
                f"option versionAsOf={text!r} is not a version number", field="versionAsOf"
            ) from None
    return lowered.get("timestampasof") or None


def flag_option(options: Mapping[str, str], key: str) -> bool:
    """A boolean option (``true``/``1``/``yes``), false when absent."""
    return str(_lowered(options).get(key.lower(), "false")).strip().lower() in (
        "true", "1", "yes")


def partition_option(options: Mapping[str, str]) -> tuple[str, ...]:
    """``partitionBy`` as columns: ``"a,b"`` (or ``'["a", "b"]'``)."""
    text = _lowered(options).get("partitionby") or ""
    return tuple(p.strip() for p in text.strip("[]").replace('"', "").split(",") if p.strip())
