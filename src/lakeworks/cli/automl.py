"""``lakeworks automl``: the Synapse "Train a new model" wizard as one command, and leaderboards.

Owns ``train`` (an AutoML job from a lake table or a CSV/Parquet file and a handful of
options, submitted, then followed live: a progress bar against the time budget and the
leaderboard so far, on a terminal; one line per trial otherwise) and ``leaderboard`` (the
trials of an AutoML job, best first). The SDK is imported inside commands, Rich inside
functions, for startup time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    console,
    emit_rows,
    info,
)
from lakeworks.errors import InvalidInputError, JobFailedError


def ranked(board: dict[str, Any]) -> list[dict[str, Any]]:
    from lakeworks.services.automl import ranked_trials  # for startup time

    return ranked_trials(board)

app = command_group(
    "AutoML: train regression and classification models on a lake table or a file.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks automl train --table bike_data --target rentals --task regression \\\n"
    "      --metric spearman_correlation --timeout 15m --max-concurrent 2 --onnx \\\n"
    "      --model-name rental-prediction-model\n"
    "  lakeworks automl train --file attrition.csv --target Attrition --task classification\n"
    "  lakeworks automl leaderboard <job>"
)

LEADERBOARD_COLUMNS = (
    Column("rank", "#", no_wrap=True), Column("name", "Model", no_wrap=True),
    Column("score", "Score"), Column("status", "Status"), Column("duration", "Seconds"),
    Column("number", "Trial"),
)
_TERMINAL = {"Completed", "Failed", "Canceled"}


@app.command(
    epilog="The job runs in the background; Ctrl-C stops following it (it keeps running: "
    "'lakeworks job cancel -n NAME' stops it). Durations: 90s, 15m, 0.25h."
)
def train(
    ctx: typer.Context,
    target: Annotated[str, typer.Option("--target", "-y", help="The column to predict.")],
    task: Annotated[str, typer.Option("--task", help="regression or classification.")],
    table: Annotated[str | None, typer.Option("--table", help="A lake table (NAME or "
                                              "DB.NAME).")] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="A CSV, Parquet or "
                                              "JSON-lines file instead of a table.")] = None,
    metric: Annotated[str | None, typer.Option(
        "--metric", help="Primary metric, e.g. spearman_correlation, AUC_weighted (default: "
        "accuracy / normalized_root_mean_squared_error).")] = None,
    timeout: Annotated[str, typer.Option("--timeout", help="Time budget: 90s, 15m, 0.25h.")] = "15m",
    trial_timeout: Annotated[str | None, typer.Option("--trial-timeout",
                                                      help="Budget per trial.")] = None,
    max_trials: Annotated[int | None, typer.Option("--max-trials", min=1)] = None,
    max_concurrent: Annotated[int, typer.Option("--max-concurrent", min=1,
                                                help="Trials at once.")] = 1,
    onnx: Annotated[bool, typer.Option("--onnx", help="Only ONNX-exportable models; the "
                                       "best is also saved as model.onnx.")] = False,
    cv: Annotated[int | None, typer.Option("--cv", min=2, help="Cross-validation folds "
                                           "(default: by data size).")] = None,
    exit_score: Annotated[float | None, typer.Option("--exit-score")] = None,
    allowed: Annotated[list[str] | None, typer.Option("--algorithm", metavar="NAME", help="Allow only these "
                                                      "(repeatable), e.g. LightGBM.")] = None,
    blocked: Annotated[list[str] | None, typer.Option("--block", metavar="NAME", help="Block an algorithm "
                                                      "(repeatable).")] = None,
    model_name: Annotated[str | None, typer.Option("--model-name", help="Register the best "
                                                   "model under this name.")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="Experiment "
                                                   "name.")] = None,
    compute: Annotated[str | None, typer.Option(
        "--compute", help="'spark' runs the trials as tasks on the workspace's Spark "
        "(spark_master / spark_remote settings) instead of local processes.")] = None,
    detach: Annotated[bool, typer.Option("--detach", help="Submit and return.")] = False,
) -> None:
    """Train models with AutoML and keep the best (the lab's "Train a new model" wizard)."""
    from lakeworks import automl
    from lakeworks.core.automl import parse_duration

    if (table is None) == (file is None):
        raise InvalidInputError("give exactly one of --table and --file", field="--table")
    data: Any = automl.table(table) if table else str(file.resolve())  # type: ignore[union-attr]
    builder = {"regression": automl.regression,
               "classification": automl.classification}.get(task.strip().lower())
    if builder is None:
        raise InvalidInputError(f"task {task!r} is not supported", field="--task",
                                allowed=["classification", "regression"])
    job = builder(training_data=data, target_column_name=target, primary_metric=metric,
                  n_cross_validations=cv, model_name=model_name,
                  experiment_name=experiment or "automl", compute=compute)
    job.set_limits(
        timeout_minutes=parse_duration(timeout, field="--timeout") / 60.0,
        trial_timeout_minutes=(parse_duration(trial_timeout, field="--trial-timeout") / 60.0
                               if trial_timeout else None),
        max_trials=max_trials, max_concurrent_trials=max_concurrent, exit_score=exit_score)
    job.set_training(enable_onnx_compatible_models=onnx or None,
                     allowed_training_algorithms=allowed or None,
                     blocked_training_algorithms=blocked or None)
    state = CliContext.of(ctx)
    submitted = state.client().jobs.create_or_update(job)
    info(f"Submitted AutoML job {submitted.name}")
    if detach:
        return
    follow(state, str(submitted.name))


def follow(state: CliContext, name: str) -> None:
    """Follow an AutoML job until it ends: live on a terminal, line by line otherwise."""
    from lakeworks.services.automl import read_leaderboard

    client, ws = state.client(), state.workspace()
    out = console()
    status = client.jobs.get(name).status
    if out.is_terminal:
        status = _follow_live(client, ws, name)
    else:
        seen = 0
        while True:
            board = read_leaderboard(ws, name) or {}
            for t in (board.get("trials") or [])[seen:]:
                score = "-" if t.get("score") is None else f"{t['score']:.5f}"
                out.print(f"trial {t['number']}: {t['algorithm']} {t['status']} "
                          f"{board.get('primary_metric')}={score}", markup=False,
                          highlight=False)
            seen = len(board.get("trials") or [])
            status = client.jobs.get(name).status
            if status in _TERMINAL:
                break
            time.sleep(0.5)
    board = read_leaderboard(ws, name) or {}
    _summary(board, name, status)


def _follow_live(client: Any, ws: Any, name: str) -> str:
    from rich.console import Group
    from rich.live import Live
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from lakeworks.cli.output import _table
    from lakeworks.services.automl import read_leaderboard

    bar = Progress(TextColumn("AutoML {task.fields[trials]} trials"), BarColumn(),
                   TimeElapsedColumn(), TextColumn("of {task.fields[budget]}"))
    task_id = bar.add_task("budget", total=None, trials=0, budget="?")
    status = "Running"
    with Live(bar, console=console(), refresh_per_second=4, transient=False) as live:
        while status not in _TERMINAL:
            board = read_leaderboard(ws, name) or {}
            budget = board.get("budget_seconds")
            elapsed = time.time() - float(board.get("started_at") or time.time())
            bar.update(task_id, total=budget, completed=min(elapsed, budget or elapsed),
                       trials=len(board.get("trials") or []),
                       budget=f"{budget:.0f}s" if budget else "no limit")
            rows = ranked(board)[:10]
            live.update(Group(bar, _table(rows, LEADERBOARD_COLUMNS, title="leaderboard"))
                        if rows else bar)
            status = client.jobs.get(name).status
            time.sleep(0.5)
    return status


def _summary(board: dict[str, Any], name: str, status: str) -> None:
    out = console()
    rows = ranked(board)
    if rows:
        emit_rows(rows[:15], LEADERBOARD_COLUMNS, OutputFormat.TABLE, title="leaderboard")
    if status != "Completed":
        raise JobFailedError(f"AutoML job {name} ended {status}: "
                             f"{board.get('error') or 'see lakeworks job stream -n ' + name}")
    best = board.get("best") or {}
    label = ", ".join(p for p in (best.get("preprocessor"), best.get("algorithm")) if p)
    out.print(f"Best: {label}  {board.get('primary_metric')} = {best.get('score'):.5f}  "
              f"(stopped: {board.get('stop_reason')})", markup=False, highlight=False)
    model = board.get("model") or {}
    if model.get("registered"):
        reg = model["registered"]
        out.print(f"Registered model {reg['name']}:{reg['version']}"
                  + (" (with model.onnx)" if model.get("onnx") else ""), markup=False,
                  highlight=False)


@app.command()
def leaderboard(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The AutoML job.")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """The trials of an AutoML job, best first, with their scores and durations."""
    from lakeworks.errors import NotFoundError
    from lakeworks.services.automl import read_leaderboard

    state = CliContext.of(ctx)
    state.client().jobs.get(name)  # a clear error for an unknown job
    board = read_leaderboard(state.workspace(), name)
    if board is None:
        raise NotFoundError(f"job {name} has no AutoML leaderboard (is it an AutoML job that "
                            "has started?)")
    emit_rows(ranked(board), LEADERBOARD_COLUMNS, output, title=f"{name}: "
              f"{board.get('primary_metric')}")
