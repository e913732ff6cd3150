"""Artifact store adapters: picks the store for a URL (local folder, file://, s3://, fsspec).

Owns the choice of adapter by URL scheme and nothing else; the stores live in ``local.py`` and
``fsspec_store.py``. It must not import s3fs: fsspec loads it when an s3:// store is opened.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lakeworks.adapters.artifacts.fsspec_store import (
    S3_PROTOCOLS,
    FsspecArtifactStore,
    s3_storage_options,
)
from lakeworks.adapters.artifacts.local import LocalArtifactStore
from lakeworks.errors import InvalidInputError, MissingDependencyError
from lakeworks.ports.artifacts import ArtifactStore


def open_artifact_store(url: str, *, s3_endpoint_url: str | None = None) -> ArtifactStore:
    """Open the artifact store at ``url``.

    A plain path or a ``file://`` URL gives a ``LocalArtifactStore``; any other URL an
    ``FsspecArtifactStore``. For ``s3://`` the endpoint is ``s3_endpoint_url``, else the
    environment's ``LAKEWORKS_S3_ENDPOINT_URL`` or ``AWS_ENDPOINT_URL``, else AWS.

    Args:
        url: a folder path, ``file:///abs/path``, ``s3://bucket/prefix`` or another fsspec URL.
        s3_endpoint_url: an S3-compatible server (MinIO, moto), e.g. ``http://127.0.0.1:9000``.

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
    if scheme in S3_PROTOCOLS:
        if importlib.util.find_spec("s3fs") is None:
            raise MissingDependencyError("s3fs", "s3", "An s3:// artifact store")
        return FsspecArtifactStore(url, s3_storage_options(s3_endpoint_url))
    return FsspecArtifactStore(url)


def _file_url_path(url: str) -> Path:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise InvalidInputError(
            f"artifact store URL {url!r} is not a local file URL: expected 'file:///absolute/path'"
        )
    return Path(unquote(parts.path))


__all__ = ["FsspecArtifactStore", "LocalArtifactStore", "open_artifact_store"]
