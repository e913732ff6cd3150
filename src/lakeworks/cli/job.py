"""``lakeworks job``: submit, validate, show, list, stream, cancel, resume and download jobs.

Owns the job noun (``az ml job``, plus ``resume``) and how a job is shown: its status, outputs,
metrics and params, for a pipeline its steps (status, reused-from, duration), and for a sweep
its trials (job, status, hyperparameters, objective). Submitting
and cancelling go through the SDK (``MLClient.jobs``); reading, streaming and downloading use
the job service, whose records carry step names. Both are imported inside commands, for
startup time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakeworks.cli.asset_verbs import SetOption, overrides
from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    duration,
    emit_record,
    emit_rows,
    error,
    human_duration,
    info,
    log_stream,
    spinner,
)
from lakeworks.errors import InvalidInputError

if TYPE_CHECKING:
    from lakeworks.core.jobs import JobRecord

app = command_group("Jobs: submit, follow, resume and download.")

JobName = Annotated[str, typer.Option("--name", "-n", help="Name of the job.")]
FileOption = Annotated[Path, typer.Option("--file", "-f", help="The job YAML file.")]

STEP_COLUMNS = (
    Column("step", "Step", no_wrap=True),
    Column("name", "Job", no_wrap=True),
    Column("status", "Status", no_wrap=True),
    Column("reused_from", "Reused from"),
    Column("duration", "Duration", no_wrap=True),
    Column("metrics", "Metrics"),
    Column("params", "Params"),
)
TRIAL_COLUMNS = (
    Column("name", "Trial job", no_wrap=True),
    Column("status", "Status", no_wrap=True),
    Column("hyperparameters", "Hyperparameters"),
    Column("objective", "Objective", no_wrap=True),
    Column("duration", "Duration", no_wrap=True),
)
LIST_COLUMNS = (
    Column("name", "Name", no_wrap=True),
    Column("display_name", "Display name"),
    Column("type", "Type"),
    Column("status", "Status"),
    Column("experiment_name", "Experiment"),
    Column("created_at", "Created"),
    Column("duration", "Duration"),
)


def step_view(record: JobRecord) -> dict[str, Any]:
    """One pipeline step (or child job) as a row."""
    seconds = duration(record.started_at, record.ended_at)
    return {
        "step": record.step,
        "name": record.name,
        "status": record.status.value,
        "reused_from": record.reused_from,
        "started_at": record.started_at,
        "ended_at": record.ended_at,
        "duration_seconds": seconds,
        "duration": human_duration(seconds),
        "metrics": dict(record.metrics),
        "params": dict(record.params),
        "outputs": dict(record.outputs),
        "error": record.error,
    }


def trial_view(record: JobRecord, hyperparameters: dict[str, str], metric: str) -> dict[str, Any]:
    """One trial of a sweep as a row: its job, status, sampled values and objective."""
    value = record.metrics.get(metric)
    seconds = duration(record.started_at, record.ended_at)
    return {
        "name": record.name,
        "status": record.status.value,
        "hyperparameters": hyperparameters,
        "objective": None if value is None else f"{metric}={value:.6g}",
        "duration": human_duration(seconds),
    }


def job_view(
    record: JobRecord, url: str | None, steps: list[JobRecord] | None = None
) -> dict[str, Any]:
    """What ``job show`` prints: the job's fields, results and (for a pipeline) its steps."""
    seconds = duration(record.started_at, record.ended_at)
    view: dict[str, Any] = {
        "name": record.name,
        "display_name": record.display_name,
        "type": record.type,
        "status": record.status.value,
        "experiment_name": record.experiment_name,
        "parent_job_name": record.parent,
        "step": record.step,
        "description": record.description,
        "tags": dict(record.tags),
        "created_at": record.created_at,
        "start_time": record.started_at,
        "end_time": record.ended_at,
        "duration": human_duration(seconds),
        "duration_seconds": seconds,
        "studio_url": url,
        "mlflow_run_id": record.mlflow_run_id,
        "reused_from": record.reused_from,
        "outputs": dict(record.outputs),
        "metrics": dict(record.metrics),
        "params": dict(record.params),
        "error": record.error,
    }
    if steps is not None:
        view["steps"] = [step_view(s) for s in steps]
    return view


