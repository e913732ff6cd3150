"""``lakeworks sql``: SQL over the lake: queries, saved procedures, an interactive shell.

Owns the command line of the SQL engine: ``lakeworks sql "SELECT ..."`` (the same as
``lakeworks sql query "SELECT ..."``; the group routes a first word that is not a command to
``query``), ``lakeworks sql`` alone (the shell), ``lakeworks sql exec NAME --param k=v`` and
``lakeworks sql procedure create|list|show|drop`` and ``lakeworks sql deploy-model`` (a
registered model into a models table, and the wizard's scoring procedure). Values of ``--param`` that look like
numbers are passed as numbers. The SDK is imported inside commands, for startup time.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from lakeworks.cli.context import CliContext
from lakeworks.cli.output import (
    Column,
    OutputFormat,
    OutputOption,
    command_group,
    emit_record,
    emit_rows,
    info,
)
from lakeworks.cli.results import (
    DEFAULT_MAX_ROWS,
    MaxRowsOption,
    OutOption,
    ResultFormat,
    ResultOption,
    emit_result,
)
from lakeworks.errors import InvalidInputError

_INT = re.compile(r"^-?(0|[1-9][0-9]*)$")
_FLOAT = re.compile(r"^-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?$")

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", metavar="NAME=VALUE",
        help="A parameter value, bound (never pasted into the SQL); repeat for several.",
    ),
]


class SqlGroup(TyperGroup):
    """Routes ``lakeworks sql "SELECT 1"`` to ``query`` and ``lakeworks sql`` to ``shell``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args:
            args = ["shell"]
        elif args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["query", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=SqlGroup,
    help="SQL over the lake: queries, saved procedures, an interactive shell.\n\n"
    "Every lake table is visible as database.table, and tables of the 'default' database by "
    "bare name. CREATE TABLE ... AS SELECT and INSERT INTO on lake tables write Delta tables. "
    "'lakeworks sql \"SELECT ...\"' is short for 'lakeworks sql query \"SELECT ...\"'; "
    "'lakeworks sql' alone opens the shell.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql \"SELECT season, count(*) AS days FROM bike_data GROUP BY season\"\n"
    "  lakeworks sql \"SELECT * FROM bike_data WHERE cnt > $n\" --param n=5000 -o csv\n"
    "  lakeworks sql -f report.sql -o parquet --out report.parquet\n"
    "  lakeworks sql procedure create busy_days -f busy_days.sql\n"
    "  lakeworks sql exec busy_days --param n=6000\n"
    "  lakeworks sql deploy-model --model rental-model:1 --table weather_forecast "
    "--procedure predict_rentals\n"
    "  lakeworks sql",
    no_args_is_help=False,
    rich_markup_mode=None,
)
procedure_app = command_group("Saved, parameterised SQL procedures (CREATE PROCEDURE / EXEC).")
app.add_typer(procedure_app, name="procedure")


def parse_params(values: list[str] | None) -> dict[str, Any]:
    """``["n=5", "s=x"]`` as ``{"n": 5, "s": "x"}`` (integers and decimals become numbers)."""
    params: dict[str, Any] = {}
    for item in values or []:
        name, sep, text = item.partition("=")
        name = name.strip().lstrip("@$:")
        if not sep or not name:
            raise InvalidInputError(f"--param {item!r} must look like NAME=VALUE")
        if name.lower() in {k.lower() for k in params}:
            raise InvalidInputError(f"--param {name} is given twice")
        value: Any = text
        if _INT.match(text):
            value = int(text)
        elif _FLOAT.match(text):
            value = float(text)
        params[name] = value
    return params


def _sql(ctx: typer.Context) -> Any:
    return CliContext.of(ctx).client().sql


