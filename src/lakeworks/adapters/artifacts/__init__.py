"""Artifact store adapters: picks the store for a URL (local folder, file://, s3://, fsspec).

Owns the choice of adapter by URL scheme, turning a location's flat storage options
(``endpoint_url``, ``region``, ``key``, ``account_name``...) into the keywords of the file
system that serves it, and opening that raw file system for readers that need one (the
``azureml://`` file system); the stores live in ``local.py`` and ``fsspec_store.py``. It must
not import s3fs or adlfs: fsspec loads them when such a store is opened.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import fsspec

from lakeworks.adapters.artifacts.fsspec_store import (
    AZURE_PROTOCOLS,
    S3_PROTOCOLS,
    FsspecArtifactStore,
    _filesystem_class,
    _foreign_errors,
    s3_storage_options,
)
from lakeworks.adapters.artifacts.local import LocalArtifactStore
from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    MissingDependencyError,
    NotFoundError,
)
from lakeworks.ports.artifacts import ArtifactStore


def open_artifact_store(
    url: str,
    *,
    s3_endpoint_url: str | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> ArtifactStore:
    """Open the artifact store at ``url``.

    A plain path or a ``file://`` URL gives a ``LocalArtifactStore``; any other URL an
    ``FsspecArtifactStore``. For ``s3://`` the endpoint is ``s3_endpoint_url`` (or
    ``endpoint_url`` in ``storage_options``), else the environment's
    ``LAKEWORKS_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL``, else AWS.

    Args:
        url: a folder path, ``file:///abs/path``, ``s3://bucket/prefix`` or another fsspec URL.
        s3_endpoint_url: an S3-compatible server (MinIO, moto), e.g. ``http://127.0.0.1:9000``.
        storage_options: flat options of a storage location (``key``, ``secret``, ``region``,
            ``endpoint_url`` for S3; ``account_name``, ``account_key``, ``sas_token`` ... for
            Azure), as the datastore service resolves them.

    Returns:
        The store; its ``url`` is the normalised root.

    Raises:
        InvalidInputError: the URL is malformed or its protocol is unknown.
        MissingDependencyError: s3fs (the ``lakeworks[s3]`` extra) is missing for ``s3://``.

    Example:
        >>> import tempfile
        >>> store = open_artifact_store(tempfile.mkdtemp())
        >>> store.url.startswith("file:///")
        True
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInputError(f"artifact store URL {url!r} is empty; give a folder or a URL")
    if "://" not in url:
        return LocalArtifactStore(Path(url))
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return LocalArtifactStore(_file_url_path(url))
    _check_dependency(scheme, url)
    return FsspecArtifactStore(url, filesystem_options(scheme, storage_options, s3_endpoint_url))


def filesystem_options(
    protocol: str,
    options: Mapping[str, str] | None,
    s3_endpoint_url: str | None = None,
) -> dict[str, Any]:
    """fsspec keywords for a location's flat options.

    For S3, ``endpoint_url`` and ``region`` go into s3fs's ``client_kwargs`` (the endpoint
    defaults as in ``open_artifact_store``); every other option passes through.

    Example:
        >>> filesystem_options("s3", {"endpoint_url": "http://127.0.0.1:9000", "key": "k"})
        {'client_kwargs': {'endpoint_url': 'http://127.0.0.1:9000'}, 'key': 'k'}
    """
    flat = dict(options or {})
    if protocol not in S3_PROTOCOLS:
        return flat
    endpoint = flat.pop("endpoint_url", None) or s3_endpoint_url
    result: dict[str, Any] = s3_storage_options(endpoint)
    region = flat.pop("region", None)
    if region:
        client = dict(result.get("client_kwargs") or {})
        client["region_name"] = region
        result["client_kwargs"] = client
    result.update(flat)
    return result


def open_filesystem(
    url: str, storage_options: Mapping[str, str] | None = None
) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec file system serving ``url`` and the root path of ``url`` on it.

    A local path or ``file://`` URL gives a local file system that creates parent folders on
    write.

    Raises:
        InvalidInputError: fsspec does not know the protocol, or refused the options.
        MissingDependencyError: s3fs (``lakeworks[s3]``) or adlfs (``lakeworks[azure]``) is
            missing.

    Example:
        >>> fs, root = open_filesystem("/tmp/lake")
        >>> root
        '/tmp/lake'
    """
    from fsspec.implementations.local import LocalFileSystem

    if "://" not in url:
        return LocalFileSystem(auto_mkdir=True), str(Path(url).expanduser().resolve())
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return LocalFileSystem(auto_mkdir=True), str(_file_url_path(url))
    _check_dependency(scheme, url)
    cls = _filesystem_class(scheme, url)
    options = filesystem_options(scheme, storage_options)
    try:
        fs = cls(**options)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"storage {url!r}: the storage options {sorted(options)} were refused: {exc}"
        ) from exc
    return fs, str(cls._strip_protocol(url)).rstrip("/")


def list_folder(url: str, storage_options: Mapping[str, str] | None = None) -> list[str]:
    """Names of the entries directly under ``url``, sorted (a datastore's "Test connection").

    An object-store prefix holding nothing yet, in a bucket that exists, lists as empty.

    Raises:
        NotFoundError: the folder, bucket or container does not exist.
        BackendError: the store refused the credentials or could not be reached.
        MissingDependencyError: the protocol's package is not installed.
    """
    fs, root = open_filesystem(url, storage_options)
    local = "://" not in url or url.lower().startswith("file://")
    try:
        fs.invalidate_cache()
        try:
            found = fs.ls(root, detail=False)
        except FileNotFoundError:
            bucket = root.split("/", 1)[0]
            if local or bucket == root or not fs.exists(bucket):
                raise
            found = []
    except FileNotFoundError as exc:
        what = "folder" if local else "bucket, container or path"
        raise NotFoundError(
            f"the {what} of {url} does not exist; create it or fix the datastore's location"
        ) from exc
    except NotADirectoryError as exc:
        raise NotFoundError(f"{url} is a file, not a folder; a datastore needs a folder") from exc
    except PermissionError as exc:
        raise BackendError(
            f"listing {url} was refused: {exc}; check the datastore's credentials"
        ) from exc
    except _foreign_errors() as exc:
        raise BackendError(
            f"cannot list {url}: {type(exc).__name__}: {exc}; check the endpoint, the network "
            "and the credentials"
        ) from exc
    prefix = root.rstrip("/") + "/"
    return sorted(str(p)[len(prefix):] if str(p).startswith(prefix) else str(p) for p in found)


def _check_dependency(scheme: str, url: str) -> None:
    if scheme in S3_PROTOCOLS and importlib.util.find_spec("s3fs") is None:
        raise MissingDependencyError("s3fs", "s3", f"S3 storage ({url})")
    if scheme in AZURE_PROTOCOLS and importlib.util.find_spec("adlfs") is None:
        raise MissingDependencyError("adlfs", "azure", f"Azure storage ({url})")


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise InvalidInputError(
            f"artifact store URL {url!r} is not a local file URL: expected 'file:///absolute/path'"
        )
    return Path(unquote(parts.path))


__all__ = [
    "FsspecArtifactStore",
    "LocalArtifactStore",
    "filesystem_options",
    "list_folder",
    "open_artifact_store",
    "open_filesystem",
]
