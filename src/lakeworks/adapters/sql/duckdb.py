"""The embedded DuckDB engine: catalog tables as views, bound parameters, errors with positions.

Owns one in-process DuckDB connection and what the catalog looks like inside it: one DuckDB
schema per lake database, ``default`` first on the search path (bare names resolve there,
then in ``main``), and one view per table. A view reads the Delta table's live Parquet files
with DuckDB's own reader (the fast path: as fast as DuckDB on the files); a pyarrow dataset
serves when files cannot (no file list, partition columns that live only in folder names, a
second set of credentials for one protocol). Python functions (``PREDICT``'s models) are
registered as Arrow functions: DuckDB calls them once per 2,048-row vector, on its own
threads. Remote files go through fsspec file systems
registered with DuckDB; DuckDB extensions are never installed or loaded. Because ``default``
is a reserved word in DuckDB's grammar, names used as databases are quoted in the statement
text (found by token positions; strings and comments are never touched). DuckDB's errors
become Lakeworks errors with the line, the column and a caret under the original text.
"""

from __future__ import annotations

import inspect
import itertools
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa

from lakeworks.adapters.sql.tokens import tokenize
from lakeworks.core.sql import excerpt
from lakeworks.errors import (
    BackendError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
    StateError,
)
from lakeworks.ports.lake import SqlTable

#: opens the fsspec file system of a URL with flat storage options: ``(fs, root path)``
FilesystemOpener = Callable[[str, Mapping[str, str]], tuple[Any, str]]

_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
_CONTEXT = re.compile(r"^(\d+): (.*)\n( *)(\^+)", re.DOTALL)
_LOCAL_PREFIX = "file://"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class _Registered:
    fingerprint: tuple[Any, ...]
    files: tuple[str, ...]
    arrow_name: str | None


def _default_opener(url: str, options: Mapping[str, str]) -> tuple[Any, str]:
    import fsspec  # imported here: only remote tables need it

    protocol = url.split("://", 1)[0].lower()
    kwargs: dict[str, Any] = dict(options)
    if protocol in ("s3", "s3a"):
        client = {"endpoint_url": kwargs.pop("endpoint_url", None),
                  "region_name": kwargs.pop("region", None)}
        client = {k: v for k, v in client.items() if v}
        if client:
            kwargs["client_kwargs"] = client
    fs = fsspec.filesystem(protocol, **kwargs)
    return fs, url.split("://", 1)[1]


