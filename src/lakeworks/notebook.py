"""IPython magics for a Lakeworks workspace: ``%%sql``, ``%%pyspark``, ``%lakeworks``, ``display``.

Owns the notebook habits of Synapse on a laptop: which workspace a kernel uses, one SQL
engine per kernel (tables made by earlier cells stay visible), binding Python values into SQL,
the Spark session of ``%%pyspark`` cells, and showing tables (HTML of the first rows with a
"(showing N of M rows)" note; text in a terminal). It must not run SQL or Spark itself: SQL
goes through ``ml_client.sql``, the session comes from ``lakeworks.spark.session``. IPython
is the ``notebook`` extra. Usage, after ``%load_ext lakeworks.notebook``::

    %lakeworks workspace ~/lab      # default: LAKEWORKS_WORKSPACE, else MLClient.from_config()
    %lakeworks tables               # the lake tables (%lakeworks stop: stop Spark)

    %%sql --out busy
    SELECT * FROM bike_data WHERE rentals > $threshold AND dteday >= :start

    %%pyspark --conf spark.sql.shuffle.partitions=4
    display(spark.table("bike_data").limit(10))

``%%sql`` options: ``-o/--out NAME`` (the result as a pandas DataFrame in ``NAME``),
``-p/--param NAME=VALUE`` (repeatable), ``-n/--limit N`` (rows shown, default 20),
``-q/--quiet``. The last result is always kept, as a ``pyarrow.Table``, in ``_sql``.

Parameters: a cell refers to a value as ``$name`` (or ``:name``/``@name``): the ``--param
name=VALUE`` text when given, else the notebook's Python variable ``name`` (names ignore
case). Values are *bound* by the engine, never pasted into the SQL text, so a string such as
``'; DROP TABLE t; --`` is only ever a value. Strings, numbers, booleans, dates, times,
decimals, bytes, None and lists of them bind. There is no ``{var}`` text substitution (in
DuckDB ``{...}`` is a struct literal, and pasting text is how injection happens), and the
magic line is taken literally (no ``$var`` expansion).

Lakeworks errors (a SQL error with its line and column, no workspace, Spark missing) end the
cell with their message alone, no traceback, so "Run all" stops there.
"""

# IPython's magic_arguments decorators and display() are untyped; the bodies are still checked.
# mypy: disable-error-code="no-untyped-call, untyped-decorator"

from __future__ import annotations

import html
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pyarrow as pa

import lakeworks.spark as lakeworks_spark
from lakeworks.client.ml_client import MLClient
from lakeworks.errors import InvalidInputError, LakeworksError, MissingDependencyError
from lakeworks.services import adapter_registry

try:
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
    from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
    from IPython.display import display as ipython_display
except ModuleNotFoundError as exc:  # IPython is the optional `notebook` extra
    raise MissingDependencyError("ipython", "notebook", "Notebook magics") from exc

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_ROWS", "LakeworksMagics", "TablePreview", "display",
           "load_ipython_extension", "unload_ipython_extension"]

#: rows shown by ``%%sql`` and ``display`` unless told otherwise
DEFAULT_ROWS: Final = 20
_CELL_WIDTH: Final = 40
# IPython renders an exception with this method, when it has one, instead of a traceback
_RENDER_HOOK: Final = "_render_traceback_"
_SCALARS = (str, int, float, bool, date, datetime, time, Decimal, bytes, type(None))
_COMMANDS: Final = {
    "workspace": "%lakeworks workspace [PATH]   pick the workspace (no PATH: show it)",
    "tables": "%lakeworks tables [DATABASE]  list the lake tables",
    "stop": "%lakeworks stop               stop the Spark session of %%pyspark cells",
}


# -- showing tables ------------------------------------------------------------------------


