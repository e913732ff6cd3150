"""Delta data files: writing Parquet files with their statistics, and the Arrow shapes they hold.

Owns what one Spark write task does with its Arrow batches (conform them to the table's
schema, split them by partition values, write one Parquet file per partition, and describe
each file as a Delta ``add`` action with ``numRecords``/``minValues``/``maxValues``/
``nullCount`` statistics), and the type rules shared with reading (view types widened,
timestamps in UTC, every column nullable). No Spark here; delta-rs commits the files.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakeworks.adapters.spark.storage import TableLocation

_STRING_STATS_MAX = 32
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
_HIVE_ESCAPE = set('"#%\'*/:=?\\{[]^') | {chr(c) for c in range(0x20)} | {"\x7f"}


def delta_type(dtype: pa.DataType) -> pa.DataType:
    """The Arrow type a Delta column of ``dtype`` is written and read as.

    View types become their plain forms, large strings stay strings, and every timestamp is
    microseconds in UTC (Delta accepts only ``UTC``, not ``Etc/UTC``). Zone-less timestamps
    (Spark's ``TIMESTAMP_NTZ``) are taken as UTC, as the lake's Delta adapter does: Delta's
    ``timestamp_ntz`` needs reader v3/writer v7, which older readers and Synapse refuse.
    A column of nulls only (Spark's ``VOID``) is a string column, as in the lake adapter.
    """
    if (pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype)
            or pa.types.is_null(dtype)):
        return pa.string()
    if pa.types.is_binary_view(dtype) or pa.types.is_large_binary(dtype):
        return pa.binary()
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("us", "UTC")
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype):
        return pa.list_(delta_field(dtype.value_field))
    if pa.types.is_struct(dtype):
        return pa.struct([delta_field(dtype.field(i)) for i in range(dtype.num_fields)])
    if pa.types.is_map(dtype):
        return pa.map_(delta_type(dtype.key_type), delta_field(dtype.item_field))
    return dtype


def delta_field(f: pa.Field) -> pa.Field:
    return pa.field(f.name, delta_type(f.type), nullable=True)


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """``schema`` with Delta's types and every column nullable (as Delta does for writes)."""
    return pa.schema([delta_field(f) for f in schema])


def conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly the columns of ``schema``, in order and of its types.

    Columns are matched by name (exactly, else case-insensitively); missing ones are nulls.
    """
    by_lower = {name.lower(): i for i, name in enumerate(batch.schema.names)}
    arrays = []
    for f in schema:
        index = batch.schema.get_field_index(f.name)
        if index < 0:
            index = by_lower.get(f.name.lower(), -1)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, f.type))
            continue
        arrays.append(cast_array(batch.column(index), f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def cast_array(array: pa.Array, target: pa.DataType) -> pa.Array:
    if array.type.equals(target):
        return array
    # timestamps may be stored in other units (INT96 nanoseconds): truncate to microseconds
    unsafe = pa.types.is_timestamp(array.type) and pa.types.is_timestamp(target)
    return pc.cast(array, target, safe=not unsafe)


@dataclass
class FileAdd:
    """A data file written by a task, as the Delta ``add`` action that will commit it.

    ``path`` is relative to the table root and not URL-encoded (delta-rs encodes it).
    """

    path: str
    size: int
    partition_values: dict[str, str | None]
    modification_time: int
    stats: str


@dataclass
class _ColumnStats:
    nulls: int = 0
    low: Any = None
    high: Any = None
    usable: bool = True


@dataclass
class _FileStats:
    schema: pa.Schema
    rows: int = 0
    columns: dict[str, _ColumnStats] = field(default_factory=dict)

    def update(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        for f, column in zip(batch.schema, batch.columns, strict=True):
            stats = self.columns.setdefault(f.name, _ColumnStats())
            stats.nulls += column.null_count
            if not stats.usable or not _has_min_max(f.type):
                stats.usable = False
                continue
            if pa.types.is_floating(f.type) and pc.any(pc.is_nan(column)).as_py():
                stats.usable = False
                continue
            bounds = pc.min_max(column)
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if low is not None:
                stats.low = low if stats.low is None else min(stats.low, low)
                stats.high = high if stats.high is None else max(stats.high, high)

    def to_json(self) -> str:
        mins: dict[str, Any] = {}
        maxs: dict[str, Any] = {}
        for name, stats in self.columns.items():
            if not stats.usable or stats.low is None:
                continue
            low, high = _stat_value(stats.low, up=False), _stat_value(stats.high, up=True)
            if low is not None and high is not None:
                mins[name], maxs[name] = low, high
        return json.dumps({
            "numRecords": self.rows,
            "minValues": mins,
            "maxValues": maxs,
            "nullCount": {n: s.nulls for n, s in self.columns.items()},
        })


def _has_min_max(dtype: pa.DataType) -> bool:
    checks = (pa.types.is_integer, pa.types.is_floating, pa.types.is_date32,
              pa.types.is_string, pa.types.is_timestamp)
    return any(bool(check(dtype)) for check in checks)


def _stat_value(value: Any, *, up: bool) -> Any:
    """A min (``up=False``) or max statistic in the Delta log's JSON form, or None to omit."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return value if len(value) <= _STRING_STATS_MAX else None
    if isinstance(value, datetime):
        # the log keeps milliseconds: round a max up so that it still bounds the data
        millis = value.replace(microsecond=value.microsecond // 1000 * 1000)
        if up and millis != value:
            millis += timedelta(milliseconds=1)
        return millis.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def partition_string(value: Any) -> str | None:
    """A partition value as the Delta log writes it (``partitionValues``)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _hive_escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _HIVE_ESCAPE else c for c in text)


def _partition_dir(values: dict[str, str | None]) -> str:
    parts = [f"{_hive_escape(k)}={_HIVE_NULL if v is None else _hive_escape(v)}"
             for k, v in values.items()]
    return "/".join(parts)


class _OpenFile:
    def __init__(self, location: TableLocation, relative: str, schema: pa.Schema,
                 partition_values: dict[str, str | None]) -> None:
        self.location = location
        self.relative = relative
        self.partition_values = partition_values
        self.stats = _FileStats(schema)
        fs = location.file_system()
        path = location.data_path(relative)
        if location.is_local:
            parent = path.rsplit("/", 1)[0]
            fs.create_dir(parent, recursive=True)
        self.path = path
        self.fs = fs
        self.sink = fs.open_output_stream(path)
        self.writer = pq.ParquetWriter(self.sink, schema, compression="snappy")

    def write(self, batch: pa.RecordBatch) -> None:
        self.writer.write_batch(batch)
        self.stats.update(batch)

    def close(self) -> FileAdd:
        self.writer.close()
        self.sink.close()
        size = self.fs.get_file_info(self.path).size or 0
        return FileAdd(
            path=self.relative,
            size=size,
            partition_values=self.partition_values,
            modification_time=int(time.time() * 1000),
            stats=self.stats.to_json(),
        )


def write_files(
    location: TableLocation,
    batches: Any,
    schema: pa.Schema,
    partition_by: tuple[str, ...] = (),
    *,
    prefix: str = "part",
) -> list[FileAdd]:
    """Write ``batches`` under the table root: one file per partition value combination.

    Args:
        location: the table root.
        batches: an iterator of Arrow record batches (one Spark task's rows).
        schema: the table's Arrow schema (batches are conformed to it).
        partition_by: partition columns; their values go to folder names, not the files.
        prefix: the start of every file name (a write job's, so that abort can find them).

    Returns:
        The files written, as add actions to commit (none when no rows came).
    """
    stem = f"{prefix}-{uuid.uuid4()}"
    data_schema = pa.schema([f for f in schema if f.name not in partition_by])
    files: dict[tuple[str | None, ...], _OpenFile] = {}
    try:
        for raw in batches:
            batch = conform(raw, schema)
            if batch.num_rows == 0:
                continue
            for key, part in _split(batch, partition_by):
                open_file = files.get(key)
                if open_file is None:
                    values = dict(zip(partition_by, key, strict=True))
                    folder = _partition_dir(values)
                    name = f"{stem}-c{len(files):03d}.snappy.parquet"
                    relative = f"{folder}/{name}" if folder else name
                    open_file = files[key] = _OpenFile(location, relative, data_schema, values)
                open_file.write(part.select(data_schema.names))
    except BaseException:
        for open_file in files.values():
            open_file.writer.close()
            open_file.sink.close()
            open_file.fs.delete_file(open_file.path)
        raise
    return [f.close() for f in files.values()]


def files_named(location: TableLocation, prefix: str) -> list[str]:
    """Paths (relative to the table root) of the data files whose names start with ``prefix``."""
    fs = location.file_system()
    root = location.uri if location.is_local else ""
    found = fs.get_file_info(pafs.FileSelector(root, recursive=True, allow_not_found=True))
    result = []
    for info in found:
        if info.type == pafs.FileType.File and info.base_name.startswith(prefix):
            relative = info.path[len(root):].lstrip("/") if root else info.path
            if not relative.startswith("_delta_log"):
                result.append(relative)
    return result


def _split(batch: pa.RecordBatch, partition_by: tuple[str, ...]) -> Any:
    if not partition_by:
        yield (), batch
        return
    table = pa.Table.from_batches([batch])
    keys = table.select(list(partition_by)).group_by(list(partition_by)).aggregate([])
    for row in keys.to_pylist():
        mask = None
        for col in partition_by:
            value = row[col]
            column = table.column(col)
            test = pc.is_null(column) if value is None else pc.fill_null(
                pc.equal(column, pa.scalar(value, column.type)), False)
            mask = test if mask is None else pc.and_(mask, test)
        part = table.filter(mask).combine_chunks()
        key = tuple(partition_string(row[c]) for c in partition_by)
        for piece in part.to_batches():
            yield key, piece
