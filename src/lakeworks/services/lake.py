"""The lake database: databases and Delta tables in the workspace catalog, shared by Spark and SQL.

Owns the use cases on lake tables: creating databases (``default`` exists implicitly), where a
managed table lives (Spark's layout: ``<warehouse>/<table>`` in ``default``,
``<warehouse>/<db>.db/<table>`` elsewhere, the warehouse being
``azureml://datastores/workspaceblobstore/paths/lake/warehouse``), writing and loading tables
(one Delta transaction each, then the catalog record: columns from the Delta schema,
``updated_at``), merging, reading with time travel, history, dropping, adopting a Delta table
written elsewhere (``register_external``, ``refresh``) and describing tables to the SQL engine.
The table format and file readers are adapters (roles ``table_store``, ``file_reader``); the
catalog is ``ws.metadata.catalog``. Delta handles concurrent writers; a catalog record is
derived from the table (never merged by hand), so concurrent updates of it lose nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lakeworks.core.lake import (
    DatabaseRecord,
    TableName,
    TableRecord,
    WriteMode,
    parse_table_name,
    validate_identifier,
)
from lakeworks.errors import (
    BackendError,
    ConflictError,
    NotFoundError,
)
from lakeworks.ports.catalog import CatalogRepo
from lakeworks.ports.lake import (
    FileReader,
    MergeResult,
    SqlTable,
    StorageLocation,
    TableStore,
    TableVersion,
)
from lakeworks.services import adapter_registry
from lakeworks.services.datastores import resolve_location
from lakeworks.services.lake_data import (
    PARTITIONS_KEY,
    Counted,
    LoadResult,
    ProgressCallback,
    TableData,
    columns_of,
    naming,
    schema_list,
    sql_table,
    to_arrow,
)
from lakeworks.services.lake_databases import (
    LakeDatabases,
    database_location,
    warehouse_datastore_uri,
)
from lakeworks.services.workspace import Workspace

log = logging.getLogger(__name__)

MANAGED = "managed"
NameLike = str | TableName

__all__ = ["LakeService", "LoadResult", "ProgressCallback", "TableData"]


def _now() -> datetime:
    return datetime.now(UTC)


def _exists(tn: TableName) -> ConflictError:
    return ConflictError(
        f"lake table {tn} already exists; write with mode 'append' to add rows or 'overwrite' "
        "to replace them (CLI: --mode append|overwrite), or drop it first"
    )


class LakeService:
    """Lake databases and tables of one workspace.

    Example:
        >>> lake = LakeService(ws)  # doctest: +SKIP
        >>> lake.load("bike_data", "bike-rentals-daily.csv").rows_written  # doctest: +SKIP
        731
        >>> lake.read("bike_data", version=0).num_rows  # doctest: +SKIP
        731
    """

    def __init__(self, ws: Workspace, *, store: TableStore | None = None) -> None:
        self.ws = ws
        self._store = store

    @property
    def store(self) -> TableStore:
        if self._store is None:
            self._store = adapter_registry.load("table_store")()
        return self._store

    @property
    def _catalog(self) -> CatalogRepo:
        return self.ws.metadata.catalog

    @property
    def databases(self) -> LakeDatabases:
        """The workspace's lake databases."""
        return LakeDatabases(self._catalog)

    # -- databases -----------------------------------------------------------------------

    def warehouse_uri(self) -> str:
        """The warehouse root as a storage URL (a local folder path, or ``s3://...``)."""
        return self.location(warehouse_datastore_uri()).url

    def create_database(self, name: str, description: str | None = None) -> DatabaseRecord:
        """Create a lake database (``ConflictError`` if it exists)."""
        return self.databases.create(name, description)

    def list_databases(self) -> list[DatabaseRecord]:
        """Databases sorted by name (``default`` included)."""
        return self.databases.list()

    def drop_database(self, name: str) -> None:
        """Remove an empty database (``StateError`` while it has tables; never ``default``)."""
        self.databases.drop(name)

    # -- tables: names and locations -----------------------------------------------------

    @staticmethod
    def _name(name: NameLike) -> TableName:
        return name if isinstance(name, TableName) else parse_table_name(name)

    def table(self, name: NameLike) -> TableRecord:
        """A table's catalog record.

        Raises:
            NotFoundError: no such table, naming the database's tables.
        """
        tn = self._name(name)
        return self._catalog.get_table(tn.database, tn.name)

    def _find(self, tn: TableName) -> TableRecord | None:
        try:
            return self.table(tn)
        except NotFoundError:
            return None

    def list_tables(self, database: str | None = None) -> list[TableRecord]:
        """Tables of one database (or of all), sorted by database and name."""
        db = validate_identifier(database, what="database name") if database else None
        if db is not None:
            self.databases.get(db)
        return self._catalog.list_tables(db)

    def managed_location(self, name: NameLike) -> str:
        """Where a managed table lives, as a datastore URI (Spark's warehouse layout)."""
        tn = self._name(name)
        return f"{database_location(tn.database)}/{tn.name}"

    def location(self, record_or_name: TableRecord | NameLike) -> StorageLocation:
        """The storage location of a table (by record or name) or of a location URI."""
        if isinstance(record_or_name, TableRecord):
            return resolve_location(self.ws, record_or_name.location)
        if isinstance(record_or_name, str) and (
            "://" in record_or_name or record_or_name.startswith(("/", ".", "~"))
        ):
            return resolve_location(self.ws, record_or_name)
        return resolve_location(self.ws, self.table(record_or_name).location)

    def is_managed(self, record: TableRecord) -> bool:
        """Whether the lake owns the table's files (dropping it deletes them)."""
        return record.properties.get(MANAGED) == "true"

    # -- tables: writing -----------------------------------------------------------------

    def _save(self, tn: TableName, location: StorageLocation, previous: TableRecord | None, *,
              uri: str, managed: bool, description: str | None,
              created_by: str | None) -> TableRecord:
        """Create or update the catalog record from the Delta table's current schema."""
        with naming(tn):
            schema = self.store.schema(location)
        now = _now()
        if previous is None:
            record = TableRecord(
                database=tn.database, name=tn.name, location=uri, columns=columns_of(schema),
                partition_by=tuple(schema_list(schema, PARTITIONS_KEY)), description=description,
                properties={MANAGED: "true" if managed else "false"},
                created_at=now, updated_at=now, created_by=created_by)
            try:
                self._catalog.put_table(record)
                return record
            except ConflictError:  # created by another writer meanwhile: update it
                previous = self.table(tn)
        update: dict[str, Any] = {
            "columns": columns_of(schema),
            "partition_by": tuple(schema_list(schema, PARTITIONS_KEY)),
            "updated_at": max(now, previous.updated_at),
        }
        if description is not None:
            update["description"] = description
        record = previous.model_copy(update=update)
        self._catalog.put_table(record, replace=True)
        return record

    def write(
        self,
        name: NameLike,
        data: TableData,
        mode: WriteMode | str = WriteMode.ERROR,
        *,
        partition_by: Sequence[str] = (),
        description: str | None = None,
        created_by: str | None = None,
    ) -> TableRecord:
        """Write ``data`` to a table in one Delta transaction; create it on the first write.

        Args:
            name: ``table`` (in ``default``) or ``db.table``.
            data: a pyarrow Table or RecordBatchReader, or a pandas DataFrame.
            mode: ``error`` (create only), ``append``, ``overwrite`` or ``ignore``.
            partition_by: partition columns of a new (or overwritten) table.

        Timestamps are stored as UTC microseconds: naive values are taken as UTC, zoned ones
        converted (see ``adapters/lake/schema.py`` for every type rule).

        Raises:
            ConflictError: mode ``error`` and the table exists.
            InvalidInputError: an append whose columns do not match (the table is unchanged).
            NotFoundError: the database does not exist.
        """
        tn, mode = self._name(name), WriteMode(mode)
        record = self._find(tn)
        if record is not None and mode is WriteMode.ERROR:
            raise _exists(tn)
        if record is not None and mode is WriteMode.IGNORE:
            return record
        if record is None:
            self.databases.get(tn.database)
        return self._write(tn, record, to_arrow(data), mode, partition_by=partition_by,
                           description=description, created_by=created_by)

    def _write(self, tn: TableName, record: TableRecord | None,
               data: pa.Table | pa.RecordBatchReader, mode: WriteMode, *,
               partition_by: Sequence[str], description: str | None,
               created_by: str | None) -> TableRecord:
        uri = record.location if record is not None else self.managed_location(tn)
        location = self.location(uri)
        with naming(tn):
            try:
                self.store.write(location, data, mode, partition_by=partition_by)
            except ConflictError:
                if record is not None or mode is not WriteMode.ERROR:
                    raise
                raise ConflictError(
                    f"lake table {tn} is not in the catalog, but a Delta table already exists "
                    f"at its location {uri} (kept by a drop without purge, or just written by "
                    "another writer); adopt it with "
                    "register_external, write with mode 'overwrite', or delete that folder"
                ) from None
        managed = self.is_managed(record) if record is not None else True
        return self._save(tn, location, record, uri=uri, managed=managed,
                          description=description, created_by=created_by)

    def load(
        self,
        name: NameLike,
        source: str,
        *,
        format: str | None = None,
        mode: WriteMode | str = WriteMode.ERROR,
        options: Mapping[str, Any] | None = None,
        skip_bad_rows: bool = False,
        on_progress: ProgressCallback | None = None,
        description: str | None = None,
        created_by: str | None = None,
    ) -> LoadResult:
        """Load a CSV, Parquet or JSON-lines file (or folder) into a table, streaming.

        Args:
            source: a local path, an fsspec URL or an ``azureml://datastores/...`` URI.
            format: ``csv``, ``parquet`` or ``json``; default: from the file extension.
            options: reader options (``delimiter``, ``column_types``, ...).
            skip_bad_rows: leave malformed CSV/JSON rows out and return them as rejects.
            on_progress: ``on_progress(bytes_read, total_bytes, rows_read)`` while loading.

        Raises:
            InvalidInputError: malformed rows (naming file and lines) unless skipped.
            ConflictError: mode ``error`` and the table exists.
        """
        tn, mode = self._name(name), WriteMode(mode)
        record = self._find(tn)
        if record is not None and mode is WriteMode.IGNORE:
            return LoadResult(record, 0, [])
        if record is not None and mode is WriteMode.ERROR:
            raise _exists(tn)
        if record is None:
            self.databases.get(tn.database)
        reader: FileReader = adapter_registry.load("file_reader")(on_progress=on_progress)
        result = reader.read(resolve_location(self.ws, source), format=format,
                             options=options, skip_bad_rows=skip_bad_rows)
        counted = Counted(result.data)
        record = self._write(tn, record, counted.reader(), mode, partition_by=(),
                             description=description, created_by=created_by)
        return LoadResult(record, counted.rows, list(result.rejects))

    def merge(self, name: NameLike, data: TableData, on: Sequence[str] | str) -> MergeResult:
        """Upsert ``data`` into a table on the key columns ``on`` (creating it if missing).

        Raises:
            InvalidInputError: a key missing from the table or the data, columns that do not
                match, or several data rows with one key.
        """
        tn = self._name(name)
        keys = [on] if isinstance(on, str) else list(on)
        table = to_arrow(data)
        if isinstance(table, pa.RecordBatchReader):
            table = table.read_all()
        record = self._find(tn)
        if record is None:
            record = self.write(tn, table, WriteMode.ERROR)
            return MergeResult(version=self.version(record), inserted=table.num_rows, updated=0)
        location = self.location(record)
        with naming(tn):
            result = self.store.merge(location, table, keys)
        self._save(tn, location, record, uri=record.location, managed=self.is_managed(record),
                   description=None, created_by=None)
        return result

    # -- tables: reading -----------------------------------------------------------------

    def read(
        self,
        name: NameLike,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """A table now, at a ``version``, or ``as_of`` a time (naive = local time)."""
        record = self.table(name)
        with naming(record.qualified):
            return self.store.read(self.location(record), version=version, as_of=as_of,
                                   columns=columns)

    def version(self, name: TableRecord | NameLike) -> int:
        """A table's current Delta version."""
        record = name if isinstance(name, TableRecord) else self.table(name)
        with naming(record.qualified):
            return self.store.version(self.location(record))

    def history(self, name: NameLike) -> list[TableVersion]:
        """A table's versions, newest first."""
        record = self.table(name)
        with naming(record.qualified):
            return self.store.history(self.location(record))

    # -- tables: catalog -----------------------------------------------------------------

    def drop(self, name: NameLike, *, purge: bool = True) -> None:
        """Remove a table from the catalog; with ``purge``, delete a managed table's files.

        An external table's files (``register_external``) are never deleted.
        """
        record = self.table(name)
        self._catalog.drop_table(record.database, record.name)
        if purge and self.is_managed(record):
            with naming(record.qualified):
                self.store.delete(self.location(record))

    def register_external(self, name: NameLike, location_uri: str, *,
                          description: str | None = None,
                          created_by: str | None = None) -> TableRecord:
        """Adopt an existing Delta table (one Spark wrote, say) under ``name``.

        A location that is the table's managed location makes a managed table. Registering
        the same location again refreshes the record.

        Raises:
            NotFoundError: no Delta table at ``location_uri``.
            ConflictError: ``name`` is registered with another location.
        """
        tn = self._name(name)
        self.databases.get(tn.database)
        managed_uri = self.managed_location(tn)
        managed_url = self.location(managed_uri).url
        given = location_uri.removeprefix("file://").rstrip("/")
        managed = location_uri in (managed_uri, managed_url) or given == managed_url.rstrip("/")
        uri = managed_uri if managed else location_uri
        location = self.location(uri)
        with naming(tn):
            if not self.store.exists(location):
                raise NotFoundError(f"no Delta table at '{location_uri}' (no _delta_log)")
        record = self._find(tn)
        if record is not None and record.location != uri:
            raise ConflictError(
                f"lake table {tn} already exists at '{record.location}'; drop it first or "
                "register the new location under another name"
            )
        return self._save(tn, location, record, uri=uri, managed=managed,
                          description=description, created_by=created_by)

    def refresh(self, name: NameLike) -> TableRecord:
        """Re-read a table's schema after a write from outside (Spark, another tool)."""
        record = self.table(name)
        return self._save(record.qualified, self.location(record), record,
                          uri=record.location, managed=self.is_managed(record),
                          description=None, created_by=None)

    def sql_tables(self, names: Sequence[NameLike] | None = None) -> list[SqlTable]:
        """How the SQL engine scans each table: live Parquet files (or a dataset) + schema.

        A table partitioned by folder, or using reader features such as deletion vectors,
        gets a pyarrow dataset instead of raw files. Without ``names`` every table is given,
        and one whose files vanished is left out with a warning; a named one raises.
        """
        records = (self.list_tables() if names is None
                   else [self.table(n) for n in names])
        tables: list[SqlTable] = []
        for record in records:
            try:
                tables.append(sql_table(self.store, record, self.location(record)))
            except (NotFoundError, BackendError) as exc:
                if names is not None:
                    raise
                log.warning("%s; it is left out of the SQL engine", exc)
        return tables
