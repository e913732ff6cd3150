"""``python -m lakeworks.automl_job``: what an AutoML job's step runs.

An AutoML job (``automl.regression(...)``, ``type: automl`` YAML, ``lakeworks automl train``)
is one step whose command calls this module with the checked settings as JSON, the training
data (a path the job engine resolved, or a lake table pinned as ``name@version``), optional
validation data, the ``best_model`` output folder and an optional model name. It prints a line
per trial (the job's log is the live leaderboard) and a summary at the end; the SDK and the
CLI read the structured leaderboard the service keeps beside the log.
"""

from __future__ import annotations

import argparse
import os
import sys
from functools import partial
from pathlib import Path
from typing import Any

from lakeworks.core.automl import automl_spec
from lakeworks.errors import LakeworksError
from lakeworks.services.automl import AutoMLRun, frame
from lakeworks.services.workspace import open_workspace


def _trial_line(trial: Any, metric: str) -> str:
    score = "-" if trial.score is None else f"{trial.score:.5f}"
    name = ", ".join(p for p in (trial.preprocessor, trial.algorithm) if p)
    extra = f"  ({trial.error})" if trial.error else ""
    return (f"trial {trial.number:>3}  {trial.status:<9} {metric}={score:<10} "
            f"{trial.duration_seconds:6.1f}s  {name}{extra}")


def main(argv: list[str] | None = None) -> int:
    """Run the AutoML search of one job; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m lakeworks.automl_job")
    parser.add_argument("--spec-json", required=True, help="the AutoML settings as JSON")
    parser.add_argument("--training-data", help="a file or folder with the training rows")
    parser.add_argument("--training-table", help="a lake table: name or name@version")
    parser.add_argument("--validation-data", help="a file or folder with validation rows")
    parser.add_argument("--validation-table", help="a lake table for validation")
    parser.add_argument("--best-model", required=True, help="the best_model output folder")
    parser.add_argument("--model-name", help="register the best model under this name")
    parser.add_argument("--trials-on", choices=("local", "spark"), default="local",
                        help="run trials as local processes or as tasks on the workspace's Spark")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)

    import json

    spec = automl_spec(json.loads(ns.spec_json))
    ws = open_workspace(Path(os.environ["LAKEWORKS_WORKSPACE"]))
    run = AutoMLRun(ws, os.environ.get("LAKEWORKS_JOB_NAME", "local"), spec)
    try:
        if ns.training_table:
            train = run.load_table(ns.training_table)
        elif ns.training_data:
            train = run.load_path(ns.training_data)
        else:
            parser.error("give --training-data or --training-table")
        validation = None
        if ns.validation_table:
            validation = frame(run.load_table(ns.validation_table))
        elif ns.validation_data:
            validation = frame(run.load_path(ns.validation_data))
        print(f"AutoML {spec.task.value} on {train.num_rows} rows x {train.num_columns} "
              f"columns; target '{spec.target_column_name}', primary metric "
              f"{spec.primary_metric}; budget "
              f"{'none' if spec.timeout_seconds is None else f'{spec.timeout_seconds:.0f} s'}",
              flush=True)
        spark = None
        if ns.trials_on == "spark":
            import lakeworks.spark

            print("trials run as Spark tasks on the workspace's Spark session", flush=True)
            spark = partial(lakeworks.spark.session, ws)
        outcome = run.run(frame(train), validation, Path(ns.best_model), ns.model_name,
                          echo=lambda t: print(_trial_line(t, spec.primary_metric), flush=True),
                          spark_session=spark)
    except LakeworksError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    best = outcome.best
    print(f"best: {', '.join(p for p in (best.preprocessor, best.algorithm) if p)} "
          f"{spec.primary_metric}={best.score:.5f} ({len(outcome.trials)} trials, stopped: "
          f"{outcome.stop_reason})", flush=True)
    model = run.board.get("model") or {}
    if model.get("registered"):
        reg = model["registered"]
        print(f"registered model {reg['name']}:{reg['version']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