@app.command(
    "query",
    short_help="Run SQL and show the result (the default command).",
    help="Run one or more statements (separated by ';') and show the last result.\n\n"
    "Parameters are written $name (or @name, :name) and given with --param name=value.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql \"SELECT count(*) FROM default.bike_data\"\n"
    "  lakeworks sql query \"SELECT * FROM sales.orders WHERE day = $day\" --param day=2012-01-01\n"
    "  lakeworks sql \"CREATE OR REPLACE TABLE summer AS SELECT * FROM bike_data WHERE season = 3\"\n"
    "  lakeworks sql -f report.sql -o json --out report.json",
)
def query(
    ctx: typer.Context,
    sql: Annotated[str | None, typer.Argument(help="The SQL to run.", show_default=False)] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Run the SQL in this file.")
    ] = None,
    param: ParamOption = None,
    output: ResultOption = ResultFormat.TABLE,
    out: OutOption = None,
    max_rows: MaxRowsOption = DEFAULT_MAX_ROWS,
) -> None:
    if (sql is None) == (file is None):
        raise InvalidInputError("give the SQL as an argument or with --file, not both")
    params = parse_params(param)
    operations = _sql(ctx)
    result = operations.execute_file(file, params) if file else operations(sql, params)
    emit_result(result, output, out, max_rows)


@app.command(
    "exec",
    short_help="Run a saved procedure.",
    help="Run a saved procedure (EXEC of a SQL pool); values are converted to the declared "
    "types.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql exec busy_days --param n=6000\n"
    "  lakeworks sql exec score_rentals -o csv --out scores.csv",
)
def exec_(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The procedure.")],
    param: ParamOption = None,
    output: ResultOption = ResultFormat.TABLE,
    out: OutOption = None,
    max_rows: MaxRowsOption = DEFAULT_MAX_ROWS,
) -> None:
    result = _sql(ctx).exec(name, **parse_params(param))
    emit_result(result, output, out, max_rows)


