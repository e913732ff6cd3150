"""``ml_client.sql``: SQL over the lake catalog (``ml_client.sql("SELECT ...")`` returns Arrow), saved procedures."""

from __future__ import annotations

from collections.abc import Callable

from lakeworks.services.workspace import Workspace as WorkspaceHandle


class SqlOperations:
    """Operation group of ``MLClient`` (being written)."""

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws
