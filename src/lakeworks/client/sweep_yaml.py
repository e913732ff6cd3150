"""``type: sweep`` YAML (Azure's ``sweepJob.schema.json``), standalone or as a pipeline step.

Owns the schema of a sweep document (strict: an unknown field is an error naming it and the
fields allowed) and building a ``SweepJob`` from it: the trial (inline ``{command, code,
environment, ...}``, a component file ``./train.yml`` read relative to the YAML file, or a
registered ``azureml:train:1``), ``inputs``, ``outputs``, ``search_space`` (``type: choice |
uniform | ...``), ``sampling_algorithm`` (a string or ``{type, seed, rule}``), ``objective``,
``limits`` and ``early_termination``. Rule errors (an unknown distribution, grid sampling over
a non-choice, a missing metric) point at the file, line and field.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lakeworks.client.entities.assets import _abs
from lakeworks.client.entities.components import CommandComponent
from lakeworks.client.entities.io import Input, Output
from lakeworks.client.entities.search_space import (
    Objective,
    SweepDistribution,
    SweepJobLimits,
    policy_entity,
)
from lakeworks.client.entities.sweep import SweepJob
from lakeworks.client.schemas import (
    EnvironmentYaml,
    InputYaml,
    OutputYaml,
    Scalar,
    _JobDoc,
    _Strict,
)
from lakeworks.core.search_space import distribution_from
from lakeworks.core.sweep import sampling_from
from lakeworks.core.sweep_policies import policy_from
from lakeworks.errors import InvalidInputError
from lakeworks.services.documents import Document, validate


class TrialYaml(_Strict):
    command: str
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None


class SweepObjectiveYaml(_Strict):
    primary_metric: str | None = None
    goal: str | None = None


class SweepLimitsYaml(_Strict):
    max_total_trials: int | None = None
    max_concurrent_trials: int | None = None
    timeout: int | None = None
    trial_timeout: int | None = None


class SweepJobYaml(_JobDoc):
    type: Literal["sweep"]
    trial: str | TrialYaml
    inputs: dict[str, InputYaml | Scalar | None] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | str | None] = Field(default_factory=dict)
    search_space: dict[str, dict[str, Any]]
    sampling_algorithm: str | dict[str, Any] = "random"
    objective: SweepObjectiveYaml
    limits: SweepLimitsYaml | None = None
    early_termination: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    environment_variables: dict[str, str] = Field(default_factory=dict)


#: How YAML pieces become entities, given by ``load_job`` (which imports this module):
#: (value, folder) -> environment; (inputs, folder) -> (declarations, values);
#: (reference, folder) -> component.
Environment = Callable[[str | EnvironmentYaml | None, Path], Any]
JobInputs = Callable[[Mapping[str, Any], Path], tuple[dict[str, Input], dict[str, Any]]]
ComponentLoader = Callable[[str, Path], CommandComponent]


def _trial(y: SweepJobYaml, name: str, base: Path, decls: Mapping[str, Input],
           environment: Environment, component: ComponentLoader) -> CommandComponent:
    if isinstance(y.trial, str):
        return component(y.trial, base)
    t = y.trial
    return CommandComponent(
        name=name,
        command=t.command,
        code=_abs(t.code, base) if t.code is not None else None,
        environment=environment(t.environment, base),
        inputs={k: v for k, v in decls.items() if k not in y.search_space},
        outputs={k: (Output(**v.model_dump(exclude_none=True)) if isinstance(v, OutputYaml)
                     else Output()) for k, v in y.outputs.items()},
        environment_variables=t.environment_variables,
    )


def sweep_job_from(
    doc: Document,
    *,
    environment: Environment,
    job_inputs: JobInputs,
    component: ComponentLoader,
    loc: tuple[str | int, ...] = (),
    step: str | None = None,
) -> SweepJob:
    """The sweep job a ``type: sweep`` document (or pipeline step at ``loc``) describes.

    Raises:
        InvalidInputError: a schema error or a broken sweep rule, with file, line and field.
    """
    data: Any = doc.data
    for part in loc:
        data = data[part]
    sub = Document(data=data, path=doc.path,
                   lines={k[len(loc):]: v for k, v in doc.lines.items() if k[:len(loc)] == loc})
    what = f"sweep step '{step}'" if step else "a sweep job"
    y: SweepJobYaml = validate(sub, SweepJobYaml, what)
    base = doc.folder
    try:
        decls, values = job_inputs({k: v for k, v in y.inputs.items()}, base)
        trial = _trial(y, step or y.name or "trial", base, decls, environment, component)
        space: dict[str, SweepDistribution] = {
            k: SweepDistribution._from_spec(distribution_from(v, f"search_space.{k}"))
            for k, v in y.search_space.items()
        }
        policy = (policy_entity(policy_from(y.early_termination))
                  if y.early_termination is not None else None)
        limits = y.limits.model_dump() if y.limits else {}
        job = SweepJob(
            trial=trial,
            inputs=values,
            outputs={k: Output(**v.model_dump(exclude_none=True))
                     for k, v in y.outputs.items() if isinstance(v, OutputYaml) and v.path},
            search_space=space,
            objective=Objective(goal=y.objective.goal, primary_metric=y.objective.primary_metric),
            sampling_algorithm=sampling_from(y.sampling_algorithm),
            limits=SweepJobLimits(**limits),
            early_termination=policy,
            name=y.name,
            display_name=y.display_name,
            description=y.description,
            tags=y.tags,
            experiment_name=y.experiment_name or (None if step else Path.cwd().name),
            compute=y.compute,
        )
        job.environment_variables = dict(y.environment_variables)
        for key, out in y.outputs.items():
            if isinstance(out, str):
                job._output_config[key] = out
        if not hasattr(trial, "ref"):  # a registered component is checked on submission
            job._plan(trial._to_spec(base))
    except InvalidInputError as exc:
        if exc.file is not None:
            raise
        where = tuple(exc.field.split(".")) if exc.field else ()
        raise doc.error(exc.detail, (*loc, *where), allowed=exc.allowed) from None
    return job
