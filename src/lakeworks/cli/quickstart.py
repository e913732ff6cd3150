"""``lakeworks quickstart``: run the end-to-end demo on shipped data and show what it did.

Rendering only: the production-pipeline tutorial is ``lakeworks.tutorials.quickstart`` and the
Synapse lab that follows it (Spark tables, AutoML, PREDICT in SQL) is
``lakeworks.tutorials.synapse_lab_demo``; both are imported inside the command so that
``lakeworks --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Run the end-to-end demo on shipped data in a workspace folder (offline).",
    no_args_is_help=False,
    # a group with no subcommands: options may follow the path (quickstart ./demo --automl-...)
    context_settings={"allow_interspersed_args": True},
)


def _duration(job: Any) -> str:
    if job.start_time and job.end_time:
        return f"{(job.end_time - job.start_time).total_seconds():.1f}s"
    return "-"


def _steps_table(job: Any) -> Any:
    from rich.table import Table  # lazy, as every heavy import here: keeps --help fast

    table = Table(title=f"Pipeline job {job.name}: {job.status}", title_justify="left")
    for col in ("step", "job", "status", "duration", "reused from"):
        table.add_column(col)
    for step in getattr(job, "steps", []):
        table.add_row(
            step.display_name or "", step.name or "", step.status or "", _duration(step),
            step.reused_from or "",
        )
    return table


def _metrics_table(job: Any) -> Any:
    rows = [
        (step.display_name, key, value)
        for step in getattr(job, "steps", [])
        for key, value in sorted(step.metrics.items())
    ]
    if not rows:
        return None
    from rich.table import Table

    table = Table(title="Metrics (MLflow, in the workspace)", title_justify="left")
    table.add_column("step")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for step, key, value in rows:
        table.add_row(step or "", key, f"{value:.6g}")
    return table


def _predictions_table(lab: Any) -> Any:
    from rich.table import Table

    rows = lab.predictions.to_pylist()
    wanted = ("day", "weekday", "holiday", "workingday", "weathersit", "temp", "hum",
              "windspeed", lab.deployed.output_column)
    columns = [c for c in wanted if c in lab.predictions.column_names]
    table = Table(title=f"EXEC {lab.deployed.procedure}: predicted rentals for "
                  f"{len(rows)} forecast days (model {lab.deployed.id})", title_justify="left")
    for col in columns:
        table.add_column(col, justify="right" if col in ("temp", "hum", "windspeed",
                                                         lab.deployed.output_column) else "left")
    for row in rows:
        table.add_row(*(_cell(row[c], c == lab.deployed.output_column) for c in columns))
    return table


def _cell(value: Any, prediction: bool) -> str:
    """A prediction as whole rentals, other numbers with two decimals, dates as ISO days."""
    from datetime import date, datetime

    if isinstance(value, float):
        return f"{value:,.0f}" if prediction else f"{value:.2f}"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _show_lab(console: Any, lab: Any) -> None:
    """The lab's steps, one line each, then the prediction table."""
    console.print("\n[bold]Synapse lab[/bold] (bike rentals): Spark, AutoML, PREDICT in SQL")
    rows = lab.table_rows
    sizes = (f"bike_data ({rows.get('bike_data')} rows) and weather_forecast "
             f"({rows.get('weather_forecast')} days)")
    if lab.tables_loaded_by == "reused":
        console.print(f"Lake tables {sizes}: present, reused")
    else:
        console.print(f"Lake tables {sizes} made by {lab.tables_loaded_by}")
    m = lab.model
    if lab.automl_job is None:
        console.print(f"AutoML: reused registered model [bold]{m.name}[/bold] version "
                      f"[bold]{m.version}[/bold] (no new AutoML job)")
    else:
        console.print(f"AutoML job [cyan]{lab.automl_job}[/cyan] registered model "
                      f"[bold]{m.name}[/bold] version [bold]{m.version}[/bold] with model.onnx"
                      + (f"; best: {lab.best}" if lab.best else ""))
    d = lab.deployed
    state = "deployed now" if d.deployed else "already deployed (unchanged)"
    console.print(f"Model {d.id} in SQL table {d.models_table}: {state}; procedure "
                  f"[bold]{d.procedure}[/bold] scores {d.table}")
    console.print(_predictions_table(lab))
    for note in lab.notes:
        console.print(f"[dim]note: {note}[/dim]")


