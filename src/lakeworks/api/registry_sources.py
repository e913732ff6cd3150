"""Where the files of an MLflow model-version source live, and copying them out.

Owns resolving the sources MLflow clients send to ``create_model_version`` (2.x:
``mlflow-artifacts:/<exp>/<run>/artifacts/<path>`` or ``runs:/<run>/<path>``; 3.x:
``models:/m-<id>``, whose files are the logged model's artifact location) to a concrete artifact
URI, and downloading that folder. Inside the tracking server, proxied ``mlflow-artifacts``
paths are read straight from the server's artifact destination and runs and logged models come
from the server's own tracking store. Raises ``MlflowException``; never writes Lakeworks state.
"""

# MLflow's URI and store helpers carry no type hints.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path
from typing import Any

from mlflow.artifacts import download_artifacts
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
from mlflow.store.artifact.utils.models import _parse_model_uri, get_model_name_and_version
from mlflow.tracking._tracking_service.utils import _get_store
from mlflow.utils.uri import append_to_uri_path

_SERVER_HANDLERS = "mlflow.server.handlers"
_PROXY_ANCHOR = "/api/2.0/mlflow-artifacts/artifacts/"


def tracking_store(tracking_uri: str | None) -> Any:
    """The tracking server's own store when running inside it, else the client's store."""
    handlers = sys.modules.get(_SERVER_HANDLERS)
    if handlers is not None and getattr(handlers, "_tracking_store", None) is not None:
        return handlers._tracking_store
    return _get_store(tracking_uri)


def logged_model_id(source: str) -> str | None:
    """The logged-model id of a ``models:/m-<id>`` source, else None."""
    if urllib.parse.urlparse(source).scheme != "models":
        return None
    try:
        model_id: str | None = _parse_model_uri(source).model_id
    except MlflowException:
        return None
    return model_id


def resolve_source(source: str, model_id: str | None, tracking: Any, registry: Any) -> str:
    """The artifact URI holding the files of ``source``, with ``runs:/`` and ``models:/`` resolved.

    Args:
        source: what the MLflow client sent.
        model_id: the logged model being registered (MLflow 3), if any.
        tracking: a tracking store (``get_run``, ``get_logged_model``).
        registry: the registry store, for ``models:/<name>/<version>`` sources.
    """
    scheme = urllib.parse.urlparse(source).scheme
    if scheme == "runs":
        run_id, path = RunsArtifactRepository.parse_runs_uri(source)
        root = str(tracking.get_run(run_id).info.artifact_uri)
        return append_to_uri_path(root, path) if path else root
    if scheme == "models":
        if model_id:
            return str(tracking.get_logged_model(model_id).artifact_location)
        name, version = get_model_name_and_version(registry, source)
        return str(registry.get_model_version_download_uri(name, version))
    return source


def proxied_path(uri: str) -> str | None:
    """The path below the server's artifact destination of a proxied artifact URI, else None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        path = parsed.path.lstrip("/")
    elif parsed.scheme in ("http", "https") and _PROXY_ANCHOR in parsed.path:
        path = parsed.path.split(_PROXY_ANCHOR, 1)[1]
    else:
        return None
    path = urllib.parse.unquote(path)
    if ".." in path.split("/"):
        raise MlflowException(f"model source '{uri}' may not contain '..'", INVALID_PARAMETER_VALUE)
    return path


def download_folder(uri: str, dest: Path) -> Path:
    """Copy the folder at artifact URI ``uri`` below ``dest``; return the local folder."""
    dest.mkdir(parents=True, exist_ok=True)
    relative = proxied_path(uri)
    handlers = sys.modules.get(_SERVER_HANDLERS)
    try:
        if relative is not None and handlers is not None and (
            handlers._is_serving_proxied_artifacts()
        ):
            repo = handlers._get_artifact_repo_mlflow_artifacts()
            return Path(repo.download_artifacts(relative, dst_path=str(dest)))
        return Path(download_artifacts(artifact_uri=uri, dst_path=str(dest)))
    except OSError as exc:
        raise MlflowException(
            f"could not read the model files at '{uri}': {exc}", RESOURCE_DOES_NOT_EXIST
        ) from exc
