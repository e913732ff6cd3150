"""The ``workspace`` fixture: a fresh workspace folder, with its background processes stopped after.

Jobs start a per-workspace tracking server and online endpoints a serving process; the
fixture stops both (and any job runner still alive) at teardown, so tests leave no processes
behind.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks.services.serving_process import stop_server as stop_serving
from lakeworks.services.web import stop_server
from lakeworks.services.workspace import Workspace, create_workspace


def stop_workspace_processes(ws: Workspace) -> None:
    """Stop the tracking server, the serving process and any live job runner of ``ws``."""
    stop_server(ws)
    stop_serving(ws)
    jobs = ws.state_dir / "jobs"
    if not jobs.is_dir():
        return
    for job in ws.metadata.jobs.list(top_level_only=True, include_archived=True):
        if job.runner_pid and not job.status.is_terminal:
            try:
                os.killpg(job.runner_pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A new workspace in ``tmp_path / "ws"``."""
    ws = create_workspace(tmp_path / "ws")
    try:
        yield ws
    finally:
        stop_workspace_processes(ws)
        ws.close()
