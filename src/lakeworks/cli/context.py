"""The state of one CLI invocation: the global options and the workspace they select.

Owns turning ``--workspace``/``LAKEWORKS_WORKSPACE`` (or the nearest workspace above the current
folder) into an ``MLClient`` and a services-level ``Workspace``, each opened at most once and
closed when the command ends, and configuring logging from ``log_level``. It must not render
anything. The client and services are imported on first use, for startup time.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from lakeworks.client.ml_client import MLClient
    from lakeworks.services.jobs import JobService
    from lakeworks.services.workspace import Workspace

_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass
class CliContext:
    """Global options of one invocation and what they opened.

    Args:
        workspace_option: ``--workspace`` (or ``LAKEWORKS_WORKSPACE``); None means "search
            upward from the current folder".
        debug: ``--debug``: errors re-raise with their traceback.
    """

    workspace_option: Path | None = None
    debug: bool = False
    _client: MLClient | None = field(default=None, repr=False)
    _workspace: Workspace | None = field(default=None, repr=False)

    @classmethod
    def of(cls, ctx: typer.Context) -> CliContext:
        """The invocation's context object (a default one when a command runs on its own)."""
        found = ctx.find_object(cls)
        if found is None:
            found = cls()
            ctx.obj = found
        return found

    def client(self) -> MLClient:
        """The ``MLClient`` of the selected workspace.

        Raises:
            NotFoundError: no workspace was given and none is found above the current folder.
        """
        if self._client is None:
            from lakeworks.client.ml_client import MLClient  # imported here for startup time

            if self.workspace_option is not None:
                client = MLClient(workspace=self.workspace_option)
            else:
                client = MLClient.from_config()
            _configure_logging(client.workspace_path)
            self._client = client
        return self._client

    def workspace(self) -> Workspace:
        """The selected workspace as the services see it (stores, settings, state folder)."""
        if self._workspace is None:
            from lakeworks.services.workspace import open_workspace  # for startup time

            self._workspace = open_workspace(self.client().workspace_path)
        return self._workspace

    def jobs(self) -> JobService:
        """The job service of the selected workspace (records with steps, metrics, logs)."""
        from lakeworks.services.jobs import JobService  # imported here for startup time

        return JobService(self.workspace())

    def workspace_path_if_any(self) -> Path | None:
        """``--workspace`` if given (it must exist), else the nearest ``lakeworks.toml`` folder
        upward, or None. Unlike ``client()`` it never creates a workspace from an Azure
        ``config.json``.
        """
        if self.workspace_option is not None:
            return self.workspace().path
        from lakeworks.services.workspace import find_workspace  # for startup time

        return find_workspace(Path.cwd())

    def close(self) -> None:
        """Close whatever this invocation opened."""
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None
        if self._client is not None:
            self._client.close()
            self._client = None


def _configure_logging(workspace: Path) -> None:
    """Apply the ``log_level`` setting (``LAKEWORKS_LOG_LEVEL``) to Lakeworks' loggers."""
    from lakeworks.config import load_settings  # imported here for startup time
    from lakeworks.errors import InvalidInputError

    level_name = load_settings(workspace).log_level.upper()
    level = logging.getLevelName(level_name)
    if not isinstance(level, int):
        raise InvalidInputError(
            f"log level {level_name!r} is not known",
            field="log_level",
            allowed=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
        )
    logger = logging.getLogger("lakeworks")
    logger.setLevel(level)
    if not logging.getLogger().handlers and not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        logger.addHandler(handler)
