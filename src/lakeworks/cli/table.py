"""``lakeworks table``: lake tables, Delta tables shared by Spark and SQL (Synapse's lake database).

Owns the command line of the lake database: ``load`` (a file or folder into a table, with a
progress bar on large loads and the inferred schema shown after), ``list``, ``show``,
``history``, ``drop``, and the databases (``create-database``, ``list-databases``,
``drop-database``). The SDK (``ml_client.lake``) is imported inside commands, for startup
time; Rich only inside functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
    emit_record,
    emit_rows,
    info,
)
from lakeworks.errors import InvalidInputError

app = command_group(
    "Lake tables: Delta tables shared by Spark and SQL, in lake databases ('default' unless "
    "--database). Databases: create-database, list-databases, drop-database."
)

_PROGRESS_FROM_BYTES = 8 << 20
NameArgument = Annotated[str, typer.Argument(help="The table: NAME or DATABASE.NAME.")]
DatabaseOption = Annotated[
    str | None, typer.Option("--database", "-d", help="The lake database (default: 'default').")
]
COLUMN_COLUMNS = (Column("name", "Column", no_wrap=True), Column("type", "Type"),
                  Column("nullable", "Nullable"))
TABLE_COLUMNS = (
    Column("database", "Database", no_wrap=True), Column("name", "Table", no_wrap=True),
    Column("version", "Version"), Column("columns", "Columns"),
    Column("updated_at", "Updated"), Column("location", "Location"),
)
HISTORY_COLUMNS = (
    Column("version", "Version", no_wrap=True), Column("timestamp", "Time"),
    Column("operation", "Operation"), Column("parameters", "Parameters"),
    Column("rows", "Rows added"),
)
REJECT_COLUMNS = (Column("line", "Line", no_wrap=True), Column("reason", "Reason"),
                  Column("text", "Row"))


def _lake(ctx: typer.Context) -> Any:
    return CliContext.of(ctx).client().lake


def table_view(table: Any) -> dict[str, Any]:
    """What ``table show`` prints of a ``TableInfo``."""
    return {
        "database": table.database,
        "name": table.name,
        "location": table.location,
        "version": table.version,
        "format": table.format,
        "managed": table.managed,
        "partition_by": ", ".join(table.partition_by),
        "description": table.description,
        "created_at": table.created_at,
        "updated_at": table.updated_at,
        "created_by": table.created_by,
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable}
                    for c in table.columns],
    }


def _for_terminal(view: dict[str, Any], output: OutputFormat) -> dict[str, Any]:
    """``view`` with types like ``date32[day]`` escaped, so Rich does not read them as markup."""
    if output is not OutputFormat.TABLE:
        return view
    columns = [{**c, "type": c["type"].replace("[", "\\[")} for c in view["columns"]]
    return {**view, "columns": columns}


def _size(source: str) -> int | None:
    path = Path(source).expanduser()
    if "://" in source or not path.exists():
        return None
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@contextmanager
def _progress_bar(source: str) -> Iterator[Callable[[int, int | None, int], None] | None]:
    """A progress callback drawing bytes read on stderr, for large loads on a terminal."""
    err = console(stderr=True)
    size = _size(source)
    if not err.is_terminal or (size is not None and size < _PROGRESS_FROM_BYTES):
        yield None
        return
    from rich.progress import (  # imported here for startup time
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn("Loading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TextColumn("{task.fields[rows]:,} rows"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("load", total=size, rows=0)

        def update(read: int, total: int | None, rows: int) -> None:
            bar.update(task, completed=read, total=total, rows=rows)

        yield update


def _column_types(values: list[str] | None) -> dict[str, str] | None:
    if not values:
        return None
    types: dict[str, str] = {}
    for value in values:
        name, sep, kind = value.partition("=")
        if not sep or not name.strip() or not kind.strip():
            raise InvalidInputError(f"--column-type {value!r} must look like NAME=TYPE, "
                                    "e.g. --column-type temp=double")
        types[name.strip()] = kind.strip()
    return types


@app.command(
    "load",
    short_help="Load a CSV, Parquet or JSON-lines file (or folder) into a table.",
    help="Load a CSV, Parquet or JSON-lines file, or a folder of them, into a lake table (a "
    "Delta table, one transaction) and show the inferred schema. FILE is a local path, a URL "
    "(s3://...) or azureml://datastores/<name>/paths/<path>. Types are inferred: integers "
    "int64, decimals double, YYYY-MM-DD dates date32, true/false bool, the rest string. "
    "Malformed rows fail the load with their line numbers unless --skip-bad-rows.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table load bike-rentals-daily.csv --name bike_data\n"
    "  lakeworks table load more.csv --name bike_data --mode append\n"
    "  lakeworks table load raw/ --name sales.orders --format json --skip-bad-rows\n"
    "  lakeworks table load data.tsv -n t --delimiter '\\t' --column-type price=double",
)
def load(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="File or folder to load.", show_default=False)],
    name: Annotated[str, typer.Option("--name", "-n", help="The table: NAME or DB.NAME.")],
    database: DatabaseOption = None,
    mode: Annotated[
        str, typer.Option("--mode", "-m", help="error (create; default), append, overwrite "
                          "or ignore.")
    ] = "error",
    format: Annotated[
        str | None, typer.Option("--format", "-f", help="csv, parquet or json (default: from "
                                 "the file extension).")
    ] = None,
    skip_bad_rows: Annotated[
        bool, typer.Option("--skip-bad-rows", help="Leave malformed rows out and report them.")
    ] = False,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV field delimiter (default ',').")
    ] = None,
    column_type: Annotated[
        list[str] | None,
        typer.Option("--column-type", metavar="NAME=TYPE",
                     help="A column's type instead of the inferred one (repeatable)."),
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    options: dict[str, Any] = {}
    if delimiter is not None:
        options["delimiter"] = "\t" if delimiter in ("\\t", "tab") else delimiter
    types = _column_types(column_type)
    if types:
        options["column_types"] = types
    source = file if "://" in file else str(Path(file).expanduser().resolve())
    with _progress_bar(source) as on_progress:
        result = _lake(ctx).load(source, name, database=database, format=format, mode=mode,
                                 skip_bad_rows=skip_bad_rows, on_progress=on_progress,
                                 **options)
    table = result.table
    rejects = [{"line": r.line, "reason": r.reason, "text": r.text} for r in result.rejects]
    if output is not OutputFormat.TABLE:
        emit_record({**table_view(table), "rows_written": result.rows_written,
                     "rejected": len(rejects), "rejects": rejects}, output, title="")
        return
    skipped = f"; {len(rejects)} malformed row(s) left out" if rejects else ""
    info(f"Loaded {result.rows_written:,} rows into {table.qualified_name} "
         f"(version {table.version}){skipped}.")
    emit_rows(_for_terminal(table_view(table), output)["columns"], COLUMN_COLUMNS, output,
              title="Schema")
    if rejects:
        shown = rejects[:10]
        more = f" (first 10 of {len(rejects)})" if len(rejects) > 10 else ""
        emit_rows(shown, REJECT_COLUMNS, output, title=f"Rows left out{more}")


@app.command(
    "list",
    help="List lake tables, of one database or of all.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table list\n"
    "  lakeworks table list --database sales -o json",
)
def list_(ctx: typer.Context, database: DatabaseOption = None,
          output: OutputOption = OutputFormat.TABLE) -> None:
    tables = _lake(ctx).list(database)
    rows = [table_view(t) for t in tables]
    if output is OutputFormat.TABLE:
        for row in rows:
            row["columns"] = len(row["columns"])
    emit_rows(rows, TABLE_COLUMNS, output, empty="No lake tables.")


@app.command(
    "show",
    help="Show a lake table: location, current version and columns with their types.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table show bike_data\n"
    "  lakeworks table show sales.orders -o json",
)
def show(ctx: typer.Context, name: NameArgument, database: DatabaseOption = None,
         output: OutputOption = OutputFormat.TABLE) -> None:
    table = _lake(ctx).get(name, database=database)
    emit_record(_for_terminal(table_view(table), output),
                output, title=f"lake table {table.qualified_name}",
                tables={"columns": COLUMN_COLUMNS})


def _history_row(entry: Any) -> Mapping[str, Any]:
    return {
        "version": entry.version, "timestamp": entry.timestamp, "operation": entry.operation,
        "parameters": dict(entry.parameters), "metrics": dict(entry.metrics),
        "rows": entry.metrics.get("num_added_rows",
                                  entry.metrics.get("num_target_rows_inserted")),
    }


@app.command(
    "history",
    help="Show a lake table's versions, newest first (read an older one with "
    "ml_client.lake.read(NAME, version=N)).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table history bike_data\n"
    "  lakeworks table history bike_data -o json",
)
def history(ctx: typer.Context, name: NameArgument, database: DatabaseOption = None,
            output: OutputOption = OutputFormat.TABLE) -> None:
    entries = _lake(ctx).history(name, database=database)
    emit_rows([dict(_history_row(e)) for e in entries], HISTORY_COLUMNS, output,
              empty="No versions.")


@app.command(
    "drop",
    help="Drop a lake table: remove it from the catalog and delete its files (a table "
    "registered from an external location keeps its files; --keep-files keeps them always).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table drop bike_data\n"
    "  lakeworks table drop sales.orders --yes",
)
def drop(
    ctx: typer.Context,
    name: NameArgument,
    database: DatabaseOption = None,
    keep_files: Annotated[bool, typer.Option("--keep-files", help="Keep the Delta files.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    lake = _lake(ctx)
    table = lake.get(name, database=database)  # a clear error for an unknown name first
    deletes = table.managed and not keep_files
    if not yes:
        what = "and delete its files" if deletes else "(its files are kept)"
        typer.confirm(f"Drop lake table {table.qualified_name} {what}?", abort=True)
    lake.drop(name, database=database, purge=not keep_files)
    info(f"Dropped lake table {table.qualified_name}.")


@app.command(
    "create-database",
    help="Create a lake database; its tables live in <warehouse>/<name>.db.\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table create-database sales\n"
    "  lakeworks table create-database sales --description 'Orders and customers'",
)
def create_database(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The database name.")],
    description: Annotated[str | None, typer.Option("--description", help="Free text.")] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    db = _lake(ctx).create_database(name, description=description)
    emit_record(_database_view(db), output, title=f"lake database {db.name}")


def _database_view(db: Any) -> dict[str, Any]:
    return {"name": db.name, "location": db.location, "description": db.description,
            "created_at": db.created_at}


@app.command(
    "list-databases",
    help="List lake databases ('default' always exists).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table list-databases",
)
def list_databases(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    rows = [_database_view(d) for d in _lake(ctx).list_databases()]
    emit_rows(rows, (Column("name", "Database", no_wrap=True), Column("location", "Location"),
                     Column("description", "Description")), output)


@app.command(
    "drop-database",
    help="Drop an empty lake database (drop its tables first).\n\n"
    "Examples:\n\n\b\n"
    "  lakeworks table drop-database sales",
)
def drop_database(ctx: typer.Context,
                  name: Annotated[str, typer.Argument(help="The database name.")]) -> None:
    _lake(ctx).drop_database(name)
    info(f"Dropped lake database {name}.")
