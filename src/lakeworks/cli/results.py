"""Rendering query results (Arrow tables) for the CLI: a Rich table, CSV, JSON or Parquet.

Owns ``-o table|csv|json|parquet`` with ``--out FILE`` for query results: a readable table
capped at ``--max-rows`` rows (the count is always said), CSV and JSON on stdout or in a file,
and Parquet only into a file. pyarrow and Rich are imported when a result is shown, for
startup time.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakeworks.cli.output import cell, console, info
from lakeworks.errors import InvalidInputError

if TYPE_CHECKING:
    import pyarrow as pa


class ResultFormat(StrEnum):
    """What ``-o/--output`` accepts for query results."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


ResultOption = Annotated[
    ResultFormat,
    typer.Option(
        "--output", "-o", case_sensitive=False,
        help="table (readable), csv, json (an array of rows) or parquet (needs --out).",
    ),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Write the result to this file instead of the terminal."),
]
MaxRowsOption = Annotated[
    int, typer.Option("--max-rows", min=1, help="Rows shown by -o table (default 100).")
]
DEFAULT_MAX_ROWS = 100


def emit_result(
    table: pa.Table,
    fmt: ResultFormat = ResultFormat.TABLE,
    out: Path | None = None,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> None:
    """Print or write a query result in ``fmt``."""
    if fmt is ResultFormat.PARQUET:
        if out is None:
            raise InvalidInputError("-o parquet writes a binary file: add --out FILE.parquet")
        import pyarrow.parquet as pq  # imported here for startup time

        pq.write_table(table, out)
        info(f"Wrote {table.num_rows} row(s) to {out}")
        return
    if fmt is ResultFormat.CSV:
        _write_text(_csv(table), out, table.num_rows)
        return
    if fmt is ResultFormat.JSON:
        rows = table.to_pylist()
        _write_text(json.dumps(rows, indent=2, ensure_ascii=False, default=_json_value) + "\n",
                    out, table.num_rows)
        return
    if out is not None:
        raise InvalidInputError("--out needs -o csv, json or parquet")
    _print_table(table, max_rows)


def _write_text(text: str, out: Path | None, rows: int) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    info(f"Wrote {rows} row(s) to {out}")


def _csv(table: pa.Table) -> str:
    import pyarrow.csv as pcsv  # imported here for startup time

    buffer = io.BytesIO()
    pcsv.write_csv(table, buffer)
    return buffer.getvalue().decode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _print_table(table: pa.Table, max_rows: int) -> None:
    from rich.table import Table  # imported here for startup time
    from rich.text import Text

    if table.num_columns == 0:
        info("OK")
        return
    shown = table.slice(0, max_rows)
    view = Table(header_style="bold")
    for field in table.schema:
        numeric = str(field.type).startswith(("int", "uint", "float", "double", "decimal"))
        view.add_column(field.name, justify="right" if numeric else "left", overflow="fold")
    for row in shown.to_pylist():
        view.add_row(*(Text(_cell(v)) for v in row.values()))
    console().print(view)
    count = f"{table.num_rows} row" + ("" if table.num_rows == 1 else "s")
    if table.num_rows > max_rows:
        count += f" ({max_rows} shown; use --max-rows, or -o csv/json/parquet for all)"
    info(count)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, Decimal):
        return str(value)
    return cell(value)