@dataclass(frozen=True)
class TablePreview:
    """The first rows of a table, shown as HTML in notebooks and as text in terminals.

    Attributes:
        columns: column names.
        rows: the rows shown.
        total: the table's row count (None when unknown, as for a Spark DataFrame).
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[object, ...], ...]
    total: int | None

    @classmethod
    def of(cls, data: object, limit: int = DEFAULT_ROWS) -> TablePreview | None:
        """A preview of an Arrow table, a pandas or a Spark DataFrame (None for others)."""
        if isinstance(data, pa.RecordBatch):
            data = pa.Table.from_batches([data])
        if isinstance(data, pa.Table):
            head = data.slice(0, limit).to_pylist()
            names = tuple(data.column_names)
            return cls(names, tuple(tuple(r.values()) for r in head), data.num_rows)
        if callable(getattr(data, "toPandas", None)) and callable(getattr(data, "limit", None)):
            frame = data.limit(limit).toPandas()  # type: ignore[attr-defined]
            return cls._of_pandas(frame, limit, total=None)
        if callable(getattr(data, "itertuples", None)) and hasattr(data, "columns"):
            return cls._of_pandas(data, limit, total=len(data))  # type: ignore[arg-type]
        return None

    @classmethod
    def _of_pandas(cls, frame: object, limit: int, *, total: int | None) -> TablePreview:
        head = frame.head(limit)  # type: ignore[attr-defined]
        rows = tuple(tuple(r) for r in head.itertuples(index=False, name=None))
        return cls(tuple(str(c) for c in head.columns), rows, total)

    def note(self) -> str:
        """``(showing 20 of 731 rows)``, ``(731 rows)``, or ``(first 20 rows)``."""
        shown = len(self.rows)
        if self.total is None:
            return f"(first {shown} rows)" if shown else "(no rows)"
        if shown < self.total:
            return f"(showing {shown} of {self.total} rows)"
        return f"({self.total} row{'' if self.total == 1 else 's'})"

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell(v, None))}</td>" for v in row) + "</tr>"
            for row in self.rows
        )
        return (f'<table class="lakeworks-table"><thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table><p><small>{html.escape(self.note())}</small></p>")

    def __repr__(self) -> str:
        cells = [[_cell(v) for v in row] for row in self.rows]
        widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(self.columns)]
        numeric = [all(isinstance(r[i], int | float | Decimal) for r in self.rows)
                   for i in range(len(self.columns))]

        def line(texts: Sequence[str]) -> str:
            padded = (t.rjust(w) if num else t.ljust(w)
                      for t, w, num in zip(texts, widths, numeric, strict=True))
            return " | ".join(padded).rstrip()

        rule = "-+-".join("-" * w for w in widths)
        return "\n".join([line(self.columns), rule, *map(line, cells), self.note()])


def _cell(value: object, width: int | None = _CELL_WIDTH) -> str:
    text = "NULL" if value is None else str(value).replace("\n", " ")
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


def display(*objs: object, limit: int = DEFAULT_ROWS, **kwargs: object) -> None:
    """Show tables as Synapse's ``display`` does; anything else as IPython shows it.

    Spark DataFrames show ``df.limit(limit).toPandas()``; Arrow tables and pandas frames show
    their first ``limit`` rows with the row count.

    Example:
        >>> display(spark.table("bike_data"), limit=10)  # doctest: +SKIP
    """
    for obj in objs:
        preview = TablePreview.of(obj, limit)
        ipython_display(preview if preview is not None else obj, **kwargs)


# -- errors in cells -----------------------------------------------------------------------


@contextmanager
def _short_errors() -> Iterator[None]:
    """Let Lakeworks errors end the cell showing their message only (no traceback)."""
    try:
        yield
    except LakeworksError as exc:
        lines = [f"{type(exc).__name__}: {exc}"]
        setattr(exc, _RENDER_HOOK, lambda: lines)
        raise


def _pairs(items: Sequence[str], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} expects KEY=VALUE, got {item!r}")
        pairs[key.strip()] = value
    return pairs


def _bindable(value: object) -> bool:
    if isinstance(value, list | tuple):
        return all(isinstance(v, _SCALARS) for v in value)
    return isinstance(value, _SCALARS)


# -- the magics ----------------------------------------------------------------------------


@magics_class
class LakeworksMagics(Magics):
    """The magics of one kernel: its workspace, SQL engine and Spark session."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.ip = shell
        self._client: MLClient | None = None
        self._spark: SparkSession | None = None
        self._spark_workspace: Path | None = None
        self._spark_state: tuple[object, ...] = ()

    # -- workspace -------------------------------------------------------------------------

    @property
    def client(self) -> MLClient:
        """The kernel's client: the chosen workspace, else ``LAKEWORKS_WORKSPACE``, else the
        nearest ``lakeworks.toml`` (or Azure ``config.json``) upward from the current folder."""
        if self._client is None:
            env = os.environ.get(lakeworks_spark.WORKSPACE_ENV)
            client = MLClient(workspace=Path(env)) if env else MLClient.from_config()
            client.workspace_path  # noqa: B018 - opens it: a bad folder fails here, once
            self._client = client
        return self._client

    def use_workspace(self, path: str | Path) -> MLClient:
        """Make ``path`` the kernel's workspace (closing the SQL engine of the previous one)."""
        client = MLClient(workspace=Path(path).expanduser().resolve())
        client.workspace_path  # noqa: B018 - raises NotFoundError for a folder without one
        self.close()
        self._client = client
        return client

    def close(self) -> None:
        """Close the SQL engine (a later cell opens it again)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- %%sql -----------------------------------------------------------------------------

    @no_var_expand
    @magic_arguments()
    @argument("-o", "--out", metavar="NAME", help="also keep the result in NAME (pandas)")
    @argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
              help="a value for $NAME (default: the Python variable NAME); repeatable")
    @argument("-n", "--limit", type=int, default=DEFAULT_ROWS, metavar="N",
              help=f"rows to show (default {DEFAULT_ROWS})")
    @argument("-q", "--quiet", action="store_true", help="show nothing")
    @cell_magic
    def sql(self, line: str, cell: str) -> None:
        """Run the cell on the workspace's SQL engine; the result is kept in ``_sql``.

        ``$name`` (or ``:name``/``@name``) is bound to ``--param name=VALUE`` or to the
        Python variable ``name``; values are never pasted into the SQL.
        """
        args = parse_argstring(self.sql, line)
        if args.out is not None and not args.out.isidentifier():
            raise UsageError(f"--out {args.out!r} is not a Python variable name")
        if args.limit < 0:
            raise UsageError("--limit must be 0 or more")
        given = _pairs(args.param, "--param")
        with _short_errors():
            result = self.client.sql(cell, self._parameters(cell, given))
        self.ip.user_ns["_sql"] = result
        if args.out is not None:
            self.ip.user_ns[args.out] = result.to_pandas()
        if not args.quiet and result.num_columns:
            ipython_display(TablePreview.of(result, args.limit))

    def _parameters(self, sql: str, given: Mapping[str, str]) -> dict[str, object]:
        """The values of the parameters ``sql`` uses: ``--param`` text, else Python variables."""
        ns, hidden = self.ip.user_ns, self.ip.user_ns_hidden
        variables: dict[str, str] = {}
        for name in ns:
            public = name.isidentifier() and not name.startswith("_") and name not in hidden
            if public and (name.lower() not in variables or name == name.lower()):
                variables[name.lower()] = name
        values: dict[str, object] = {k.lower(): v for k, v in given.items()}
        parser = adapter_registry.load("sql_parser")()
        statements = parser.split(sql, {*values, *variables})
        for name in sorted(set().union(*(s.parameters for s in statements)) - set(values)):
            if name not in variables:
                raise InvalidInputError(
                    f"the SQL uses ${name}, which is neither a Python variable nor given: "
                    f"set {name} = ... in a cell, or run %%sql --param {name}=VALUE"
                )
            value = ns[variables[name]]
            if not _bindable(value):
                raise InvalidInputError(
                    f"${name} is the Python variable '{variables[name]}', a "
                    f"{type(value).__name__}; only strings, numbers, booleans, dates, times, "
                    "decimals, bytes, None and lists of them can be SQL parameters"
                )
            values[name] = value
        return values

    # -- %%pyspark -------------------------------------------------------------------------

    @magic_arguments()
    @argument("-c", "--conf", action="append", default=[], metavar="KEY=VALUE",
              help="a Spark setting (at start, or set on the running session); repeatable")
    @cell_magic
    def pyspark(self, line: str, cell: str) -> None:
        """Run the cell as Python with ``spark`` bound to the workspace's Spark session."""
        args = parse_argstring(self.pyspark, line)
        conf = _pairs(args.conf, "--conf")
        with _short_errors():
            spark = self.spark_session(conf)
        self.ip.user_ns["spark"] = spark
        result = self.ip.run_cell(cell, store_history=False)
        if result.error_in_exec is not None:
            # the cell's own run showed the traceback; failing this cell too stops "Run all"
            setattr(result.error_in_exec, _RENDER_HOOK, list)
            raise result.error_in_exec
        if result.error_before_exec is not None:
            error = InvalidInputError("the %%pyspark cell could not run (see above)")
            setattr(error, _RENDER_HOOK, list)
            raise error

    def spark_session(self, conf: Mapping[str, str] | None = None) -> SparkSession:
        """The Spark session of this kernel's workspace, started on first use.

        A running session gets ``conf`` set on it and sees lake tables created meanwhile.
        """
        path = self.client.workspace_path
        spark, state = self._spark, self._lake_state()
        if spark is not None and self._spark_workspace == path and _alive(spark):
            for key, value in (conf or {}).items():
                spark.conf.set(key, value)
            if state != self._spark_state:  # rebinding costs seconds: only after changes
                lakeworks_spark.refresh(spark)
                self._spark_state = state
            return spark
        self.stop_spark()
        log.info("starting the Spark session of workspace %s", path)
        self._spark = lakeworks_spark.session(path, **dict(conf or {}))
        self._spark_workspace, self._spark_state = path, state
        return self._spark

    def _lake_state(self) -> tuple[object, ...]:
        """What Spark binds from the catalog: databases, tables, their records' times."""
        lake = self.client.lake
        return (tuple(d.name for d in lake.list_databases()),
                tuple((t.qualified_name, t.location, t.updated_at) for t in lake.list()))

    def stop_spark(self) -> bool:
        """Stop the Spark session the magics started; whether there was one."""
        spark, self._spark, self._spark_workspace = self._spark, None, None
        if spark is None or not _alive(spark):
            return False
        spark.stop()
        if self.ip.user_ns.get("spark") is spark:
            del self.ip.user_ns["spark"]
        return True

    # -- %lakeworks ------------------------------------------------------------------------

    @line_magic
    def lakeworks(self, line: str) -> None:
        """``%lakeworks workspace [PATH]``, ``%lakeworks tables [DATABASE]``, ``%lakeworks stop``."""
        command, _, rest = line.strip().partition(" ")
        rest = rest.strip().strip("'\"")
        if command not in _COMMANDS:
            usage = "\n".join(_COMMANDS.values())
            if command in ("", "help"):
                print(usage)
                return
            raise UsageError(f"unknown %lakeworks command {command!r}; use one of:\n{usage}")
        with _short_errors():
            if command == "workspace":
                self._workspace(rest)
            elif command == "tables":
                self._tables(rest or None)
            else:
                print("Spark session stopped." if self.stop_spark() else "No Spark session.")

    def _workspace(self, path: str) -> None:
        if path:
            client = self.use_workspace(path)
            if self._spark is not None and self._spark_workspace != client.workspace_path:
                self.stop_spark()
                print("Stopped the Spark session of the previous workspace.")
        else:
            client = self.client
        print(f"Lakeworks workspace '{client.workspace_name}' at {client.workspace_path}")

    def _tables(self, database: str | None) -> None:
        infos = self.client.lake.list(database)
        if not infos:
            print("No lake tables; load one with `lakeworks table load FILE --name NAME`, "
                  "ml_client.lake.load(...), or CREATE TABLE ... AS in %%sql.")
            return
        table = pa.table({
            "table": [i.qualified_name for i in infos],
            "columns": [len(i.columns) for i in infos],
            "version": [i.version for i in infos],
            "location": [i.location for i in infos],
        })
        ipython_display(TablePreview.of(table, limit=table.num_rows))


def _alive(spark: SparkSession) -> bool:
    from pyspark.sql import SparkSession  # present: a session exists

    return SparkSession.getActiveSession() is spark


# -- the extension -------------------------------------------------------------------------


def load_ipython_extension(ip: InteractiveShell) -> None:
    """Register the magics (``%load_ext lakeworks.notebook``) and ``display`` if absent."""
    unload_ipython_extension(ip)
    ip.register_magics(LakeworksMagics(ip))
    ip.user_ns.setdefault("display", display)


def unload_ipython_extension(ip: InteractiveShell) -> None:
    """Close the SQL engine of the magics (the Spark session keeps running)."""
    close = getattr(ip.magics_manager.registry.get(LakeworksMagics.__name__), "close", None)
    if callable(close):  # also the magics of this module before a %reload_ext
        close()

