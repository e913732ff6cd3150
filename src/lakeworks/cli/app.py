"""The ``lakeworks`` command: the root Typer app, its global options and error handling.

Owns the entry point (``main``), the global options (``--workspace/-w``, ``--debug``,
``--version``), registering one sub-app per noun (``lakeworks <noun> <verb>``, as ``az ml``),
and turning a ``LakeworksError`` (or an ``OSError``: a file that cannot be read or written)
into ``Error: <message>`` on stderr with exit code 2 for bad input (``InvalidInputError``,
``NotFoundError``) and 1 otherwise, with no traceback unless ``--debug``. At import it loads
only Typer, the standard library and the ``cli`` modules, so that ``lakeworks --help`` answers
at once; each command imports the SDK when it runs.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lakeworks.cli import (
    automl,
    component,
    config,
    data,
    datastore,
    endpoint,
    environment,
    job,
    model,
    quickstart,
    run,
    serve,
    server,
    sql,
    table,
    workspace,
)
from lakeworks.cli.context import CliContext
from lakeworks.cli.output import error
from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
)

USER_ERROR_EXIT = 2
FAILURE_EXIT = 1
_DEBUG_HINT = (
    "For more detail, run again with LAKEWORKS_LOG_LEVEL=DEBUG (and --debug for a traceback)."
)


def exit_code(exc: BaseException) -> int:
    """2 when the user's input is at fault (fix it and retry), 1 for every other failure."""
    return USER_ERROR_EXIT if isinstance(exc, InvalidInputError | NotFoundError) else FAILURE_EXIT


class LakeworksGroup(TyperGroup):
    """The root command group: reports Lakeworks errors as one line instead of a traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # Whoever read the output went away (``lakeworks job list | head``): stop quietly.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(FAILURE_EXIT) from None
        except (LakeworksError, OSError) as exc:
            state = ctx.obj if isinstance(ctx.obj, CliContext) else None
            if state is not None and state.debug:
                raise
            hint = _DEBUG_HINT if isinstance(exc, BackendError) else None
            error(str(exc), hint=hint)
            raise typer.Exit(exit_code(exc)) from None


app = typer.Typer(
    name="lakeworks",
    cls=LakeworksGroup,
    help="Lakeworks: Azure ML's workflow on your own machine (commands mirror `az ml`).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks workspace create ./my-ws && cd my-ws\n"
    "  lakeworks data create --name credit-card --version initial --type uri_file --path data.csv\n"
    "  lakeworks job create --file pipeline.yml --stream\n"
    "  lakeworks run list",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain Click help: Rich help is slow to import
    context_settings={"help_option_names": ["--help", "-h"]},
)

app.add_typer(workspace.app, name="workspace")
app.add_typer(data.app, name="data")
app.add_typer(environment.app, name="environment")
app.add_typer(component.app, name="component")
app.add_typer(model.app, name="model")
app.add_typer(job.app, name="job")
app.add_typer(run.app, name="run")
app.add_typer(server.app, name="server")
app.add_typer(datastore.app, name="datastore")
app.add_typer(table.app, name="table")
app.add_typer(sql.app, name="sql")
app.add_typer(automl.app, name="automl")
app.add_typer(endpoint.endpoint_app, name="online-endpoint")
app.add_typer(endpoint.deployment_app, name="online-deployment")
app.command("serve", help=serve.SERVE_HELP, short_help="Serve the online endpoints over HTTP.")(
    serve.serve
)
app.add_typer(config.app, name="config")
app.add_typer(quickstart.app, name="quickstart")


def _print_version(value: bool) -> None:
    if value:
        from lakeworks import __version__

        typer.echo(f"lakeworks {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace_option: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="LAKEWORKS_WORKSPACE",
            help="The workspace folder (default: the nearest one at or above the current folder).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks of errors.")] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Global options, read before any command."""
    state = CliContext(workspace_option=workspace_option, debug=debug)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    """The ``lakeworks`` console script."""
    app(prog_name="lakeworks")
