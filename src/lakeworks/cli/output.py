"""Rendering for the CLI: ``-o table|json|yaml``, Rich tables and panels, errors and spinners.

Owns how results reach the terminal: one record as a key/value panel (``show``), many as a
table (``list``), either as JSON or YAML for machines (dates in ISO 8601), error lines on
stderr, the spinner shown during long waits, and the plain (fast) help of each noun. It knows nothing of Lakeworks' entities: the
noun modules turn those into plain mappings first. Rich is imported inside the functions so
that ``lakeworks --help`` stays fast.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

# Width used when stdout is not a terminal (pipes, tests), so tables are not squeezed to 80.
_PIPE_WIDTH = 200


class OutputFormat(StrEnum):
    """What ``-o/--output`` accepts."""

    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


OutputOption = Annotated[
    OutputFormat,
    typer.Option(
        "--output",
        "-o",
        help="Output format: table (readable), json or yaml (machine-readable).",
        case_sensitive=False,
    ),
]


def command_group(help: str) -> typer.Typer:
    """A noun's Typer app. Help is plain Click text: Rich help imports Markdown support,
    which costs more than the rest of ``lakeworks --help`` together."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None)


@dataclass(frozen=True)
class Column:
    """A table column: the header and the key of the row mapping it shows."""

    key: str
    header: str
    no_wrap: bool = False


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data: ISO dates, strings for paths and enums, lists, dicts."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return plain(value.value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="json"))
    return str(value)


def console(*, stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr), wide enough when not a terminal."""
    from rich.console import Console  # imported here for startup time

    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, width=width)


def cell(value: Any) -> str:
    """Text for one table cell or panel value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, Mapping):
        return "\n".join(f"{k}: {_inline(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "\n".join(_inline(v) for v in value)
    return str(value)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(plain(value), ensure_ascii=False)
    return cell(value)


def duration(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (None unless both are known)."""
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def human_duration(seconds: float | None) -> str:
    """``4.2s``, ``3m 07s`` or ``2h 05m``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def _emit_machine(value: Any, fmt: OutputFormat) -> None:
    data = plain(value)
    if fmt is OutputFormat.JSON:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    import yaml  # imported here for startup time

    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip("\n"))


def emit_record(
    record: Mapping[str, Any],
    fmt: OutputFormat,
    *,
    title: str,
    tables: Mapping[str, Sequence[Column]] | None = None,
    hide: Sequence[str] = (),
) -> None:
    """Print one record: a key/value panel, or the whole record as JSON/YAML.

    Args:
        record: field name -> value; None and empty values are left out of the panel.
        fmt: the output format.
        title: the panel's title.
        tables: fields holding lists of rows, shown as tables under the panel with these
            columns (in JSON/YAML they stay inside the record).
        hide: fields left out of the panel (still in JSON/YAML).
    """
    if fmt is not OutputFormat.TABLE:
        _emit_machine(record, fmt)
        return
    from rich.panel import Panel  # imported here for startup time
    from rich.table import Table

    tables = tables or {}
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in record.items():
        if (
            key in tables
            or key in hide
            or value is None
            or value == {}
            or value == []
            or value == ""
        ):
            continue
        grid.add_row(key, cell(value))
    out = console()
    out.print(Panel(grid, title=title, title_align="left", expand=False))
    for key, columns in tables.items():
        rows = record.get(key) or []
        if rows:
            out.print(_table(rows, columns, title=key.replace("_", " ")))


def emit_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    fmt: OutputFormat,
    *,
    title: str | None = None,
    empty: str = "Nothing to show.",
) -> None:
    """Print rows: a table of ``columns``, or every field of every row as JSON/YAML."""
    if fmt is not OutputFormat.TABLE:
        _emit_machine(list(rows), fmt)
        return
    if not rows:
        info(empty)
        return
    console().print(_table(rows, columns, title=title))


def _table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, title: str | None
) -> Any:
    from rich.table import Table  # imported here for startup time

    table = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        table.add_column(col.header, no_wrap=col.no_wrap, overflow="fold")
    for row in rows:
        table.add_row(*(cell(row.get(col.key)) for col in columns))
    return table


def info(text: str) -> None:
    """A line for people (not meant for parsing) on stdout."""
    from rich.text import Text  # imported here for startup time

    console().print(Text(text), soft_wrap=True)


def error(text: str, *, hint: str | None = None) -> None:
    """``Error: <text>`` on stderr, red on a terminal, and an optional dim hint line."""
    from rich.text import Text  # imported here for startup time

    err = console(stderr=True)
    err.print(Text(f"Error: {text}", style="red"), soft_wrap=True)
    if hint:
        err.print(Text(hint, style="dim"), soft_wrap=True)


@contextmanager
def spinner(text: str) -> Iterator[None]:
    """A spinner on stderr while the block runs (only on a terminal).

    Lines written to stdout inside the block appear above the spinner.
    """
    err = console(stderr=True)
    if not err.is_terminal:
        yield
        return
    with err.status(text):
        yield


class _LinesAboveSpinner(io.TextIOBase):
    """A text stream printing whole lines through a console whose spinner stays below them."""

    def __init__(self, target: Console) -> None:
        self._console = target
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        from rich.text import Text  # imported here for startup time

        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            # soft_wrap: long lines (URLs) are not broken by inserted newlines.
            self._console.print(Text.from_ansi(line), soft_wrap=True)
        return len(text)

    def flush(self) -> None:
        return None


@contextmanager
def log_stream(text: str, *, to_stderr: bool = False) -> Iterator[TextIO]:
    """A stream for logs that grow slowly, with a spinner below them on a terminal.

    Elsewhere (pipes, files, tests) it is plain stdout (or stderr), without a spinner.
    """
    target = sys.stderr if to_stderr else sys.stdout
    err = console(stderr=True)
    if not (err.is_terminal and target.isatty()):
        yield target
        return
    with err.status(text):
        yield _LinesAboveSpinner(err)  # type: ignore[misc]
