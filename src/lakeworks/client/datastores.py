"""``ml_client.datastores``: named storage roots, as in Azure ML (``create_or_update``, ``get``, ``get_default``, ``list``, ``delete``)."""

from __future__ import annotations

from collections.abc import Callable

from lakeworks.services.workspace import Workspace as WorkspaceHandle


class DatastoreOperations:
    """Operation group of ``MLClient`` (being written)."""

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws
