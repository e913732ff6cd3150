"""``lakeworks quickstart``: run the end-to-end demo on shipped data and show what it did.

Rendering only; the demo itself is ``lakeworks.tutorials.quickstart`` (imported inside the
command so that ``lakeworks --help`` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="Run the end-to-end demo on shipped data in a workspace folder (offline).",
    no_args_is_help=False,
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


@app.callback(invoke_without_command=True)
def quickstart(
    path: Annotated[
        Path, typer.Argument(help="Workspace folder to create or reuse.")
    ] = Path("lakeworks-quickstart"),
) -> None:
    """Create a workspace, register the credit-card data, run the production-pipeline
    tutorial (data prep, then training with MLflow tracking and model registration) and show
    the run, its metrics and the registered model.

    Run it twice: the second run reuses both unchanged steps and finishes in about a second.

    Examples:
        lakeworks quickstart
        lakeworks quickstart ./demo && cd demo && lakeworks job list
    """
    from rich.console import Console

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
    console.print(f"Finished in {result.seconds:.1f}s.")
    if result.web_url:
        console.print(f"Web view (MLflow UI of this workspace): [link]{result.web_url}[/link]")
    console.print(
        "\nNext:\n"
        f"  cd {path}\n"
        f"  lakeworks job show -n {job.name}\n"
        "  lakeworks run list\n"
        "  lakeworks job create --file tutorial/pipeline.yml --stream   # the same pipeline in YAML\n"
        "  python tutorial/pipeline.py   # the tutorial as written (needs PyPI for its pip line)"
    )
