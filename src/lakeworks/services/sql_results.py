"""What SQL writes and statements give back: rows fitted to a lake table, one-row summaries.

Owns fitting an ``INSERT``'s rows to the target table's schema (by position as SQL does, by
the listed columns, or by name for ``BY NAME``; missing columns become nulls; values are cast
to the table's types, and a value that does not fit names the column) and the small tables
returned by statements that change something (``CREATE TABLE``, ``INSERT``, procedures).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from lakeworks.core.lake import TableName
from lakeworks.errors import InvalidInputError


def summary(**fields: str | int) -> pa.Table:
    """A one-row table describing what a statement did.

    Example:
        >>> summary(table="default.t", operation="created", rows=3).to_pylist()
        [{'table': 'default.t', 'operation': 'created', 'rows': 3}]
    """
    return pa.table({key: [value] for key, value in fields.items()})


def align_insert(
    data: pa.Table,
    schema: pa.Schema,
    target: TableName,
    columns: Sequence[str] = (),
    by_name: bool = False,
) -> pa.Table:
    """``data`` as rows of a table with ``schema`` (for ``INSERT INTO target ...``).

    Raises:
        InvalidInputError: a column count that does not match, an unknown or repeated column,
            a missing column that may not be null, or values that do not convert.
    """
    table_names = {name.lower(): name for name in schema.names}
    listing = ", ".join(schema.names)
    if by_name:
        given = list(data.column_names)
    elif columns:
        given = list(columns)
        if len(given) != data.num_columns:
            raise InvalidInputError(
                f"INSERT INTO {target} lists {len(given)} column(s) but the query gives "
                f"{data.num_columns}"
            )
    else:
        if data.num_columns != len(schema.names):
            raise InvalidInputError(
                f"table {target} has {len(schema.names)} columns ({listing}) but the query "
                f"gives {data.num_columns}; list the columns: INSERT INTO {target} (a, b) ..."
            )
        given = list(schema.names)
    by_column: dict[str, pa.ChunkedArray] = {}
    for position, name in enumerate(given):
        key = name.lower()
        if key not in table_names:
            raise InvalidInputError(
                f"table {target} has no column '{name}' (its columns: {listing})"
            )
        if key in by_column:
            raise InvalidInputError(f"column '{name}' is given twice for table {target}")
        by_column[key] = data.column(position)
    arrays = []
    for field in schema:
        found = by_column.get(field.name.lower())
        if found is None:
            if not field.nullable:
                raise InvalidInputError(
                    f"column '{field.name}' of table {target} may not be null; give a value"
                )
            arrays.append(pa.nulls(data.num_rows, field.type))
            continue
        arrays.append(_cast(found, field, target))
    return pa.Table.from_arrays(arrays, schema=schema)


def _cast(values: pa.ChunkedArray, field: pa.Field, target: TableName) -> pa.ChunkedArray:
    if values.type == field.type:
        return values
    try:
        return values.cast(field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise InvalidInputError(
            f"column '{field.name}' of table {target} is {field.type}; the values given are "
            f"{values.type} and do not convert ({exc}); CAST them in the query"
        ) from None
