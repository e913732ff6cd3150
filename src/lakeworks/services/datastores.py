"""Datastores: named storage roots, and resolving ``azureml://datastores/<name>/paths/<p>``.

Owns turning a datastore URI into a ``StorageLocation`` (an fsspec URL plus the options to
reach it) that table formats, readers, SQL engines and jobs use. The workspace's default
datastore ``workspaceblobstore`` is its artifact store.
"""

from __future__ import annotations

import os
from pathlib import Path

from lakeworks.core.refs import DEFAULT_DATASTORE, parse_datastore_uri
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.lake import StorageLocation
from lakeworks.services.workspace import Workspace


def _join(root: str, path: str) -> str:
    if not path:
        return root
    return root.rstrip("/") + "/" + path.lstrip("/")


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


def resolve_location(ws: Workspace, uri: str) -> StorageLocation:
    """The storage location of a datastore URI (or of a plain URL or local path).

    Raises:
        InvalidInputError: a malformed datastore URI.
        NotFoundError: an unknown datastore.
    """
    parsed = parse_datastore_uri(uri)
    if parsed is None:
        if uri.startswith("azureml://"):
            raise InvalidInputError(
                f"{uri!r} is not a datastore URI (azureml://datastores/<name>/paths/<path>)"
            )
        if "://" in uri:
            return StorageLocation(url=uri)
        return StorageLocation(url=str(Path(uri).expanduser().resolve()))
    if parsed.datastore != DEFAULT_DATASTORE:
        raise NotFoundError(
            f"datastore '{parsed.datastore}' does not exist in workspace '{ws.name}'"
        )
    root = ws.artifacts.url
    if root.startswith("file://"):
        root = root[len("file://"):]
    return StorageLocation(url=_join(root, parsed.path), options=default_options(ws, root))
