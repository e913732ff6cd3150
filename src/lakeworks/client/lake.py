"""``ml_client.lake``: lake databases and Delta tables (load, write, merge, read, history, drop).

Owns the SDK surface of the lake database: names given as ``table`` or ``db.table`` (or with
``database=``), modes as strings, results as ``TableInfo`` entities and Arrow tables. The
work is the lake service's (``services/lake.py``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from lakeworks.client.entities.lake import LakeDatabase, TableInfo, TableLoadResult
from lakeworks.core.lake import TableName, TableRecord, WriteMode, parse_table_name
from lakeworks.errors import InvalidInputError, LakeworksError
from lakeworks.ports.lake import MergeResult, TableVersion
from lakeworks.services.lake import LakeService, ProgressCallback, TableData
from lakeworks.services.workspace import Workspace as WorkspaceHandle


def _mode(mode: str | WriteMode) -> WriteMode:
    try:
        return WriteMode(str(mode).lower())
    except ValueError:
        raise InvalidInputError(f"mode {mode!r} is not valid", field="mode",
                                allowed=[m.value for m in WriteMode]) from None


def _moment(as_of: datetime | str | None) -> datetime | None:
    if as_of is None or isinstance(as_of, datetime):
        return as_of
    try:
        return datetime.fromisoformat(as_of)
    except ValueError:
        raise InvalidInputError(
            f"as_of {as_of!r} is not a time; use ISO 8601, e.g. 2024-05-01T12:00:00+00:00",
            field="as_of",
        ) from None


class LakeOperations:
    """Operation group of ``MLClient``: ``ml_client.lake``.

    Example:
        >>> ml_client.lake.load("bike-rentals-daily.csv", "bike_data")  # doctest: +SKIP
        >>> ml_client.lake.read("bike_data").to_pandas().shape  # doctest: +SKIP
        (731, 12)
        >>> ml_client.lake.read("bike_data", version=0)  # doctest: +SKIP
    """

    def __init__(self, ws: Callable[[], WorkspaceHandle]) -> None:
        self._ws = ws

    @property
    def _service(self) -> LakeService:
        return LakeService(self._ws())

    def _info(self, service: LakeService, record: TableRecord) -> TableInfo:
        try:
            version: int | None = service.version(record)
        except LakeworksError:
            version = None  # the table's files cannot be read; show the record anyway
        return TableInfo._from_record(record, version)

    # -- databases -----------------------------------------------------------------------

    def create_database(self, name: str, *, description: str | None = None) -> LakeDatabase:
        """Create a lake database (``ConflictError`` if it exists)."""
        return LakeDatabase._from_record(self._service.create_database(name, description))

    def list_databases(self) -> builtins.list[LakeDatabase]:
        """Lake databases, ``default`` included."""
        return [LakeDatabase._from_record(r) for r in self._service.list_databases()]

    def drop_database(self, name: str) -> None:
        """Remove an empty lake database."""
        self._service.drop_database(name)

    # -- tables --------------------------------------------------------------------------

    def get(self, name: str, *, database: str | None = None) -> TableInfo:
        """A lake table: location, columns, current version.

        Raises:
            NotFoundError: no such table (the database's tables are named).
        """
        service = self._service
        return self._info(service, service.table(parse_table_name(name, database=database)))

    def list(self, database: str | None = None) -> builtins.list[TableInfo]:
        """Lake tables of one database, or of all."""
        service = self._service
        return [self._info(service, r) for r in service.list_tables(database)]

    def load(
        self,
        source: str,
        name: str,
        *,
        database: str | None = None,
        format: str | None = None,
        mode: str | WriteMode = "error",
        skip_bad_rows: bool = False,
        on_progress: ProgressCallback | None = None,
        **options: Any,
    ) -> TableLoadResult:
        """Load a CSV, Parquet or JSON-lines file (or folder) into a lake table.

        Args:
            source: a local path, a URL (``s3://...``) or ``azureml://datastores/...``.
            name: the table (``table`` or ``db.table``).
            format: ``csv``, ``parquet`` or ``json``; default: from the extension.
            mode: ``error`` (create), ``append``, ``overwrite`` or ``ignore``.
            skip_bad_rows: leave malformed rows out (they are listed in ``rejects``).
            on_progress: ``on_progress(bytes_read, total_bytes, rows_read)``.
            **options: reader options: ``delimiter``, ``column_types={"c": "double"}``...

        Raises:
            InvalidInputError: malformed rows (with their line numbers) unless skipped.
            ConflictError: the table exists and ``mode`` is ``error``.
        """
        service = self._service
        result = service.load(
            parse_table_name(name, database=database), source, format=format,
            mode=_mode(mode), options=options or None, skip_bad_rows=skip_bad_rows,
            on_progress=on_progress,
        )
        return TableLoadResult(self._info(service, result.record), result.rows_written,
                               result.rejects)

    def write(
        self,
        data: TableData,
        name: str,
        *,
        mode: str | WriteMode = "error",
        database: str | None = None,
        partition_by: Sequence[str] | None = None,
        description: str | None = None,
    ) -> TableInfo:
        """Write a pandas DataFrame or Arrow table to a lake table (one Delta transaction).

        Timestamps are stored in UTC with microseconds (Delta's rule): naive values are taken
        as UTC, zoned ones converted to the same instant. Appended columns must match the
        table's (safe widening such as int32 into int64 is done).

        Raises:
            ConflictError: the table exists and ``mode`` is ``error``.
            InvalidInputError: an append whose columns do not match (the table is unchanged).
        """
        service = self._service
        record = service.write(parse_table_name(name, database=database), data, _mode(mode),
                               partition_by=tuple(partition_by or ()), description=description)
        return self._info(service, record)

    def merge(self, data: TableData, name: str, on: str | Sequence[str], *,
              database: str | None = None) -> MergeResult:
        """Upsert rows on the key column(s) ``on``: matching rows updated, others inserted."""
        return self._service.merge(parse_table_name(name, database=database), data, on)

    def read(
        self,
        name: str,
        *,
        version: int | None = None,
        as_of: datetime | str | None = None,
        database: str | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """A lake table as Arrow (``.to_pandas()``), now, at a version, or as of a time."""
        table: TableName = parse_table_name(name, database=database)
        return self._service.read(table, version=version, as_of=_moment(as_of),
                                  columns=columns)

    def history(self, name: str, *, database: str | None = None
                ) -> builtins.list[TableVersion]:
        """The table's versions, newest first."""
        return self._service.history(parse_table_name(name, database=database))

    def drop(self, name: str, *, database: str | None = None, purge: bool = True) -> None:
        """Remove a table; a managed table's files are deleted unless ``purge=False``."""
        self._service.drop(parse_table_name(name, database=database), purge=purge)