def _show(ctx: typer.Context, name: str, output: OutputFormat) -> None:
    from lakeworks.services import sweep  # imported here for startup time
    from lakeworks.services.web import job_url

    state = CliContext.of(ctx)
    service = state.jobs()
    record = service.get(name)
    # cast: JobService.list shadows the builtin in its later annotations (reported).
    steps = service.steps(name) if record.type == "pipeline" else None
    view = job_view(record, job_url(state.workspace(), record), steps)
    if sweep.is_sweep(record):
        view["trials"] = [
            trial_view(t, sweep.hyperparameters(t), t.tags.get(sweep.METRIC_TAG, ""))
            for t in sweep.trials_of(service.repo, name)
        ]
    emit_record(
        view,
        output,
        title=f"{record.type} job {name}",
        tables={"steps": STEP_COLUMNS, "trials": TRIAL_COLUMNS},
        hide=("duration_seconds",),
    )


def _stream(ctx: typer.Context, name: str, output: OutputFormat) -> None:
    """Follow a job's logs to its end; exit 1 unless it Completed."""
    from lakeworks.services.web import job_url  # imported here for startup time

    state = CliContext.of(ctx)
    ws = state.workspace()
    # Logs go to stderr when stdout must stay machine-readable.
    try:
        with log_stream(
            f"Job {name} is running", to_stderr=output is not OutputFormat.TABLE
        ) as out:
            record = state.jobs().stream(name, out, web_view=lambda r: job_url(ws, r))
    except KeyboardInterrupt:
        info(
            f"Stopped following job '{name}'; it keeps running. Follow it again with "
            f"`lakeworks job stream -n {name}`, or stop it with `lakeworks job cancel -n {name}`."
        )
        raise typer.Exit(130) from None
    if record.status.value != "Completed":
        error(
            f"job '{name}' ended {record.status.value}"
            + (f": {record.error}" if record.error else "")
        )
        raise typer.Exit(1)


