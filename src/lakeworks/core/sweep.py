"""Sweep jobs' rules: sampling, the objective, limits, and the plan a sweep step runs.

Owns which distributions each sampling algorithm accepts (grid: ``choice``; bayesian:
``choice``, ``uniform``, ``quniform`` and no early termination), the objective and Azure's
limit defaults, picking the best trial, and ``SweepPlan``: what a sweep step's driver
(``python -m lakeworks.sweep_job``) receives, with the driver and trial components built from
one trial component. Distributions are ``core.search_space``'s, early termination
``core.sweep_policies``'. No I/O.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakeworks.core.assets import ComponentSpec
from lakeworks.core.expressions import command_refs
from lakeworks.core.io import InputMode, InputSpec
from lakeworks.core.search_space import ChoiceSpec, Distribution, input_type, invalid
from lakeworks.core.sweep_policies import EarlyTermination
from lakeworks.errors import InvalidInputError

DRIVER = "lakeworks.sweep_job"
_SEARCH_REF = re.compile(r"\$\{\{\s*search_space\.([A-Za-z_][A-Za-z0-9_\-]*)\s*\}\}")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- sampling, objective, limits --------------------------------------------------------------


class SamplingSpec(_Frozen):
    """How trials are sampled: ``random`` (``rule`` random or Sobol), ``grid`` or ``bayesian``."""

    type: Literal["random", "grid", "bayesian"] = "random"
    seed: int | None = None
    rule: Literal["random", "sobol"] = "random"


class ObjectiveSpec(_Frozen):
    """The metric trials log with ``mlflow.log_metric`` and whether higher is better."""

    primary_metric: str = Field(min_length=1)
    goal: Literal["maximize", "minimize"]


class SweepLimits(_Frozen):
    """Azure's sweep limits; the defaults are the service's (timeout: 60 days, in seconds)."""

    max_total_trials: int = Field(default=1000, ge=1)
    max_concurrent_trials: int | None = Field(default=None, ge=1)
    timeout: int = Field(default=5_184_000, ge=1)
    trial_timeout: int | None = Field(default=None, ge=1)

    @property
    def concurrency(self) -> int:
        """Trials at once: ``max_concurrent_trials``, by default ``max_total_trials``."""
        return min(self.max_concurrent_trials or self.max_total_trials, self.max_total_trials)


def sampling_from(value: str | Mapping[str, Any] | None) -> SamplingSpec:
    """``"random"``/``"grid"``/``"bayesian"`` or ``{type, seed, rule}`` as a ``SamplingSpec``."""
    data: dict[str, Any] = {"type": value} if isinstance(value, str) else dict(value or {})
    if isinstance(data.get("type"), str):
        data["type"] = data["type"].lower()
    try:
        return SamplingSpec.model_validate(data)
    except ValidationError as exc:
        raise invalid(exc, "sampling_algorithm") from None


def objective_from(primary_metric: str | None, goal: str | None) -> ObjectiveSpec:
    """The objective, with Azure's goal spellings (``Maximize``, ``minimize``)."""
    if not primary_metric:
        raise InvalidInputError(
            "a sweep needs objective.primary_metric: the metric each trial logs with "
            "mlflow.log_metric", field="objective.primary_metric")
    if not goal or goal.lower() not in ("maximize", "minimize"):
        raise InvalidInputError(f"objective goal {goal!r} is not valid", field="objective.goal",
                                allowed=["maximize", "minimize"])
    return ObjectiveSpec(primary_metric=primary_metric, goal=goal.lower())  # type: ignore[arg-type]


def limits_from(data: Mapping[str, Any]) -> SweepLimits:
    """Limits from keyword values (``None`` means the default)."""
    try:
        return SweepLimits.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        raise invalid(exc, "limits") from None


def better(goal: str, a: float, b: float) -> bool:
    """Whether ``a`` beats ``b`` for ``goal``."""
    return a > b if goal == "maximize" else a < b


def best_of(goal: str, scores: Mapping[str, float]) -> str | None:
    """The key with the best score (the first one on ties), or None when empty."""
    best: str | None = None
    for key, score in scores.items():
        if math.isfinite(score) and (best is None or better(goal, score, scores[best])):
            best = key
    return best


# -- the plan a sweep step runs ---------------------------------------------------------------


class SweepPlan(_Frozen):
    """Everything the sweep driver needs besides the trial's code and environment."""

    trial_command: str
    trial_inputs: dict[str, InputSpec]
    search_space: dict[str, Distribution]
    objective: ObjectiveSpec
    sampling: SamplingSpec = SamplingSpec()
    limits: SweepLimits = SweepLimits()
    early_termination: EarlyTermination | None = None

    @property
    def grid_size(self) -> int:
        """How many combinations a grid sweep has (the product of the choices' lengths)."""
        size = 1
        for dist in self.search_space.values():
            size *= len(dist.values) if isinstance(dist, ChoiceSpec) else 1
        return size


