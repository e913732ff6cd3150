"""``lakeworks run list``: the run listing, jobs and their steps with metrics and params.

Owns the comparison view across runs: one row per job and per pipeline step, with one column
per metric (``metrics.<key>``) and per param (``params.<key>``) found among them, as MLflow's
``search_runs`` lays them out. It reads job records through the job service, imported inside
the command for startup time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    duration,
    emit_rows,
    human_duration,
)

if TYPE_CHECKING:
    from lakeworks.core.jobs import JobRecord

app = command_group("Runs side by side with their metrics and params.")

_BASE_COLUMNS = (
    Column("job", "Job", no_wrap=True),
    Column("step", "Step", no_wrap=True),
    Column("experiment_name", "Experiment"),
    Column("status", "Status"),
    Column("reused_from", "Reused from"),
    Column("duration", "Duration"),
)


def run_row(record: JobRecord) -> dict[str, Any]:
    """One job or step as a run: identity, status, timing, metrics and params."""
    seconds = duration(record.started_at, record.ended_at)
    return {
        "job": record.parent or record.name,
        "step": record.step,
        "name": record.name,
        "experiment_name": record.experiment_name,
        "status": record.status.value,
        "created_at": record.created_at,
        "reused_from": record.reused_from,
        "duration_seconds": seconds,
        "duration": human_duration(seconds),
        "mlflow_run_id": record.mlflow_run_id,
        "metrics": dict(record.metrics),
        "params": dict(record.params),
    }


def _flatten(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Column]]:
    """Rows with ``metrics.<k>``/``params.<k>`` keys, and a column for each key found."""
    metric_keys = sorted({k for row in rows for k in row["metrics"]})
    param_keys = sorted({k for row in rows for k in row["params"]})
    flat = []
    for row in rows:
        out = dict(row)
        out.update({f"metrics.{k}": v for k, v in row["metrics"].items()})
        out.update({f"params.{k}": v for k, v in row["params"].items()})
        flat.append(out)
    columns = [
        *_BASE_COLUMNS,
        *(Column(f"metrics.{k}", f"metrics.{k}") for k in metric_keys),
        *(Column(f"params.{k}", f"params.{k}") for k in param_keys),
    ]
    return flat, columns


@app.command(
    "list",
    short_help="List runs with a column per metric and param.",
    help="List runs, newest job first, each followed by its steps, with a column per metric "
    "and param.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks run list\n"
    "  lakeworks run list --experiment e2e_registered_components --max-results 5\n"
    "  lakeworks run list -o json",
)
def list_(
    ctx: typer.Context,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="Only runs of this experiment.")
    ] = None,
    max_results: Annotated[
        int | None,
        typer.Option("--max-results", "-r", min=1, help="At most this many jobs (with steps)."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    service = CliContext.of(ctx).jobs()
    rows: list[dict[str, Any]] = []
    for job in service.list(experiment=experiment, limit=max_results):
        rows.append(run_row(job))
        if job.type == "pipeline":
            # cast: JobService.list shadows the builtin in its later annotations (reported).
            steps = service.steps(job.name)
            rows.extend(run_row(step) for step in steps)
    if output is not OutputFormat.TABLE:
        emit_rows(rows, (), output)
        return
    flat, columns = _flatten(rows)
    emit_rows(flat, columns, output, empty="No runs.")
