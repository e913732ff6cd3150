"""Job entities with Azure ML's shape: ``PipelineJob``, ``CommandJob``, ``PipelineJobSettings``.

A ``PipelineJob`` built by ``@dsl.pipeline`` (or loaded from YAML) holds its nodes and
settings; submitting it returns a ``PipelineJob`` describing the run (name, status, outputs,
``studio_url``). ``CommandJob`` describes a submitted command job or a pipeline step. Result
fields (status, outputs, metrics, params) come from the job record; building a job never sets
them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from lakeworks.client.entities.components import Command, NodeOutput, _input_value
from lakeworks.client.entities.io import Input, Output
from lakeworks.core.io import DataInput, IOType, Literal_, OutputSpec
from lakeworks.core.jobs import COMMAND_STEP, JobRecord, JobSpec, PipelineSettings, StepSpec
from lakeworks.errors import InvalidInputError


class PipelineJobSettings:
    """Pipeline settings, changeable after building (``job.settings.force_rerun = True``)."""

    def __init__(
        self,
        *,
        default_datastore: str | None = None,
        default_compute: str | None = None,
        continue_on_step_failure: bool | None = None,
        force_rerun: bool | None = None,
        max_parallel_steps: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.default_datastore = default_datastore
        self.default_compute = default_compute
        self.continue_on_step_failure = continue_on_step_failure
        self.force_rerun = force_rerun
        self.max_parallel_steps = max_parallel_steps

    def _to_spec(self) -> PipelineSettings:
        return PipelineSettings(
            default_datastore=self.default_datastore,
            default_compute=self.default_compute,
            continue_on_step_failure=bool(self.continue_on_step_failure),
            force_rerun=bool(self.force_rerun),
            max_parallel_steps=self.max_parallel_steps,
        )

    def __repr__(self) -> str:
        return f"PipelineJobSettings({self.__dict__!r})"


class Job:
    """Fields of a submitted job, shared by command and pipeline jobs."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.display_name: str | None = None
        self.description: str | None = None
        self.tags: dict[str, str] = {}
        self.experiment_name: str | None = None
        self.status: str | None = None
        self.studio_url: str | None = None
        self.parent_job_name: str | None = None
        self.step: str | None = None
        self.creation_context: dict[str, Any] | None = None
        self.start_time: datetime | None = None
        self.end_time: datetime | None = None
        self.error: str | None = None
        self.metrics: dict[str, float] = {}
        self.params: dict[str, str] = {}
        self.mlflow_run_id: str | None = None
        self.reused_from: str | None = None
        self.services: dict[str, Any] = {}
        self.properties: dict[str, str] = {}

    def _fill(self, record: JobRecord, studio_url: str | None) -> None:
        self.name = record.name
        self.display_name = record.display_name
        self.description = record.description
        self.tags = dict(record.tags)
        self.experiment_name = record.experiment_name
        self.status = record.status.value
        self.studio_url = studio_url
        self.parent_job_name = record.parent
        self.step = record.step
        self.creation_context = {"created_at": record.created_at}
        self.start_time = record.started_at
        self.end_time = record.ended_at
        self.error = record.error
        self.metrics = dict(record.metrics)
        self.params = dict(record.params)
        self.mlflow_run_id = record.mlflow_run_id
        self.reused_from = record.reused_from
        self.outputs = {
            k: Output(type="uri_folder", path=v) for k, v in record.outputs.items()
        }
        if record.mlflow_run_id:
            self.properties["mlflow.runId"] = record.mlflow_run_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, status={self.status!r})"


class CommandJob(Job):
    """A submitted command job, or one step of a pipeline job."""

    type = "command"

    def __init__(self) -> None:
        super().__init__()
        self.outputs: dict[str, Output] = {}
        self.inputs: dict[str, Any] = {}
        self.command: str | None = None

    @classmethod
    def _from_record(cls, record: JobRecord, studio_url: str | None = None) -> CommandJob:
        out = cls()
        out._fill(record, studio_url)
        spec = record.spec
        step = spec.get("steps", {}).get(COMMAND_STEP, spec) if "steps" in spec else spec
        out.command = step.get("component", {}).get("command")
        out.inputs = dict(step.get("inputs", {}))
        return out


