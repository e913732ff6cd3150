"""Sweep jobs with Azure ML's shape: ``SweepJob``, what ``command(...).sweep(...)`` returns.

Owns the sweep entity (a trial component, fixed inputs, a search space, objective, sampling,
limits and an early termination policy) and turning it into what the engine runs: one step
whose command is the sweep driver (``python -m lakeworks.sweep_job``) in the trial's code
folder and environment. A ``SweepJob`` is a node too: inside ``@dsl.pipeline`` it takes the
place of the command it sweeps, and its ``.outputs.<name>`` are the best trial's outputs.

Example:
    >>> from lakeworks import command
    >>> from lakeworks.sweep import Choice
    >>> job = command(command="python train.py --lr ${{inputs.lr}}",
    ...               inputs={"lr": Choice([0.01, 0.1])})
    >>> sweep = job.sweep(primary_metric="accuracy", goal="maximize",
    ...                   sampling_algorithm="grid")
    >>> sweep.set_limits(max_concurrent_trials=2)
    >>> sweep.type
    'sweep'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakeworks.client.entities.components import Command, CommandComponent, _value
from lakeworks.client.entities.io import Output
from lakeworks.client.entities.jobs import command_job_spec
from lakeworks.client.entities.search_space import (
    EarlyTerminationPolicy,
    Objective,
    SamplingAlgorithm,
    SweepDistribution,
    SweepJobLimits,
    sampling_spec,
)
from lakeworks.client.graph_context import current_builder
from lakeworks.core.assets import ComponentSpec
from lakeworks.core.io import DataInput, InputMode, Literal_, OutputSpec
from lakeworks.core.jobs import JobSpec, StepSpec
from lakeworks.core.search_space import Distribution
from lakeworks.core.sweep import (
    SamplingSpec,
    SweepPlan,
    driver_component,
    limits_from,
    objective_from,
    sweep_plan,
)
from lakeworks.errors import InvalidInputError


class SweepJob(Command):
    """A hyperparameter sweep, as ``azure.ai.ml.sweep.SweepJob``.

    Submit it with ``ml_client.jobs.create_or_update(sweep)``; each trial runs as an ordinary
    command job tagged with the sweep's name, and the best trial's outputs become the sweep's.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        display_name: str | None = None,
        experiment_name: str | None = None,
        identity: Any = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, Output | None] | None = None,
        compute: str | None = None,
        limits: SweepJobLimits | None = None,
        sampling_algorithm: str | SamplingAlgorithm | SamplingSpec | None = None,
        search_space: Mapping[str, SweepDistribution] | None = None,
        objective: Objective | None = None,
        trial: Command | CommandComponent | None = None,
        early_termination: EarlyTerminationPolicy | None = None,
        queue_settings: Any = None,
        resources: Any = None,
        **kwargs: Any,
    ) -> None:
        if trial is None:
            raise InvalidInputError("a sweep job needs a trial: a command or command component",
                                    field="trial")
        component = trial.component if isinstance(trial, Command) else trial
        values = dict(trial.inputs) if isinstance(trial, Command) else {}
        values.update(inputs or {})
        space = {k: v for k, v in values.items() if isinstance(v, SweepDistribution)}
        space.update(search_space or {})
        super().__init__(
            component=component,
            inputs={k: v for k, v in values.items() if k not in space},
            outputs=outputs,
            name=name,
            display_name=display_name,
            description=description,
            tags=tags,
            experiment_name=experiment_name,
            compute=compute,
        )
        self.search_space: dict[str, SweepDistribution] = space
        self.objective = objective
        self.sampling_algorithm: str | SamplingAlgorithm | SamplingSpec = (
            sampling_algorithm or "random")
        self.limits = limits or SweepJobLimits()
        self.early_termination = early_termination
        self.identity = identity

    @property
    def type(self) -> str:
        return "sweep"

    @property
    def trial(self) -> CommandComponent:
        """The component each trial runs."""
        return self._component

    def set_limits(  # type: ignore[override]
        self,
        *,
        max_concurrent_trials: int | None = None,
        max_total_trials: int | None = None,
        timeout: int | None = None,
        trial_timeout: int | None = None,
    ) -> None:
        """Trial counts and time limits in seconds; a value left out keeps its setting."""
        for key, value in (("max_concurrent_trials", max_concurrent_trials),
                           ("max_total_trials", max_total_trials), ("timeout", timeout),
                           ("trial_timeout", trial_timeout)):
            if value is not None:
                setattr(self.limits, key, value)

    def set_objective(self, *, goal: str | None = None, primary_metric: str | None = None) -> None:
        """Change the objective's goal or primary metric."""
        self.objective = self.objective or Objective()
        if goal is not None:
            self.objective.goal = goal
        if primary_metric is not None:
            self.objective.primary_metric = primary_metric

    # -- to the engine --------------------------------------------------------------------

    def _plan(self, trial: ComponentSpec) -> SweepPlan:
        """The checked plan (search space, objective, sampling, limits, policy)."""
        space: dict[str, Distribution] = {
            name: dist._to_spec(f"search_space.{name}")
            for name, dist in self.search_space.items()
        }
        objective = self.objective or Objective()
        return sweep_plan(
            trial,
            space,
            objective_from(objective.primary_metric, objective.goal),
            sampling_spec(self.sampling_algorithm),
            limits_from(vars(self.limits)),
            self.early_termination._to_spec() if self.early_termination else None,
        )

    def _to_step(self, refs: dict[int, str], base: Path | None = None) -> StepSpec:
        """The driver step: fixed inputs bound (data passed on as stored URIs), trial outputs."""
        trial = self._component._to_spec(base)
        plan = self._plan(trial)
        values: dict[str, DataInput | Literal_ | None] = {}
        for key, value in self.inputs.items():
            bound = _value(value, refs, f"inputs.{key}")
            if isinstance(bound, DataInput):
                bound = bound.model_copy(update={"mode": InputMode.DIRECT})
            values[key] = bound
        outputs: dict[str, OutputSpec | str | None] = {
            k: (v if isinstance(v, str) else v._to_spec(f"outputs.{k}"))
            for k, v in self._output_config.items()
        }
        return StepSpec(
            component=driver_component(trial, plan),
            inputs=values,
            outputs=outputs,
            display_name=self.display_name,
            compute=self.compute,
            environment_variables=self.environment_variables,
        )

    def _to_job_spec(self, base: Path | None = None) -> JobSpec:
        """A standalone sweep job: one step (``main``) running the driver."""
        return command_job_spec(self, base).model_copy(update={"type": "sweep"})

    def __repr__(self) -> str:
        return (f"SweepJob(name={self.name!r}, trial={self._component.name!r}, "
                f"search_space={sorted(self.search_space)})")


