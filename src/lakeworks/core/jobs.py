"""Jobs: what a command or pipeline job asks for (spec) and what running it produced (record).

Owns ``JobStatus`` with Azure's names and its legal transitions, ``StepSpec`` (one command step:
a resolved component plus bound inputs), ``JobSpec`` (a command job is a job of one step; a
pipeline job has many, bound by ``${{parent...}}``), ``PipelineSettings`` and ``JobRecord``, the
result object stores keep (status, outputs, metrics, lineage). Specs never change once
submitted; records do. No I/O.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lakeworks.core.assets import ComponentSpec
from lakeworks.core.io import DataInput, Literal_, OutputSpec
from lakeworks.errors import StateError


class JobStatus(StrEnum):
    """Job statuses, spelled as Azure ML spells them."""

    NOT_STARTED = "NotStarted"
    STARTING = "Starting"
    PREPARING = "Preparing"
    QUEUED = "Queued"
    RUNNING = "Running"
    FINALIZING = "Finalizing"
    CANCEL_REQUESTED = "CancelRequested"
    COMPLETED = "Completed"
    FAILED = "Failed"
    CANCELED = "Canceled"
    NOT_RESPONDING = "NotResponding"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})

_S = JobStatus
_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    _S.NOT_STARTED: frozenset({_S.QUEUED, _S.CANCELED, _S.COMPLETED, _S.FAILED}),
    _S.QUEUED: frozenset(
        {_S.PREPARING, _S.RUNNING, _S.CANCEL_REQUESTED, _S.CANCELED, _S.FAILED, _S.COMPLETED}
    ),
    _S.STARTING: frozenset({_S.PREPARING, _S.RUNNING, _S.CANCEL_REQUESTED, _S.FAILED}),
    _S.PREPARING: frozenset(
        {_S.RUNNING, _S.CANCEL_REQUESTED, _S.CANCELED, _S.FAILED, _S.COMPLETED}
    ),
    _S.RUNNING: frozenset(
        {_S.FINALIZING, _S.COMPLETED, _S.FAILED, _S.CANCEL_REQUESTED, _S.CANCELED}
    ),
    _S.FINALIZING: frozenset({_S.COMPLETED, _S.FAILED, _S.CANCELED, _S.CANCEL_REQUESTED}),
    _S.CANCEL_REQUESTED: frozenset({_S.CANCELED, _S.FAILED, _S.COMPLETED}),
    _S.NOT_RESPONDING: frozenset({_S.QUEUED, _S.FAILED, _S.CANCELED}),
    # Resuming a job that stopped re-queues it; its finished steps are reused.
    _S.FAILED: frozenset({_S.QUEUED}),
    _S.CANCELED: frozenset({_S.QUEUED}),
    _S.COMPLETED: frozenset(),
}


def check_transition(name: str, current: JobStatus, new: JobStatus) -> None:
    """Raise StateError unless ``current -> new`` is a legal status change."""
    if current == new:
        return
    if new not in _TRANSITIONS[current]:
        raise StateError(
            f"job '{name}' cannot go from {current.value} to {new.value}"
            + ("; it has already finished" if current.is_terminal else "")
        )


InputValue = DataInput | Literal_


class StepSpec(BaseModel):
    """One command step: a resolved component and the values bound to its inputs.

    Input values are literals, ``DataInput`` values, or binding strings
    (``${{parent.jobs.prep.outputs.train_data}}``). Output values are None (a fresh folder
    under the job), a binding to a pipeline output, or an ``OutputSpec`` with a path or mode.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    component: ComponentSpec
    component_id: str | None = None
    inputs: dict[str, DataInput | Literal_ | None] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec | str | None] = Field(default_factory=dict)
    display_name: str | None = None
    compute: str | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    timeout_seconds: int | None = None


class PipelineSettings(BaseModel):
    """Pipeline-level settings (Azure's ``PipelineJobSettings`` plus a parallelism limit)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    continue_on_step_failure: bool = False
    force_rerun: bool = False
    default_compute: str | None = None
    default_datastore: str | None = None
    max_parallel_steps: int | None = None


class JobSpec(BaseModel):
    """A submitted job: a command job (exactly one step, named ``main``) or a pipeline.

    ``sweep`` and ``automl`` jobs are single-step jobs too: their ``main`` step runs a driver
    (``python -m lakeworks.sweep_job`` / ``lakeworks.automl_job``) that does the search.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["command", "pipeline", "sweep", "automl"]
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    experiment_name: str = "Default"
    compute: str | None = None
    inputs: dict[str, DataInput | Literal_ | None] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec | None] = Field(default_factory=dict)
    steps: dict[str, StepSpec]
    settings: PipelineSettings = Field(default_factory=PipelineSettings)


COMMAND_STEP = "main"


class JobRecord(BaseModel):
    """What the stores keep about a job or pipeline step as it runs (the result object)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: Literal["command", "pipeline", "sweep", "automl"]
    status: JobStatus = JobStatus.NOT_STARTED
    parent: str | None = None
    step: str | None = None
    experiment_name: str = "Default"
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outputs: dict[str, str] = Field(default_factory=dict)
    output_hashes: dict[str, str] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    mlflow_experiment_id: str | None = None
    reused_from: str | None = None
    error: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    runner_pid: int | None = None
    archived: bool = False
