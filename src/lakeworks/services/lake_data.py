"""Data handed to the lake service: Arrow from pandas and friends, row counting, schema facts.

Owns turning what users pass (a pyarrow Table, RecordBatch or RecordBatchReader, a pandas
DataFrame, any Arrow stream) into Arrow without importing pandas, counting the rows of a
stream as a write consumes it, catalog columns from an Arrow schema, and reading the facts a
table store puts in a schema's metadata (partition columns, reader features), how the SQL
engine is to scan a table, and naming the table in storage errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakeworks.core.lake import ColumnSpec, TableName, TableRecord
from lakeworks.errors import BackendError, InvalidInputError, NotFoundError
from lakeworks.ports.lake import Reject, SqlTable, StorageLocation, TableStore

#: ``on_progress(bytes_read, total_bytes, rows_read)``; total_bytes is None when unknown
ProgressCallback = Callable[[int, "int | None", int], None]
#: pa.Table | pa.RecordBatchReader | pa.RecordBatch | pandas.DataFrame
TableData = Any
PARTITIONS_KEY = b"delta.partition_columns"
FEATURES_KEY = b"delta.reader_features"


@dataclass(frozen=True)
class LoadResult:
    """What ``LakeService.load`` did: the table's record, rows written, rows rejected."""

    record: TableRecord
    rows_written: int
    rejects: list[Reject] = field(default_factory=list)


def to_arrow(data: TableData) -> pa.Table | pa.RecordBatchReader:
    """Arrow data from a pyarrow Table/RecordBatch/RecordBatchReader or a pandas DataFrame.

    Raises:
        InvalidInputError: anything else.
    """
    if isinstance(data, pa.Table | pa.RecordBatchReader):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "dtypes") and hasattr(data, "columns") and hasattr(data, "to_numpy"):
        return pa.Table.from_pandas(data, preserve_index=False)
    if hasattr(data, "__arrow_c_stream__"):
        return pa.RecordBatchReader.from_stream(data)
    raise InvalidInputError(
        f"cannot write a {type(data).__name__} to a lake table; give a pyarrow Table or "
        "RecordBatchReader, or a pandas DataFrame"
    )


def columns_of(schema: pa.Schema) -> tuple[ColumnSpec, ...]:
    """Catalog columns of an Arrow schema (types by Arrow name: ``int64``, ``date32[day]``)."""
    return tuple(ColumnSpec(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema)


def schema_list(schema: pa.Schema, key: bytes) -> list[str]:
    """A JSON list a table store put in the schema's metadata under ``key`` ([] if absent)."""
    raw = (schema.metadata or {}).get(key)
    return [str(v) for v in json.loads(raw)] if raw else []


@contextmanager
def naming(table: TableName) -> Iterator[None]:
    """Name the table in the storage errors raised inside (they name only its location)."""
    try:
        yield
    except (NotFoundError, BackendError) as exc:
        raise type(exc)(f"lake table {table}: {exc}") from exc.__cause__


def sql_table(store: TableStore, record: TableRecord, location: StorageLocation) -> SqlTable:
    """How the SQL engine scans a table: its live Parquet files, or a pyarrow dataset when
    the files alone are not the table (partition values in folder names, deletion vectors)."""
    with naming(record.qualified):
        schema = store.schema(location)
        if schema_list(schema, PARTITIONS_KEY) or schema_list(schema, FEATURES_KEY):
            return SqlTable(record.database, record.name, dataset=store.dataset(location),
                            options=dict(location.options), schema=schema)
        files = tuple(store.files(location))
    return SqlTable(record.database, record.name, files=files,
                    options=dict(location.options), schema=schema)


class Counted:
    """A batch stream that counts the rows passing through it."""

    def __init__(self, source: pa.RecordBatchReader | pa.Table) -> None:
        self.source = source
        self.rows = 0

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for batch in (self.source.to_batches() if isinstance(self.source, pa.Table)
                      else self.source):
            self.rows += batch.num_rows
            yield batch

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.source.schema, self._batches())