def sweep_node(
    node: Command,
    *,
    primary_metric: str,
    goal: str,
    sampling_algorithm: str | SamplingAlgorithm = "random",
    compute: str | None = None,
    max_concurrent_trials: int | None = None,
    max_total_trials: int | None = None,
    timeout: int | None = None,
    trial_timeout: int | None = None,
    early_termination_policy: EarlyTerminationPolicy | None = None,
    search_space: Mapping[str, SweepDistribution] | None = None,
    identity: Any = None,
) -> SweepJob:
    """What ``node.sweep(...)`` returns; inside a pipeline the sweep replaces ``node``."""
    job = SweepJob(
        trial=node,
        search_space=search_space,
        objective=Objective(goal=goal, primary_metric=primary_metric),
        sampling_algorithm=sampling_algorithm,
        limits=SweepJobLimits(max_concurrent_trials=max_concurrent_trials,
                              max_total_trials=max_total_trials, timeout=timeout,
                              trial_timeout=trial_timeout),
        early_termination=early_termination_policy,
        name=node.name,
        display_name=node.display_name,
        description=node.description,
        tags=node.tags,
        experiment_name=node.experiment_name,
        compute=compute or node.compute,
        identity=identity,
    )
    job._output_config = dict(node._output_config)
    job.environment_variables = dict(node.environment_variables)
    builder = current_builder()
    if builder is not None:
        place = next((i for i, n in enumerate(builder.nodes) if n is node), None)
        if place is not None:
            builder.nodes = [n for n in builder.nodes if n is not job]
            builder.nodes[place] = job
    return job
