"""Lake ports: the table format (Delta), file readers, and the SQL engine.

Locations are resolved ``StorageLocation`` values (an fsspec URL plus storage options), never
datastore names: resolving ``azureml://datastores/...`` is the datastore service's job.
Implementations must pass ``tests/contract/test_lake_contract.py`` (local folder and S3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.dataset as pads

from lakeworks.core.lake import WriteMode


@dataclass(frozen=True)
class StorageLocation:
    """Where a table lives: an fsspec-style URL and the options to reach it."""

    url: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableVersion:
    """One entry of a table's history."""

    version: int
    timestamp: datetime
    operation: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MergeResult:
    """What a merge (upsert) did."""

    version: int
    inserted: int
    updated: int
    deleted: int = 0


class TableStore(Protocol):
    """A transactional table format (Delta Lake)."""

    def exists(self, location: StorageLocation) -> bool:
        ...

    def write(
        self,
        location: StorageLocation,
        data: pa.Table | pa.RecordBatchReader,
        mode: WriteMode,
        *,
        partition_by: Sequence[str] = (),
    ) -> int:
        """Write in one transaction and return the new version.

        ``APPEND`` to a table whose schema does not match raises ``InvalidInputError`` naming
        the columns and types, and leaves the table unchanged. Concurrent appends from several
        processes all land.
        """
        ...

    def merge(self, location: StorageLocation, data: pa.Table, on: Sequence[str]) -> MergeResult:
        """Upsert ``data`` on the key columns ``on`` in one transaction."""
        ...

    def read(
        self,
        location: StorageLocation,
        *,
        version: int | None = None,
        as_of: datetime | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """The table now, at ``version``, or as of a time (time travel)."""
        ...

    def dataset(self, location: StorageLocation, *, version: int | None = None) -> pads.Dataset:
        """A pyarrow dataset over the table (projection and filter pushdown)."""
        ...

    def files(self, location: StorageLocation, *, version: int | None = None) -> list[str]:
        """URLs of the table's live Parquet files (for engines that read Parquet natively)."""
        ...

    def schema(self, location: StorageLocation) -> pa.Schema:
        ...

    def version(self, location: StorageLocation) -> int:
        ...

    def history(self, location: StorageLocation) -> list[TableVersion]:
        """Newest first."""
        ...

    def delete(self, location: StorageLocation) -> None:
        """Remove the table's files (dropping a managed table)."""
        ...


@dataclass(frozen=True)
class Reject:
    """A row a reader could not parse."""

    line: int
    text: str
    reason: str


@dataclass
class ReadResult:
    """Rows read from a file, and the rows rejected when skipping was asked for."""

    data: pa.RecordBatchReader | pa.Table
    rejects: list[Reject] = field(default_factory=list)


class FileReader(Protocol):
    """Reads CSV, Parquet and JSON-lines files into Arrow."""

    def read(
        self,
        location: StorageLocation,
        *,
        format: str | None = None,
        options: Mapping[str, Any] | None = None,
        skip_bad_rows: bool = False,
    ) -> ReadResult:
        """Read a file (or folder of files); the format defaults to the file extension.

        Malformed rows raise ``InvalidInputError`` naming the file and line numbers, unless
        ``skip_bad_rows``: then they are left out and listed in ``rejects``.
        """
        ...


@dataclass(frozen=True)
class SqlTable:
    """A catalog table as the SQL engine sees it: a name and how to scan it."""

    database: str
    name: str
    files: tuple[str, ...] = ()
    dataset: pads.Dataset | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    schema: pa.Schema | None = None


class SqlEngine(Protocol):
    """An embedded SQL engine over the catalog (DuckDB)."""

    def register(self, tables: Sequence[SqlTable]) -> None:
        """Make ``database.name`` (and ``name`` for the default database) queryable."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run one statement with named parameters and return its result as Arrow.

        Errors raise ``InvalidInputError`` with the engine's message and the position.
        """
        ...

    def unregister(self, database: str, name: str) -> None:
        """Forget a table (dropped from the catalog); unknown names are ignored."""
        ...

    def register_function(
        self,
        name: str,
        function: Callable[[Sequence[pa.Array]], pa.Array],
        arg_types: Sequence[str],
        return_type: str,
    ) -> None:
        """Make ``name(arg, ...)`` callable in SQL (replacing a function of that name).

        ``function`` gets one Arrow array per argument for a batch of rows (several batches
        may run at once on the engine's threads) and returns one array of as many values;
        ``arg_types`` and ``return_type`` are SQL types (arguments are cast to them).
        """
        ...

    def close(self) -> None:
        ...
