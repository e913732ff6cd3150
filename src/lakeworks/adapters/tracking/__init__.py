"""The workspace's MLflow tracking: its server process and the runner's REST client of it.

``connect_tracking(workspace)`` is what ``Workspace.tracking()`` returns (through the adapter
registry): it makes sure the workspace's tracking server runs and returns a light REST client
(``MlflowRestTracking``, no MLflow import) whose ``uri`` steps get as ``MLFLOW_TRACKING_URI``.
The server itself lives in ``lakeworks.api.tracking_server``.
"""

from __future__ import annotations

from lakeworks.adapters.tracking.launcher import (
    WorkspaceDirs,
    ensure_tracking_server,
    stop_tracking_server,
    tracking_server_status,
)
from lakeworks.adapters.tracking.rest import MlflowRestTracking


def connect_tracking(workspace: WorkspaceDirs) -> MlflowRestTracking:
    """A client of the workspace's tracking server, starting the server if needed.

    The client restarts the server (once per call) if it went away meanwhile, e.g. after its
    idle timeout during a long, quiet step.

    Raises:
        BackendError: the server could not be started (the message holds its log tail).
    """
    return MlflowRestTracking(
        ensure_tracking_server(workspace), reconnect=lambda: ensure_tracking_server(workspace)
    )


__all__ = [
    "MlflowRestTracking",
    "connect_tracking",
    "ensure_tracking_server",
    "stop_tracking_server",
    "tracking_server_status",
]