@app.command(
    "deploy-model",
    short_help="Copy a registered model into a models table; optionally a scoring procedure.",
    help="Copy a registered model's ONNX bytes into a lake table of models (default 'models': "
    "id = name:version, name, version, model, description, created_at, sha256), as Synapse's "
    "'Predict with a model' wizard does; deploying a version already there changes nothing. "
    "With --table and --procedure, also save a procedure that scores the table with PREDICT "
    "(the model read from the models table; @model picks another row) and returns the "
    "table's columns plus the prediction; --materialize also writes that result to a lake "
    "table. Queries can then read the model with PREDICT(MODEL = (SELECT model FROM models "
    "WHERE id = 'name:version'), DATA = t AS d) WITH (variable FLOAT) AS p.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql deploy-model --model rental-prediction-model:1\n"
    "  lakeworks sql deploy-model --model rental-prediction-model --table weather_forecast "
    "--procedure predict_rentals --output-column predicted_rentals\n"
    "  lakeworks sql deploy-model --model rental-prediction-model --table weather_forecast "
    "--procedure predict_rentals --materialize rental_predictions\n"
    "  lakeworks sql exec predict_rentals",
)
def deploy_model(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", "-m", metavar="NAME[:VERSION]",
                                       help="The registered model (latest version without "
                                       ":VERSION).")],
    models_table: Annotated[str, typer.Option("--models-table",
                                              help="The lake table of models.")] = "models",
    table: Annotated[str | None, typer.Option(
        "--table", help="The lake table the procedure scores (with --procedure).")] = None,
    procedure: Annotated[str | None, typer.Option(
        "--procedure", help="Save a scoring procedure of this name (with --table).")] = None,
    output_column: Annotated[str | None, typer.Option(
        "--output-column", help="The prediction's column (default: the model output's "
        "name).")] = None,
    materialize: Annotated[str | None, typer.Option(
        "--materialize", metavar="TABLE",
        help="The procedure also overwrites this lake table with its result.")] = None,
    description: Annotated[str | None, typer.Option(
        "--description", "-d", help="The row's description (default: the model's).")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    done = _sql(ctx).deploy_model(
        model, models_table=models_table, table=table, procedure=procedure,
        output_column=output_column, materialize=materialize, description=description,
    )
    view = {
        "id": done.id, "models_table": done.models_table, "sha256": done.sha256,
        "deployed": "now" if done.deployed else "already there (unchanged)",
        "procedure": done.procedure, "table": done.table,
        "output_column": done.output_column, "materialize": done.materialize,
    }
    emit_record({k: v for k, v in view.items() if v is not None}, output,
                title=f"model {done.id}")
    if done.procedure and output is OutputFormat.TABLE:
        info(f"Run it with: lakeworks sql exec {done.procedure}")


@app.command(
    "shell",
    short_help="The interactive SQL shell (also: lakeworks sql with no query).",
    help="An interactive shell: statements end with ';', .tables lists the lake tables, "
    ".quit leaves. Lines read from a pipe run without prompts.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql\n"
    "  lakeworks sql shell < script.sql",
)
def shell(ctx: typer.Context, max_rows: MaxRowsOption = DEFAULT_MAX_ROWS) -> None:
    from lakeworks.cli.sql_shell import SqlShell  # imported here for startup time

    state = CliContext.of(ctx)
    history = state.workspace().state_dir / "sql_history"
    failures = SqlShell(state.client().sql, history=history, max_rows=max_rows).run()
    if failures and not sys.stdin.isatty():
        raise typer.Exit(1)


# -- procedures --------------------------------------------------------------------------

_PROC_COLUMNS = (
    Column("name", "Name", no_wrap=True),
    Column("parameters", "Parameters"),
    Column("description", "Description"),
    Column("updated_at", "Updated"),
)


def _procedure_view(record: Any) -> dict[str, Any]:
    return {
        "name": record.name,
        "parameters": [
            f"@{p.name} {p.type}" + (f" = {p.default!r}" if p.default is not None
                                     else (" = NULL" if p.optional else ""))
            for p in record.parameters
        ],
        "description": record.description,
        "sql": record.sql,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


@procedure_app.command(
    "create",
    short_help="Save a procedure from a .sql file.",
    help="Save a named procedure. The file holds either a T-SQL 'CREATE [OR ALTER] PROCEDURE "
    "name @p TYPE [= default], ... AS ...' or just the statements, whose parameters are "
    "then declared with --parameter.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks sql procedure create busy_days -f busy_days.sql\n"
    "  lakeworks sql procedure create busy_days --sql \"SELECT * FROM bike_data WHERE cnt > @n\" "
    "--parameter \"n INT = 5000\" --replace",
)
def procedure_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The procedure's name.")],
    file: Annotated[Path | None, typer.Option("--file", "-f", help="The .sql file.")] = None,
    sql: Annotated[str | None, typer.Option("--sql", help="The SQL, instead of a file.")] = None,
    parameter: Annotated[
        list[str] | None,
        typer.Option("--parameter", metavar="'NAME TYPE [= DEFAULT]'",
                     help="Declare a parameter of a bare body; repeat for several."),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="What it does.")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite one of that name.")] = False,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    params = [_declaration(text) for text in parameter or []]
    record = _sql(ctx).create_procedure(
        name, sql, file=file, parameters=params or None, description=description,
        replace=replace,
    )
    emit_record(_procedure_view(record), output, title=f"procedure {record.name}")


def _declaration(text: str) -> dict[str, Any]:
    """``"n INT = 5"`` as ``{"name": "n", "type": "INT", "default": "5"}``."""
    head, sep, default = text.partition("=")
    words = head.split(None, 1)
    if not words:
        raise InvalidInputError(f"--parameter {text!r} must look like 'NAME TYPE [= DEFAULT]'")
    spec: dict[str, Any] = {"name": words[0], "type": words[1] if len(words) > 1 else "VARCHAR"}
    value = default.strip()
    if sep and value.upper() == "NULL":
        spec["optional"] = True
    elif sep:
        spec["default"] = value[1:-1] if len(value) > 1 and value[0] == value[-1] == "'" else value
    return spec


@procedure_app.command(
    "list",
    short_help="List saved procedures.",
    help="List saved procedures with their parameters.\n\nExamples:\n\n\b\n"
    "  lakeworks sql procedure list\n  lakeworks sql procedure list -o json",
)
def procedure_list(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    records = _sql(ctx).list_procedures()
    emit_rows([_procedure_view(r) for r in records], _PROC_COLUMNS, output,
              empty="No procedures yet: lakeworks sql procedure create NAME -f FILE.sql")


@procedure_app.command(
    "show",
    short_help="Show a procedure's SQL and parameters.",
    help="Show a saved procedure.\n\nExamples:\n\n\b\n  lakeworks sql procedure show busy_days",
)
def procedure_show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The procedure.")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    record = _sql(ctx).get_procedure(name)
    emit_record(_procedure_view(record), output, title=f"procedure {record.name}")


@procedure_app.command(
    "drop",
    short_help="Delete a saved procedure.",
    help="Delete a saved procedure.\n\nExamples:\n\n\b\n  lakeworks sql procedure drop busy_days",
)
def procedure_drop(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The procedure.")]
) -> None:
    _sql(ctx).drop_procedure(name)
    info(f"Dropped procedure {name}")
