"""The workspace of ``azureml://`` paths read outside the SDK (pandas, pyarrow, DuckDB).

Owns deciding which workspace a bare ``azureml://datastores/<name>/paths/<p>`` refers to (the
``workspace`` storage option, ``LAKEWORKS_WORKSPACE`` as job steps get it, the last ``MLClient``
used in this process, or the nearest ``lakeworks.toml`` upward), keeping those workspaces open
for the process, and the locator the ``azureml`` fsspec protocol finds through the entry point
group ``lakeworks.datastore_locators``.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from lakeworks.errors import NotFoundError
from lakeworks.services.datastores import DatastoreService
from lakeworks.services.workspace import Workspace, find_workspace, open_workspace

#: environment variable naming the workspace of ``azureml://`` paths (job steps get it)
WORKSPACE_ENV = "LAKEWORKS_WORKSPACE"

_opened: dict[Path, Workspace] = {}
_opened_lock = threading.Lock()
_current: list[Path] = []
_MAX_OPENED = 8


def use_workspace(path: Path) -> None:
    """Make ``path`` the workspace of ``azureml://`` paths in this process when neither a
    ``workspace`` storage option nor ``LAKEWORKS_WORKSPACE`` names one (``MLClient`` calls it).
    """
    with _opened_lock:
        _current[:] = [path.resolve()]


def workspace_for_paths(hint: str | None = None) -> Workspace:
    """The workspace ``azureml://`` paths refer to, opened once per process.

    Looked for in order: ``hint`` (the ``workspace`` storage option), ``LAKEWORKS_WORKSPACE``,
    the workspace of the last ``MLClient`` used in this process, the nearest
    ``lakeworks.toml`` upward from the current folder.

    Raises:
        NotFoundError: none of these gives a workspace.
    """
    candidate: Path | None = None
    if hint:
        candidate = Path(hint).expanduser()
    elif os.environ.get(WORKSPACE_ENV):
        candidate = Path(os.environ[WORKSPACE_ENV]).expanduser()
    elif _current:
        candidate = _current[0]
    else:
        candidate = find_workspace(Path.cwd())
    if candidate is None:
        raise NotFoundError(
            f"azureml:// paths need a Lakeworks workspace and none was found from "
            f"'{Path.cwd()}' upward; pass storage_options={{'workspace': PATH}}, set "
            f"{WORKSPACE_ENV}=PATH, or run inside a workspace folder"
        )
    key = candidate.resolve()
    with _opened_lock:
        ws = _opened.get(key)
        if ws is None:
            ws = open_workspace(key)
            if len(_opened) >= _MAX_OPENED:
                _opened.pop(next(iter(_opened))).close()
            _opened[key] = ws
    return ws


def open_datastore_filesystem(datastore: str, workspace: str | None = None) -> tuple[Any, str]:
    """The file system and root path of ``datastore`` in the workspace of ``azureml://`` paths
    (the locator the ``azureml`` fsspec protocol uses)."""
    return DatastoreService(workspace_for_paths(workspace)).filesystem(datastore)


__all__ = ["WORKSPACE_ENV", "open_datastore_filesystem", "use_workspace", "workspace_for_paths"]