class DuckDbEngine:
    """The ``SqlEngine`` port on an in-memory DuckDB connection.

    Args:
        open_filesystem: opens the fsspec file system for remote files (``s3://...``) from a
            table's flat storage options; a built-in opener (fsspec, s3fs) when None.
        threads: DuckDB worker threads; DuckDB's default (the CPU count) when None.

    Example:
        >>> engine = DuckDbEngine()
        >>> engine.query("SELECT $n + 1 AS m", {"n": 41}).to_pylist()
        [{'m': 42}]
        >>> engine.close()
    """

    def __init__(
        self, *, open_filesystem: FilesystemOpener | None = None, threads: int | None = None
    ) -> None:
        config: dict[str, Any] = dict(_CONFIG)
        if threads:
            config["threads"] = threads
        try:
            self._con = duckdb.connect(":memory:", config=config)
        except duckdb.Error as exc:
            raise BackendError(f"DuckDB could not start: {exc}") from exc
        # DuckDB 2 complains at exit about connections never closed: close it with the engine.
        self._closer = weakref.finalize(self, self._con.close)
        self._open_filesystem = open_filesystem or _default_opener
        self._tables: dict[tuple[str, str], _Registered] = {}
        self._schemas: set[str] = set()
        self._functions: set[str] = set()
        self._filesystems: dict[str, tuple[tuple[str, str], ...]] = {}
        self._ensure_schema("default")
        self._run("SET enable_progress_bar = false")
        self._run('SET search_path = \'"default",main\'')

    # -- tables --------------------------------------------------------------------------

    def register(self, tables: Sequence[SqlTable]) -> None:
        """Create or refresh the view of each table; unchanged tables cost nothing."""
        for table in tables:
            key = (table.database.lower(), table.name.lower())
            fingerprint = (
                table.files, tuple(sorted(table.options.items())),
                id(table.dataset) if table.dataset is not None else None,
                str(table.schema) if table.schema is not None else None,
            )
            known = self._tables.get(key)
            if known is not None and known.fingerprint == fingerprint:
                continue
            self._ensure_schema(key[0])
            self._tables[key] = self._create_view(key, table, fingerprint)

    def unregister(self, database: str, name: str) -> None:
        key = (database.lower(), name.lower())
        known = self._tables.pop(key, None)
        if known is None:
            return
        self._run(f"DROP VIEW IF EXISTS {_ident(key[0])}.{_ident(key[1])}")
        if known.arrow_name is not None:
            self._con.unregister(known.arrow_name)

    # -- functions -----------------------------------------------------------------------

    def register_function(
        self,
        name: str,
        function: Callable[[Sequence[pa.Array]], pa.Array],
        arg_types: Sequence[str],
        return_type: str,
    ) -> None:
        """Register ``function`` as the Arrow function ``name`` (replacing one of that name).

        DuckDB reads the parameter count from the Python signature (``*args`` is refused),
        so the wrapper is given one positional parameter per argument.
        """
        def call(*arrays: pa.Array) -> pa.Array:
            return function(arrays)

        call.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(f"arg{i}", inspect.Parameter.POSITIONAL_ONLY)
             for i in range(len(arg_types))])
        try:
            if name in self._functions:
                self._con.remove_function(name)
                self._functions.discard(name)
            # by their names, which DuckDB 1.x and 2.x both accept (the enums moved)
            options: dict[str, Any] = {"type": "arrow", "null_handling": "special",
                                       "side_effects": False}
            self._con.create_function(name, call, list(arg_types), return_type, **options)
        except duckdb.Error as exc:
            raise BackendError(f"DuckDB could not register function {name}: {exc}") from exc
        self._functions.add(name)

    def _ensure_schema(self, database: str) -> None:
        if database not in self._schemas:
            self._run(f"CREATE SCHEMA IF NOT EXISTS {_ident(database)}")
            self._schemas.add(database)

    def _create_view(
        self, key: tuple[str, str], table: SqlTable, fingerprint: tuple[Any, ...]
    ) -> _Registered:
        target = f"{_ident(key[0])}.{_ident(key[1])}"
        urls = [self._readable(url, table.options) for url in table.files]
        if table.files and all(u is not None for u in urls):
            files = ", ".join(_literal(u) for u in urls if u is not None)
            try:
                self._run(f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM read_parquet([{files}])")
            except duckdb.IOException as exc:
                raise self._missing_files(key, str(exc).partition("\n\nLINE ")[0]) from None
            if table.schema is None or self._covers(key, table.schema):
                return _Registered(fingerprint, tuple(u for u in urls if u), None)
        source: Any = table.dataset
        if source is None and not table.files and table.schema is not None:
            source = table.schema.empty_table()
        if source is None:
            raise BackendError(
                f"table {key[0]}.{key[1]} cannot be read by the SQL engine: its files do not "
                "hold every column (partitioned table) and no dataset was given"
            )
        arrow_name = f"__lakeworks__{key[0]}__{key[1]}"
        self._con.register(arrow_name, source)
        self._run(f"CREATE OR REPLACE VIEW {target} AS SELECT * FROM {_ident(arrow_name)}")
        return _Registered(fingerprint, (), arrow_name)

    def _covers(self, key: tuple[str, str], schema: pa.Schema) -> bool:
        """Whether the view over the files has every column of the table's schema."""
        rows = self._con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
            [key[0], key[1]],
        ).fetchall()
        have = {str(r[0]).lower() for r in rows}
        return all(name.lower() in have for name in schema.names)

    def _readable(self, url: str, options: Mapping[str, str]) -> str | None:
        """``url`` as DuckDB reads it, registering its file system; None if it cannot."""
        if url.startswith(_LOCAL_PREFIX):
            return url[len(_LOCAL_PREFIX):]
        if "://" not in url:
            return url
        protocol = url.split("://", 1)[0].lower()
        wanted = tuple(sorted((k, str(v)) for k, v in options.items()))
        taken = self._filesystems.get(protocol)
        if taken is None:
            fs, _ = self._open_filesystem(url, options)
            self._con.register_filesystem(fs)
            for name in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)):
                self._filesystems[str(name)] = wanted
            return url
        return url if taken == wanted else None

    # -- statements ----------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        sent, shifts = self._quote_databases(sql)
        try:
            relation = self._con.sql(sent, params=dict(params) if params else None)
            if relation is None:
                return pa.table({})
            result: pa.Table = relation.to_arrow_table()
            return result
        except duckdb.Error as exc:
            raise self._translate(exc, sql, sent, shifts, params) from None

    def _run(self, sql: str) -> None:
        try:
            self._con.execute(sql).fetchall()
        except duckdb.IOException:
            raise
        except duckdb.Error as exc:
            raise BackendError(f"DuckDB refused {sql[:200]!r}: {exc}") from exc

    def _quote_databases(self, sql: str) -> tuple[str, list[tuple[int, int]]]:
        """``sql`` with database names that are keywords quoted where followed by a dot.

        Returns the text and, per quoted name, its (line, column) in the original text.
        """
        try:
            tokens = tokenize(sql)
        except InvalidInputError:
            return sql, []  # DuckDB will report it with its own position
        edits = []
        for tok, nxt in itertools.pairwise(tokens):
            if (nxt.text == "." and tok.token_type.name not in ("VAR", "IDENTIFIER")
                    and tok.text.lower() in self._schemas and sql[tok.start] != '"'):
                edits.append(tok)
        if not edits:
            return sql, []
        out, last, shifts = [], 0, []
        for tok in edits:
            out.append(sql[last:tok.start])
            out.append(_ident(tok.text))
            last = tok.end + 1
            line = sql.count("\n", 0, tok.start) + 1
            col = tok.start - (sql.rfind("\n", 0, tok.start) + 1)
            shifts.append((line, col))
        out.append(sql[last:])
        return "".join(out), shifts

    # -- errors --------------------------------------------------------------------------

    def _translate(
        self,
        exc: duckdb.Error,
        original: str,
        sent: str,
        shifts: list[tuple[int, int]],
        params: Mapping[str, Any] | None,
    ) -> LakeworksError:
        message = str(exc)
        head, _, context = message.partition("\n\nLINE ")
        where = _locate(context, sent, shifts) if context else None
        if where is None and isinstance(exc, duckdb.BinderException | duckdb.CatalogException):
            where = self._bind_position(head, sent, shifts, params)
        if isinstance(exc, duckdb.IOException):
            for key, known in self._tables.items():
                if any(f in message for f in known.files):
                    return self._missing_files(key, head)
            return BackendError(f"{head}; check that the files exist and can be read")
        if isinstance(exc, duckdb.InterruptException):
            return StateError("the query was interrupted")
        if isinstance(exc, duckdb.OutOfMemoryException | duckdb.InternalException
                      | duckdb.FatalException):
            return BackendError(f"DuckDB failed: {head}")
        if where is None:
            return InvalidInputError(head)
        line, col, width = where
        return InvalidInputError(
            f"{head} (line {line}, column {col})\n\n{excerpt(original, line, col, width)}",
            line=line,
        )

    def _bind_position(
        self, head: str, sent: str, shifts: list[tuple[int, int]],
        params: Mapping[str, Any] | None,
    ) -> tuple[int, int, int] | None:
        """Where a bind error is: DuckDB's relation API drops the position, so bind the
        statement again under ``EXPLAIN`` (nothing runs) and read the position from there."""
        try:
            self._con.execute("EXPLAIN\n" + sent, dict(params) if params else None).fetchall()
        except duckdb.Error as again:
            head2, _, context = str(again).partition("\n\nLINE ")
            if head2 == head and context:
                return _locate(context, "\n" + sent, [(ln + 1, c) for ln, c in shifts], -1)
        return None

    def _missing_files(self, key: tuple[str, str], detail: str) -> NotFoundError:
        return NotFoundError(
            f"table {key[0]}.{key[1]}: its data files cannot be read ({detail.strip()}); they "
            "were changed or removed outside Lakeworks. Restore them, or drop and reload the "
            "table"
        )

    def close(self) -> None:
        self._closer()


def _locate(
    context: str, sent: str, shifts: list[tuple[int, int]], line_offset: int = 0
) -> tuple[int, int, int] | None:
    """(line, 1-based column, caret width) in the original text from DuckDB's ``LINE`` block
    (``line_offset`` is added to the line found)."""
    match = _CONTEXT.match(context)
    if match is None:
        return None
    line = int(match.group(1))
    snippet = match.group(2).split("\n", 1)[0]
    caret = len(match.group(3)) - len(f"LINE {line}: ")
    lead = 3 if snippet.startswith("...") else 0
    core = snippet[lead:]
    core = core[:-3] if core.endswith("...") else core
    lines = sent.split("\n")
    found = lines[line - 1].find(core) if 0 < line <= len(lines) else -1
    if found < 0:
        # Errors raised while running number lines from the statement's first non-blank
        # character; find the excerpt in the text instead.
        offset = sent.find(core)
        if offset < 0 or not core.strip():
            return None
        line = sent.count("\n", 0, offset) + 1
        found = offset - (sent.rfind("\n", 0, offset) + 1)
    col = found + caret - lead
    col -= 2 * sum(1 for ln, c in shifts if ln == line and c < col)
    return line + line_offset, col + 1, len(match.group(4))