@app.callback(invoke_without_command=True)
def quickstart(
    path: Annotated[
        Path, typer.Argument(help="Workspace folder to create or reuse.")
    ] = Path("lakeworks-quickstart"),
    automl_timeout: Annotated[
        str, typer.Option("--automl-timeout", help="The lab's AutoML budget: 60s, 2m.")
    ] = "60s",
) -> None:
    """Create a workspace, register the credit-card data, run the production-pipeline
    tutorial (data prep, then training with MLflow tracking and model registration), then the
    Synapse lab: a Spark job saves the bike-rentals lake tables, AutoML trains
    rental-prediction-model, which is deployed to SQL and scores the 10-day weather forecast
    with EXEC predict_rentals, and finally to the online endpoint rentals-endpoint, which is
    called over HTTP with the same days (the endpoint keeps running: lakeworks serve --stop).

    Run it twice: the second run reuses the pipeline's steps, the tables and the registered
    model, and finishes in seconds.

    Examples:
        lakeworks quickstart
        lakeworks quickstart ./demo --automl-timeout 2m && cd demo && lakeworks job list
    """
    from rich.console import Console

    from lakeworks.core.automl import parse_duration

    budget = parse_duration(automl_timeout, field="--automl-timeout")

    from lakeworks.tutorials.quickstart import run_quickstart  # lazy: keeps --help fast

    console = Console()
    console.print(f"[bold]Lakeworks quickstart[/bold] in [cyan]{path.resolve()}[/cyan]")
    with console.status("submitting the production-pipeline tutorial...") as status:

        def progress(job: Any) -> None:
            states = ", ".join(
                f"{s.display_name}: {s.status}" for s in getattr(job, "steps", [])
            )
            status.update(f"job {job.name} {job.status} ({states})")

        result = run_quickstart(path, on_progress=progress)
    job = result.job
    console.print(_steps_table(job))
    metrics = _metrics_table(job)
    if metrics is not None:
        console.print(metrics)
    if job.status != "Completed":
        console.print(f"[red]The pipeline ended {job.status}:[/red] {job.error}")
        raise typer.Exit(1)
    if result.model is not None:
        m = result.model
        console.print(
            f"Registered model [bold]{m.name}[/bold] version [bold]{m.version}[/bold] "
            f"({m.type}), made by job [cyan]{m.job_name}[/cyan]"
        )
    for note in result.notes:
        console.print(f"[dim]note: {note}[/dim]")
    console.print(f"Pipeline finished in {result.seconds:.1f}s.")
    lab = _run_lab(console, path, budget)
    _show_lab(console, lab)
    console.print(f"Lab finished in {lab.seconds:.1f}s.")
    online = _run_endpoint(console, path, f"{lab.model.name}:{lab.model.version}")
    _show_endpoint(console, lab, online)
    if result.web_url:
        console.print(f"Web view (MLflow UI of this workspace): [link]{result.web_url}[/link]")
    console.print(
        "\nNext:\n"
        f"  cd {path}\n"
        f"  lakeworks job show -n {job.name}\n"
        "  lakeworks run list\n"
        "  lakeworks job create --file tutorial/pipeline.yml --stream   # the same pipeline in YAML\n"
        "  python tutorial/pipeline.py   # the tutorial as written (needs PyPI for its pip line)\n"
        "  lakeworks sql exec predict_rentals   # the lab's predictions, again\n"
        f"  lakeworks online-endpoint invoke -n {online.endpoint} --request-file "
        f"{online.request_file}\n"
        "  lakeworks sql \"SELECT season, avg(rentals) FROM bike_data GROUP BY season\""
    )


def _run_endpoint(console: Any, path: Path, model: str) -> Any:
    from lakeworks.tutorials.online_endpoint_demo import run_online_endpoint  # lazy

    with console.status(f"deploying {model} to an online endpoint..."):
        return run_online_endpoint(path, model)


def _show_endpoint(console: Any, lab: Any, online: Any) -> None:
    """The endpoint's answers beside the SQL procedure's, day by day."""
    from rich.table import Table

    state = "deployed now" if online.deployed_now else "already serving it (unchanged)"
    console.print(f"\n[bold]Online endpoint[/bold] [cyan]{online.endpoint}[/cyan] "
                  f"(deployment {online.deployment}, model {online.model}): {state}")
    console.print(f"Scoring URI {online.scoring_uri} (key auth); one call scored "
                  f"{len(online.predictions)} days in {online.call_ms:.1f} ms")
    by_day = {_cell(r.get("day"), False): r.get(lab.deployed.output_column)
              for r in lab.predictions.to_pylist()}
    table = Table(title="Predicted rentals, both ways", title_justify="left")
    table.add_column("day")
    table.add_column("online endpoint", justify="right")
    table.add_column(f"EXEC {lab.deployed.procedure}", justify="right")
    for day, value in zip(online.days, online.predictions, strict=True):
        sql = by_day.get(day[:10])
        table.add_row(day[:10], f"{value:,.0f}", "" if sql is None else f"{sql:,.0f}")
    console.print(table)


def _run_lab(console: Any, path: Path, budget: float) -> Any:
    from lakeworks.tutorials.synapse_lab_demo import run_synapse_lab  # lazy: keeps --help fast

    with console.status("the Synapse lab: lake tables...") as status:
        return run_synapse_lab(path, automl_seconds=budget, on_progress=status.update)
