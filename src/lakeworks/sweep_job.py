"""``python -m lakeworks.sweep_job``: what a sweep job's step runs.

A sweep (``command(...).sweep(...)``, ``type: sweep`` YAML, or a sweep node in a pipeline) is
one step whose command calls this module with its plan as JSON (see
``core.sweep.driver_component``). The step runs in the trial's code folder and environment;
its fixed inputs arrive as ``AZURE_ML_INPUT_<name>`` and its output folders as
``AZURE_ML_OUTPUT_<name>``. The driver submits the trials as command jobs of the same
workspace (``LAKEWORKS_WORKSPACE``), prints a line per finished trial and a leaderboard, copies
the best trial's outputs into the step's outputs, and exits 1 when no trial completed with the
primary metric. SIGTERM (the sweep being cancelled) cancels the running trials.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from lakeworks.core.sweep import SweepPlan, trial_component
from lakeworks.errors import LakeworksError
from lakeworks.services.sweep import SweepRun, fixed_inputs, own_component
from lakeworks.services.workspace import open_workspace


def main(argv: list[str] | None = None) -> int:
    """Run the sweep of this step; returns the exit code."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--plan", required=True, help="the sweep plan as JSON")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    plan = SweepPlan.model_validate_json(ns.plan)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    ws = open_workspace(Path(os.environ["LAKEWORKS_WORKSPACE"]))
    name = os.environ["LAKEWORKS_JOB_NAME"]
    try:
        run = SweepRun(ws, name, plan, echo=lambda line: print(line, flush=True),
                       parent_run_id=os.environ.get("MLFLOW_RUN_ID"))
        own = run.jobs.repo.get(name)
        trial = trial_component(own_component(own), plan)
        limits = plan.limits
        print(f"sweep {name}: {plan.sampling.type} sampling of "
              f"{', '.join(plan.search_space)}; objective {plan.objective.goal} "
              f"{plan.objective.primary_metric}; up to {limits.max_total_trials} trials, "
              f"{limits.concurrency} at once", flush=True)
        outcome = run.run(trial, fixed_inputs(plan, os.environ), own.experiment_name, stop)
        outputs = {n: Path(os.environ[f"AZURE_ML_OUTPUT_{n}"]) for n in trial.outputs
                   if f"AZURE_ML_OUTPUT_{n}" in os.environ}
        run.finish(outcome, outputs, os.environ.get("MLFLOW_RUN_ID"))
    except LakeworksError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    if stop.is_set():
        return 130
    best = outcome.best
    if best is None:
        print(f"error: no trial completed with metric '{plan.objective.primary_metric}' "
              f"({len(outcome.trials)} trials; stopped: {outcome.stop_reason}); each trial "
              "must log it with mlflow.log_metric", file=sys.stderr, flush=True)
        return 1
    print(f"best trial: {best.name} {plan.objective.primary_metric}={best.score} "
          f"({', '.join(f'{k}={v}' for k, v in best.values.items())}); "
          f"{len(outcome.trials)} trials, stopped: {outcome.stop_reason}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
