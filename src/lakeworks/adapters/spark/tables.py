"""Lake tables in Spark's catalog, and writing a DataFrame as a lake table.

Owns two things Spark cannot do for a Python data source by itself:

* **Reading catalog tables.** Spark passes a Python data source no options when it scans a
  table of its catalog (not even the location), so each lake table gets its own provider,
  ``deltars.<db>.<table>``: a ``deltars`` class bound to that table's location
  (``datasource.bind``), and ``CREATE TABLE db.t (<columns>) USING `deltars.db.t` LOCATION
  '...'``. ``spark.table``, SQL, ``INSERT INTO`` and ``insertInto`` then reach the Delta table.
* **Saving a table** (``save_table``). For a new (managed) table or an overwrite, Spark hands
  the writer no location and no table name, so nothing inside Spark can place the files or
  name the table. ``save_table`` asks the ``TableCatalog`` given by the entry point where the
  table lives (its existing location, the ``path`` option, or the lake's managed location),
  writes it with the ``deltars`` source in one Delta transaction, records it in the lake
  catalog, and binds it in Spark. ``writers.py`` routes ``df.write.saveAsTable`` here.

It must not import services: the ``TableCatalog`` is how the lake catalog is reached.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from pyspark.sql import SparkSession
from pyspark.sql.types import ArrayType, DataType, MapType, StructType

from lakeworks.adapters.spark.datasource import (
    FORMAT,
    CommitHook,
    arrow_schema,
    bind,
    open_table,
    spark_schema,
)
from lakeworks.adapters.spark.storage import TableLocation, normalize_uri, storage_options
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

_MODES = {"error": "error", "errorifexists": "error", "default": "error", "append": "append",
          "overwrite": "overwrite", "ignore": "ignore"}


class SparkTable(NamedTuple):
    """A lake table as Spark sees it: database, name, location (path or URL) and options."""

    database: str
    name: str
    location: str
    options: Mapping[str, str] = {}

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    def table_location(self) -> TableLocation:
        uri = normalize_uri(self.location)
        return TableLocation(uri, storage_options(self.options, uri))


class TableCatalog(Protocol):
    """What ``saveAsTable`` needs from the lake catalog (given by ``lakeworks.spark``)."""

    def find(self, database: str, name: str) -> SparkTable | None:
        """The table if the lake catalog has it."""
        ...

    def managed(self, database: str, name: str) -> SparkTable:
        """Where a new managed table of that name goes."""
        ...

    def saved(self, table: SparkTable, *, created: bool) -> None:
        """Record a table Spark has just written (register it, or refresh its record)."""
        ...


_bound: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


def provider_name(database: str, name: str) -> str:
    return f"{FORMAT}.{database}.{name}".lower()


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote(ident: str) -> str:
    return "`" + ident.replace("`", "``") + "`"


def _bound_tables(spark: SparkSession) -> dict[str, str]:
    """The lake tables this session has bound: qualified name -> location."""
    bound = _bound.get(spark)
    if bound is None:
        bound = _bound[spark] = {}
    return bound


def register_databases(spark: SparkSession, names: Sequence[str]) -> None:
    """Make each lake database a Spark database (``CREATE DATABASE IF NOT EXISTS``)."""
    existing = {row.name.lower() for row in spark.catalog.listDatabases()}
    for name in names:
        if name.lower() not in existing:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {_quote(name)}")


def register_tables(
    spark: SparkSession,
    tables: Sequence[SparkTable],
    *,
    on_commit: CommitHook | None = None,
) -> list[str]:
    """Make each lake table readable and writable as ``db.name`` (and ``name`` in default).

    A table bound before whose schema changed is dropped and created again (its data is
    untouched: a table with a LOCATION is forgotten, not deleted, by Spark's DROP TABLE). A
    Spark table of the same name that Lakeworks did not bind is left alone, with a warning,
    and so are tables whose Delta log is missing. Returns the qualified names bound.
    """
    done: list[str] = []
    bound = _bound_tables(spark)
    databases = {row.name.lower() for row in spark.catalog.listDatabases()}
    listed: dict[str, set[str]] = {}
    for table in tables:
        location = table.table_location()
        try:
            schema = spark_schema(arrow_schema(open_table(location)))
        except NotFoundError:
            log.warning("lake table %s has no Delta table at %s; not visible in Spark",
                        table.qualified, location.uri)
            continue
        provider = provider_name(table.database, table.name)
        qualified = f"{_quote(table.database)}.{_quote(table.name)}"
        if table.database not in databases:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {_quote(table.database)}")
            databases.add(table.database)
        if table.database not in listed:
            listed[table.database] = {t.name.lower() for t in
                                      spark.catalog.listTables(table.database)
                                      if not t.isTemporary}
        exists = table.name in listed[table.database]
        if exists and table.qualified not in bound:
            log.warning("Spark already has a table %s that is not the lake table; the lake "
                        "table is not visible in this session", table.qualified)
            continue
        if bound.get(table.qualified) != location.uri:
            spark.dataSource.register(bind(provider, location, table=table.qualified,
                                           on_commit=on_commit))
            bound[table.qualified] = location.uri
        if exists:
            if spark.table(qualified).schema == schema:
                done.append(table.qualified)
                continue
            spark.sql(f"DROP TABLE {qualified}")
        # the schema is given, so Spark needs no Python worker to infer it
        spark.sql(f"CREATE TABLE {qualified} ({_ddl_columns(schema)}) USING {_quote(provider)} "
                  f"LOCATION {_sql_string(location.uri)}")
        done.append(table.qualified)
    return done


def _ddl_columns(schema: StructType) -> str:
    return ", ".join(f"{_quote(f.name)} {_ddl_type(f.dataType)}" for f in schema.fields)


def _ddl_type(dtype: DataType) -> str:
    if isinstance(dtype, StructType):
        fields = ", ".join(f"{_quote(f.name)}: {_ddl_type(f.dataType)}" for f in dtype.fields)
        return f"STRUCT<{fields}>"
    if isinstance(dtype, ArrayType):
        return f"ARRAY<{_ddl_type(dtype.elementType)}>"
    if isinstance(dtype, MapType):
        return f"MAP<{_ddl_type(dtype.keyType)}, {_ddl_type(dtype.valueType)}>"
    return dtype.simpleString()


def unregister_missing(spark: SparkSession, keep: set[str]) -> list[str]:
    """Forget the Spark tables bound to lake tables that the lake catalog no longer has."""
    bound = _bound_tables(spark)
    dropped = []
    for qualified in sorted(set(bound) - keep):
        database, name = qualified.split(".", 1)
        spark.sql(f"DROP TABLE IF EXISTS {_quote(database)}.{_quote(name)}")
        del bound[qualified]
        dropped.append(qualified)
    return dropped


def split_name(spark: SparkSession, name: str) -> tuple[str, str]:
    """``(database, table)`` of a Spark table name (``t``, ``db.t`` or ``spark_catalog.db.t``)."""
    parts = [p.strip().strip("`") for p in name.split(".")]
    if len(parts) == 3 and parts[0].lower() == "spark_catalog":
        parts = parts[1:]
    if len(parts) == 1:
        return spark.catalog.currentDatabase().lower(), parts[0].lower()
    if len(parts) == 2:
        return parts[0].lower(), parts[1].lower()
    raise InvalidInputError(f"table name {name!r} must be 'table' or 'database.table'")


def save_table(
    spark: SparkSession,
    writer: Any,
    name: str,
    *,
    mode: str | None,
    options: Mapping[str, str],
    partition_by: Sequence[str],
    catalog: TableCatalog,
    on_commit: CommitHook | None = None,
) -> SparkTable | None:
    """Write ``writer``'s DataFrame as lake table ``name`` (see the module docstring).

    Returns the table written, or None when ``mode="ignore"`` found it existing.

    Raises:
        ConflictError: the table exists and ``mode`` is ``error`` (Spark's default).
        InvalidInputError: an unknown mode, or a ``path`` other than the table's location.
    """
    how = _MODES.get((mode or "error").lower())
    if how is None:
        raise InvalidInputError(f"save mode {mode!r} is not valid", allowed=_MODES)
    database, table_name = split_name(spark, name)
    if not spark.catalog.databaseExists(database):
        raise NotFoundError(
            f"database '{database}' does not exist; create it first "
            f"(spark.sql('CREATE DATABASE {database}') or `lakeworks` lake databases)"
        )
    existing = catalog.find(database, table_name)
    spark_only = (f"{database}.{table_name}" not in _bound_tables(spark)
                  and spark.catalog.tableExists(f"{database}.{table_name}"))
    if (existing is not None or spark_only) and how in ("error", "ignore"):
        if how == "ignore":
            return None
        raise ConflictError(
            f"table {database}.{table_name} already exists; use mode('append') or "
            "mode('overwrite') to write to it"
        )
    if spark_only:
        if how != "overwrite":
            raise ConflictError(
                f"table {database}.{table_name} is a table of Spark's catalog that is not a lake "
                "table; overwrite it, drop it, or choose another name"
            )
        # Spark's own table of that name: an overwrite replaces it, as saveAsTable does
        spark.sql(f"DROP TABLE {_quote(database)}.{_quote(table_name)}")
    path = {k.lower(): v for k, v in options.items()}.get("path")
    extra = {k: v for k, v in options.items() if k.lower() != "path"}
    if existing is not None:
        if path and normalize_uri(path) != normalize_uri(existing.location):
            raise InvalidInputError(
                f"table {existing.qualified} lives at '{existing.location}', not at '{path}'"
            )
        target = existing
    elif path:
        target = SparkTable(database, table_name, path, extra)
    else:
        target = catalog.managed(database, table_name)
    created = existing is None
    out = writer.format(FORMAT).mode("overwrite" if how == "overwrite" else "append")
    out = out.options(**{**target.options, **extra}).option("path", target.location)
    if partition_by:
        out = out.option("partitionBy", ",".join(partition_by))
    if how == "overwrite":
        out = out.option("overwriteSchema", "true")
    out.save()
    catalog.saved(target, created=created)
    register_tables(spark, [target], on_commit=on_commit)
    return target
