"""Tracking port: the runner's view of the workspace's MLflow tracking server.

The runner creates one MLflow run per job and per pipeline step and hands steps its id through
``MLFLOW_RUN_ID``; scripts then record into the workspace with any MLflow client.
"""

from __future__ import annotations

from typing import Literal, Protocol

RunStatus = Literal["RUNNING", "FINISHED", "FAILED", "KILLED"]


class Tracking(Protocol):
    """A running MLflow tracking server for one workspace."""

    #: the URL steps get as ``MLFLOW_TRACKING_URI``
    uri: str

    def ensure_experiment(self, name: str) -> str:
        """Return the id of experiment ``name``, creating it if needed."""
        ...

    def create_run(
        self,
        experiment_id: str,
        run_name: str,
        *,
        parent_run_id: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Create a RUNNING run and return its id."""
        ...

    def end_run(self, run_id: str, status: RunStatus) -> None:
        """Mark a run terminated with ``status``."""
        ...

    def run_data(self, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
        """The latest value of each metric, and the params, of a run."""
        ...

    def metric_history(self, run_id: str, key: str) -> list[float]:
        """Every value of metric ``key`` of a run, in the order it was logged."""
        ...

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: dict[str, float] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Record metrics (one value each, now), params and tags on a run."""
        ...
