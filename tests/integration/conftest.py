"""Fixtures for integration tests: one workspace per module (its tracking server starts once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import MLClient
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = create_workspace(tmp_path_factory.mktemp("ws") / "ws")
    try:
        yield ws
    finally:
        stop_workspace_processes(ws)
        ws.close()


@pytest.fixture(scope="module")
def ml_client(module_ws: Workspace) -> MLClient:
    return MLClient(workspace=module_ws.path)


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    """A folder for step scripts."""
    folder = tmp_path / "code"
    folder.mkdir()
    return folder
