"""Links into the workspace's web view (the MLflow UI its tracking server serves).

Reads the running server's address from ``.lakeworks/tracking.json``; no link when no server
runs (``lakeworks server start`` starts one).
"""

from __future__ import annotations

import json

from lakeworks.core.jobs import JobRecord
from lakeworks.services import adapter_registry
from lakeworks.services.workspace import Workspace


def server_url(ws: Workspace) -> str | None:
    """The tracking server's base URL if its address file exists."""
    path = ws.state_dir / "tracking.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    url = data.get("url")
    return str(url).rstrip("/") if url else None


def job_url(ws: Workspace, record: JobRecord) -> str | None:
    """The web view of a job's MLflow run (or experiment), if a server runs."""
    base = server_url(ws)
    if base is None or record.mlflow_experiment_id is None:
        return None
    if record.mlflow_run_id:
        return f"{base}/#/experiments/{record.mlflow_experiment_id}/runs/{record.mlflow_run_id}"
    return f"{base}/#/experiments/{record.mlflow_experiment_id}"


def start_server(ws: Workspace) -> str:
    """Start the workspace's tracking server (and web view) if needed; return its URL."""
    url: str = adapter_registry.load("tracking_server")(ws)
    return url


def stop_server(ws: Workspace) -> bool:
    """Stop the workspace's tracking server; False if none was running."""
    stopped: bool = adapter_registry.load("tracking_server_stop")(ws)
    return stopped


def server_status(ws: Workspace) -> dict[str, object] | None:
    """The running server's pid, port and URL, or None."""
    status: dict[str, object] | None = adapter_registry.load("tracking_server_status")(ws)
    return status