def check_sampling(
    search_space: Mapping[str, Distribution], sampling: SamplingSpec,
    early_termination: EarlyTermination | None,
) -> None:
    """Azure's rules: grid takes only ``choice``; bayesian takes ``choice``, ``uniform`` and
    ``quniform`` and no early termination; the Sobol rule is for random sampling."""
    if not search_space:
        raise InvalidInputError("a sweep needs a search space: give at least one input a "
                                "distribution (Choice, Uniform, ...)", field="search_space")
    allowed = {"grid": ("choice",), "bayesian": ("choice", "uniform", "quniform")}
    for name, dist in search_space.items():
        kinds = allowed.get(sampling.type)
        if kinds is not None and dist.type not in kinds:
            raise InvalidInputError(
                f"{sampling.type} sampling does not support '{dist.type}' (search_space.{name});"
                f" use {' or '.join(kinds)}, or random sampling",
                field=f"search_space.{name}", allowed=kinds)
    if sampling.type == "bayesian" and early_termination is not None:
        raise InvalidInputError(
            "bayesian sampling supports no early termination policy; remove "
            "early_termination or use random sampling", field="early_termination")
    if sampling.rule == "sobol" and sampling.type != "random":
        raise InvalidInputError("rule 'sobol' applies to random sampling only",
                                field="sampling_algorithm.rule")


def sweep_plan(
    trial: ComponentSpec,
    search_space: Mapping[str, Distribution],
    objective: ObjectiveSpec,
    sampling: SamplingSpec,
    limits: SweepLimits,
    early_termination: EarlyTermination | None = None,
) -> SweepPlan:
    """Check a sweep and build its plan.

    ``${{search_space.x}}`` in the trial command becomes ``${{inputs.x}}``; each searched
    input is declared with the type its values have.

    Raises:
        InvalidInputError: a rule of ``check_sampling`` is broken, or the trial command refers
            to an input, output or search-space entry that does not exist.
    """
    check_sampling(search_space, sampling, early_termination)
    command = _SEARCH_REF.sub(lambda m: "${{inputs." + m.group(1) + "}}", trial.command)
    missing = sorted(set(_SEARCH_REF.findall(trial.command)) - set(search_space))
    if missing:
        raise InvalidInputError(
            f"the trial command refers to ${{{{search_space.{missing[0]}}}}}, which the search "
            "space does not define", field="trial.command", allowed=search_space.keys())
    inputs = dict(trial.inputs)
    for name, dist in search_space.items():
        old = inputs.get(name)
        if old is not None and old.is_data:
            raise InvalidInputError(f"input '{name}' is data ({old.type.value}); only literal "
                                    "inputs can be searched", field=f"search_space.{name}")
        inputs[name] = InputSpec(type=input_type(dist),
                                 description=old.description if old else None)
    refs = command_refs(command)
    for name in sorted(refs.required_inputs | refs.optional_inputs):
        if name not in inputs:
            raise InvalidInputError(
                f"the trial command refers to ${{{{inputs.{name}}}}}, which is neither an "
                "input nor in the search space", field="trial.command", allowed=inputs.keys())
    for name in sorted(refs.outputs - set(trial.outputs)):
        raise InvalidInputError(f"the trial command refers to ${{{{outputs.{name}}}}}, which is "
                                "not declared", field="trial.command", allowed=trial.outputs)
    return SweepPlan(trial_command=command, trial_inputs=inputs, search_space=dict(search_space),
                     objective=objective, sampling=sampling, limits=limits,
                     early_termination=early_termination)


def plan_argument(plan: SweepPlan) -> str:
    """The plan as one shell word; every ``$`` is JSON-escaped so no ``${{...}}`` is rendered."""
    text = json.dumps(plan.model_dump(mode="json", exclude_none=True), sort_keys=True)
    return shlex.quote(text.replace("$", "\\u0024"))


def driver_component(trial: ComponentSpec, plan: SweepPlan) -> ComponentSpec:
    """The component of a sweep step: the driver, in the trial's code folder and environment.

    Its inputs are the trial's fixed inputs (data ones ``direct``, so the driver passes the
    stored URI on to each trial) and its outputs are the trial's: the best trial's outputs
    are copied into them.
    """
    fixed = {
        name: (spec.model_copy(update={"mode": InputMode.DIRECT}) if spec.is_data else spec)
        for name, spec in trial.inputs.items() if name not in plan.search_space
    }
    return trial.model_copy(update={
        "command": f"python -m {DRIVER} --plan {plan_argument(plan)}",
        "inputs": fixed,
        "is_deterministic": False,
    })


def trial_component(driver: ComponentSpec, plan: SweepPlan) -> ComponentSpec:
    """The trial's component, rebuilt from a resolved driver component and its plan."""
    return driver.model_copy(update={
        "command": plan.trial_command,
        "inputs": plan.trial_inputs,
        "is_deterministic": True,
    })


def trial_name(sweep: str, number: int) -> str:
    """Azure's name for trial ``number`` of a sweep job: ``<sweep>_<number>``."""
    return f"{sweep}_{number}"