@app.command(
    "create",
    short_help="Submit a job from its YAML file.",
    help="Submit a job from its YAML file (command or pipeline). It runs in the background; "
    "with --stream the logs are followed to the end and the exit code is 1 if it failed.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job create --file pipeline.yml --stream\n"
    "  lakeworks job create -f job.yml --set inputs.learning_rate=0.1 --name my_run_1\n"
    "  lakeworks job create -f job.yml --experiment-name tuning -o json",
)
def create(
    ctx: typer.Context,
    file: FileOption,
    set_values: SetOption = None,
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Name of the job (default: generated).")
    ] = None,
    experiment_name: Annotated[
        str | None,
        typer.Option("--experiment-name", "-e", help="Experiment (default: from the file)."),
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the logs until the job ends.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    from lakeworks.client.loaders import load_job  # imported here for startup time

    state = CliContext.of(ctx)
    job = load_job(file, params_override=overrides(set_values, name=name))
    with spinner(f"Submitting {file}"):
        submitted = state.client().jobs.create_or_update(job, experiment_name=experiment_name)
    job_name = str(submitted.name)
    if stream:
        _stream(ctx, job_name, output)
    _show(ctx, job_name, output)


@app.command(
    "validate",
    short_help="Check a job YAML without running it.",
    help="Check a job YAML without running it: schema, bindings, the graph, and that every "
    "asset, file and environment it names exists.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job validate --file pipeline.yml\n"
    "  lakeworks job validate -f job.yml --set inputs.data=azureml:credit-card:1",
)
def validate(ctx: typer.Context, file: FileOption, set_values: SetOption = None) -> None:
    from lakeworks.client.loaders import load_job  # imported here for startup time

    job = load_job(file, params_override=overrides(set_values))
    problems = CliContext.of(ctx).client().jobs.validate(job)
    if problems:
        raise InvalidInputError("; ".join(problems))
    info(f"{file}: the job is valid.")


@app.command(
    "show",
    short_help="Show a job with its steps or trials, metrics and params.",
    help="Show a job: status, outputs, metrics, params and, for a pipeline, its steps; for a "
    "sweep, its trials.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job show --name coral_bell_shm9lpzkyl\n"
    "  lakeworks job show -n coral_bell_shm9lpzkyl -o json",
)
def show(ctx: typer.Context, name: JobName, output: OutputOption = OutputFormat.TABLE) -> None:
    _show(ctx, name, output)


@app.command(
    "list",
    help="List jobs, newest first (or the steps of a pipeline job).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job list\n"
    "  lakeworks job list --experiment e2e_registered_components --max-results 10\n"
    "  lakeworks job list --parent-job-name coral_bell_shm9lpzkyl",
)
def list_(
    ctx: typer.Context,
    parent_job_name: Annotated[
        str | None, typer.Option("--parent-job-name", "-p", help="List this pipeline's steps.")
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only jobs of this experiment.")
    ] = None,
    max_results: Annotated[
        int | None, typer.Option("--max-results", "-r", min=1, help="At most this many jobs.")
    ] = None,
    include_archived: Annotated[
        bool, typer.Option("--include-archived", help="Archived jobs too.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    records = (
        CliContext.of(ctx)
        .jobs()
        .list(
            parent=parent_job_name,
            experiment=experiment,
            include_archived=include_archived,
            limit=max_results,
        )
    )
    rows: list[Mapping[str, Any]] = [job_view(r, None) for r in records]
    columns: tuple[Column, ...] = LIST_COLUMNS
    if parent_job_name:
        columns = (Column("step", "Step", no_wrap=True), *LIST_COLUMNS)
    emit_rows(rows, columns, output, empty="No jobs.")


@app.command(
    "stream",
    short_help="Follow a job's logs until it ends.",
    help="Print a job's logs as they grow until it ends, then a summary; the exit code is "
    "1 if it did not complete.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job stream --name coral_bell_shm9lpzkyl",
)
def stream(ctx: typer.Context, name: JobName) -> None:
    _stream(ctx, name, OutputFormat.TABLE)


@app.command(
    "cancel",
    help="Cancel a running job; its running steps are stopped.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job cancel --name coral_bell_shm9lpzkyl",
)
def cancel(
    ctx: typer.Context,
    name: JobName,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for it to stop (0: do not wait).")
    ] = 60.0,
) -> None:
    state = CliContext.of(ctx)
    state.client().jobs.begin_cancel(name)
    with spinner(f"Cancelling job {name}"):
        # The service's wait also ends on NotResponding (a runner that died), unlike the poller.
        record = state.jobs().wait(name, timeout=wait)
    info(f"Job '{name}' is {record.status.value}.")


@app.command(
    "resume",
    short_help="Rerun a failed job, reusing finished steps.",
    help="Run a Failed, Canceled or NotResponding job again, reusing the steps that "
    "finished (a Lakeworks addition).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job resume --name coral_bell_shm9lpzkyl --stream",
)
def resume(
    ctx: typer.Context,
    name: JobName,
    stream: Annotated[
        bool, typer.Option("--stream", "-s", help="Follow the logs until the job ends.")
    ] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    CliContext.of(ctx).client().jobs.resume(name)
    if stream:
        _stream(ctx, name, output)
    _show(ctx, name, output)


@app.command(
    "download",
    short_help="Download a job's logs, artifacts or named outputs.",
    help="Download a job's logs and ./outputs to <download-path>/artifacts/, or a named "
    "output to <download-path>/named-outputs/<output-name>/ (--all: both).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job download --name coral_bell_shm9lpzkyl\n"
    "  lakeworks job download -n coral_bell_shm9lpzkyl --output-name model --download-path ./out",
)
def download(
    ctx: typer.Context,
    name: JobName,
    output_name: Annotated[
        str | None, typer.Option("--output-name", help="Only this named output.")
    ] = None,
    download_path: Annotated[
        Path, typer.Option("--download-path", "-p", help="Folder to write into.")
    ] = Path("."),
    all_: Annotated[
        bool, typer.Option("--all", help="Every named output as well as logs and artifacts.")
    ] = False,
) -> None:
    if output_name and all_:
        raise InvalidInputError("give --output-name or --all, not both")
    written = CliContext.of(ctx).jobs().download(
        name, download_path, output_name=output_name, all=all_
    )
    if not written:
        info(f"Job '{name}' has nothing to download yet.")
    for path in written:
        info(f"Downloaded {path}")


@app.command(
    "archive",
    help="Archive a job: hidden from job lists; nothing is deleted.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job archive --name coral_bell_shm9lpzkyl",
)
def archive(ctx: typer.Context, name: JobName) -> None:
    CliContext.of(ctx).client().jobs.archive(name)
    info(f"Archived job '{name}'.")


@app.command(
    "restore",
    help="Restore an archived job.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks job restore --name coral_bell_shm9lpzkyl",
)
def restore(ctx: typer.Context, name: JobName) -> None:
    CliContext.of(ctx).client().jobs.restore(name)
    info(f"Restored job '{name}'.")
