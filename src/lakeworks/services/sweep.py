"""Running a sweep step: trials sampled, submitted as command jobs, watched, stopped, ranked.

Owns the sweep driver's loop (what ``python -m lakeworks.sweep_job`` runs inside a sweep
step): asking the sampler (role ``sweep_sampler``) for hyperparameters, submitting each trial as
an ordinary command job named ``<sweep>_<n>`` and tagged with the sweep, keeping at most
``max_concurrent_trials`` running, reading each running trial's primary metric history from
the tracking server and cancelling the trials the early termination policy rejects, honouring
``max_total_trials`` and ``timeout`` (``trial_timeout`` is each trial's step timeout), nesting
each trial's MLflow run under the sweep step's run, and at
the end copying the best completed trial's outputs into the sweep's own outputs and recording
the best trial, its score and hyperparameters on the sweep's MLflow run and job record. It
also reads a sweep's trials back for the CLI. The rules themselves are in ``core.sweep*``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from lakeworks.core.assets import ComponentSpec
from lakeworks.core.io import DataInput, InputMode, Literal_, coerce_literal
from lakeworks.core.jobs import COMMAND_STEP, JobRecord, JobSpec, JobStatus, StepSpec
from lakeworks.core.search_space import Scalar, dimension, value_of
from lakeworks.core.sweep import DRIVER, SweepPlan, best_of, trial_name
from lakeworks.core.sweep_policies import termination_reason
from lakeworks.errors import LakeworksError
from lakeworks.ports.metadata import JobRepo
from lakeworks.ports.sampling import Sampler
from lakeworks.services import adapter_registry
from lakeworks.services.jobs import JobService
from lakeworks.services.workspace import Workspace

SWEEP_TAG = "lakeworks.sweep_job"
TRIAL_TAG = "lakeworks.sweep_trial"
METRIC_TAG = "lakeworks.sweep_metric"
BEST_TAG = "best_child_run_id"
HP_VARIABLE = "AZUREML_SWEEP_"
PARENT_RUN_TAG = "mlflow.parentRunId"
_ENDED = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED,
                    JobStatus.NOT_RESPONDING})


@dataclass
class Trial:
    """One trial as the driver follows it."""

    number: int
    name: str
    values: dict[str, Scalar]
    status: str = JobStatus.QUEUED.value
    score: float | None = None
    history: list[float] = field(default_factory=list)
    evaluated: int = 0
    stopped: str | None = None
    seconds: float | None = None
    linked: bool = False  # its MLflow run is a child of the sweep's


@dataclass
class SweepOutcome:
    """What a sweep ended with."""

    trials: list[Trial]
    best: Trial | None
    stop_reason: str


def is_sweep(record: JobRecord) -> bool:
    """Whether a job (or pipeline step) is a sweep, whose trials ``trials_of`` lists."""
    if record.type == "sweep":
        return True
    component = record.spec.get("component") or {}
    return str(component.get("command", "")).startswith(f"python -m {DRIVER} ")


def trials_of(repo: JobRepo, sweep: str) -> list[JobRecord]:
    """The trial jobs of sweep job ``sweep``, in trial order."""
    found = [r for r in repo.list(include_archived=True) if r.tags.get(SWEEP_TAG) == sweep]
    return sorted(found, key=lambda r: int(r.tags.get(TRIAL_TAG, "0")))


def hyperparameters(record: JobRecord) -> dict[str, str]:
    """The sampled values of a trial job (its ``AZUREML_SWEEP_<name>`` variables)."""
    step = (record.spec.get("steps") or {}).get(COMMAND_STEP) or {}
    variables: dict[str, str] = step.get("environment_variables") or {}
    return {k.removeprefix(HP_VARIABLE): v for k, v in variables.items()
            if k.startswith(HP_VARIABLE)}


def own_component(record: JobRecord) -> ComponentSpec:
    """The resolved driver component of a sweep job or sweep step (code and environment)."""
    if "steps" in record.spec:
        return JobSpec.model_validate(record.spec).steps[COMMAND_STEP].component
    return StepSpec.model_validate(record.spec).component


def fixed_inputs(plan: SweepPlan, environ: Mapping[str, str]) -> dict[str, DataInput | Literal_]:
    """The trial inputs that are not searched, from the step's ``AZURE_ML_INPUT_<name>``.

    Data inputs reach the driver as stored URIs (``direct``) and go on with the trial's own
    declared type and mode; literals are read back as their declared type.
    """
    values: dict[str, DataInput | Literal_] = {}
    for name, spec in plan.trial_inputs.items():
        raw = environ.get(f"AZURE_ML_INPUT_{name}")
        if name in plan.search_space or raw is None:
            continue
        if spec.is_data:
            mode = None if spec.mode is InputMode.DIRECT else spec.mode
            values[name] = DataInput(type=spec.type, path=raw, mode=mode)
        else:
            values[name] = coerce_literal(spec, raw, where=f"inputs.{name}")
    return values


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


class SweepRun:
    """One sweep, driven from inside its step.

    Args:
        ws: the workspace.
        sweep: the sweep's job name (its step job name inside a pipeline).
        plan: the checked plan.
        echo: where leaderboard lines go (the step's log).
        poll: seconds between looks at the running trials.
        parent_run_id: the sweep step's MLflow run; each trial's run becomes its child
            (``mlflow.parentRunId``), so MLflow shows the trials nested under the sweep.
    """

    def __init__(self, ws: Workspace, sweep: str, plan: SweepPlan, *,
                 echo: Callable[[str], None] = print, poll: float = 0.5,
                 parent_run_id: str | None = None) -> None:
        self.ws = ws
        self.parent_run_id = parent_run_id
        self.sweep = sweep
        self.plan = plan
        self.echo = echo
        self.poll = poll
        self.jobs = JobService(ws)
        self.tracking = ws.tracking()
        dims = {name: dimension(dist) for name, dist in plan.search_space.items()}
        self.sampler: Sampler = adapter_registry.load("sweep_sampler")(
            dims, plan.sampling, plan.objective.goal
        )
        self.trials: list[Trial] = []
        self._first = 1 + max((int(r.tags.get(TRIAL_TAG, "0")) for r in trials_of(
            self.jobs.repo, sweep)), default=-1)

    # -- the loop -------------------------------------------------------------------------

    def run(self, trial: ComponentSpec, inputs: Mapping[str, DataInput | Literal_],
            experiment: str, stop: threading.Event) -> SweepOutcome:
        """Run trials until the limits, the grid or a stop request end the sweep."""
        limits = self.plan.limits
        deadline = time.monotonic() + limits.timeout
        running: dict[str, Trial] = {}
        exhausted = False
        reason = "max_total_trials reached"
        try:
            while True:
                if stop.is_set() or time.monotonic() > deadline:
                    reason = "canceled" if stop.is_set() else f"timeout of {limits.timeout} s"
                    self._cancel_all(running, wait=not stop.is_set())
                    break
                while (not exhausted and len(running) < limits.concurrency
                       and len(self.trials) < limits.max_total_trials):
                    asked = self.sampler.ask()
                    if asked is None:
                        exhausted, reason = True, "every grid combination ran"
                        break
                    started = self._submit(asked, trial, inputs, experiment)
                    if started.status not in {s.value for s in _ENDED}:
                        running[started.name] = started
                self._watch(running)
                if not running and (exhausted or len(self.trials) >= limits.max_total_trials):
                    break
                time.sleep(self.poll)
        except BaseException:  # the driver is failing: leave no trial running behind it
            self._cancel_all(running, wait=False)
            raise
        scored: dict[str, float] = {t.name: t.score for t in self.trials
                                    if t.status == JobStatus.COMPLETED.value and t.score is not None}
        best_name = best_of(self.plan.objective.goal, scored)
        best = next((t for t in self.trials if t.name == best_name), None)
        return SweepOutcome(self.trials, best, reason)

    def _submit(self, asked: tuple[int, dict[str, Scalar]], trial: ComponentSpec,
                inputs: Mapping[str, DataInput | Literal_], experiment: str) -> Trial:
        number, raw = asked
        values = {k: value_of(self.plan.search_space[k], v) for k, v in raw.items()}
        name = trial_name(self.sweep, self._first + number)
        spec = JobSpec(
            type="command",
            display_name=name,
            experiment_name=experiment,
            tags={SWEEP_TAG: self.sweep, TRIAL_TAG: str(self._first + number),
                  METRIC_TAG: self.plan.objective.primary_metric},
            steps={COMMAND_STEP: StepSpec(
                component=trial,
                inputs={**inputs, **values},
                environment_variables={f"{HP_VARIABLE}{k}": str(v) for k, v in values.items()},
                timeout_seconds=self.plan.limits.trial_timeout,
            )},
        )
        entry = Trial(number=number, name=name, values=values)
        self.trials.append(entry)
        try:
            self.jobs.submit(spec, name=name)
        except LakeworksError as exc:
            entry.status = JobStatus.FAILED.value
            self.sampler.tell(number, None)
            self.echo(f"trial {name} could not start: {exc}")
        return entry

    def _watch(self, running: dict[str, Trial]) -> None:
        metric = self.plan.objective.primary_metric
        policy = self.plan.early_termination
        for entry in list(running.values()):
            record = self.jobs.get(entry.name)
            entry.status = record.status.value
            if not entry.linked and record.mlflow_run_id and self.parent_run_id:
                self._link(entry, record.mlflow_run_id)
            if policy is not None and record.mlflow_run_id:
                try:
                    entry.history = self.tracking.metric_history(record.mlflow_run_id, metric)
                except LakeworksError as exc:  # judged on the next look instead
                    self.echo(f"could not read '{metric}' of trial {entry.name}: {exc}")
            if record.status in _ENDED:
                del running[entry.name]
                self._ended(entry, record)
        if policy is None:
            return
        histories = {t.name: t.history for t in self.trials if t.history}
        done = frozenset(t.name for t in self.trials if t.name not in running)
        for entry in running.values():
            if entry.stopped or entry.name not in histories:
                continue
            why, entry.evaluated = termination_reason(
                policy, self.plan.objective.goal, entry.name, histories,
                evaluated=entry.evaluated, finished=done)
            if why is not None:
                entry.stopped = why
                self.echo(f"stopping trial {entry.name} early: {why}")
                self.jobs.cancel(entry.name)

    def _link(self, entry: Trial, run_id: str) -> None:
        entry.linked = True
        try:
            self.tracking.log_batch(run_id, tags={PARENT_RUN_TAG: str(self.parent_run_id),
                                                  SWEEP_TAG: self.sweep})
        except LakeworksError as exc:  # the trial still counts; MLflow just shows it flat
            self.echo(f"could not nest trial {entry.name} under the sweep's run: {exc}")

    def _ended(self, entry: Trial, record: JobRecord) -> None:
        metric = self.plan.objective.primary_metric
        value = record.metrics.get(metric)
        if record.status is JobStatus.COMPLETED and value is not None and math.isfinite(value):
            entry.score = value
        if record.started_at and record.ended_at:
            entry.seconds = (record.ended_at - record.started_at).total_seconds()
        if entry.stopped:
            self.sampler.tell(entry.number, None, pruned=True)
        else:
            self.sampler.tell(entry.number, entry.score)
        note = ""
        if record.status is JobStatus.COMPLETED and entry.score is None:
            note = f"  (it logged no '{metric}' metric)"
        elif entry.stopped:
            note = "  (stopped early)"
        params = ", ".join(f"{k}={v}" for k, v in entry.values.items())
        secs = "-" if entry.seconds is None else f"{entry.seconds:.1f}s"
        self.echo(f"trial {entry.name:<28} {entry.status:<10} {metric}={_fmt(entry.score):<12}"
                  f" {secs:>7}  {params}{note}")

    def _cancel_all(self, running: dict[str, Trial], *, wait: bool) -> None:
        for entry in running.values():
            entry.stopped = entry.stopped or "the sweep stopped"
            try:
                self.jobs.cancel(entry.name)
            except LakeworksError as exc:
                self.echo(f"could not cancel trial {entry.name}: {exc}")
        deadline = time.monotonic() + (30.0 if wait else 0.0)
        while running and time.monotonic() < deadline:
            self._watch(running)
            time.sleep(self.poll)

    # -- the end --------------------------------------------------------------------------

    def finish(self, outcome: SweepOutcome, outputs: Mapping[str, Path],
               run_id: str | None) -> None:
        """Copy the best trial's outputs into ``outputs`` and record the best trial."""
        metric = self.plan.objective.primary_metric
        ranked = sorted((t for t in outcome.trials if t.score is not None),
                        key=lambda t: t.score or 0.0,
                        reverse=self.plan.objective.goal == "maximize")
        self.echo(f"leaderboard ({metric}, {self.plan.objective.goal}):")
        for rank, t in enumerate(ranked, 1):
            params = ", ".join(f"{k}={v}" for k, v in t.values.items())
            self.echo(f"  {rank:>3}. {t.name:<28} {_fmt(t.score):<12} {params}")
        best = outcome.best
        if best is None:
            return
        record = self.jobs.get(best.name)
        for name, dest in outputs.items():
            uri = record.outputs.get(name)
            if uri is None:
                continue
            located = self.jobs.assets.locate(uri)
            located.store.download(located.key, dest)
        if run_id is not None:
            self.tracking.log_batch(
                run_id,
                metrics={metric: best.score} if best.score is not None else {},
                params={k: str(v) for k, v in best.values.items()},
                tags={BEST_TAG: best.name},
            )
        own = self.jobs.repo.get(self.sweep)
        self.jobs.repo.update(self.sweep, {"tags": {
            **own.tags, BEST_TAG: best.name, "lakeworks.sweep_best_score": _fmt(best.score),
        }})