class PipelineJob(Job):
    """A pipeline: built from nodes (``@dsl.pipeline``, YAML), or a submitted pipeline run."""

    type = "pipeline"

    def __init__(
        self,
        *,
        jobs: dict[str, Command] | None = None,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
        settings: PipelineJobSettings | None = None,
        name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        experiment_name: str | None = None,
        compute: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.jobs: dict[str, Command] = dict(jobs or {})
        self.inputs: dict[str, Any] = dict(inputs or {})
        self.outputs: dict[str, Any] = dict(outputs or {})
        self.settings = settings or PipelineJobSettings()
        self.name = name
        self.display_name = display_name
        self.description = description
        self.tags = dict(tags or {})
        self.experiment_name = experiment_name
        self.compute = compute
        self.steps: list[CommandJob] = []

    def _to_job_spec(self, base: Path | None = None) -> JobSpec:
        if not self.jobs:
            raise InvalidInputError("the pipeline has no steps", field="jobs")
        refs = {id(node): step for step, node in self.jobs.items()}
        steps: dict[str, StepSpec] = {
            step: node._to_step(refs, base) for step, node in self.jobs.items()
        }
        outputs: dict[str, OutputSpec | None] = {}
        for out_name, value in self.outputs.items():
            if isinstance(value, NodeOutput):
                step_name = refs.get(id(value._node))
                if step_name is None:
                    raise InvalidInputError(
                        f"pipeline output '{out_name}' comes from a node outside the pipeline"
                    )
                decl = value._node.component.outputs[value._name]
                outputs[out_name] = OutputSpec(type=IOType(decl.type))
                step = steps[step_name]
                steps[step_name] = step.model_copy(
                    update={
                        "outputs": {
                            **step.outputs,
                            value._name: f"${{{{parent.outputs.{out_name}}}}}",
                        }
                    }
                )
            elif isinstance(value, Output):
                outputs[out_name] = value._to_spec(f"outputs.{out_name}")
            elif value is None:
                outputs[out_name] = None
            else:
                raise InvalidInputError(
                    f"pipeline output '{out_name}' must be a node output, got {value!r}"
                )
        inputs: dict[str, DataInput | Literal_ | None] = {}
        for key, value in self.inputs.items():
            inputs[key] = _pipeline_input(value, f"inputs.{key}")
        return JobSpec(
            type="pipeline",
            display_name=self.display_name,
            description=self.description,
            tags=self.tags,
            experiment_name=self.experiment_name or self.display_name or "Default",
            compute=self.compute,
            inputs=inputs,
            outputs=outputs,
            steps=steps,
            settings=self.settings._to_spec(),
        )

    @classmethod
    def _from_record(
        cls, record: JobRecord, studio_url: str | None, steps: list[JobRecord]
    ) -> PipelineJob:
        spec = JobSpec.model_validate(record.spec)
        out = cls(settings=PipelineJobSettings(**spec.settings.model_dump()))
        out._fill(record, studio_url)
        out.inputs = dict(spec.inputs)
        out.steps = [CommandJob._from_record(s) for s in steps]
        return out


def _pipeline_input(value: Any, where: str) -> DataInput | Literal_ | None:
    if isinstance(value, Input):
        return _input_value(value, where)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "id") and hasattr(value, "path") and hasattr(value, "type"):
        return DataInput(type=value.type, path=value.id or value.path)
    raise InvalidInputError(f"{where}: {value!r} is not a valid pipeline input value")


def command_job_spec(node: Command, base: Path | None = None) -> JobSpec:
    """A standalone command job (one step named ``main``) from a ``command(...)`` node."""
    step = node._to_step({}, base)
    for key, value in step.inputs.items():
        if isinstance(value, str) and value.startswith("${{parent."):
            raise InvalidInputError(
                f"input '{key}' is bound to {value}, which only works inside a pipeline"
            )
    return JobSpec(
        type="command",
        display_name=node.display_name,
        description=node.description,
        tags=node.tags,
        experiment_name=node.experiment_name or "Default",
        compute=node.compute,
        steps={COMMAND_STEP: step},
    )
