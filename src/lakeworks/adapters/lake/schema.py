"""Arrow data as Delta tables hold it: type normalisation, casting to a table's schema, columns.

Owns the rules that make any Arrow table or stream writable to Delta and readable by Spark and
DuckDB alike:

- timestamps become ``timestamp[us, tz=UTC]``: Delta stores instants in UTC with microseconds.
  A naive timestamp is taken as UTC (its wall-clock value is kept); a zoned one is converted
  to the same instant in UTC; nanoseconds are truncated to microseconds. Delta's
  ``timestamp_ntz`` is avoided on purpose: it needs reader v3/writer v7, which older readers
  (and Synapse) refuse.
- unsigned integers widen to the next signed type (``uint32`` -> ``int64``; ``uint64`` ->
  ``int64``, an error if a value does not fit), ``float16`` -> ``float``, ``date64`` ->
  ``date32``, dictionaries -> their values, view and large strings -> ``string``, and an
  all-null column of a new table -> ``string``.
- time-of-day types have no Delta equivalent and are refused with the column's name.

It also casts data to an existing table's schema for appends and merges (columns by name,
case-insensitive; missing nullable columns filled with nulls; safe widening only).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakeworks.core.lake import ColumnSpec
from lakeworks.errors import InvalidInputError

UTC_MICROS = pa.timestamp("us", tz="UTC")
_UNSIGNED = {
    pa.uint8(): pa.int16(),
    pa.uint16(): pa.int32(),
    pa.uint32(): pa.int64(),
    pa.uint64(): pa.int64(),
}


def delta_type(t: pa.DataType, *, column: str, new_table: bool = True) -> pa.DataType:
    """The Arrow type a Delta table stores for values of type ``t``.

    Raises:
        InvalidInputError: a type Delta cannot hold (time of day, durations), naming ``column``.
    """
    if pa.types.is_timestamp(t):
        return UTC_MICROS
    if pa.types.is_dictionary(t):
        return delta_type(t.value_type, column=column, new_table=new_table)
    if t in _UNSIGNED:
        return _UNSIGNED[t]
    if pa.types.is_float16(t):
        return pa.float32()
    if pa.types.is_date64(t):
        return pa.date32()
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if pa.types.is_null(t):
        return pa.string() if new_table else t
    if pa.types.is_time(t) or pa.types.is_duration(t) or pa.types.is_interval(t):
        raise InvalidInputError(
            f"column '{column}' is {t}, which a Delta table cannot hold; cast it to a string, "
            "an integer or a timestamp first"
        )
    if pa.types.is_struct(t):
        return pa.struct([_delta_field(f, column, new_table) for f in t])
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        return pa.list_(_delta_field(t.value_field, column, new_table))
    if pa.types.is_map(t):
        return pa.map_(
            delta_type(t.key_type, column=column, new_table=new_table),
            _delta_field(t.item_field, column, new_table),
        )
    return t


def _delta_field(f: pa.Field, column: str, new_table: bool) -> pa.Field:
    return pa.field(f.name, delta_type(f.type, column=f"{column}.{f.name}",
                                       new_table=new_table), f.nullable)


def delta_schema(schema: pa.Schema, *, new_table: bool = True) -> pa.Schema:
    """``schema`` with every type as a Delta table stores it (see the module docstring).

    Raises:
        InvalidInputError: two columns whose names differ only in case, or a type Delta
            cannot hold.
    """
    seen: dict[str, str] = {}
    for name in schema.names:
        if name.lower() in seen:
            raise InvalidInputError(
                f"columns '{seen[name.lower()]}' and '{name}' differ only in case; Delta and "
                "Spark match columns case-insensitively, rename one of them"
            )
        seen[name.lower()] = name
    return pa.schema([
        pa.field(f.name, delta_type(f.type, column=f.name, new_table=new_table), f.nullable)
        for f in schema
    ])


def columns_of(schema: pa.Schema) -> tuple[ColumnSpec, ...]:
    """The catalog columns of an Arrow schema (types as Arrow names: ``int64``, ``date32[day]``)."""
    return tuple(ColumnSpec(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema)


def _cast_array(array: pa.Array | pa.ChunkedArray, target: pa.DataType,
                column: str) -> pa.Array | pa.ChunkedArray:
    if array.type == target:
        return array
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode() if isinstance(array, pa.Array) else pc.cast(
            array, array.type.value_type)
    # timestamps: naive values are taken as UTC, nanoseconds truncated to microseconds
    safe = not (pa.types.is_timestamp(array.type) and pa.types.is_timestamp(target))
    try:
        return pc.cast(array, target, safe=safe)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInputError(
            f"column '{column}' ({array.type}) cannot be stored as {target}: {exc}"
        ) from None


def _conformed(data: pa.RecordBatch | pa.Table, target: pa.Schema) -> list[Any]:
    """``data``'s columns matched to ``target``'s by name (case-insensitive), cast, or nulls."""
    by_name = {name.lower(): i for i, name in enumerate(data.schema.names)}
    columns: list[Any] = []
    for f in target:
        index = by_name.get(f.name.lower())
        columns.append(pa.nulls(data.num_rows, f.type) if index is None
                       else _cast_array(data.column(index), f.type, f.name))
    return columns


def conform_batch(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """``batch`` with exactly ``target``'s columns (by name, case-insensitive) and types."""
    if batch.schema == target:
        return batch
    return pa.RecordBatch.from_arrays(_conformed(batch, target), schema=target)


def conform_table(table: pa.Table, target: pa.Schema) -> pa.Table:
    """``table`` with exactly ``target``'s columns (by name, case-insensitive) and types."""
    if table.schema == target:
        return table
    return pa.Table.from_arrays(_conformed(table, target), schema=target)


def conform_stream(batches: Iterator[pa.RecordBatch], target: pa.Schema) -> Iterator[
        pa.RecordBatch]:
    """Each batch of ``batches`` conformed to ``target``."""
    for batch in batches:
        yield conform_batch(batch, target)
