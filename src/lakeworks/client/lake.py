"""``ml_client.lake``: lake databases and Delta tables (load, write, merge, read, history, drop)."""

from __future__ import annotations

from collections.abc import Callable

from lakeworks.services.workspace import Workspace as WorkspaceHandle


class LakeOperations:
    """Operation group of ``MLClient`` (being written)."""

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws
