"""Parsed request data turned into a model's feed, and why it does not fit when it does not.

Owns the step between a protocol body and a model call: rows (``Rows``: a list of rows with
the client's column names, if any) and values by name (``Named``: columns or tensors) are
checked against the model's ``InputSchema`` and converted to the ``ModelRequest`` feed of
numpy arrays (``to_feed``), columns put in the model's order, V2 tensor data read as its
datatype (``tensor_array``). The fast path of numeric data is one numpy call; loops over rows
run only on error paths, to name the row, column and value at fault in the
``InvalidInputError``. Protocol bodies are parsed in ``lakeworks.serving.payloads``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lakeworks.errors import InvalidInputError
from lakeworks.serving.schema import ARRAY_KEY, DATATYPES, InputSchema, ModelRequest, TensorSpec


@dataclass
class Rows:
    """Row-major data: a list of rows, with the column names the client sent (if any)."""

    data: Any
    columns: list[Any] | None
    where: str


@dataclass
class Named:
    """Values by name: columns (one value per row) or tensors (first dimension = rows)."""

    values: dict[str, Any]
    where: str


# -- to the model's feed ------------------------------------------------------------------------


def to_feed(data: Rows | Named, schema: InputSchema) -> ModelRequest:
    """The model's feed from parsed data, checked against ``schema``.

    Raises:
        InvalidInputError: no rows, missing columns, wrong widths or types.
    """
    if isinstance(data, Rows):
        if not isinstance(data.data, list):
            raise InvalidInputError(f"'{data.where}' must be a list of rows; got "
                                    f"{value_kind(data.data)}", field=data.where)
        if not data.data:
            raise empty_error(data.where)
        return _rows_to_feed(data, schema)
    return _named_to_feed(data, schema)


def _rows_to_feed(data: Rows, schema: InputSchema) -> ModelRequest:
    if schema.layout == "wide":
        spec = schema.inputs[0]
        order = _order(data.columns, schema, data.where)
        array = _matrix(data.data, spec.datatype, data.where, schema, data.columns)
        if order is not None:
            array = array[:, order]
        width = schema.width
        if width is not None and array.shape[1] != width:
            raise _width_error(array.shape[1], width, data.where, schema, data.columns)
        return ModelRequest({spec.name: array}, len(array), names=_names(schema, array.shape[1]))
    if schema.layout == "tensors" and len(schema.inputs) == 1:
        spec = schema.inputs[0]
        array = _cast_tensor(data.data, spec, data.where)
        return ModelRequest({spec.name: array}, len(array), names=[spec.name])
    if schema.layout == "tensors":
        raise InvalidInputError(
            f"the model takes several named tensors ({schema.describe()}); send them by name, "
            "e.g. " + "{" + ", ".join(f'"{s.name}": [...]' for s in schema.inputs) + "}",
            field=data.where)
    columns = data.columns
    if schema.layout == "any" and (columns is None or _positional(columns)):
        array = _auto_matrix(data.data, data.where)
        return ModelRequest({ARRAY_KEY: array}, len(array), names=_names(schema, array.shape[1]))
    table = _object_matrix(data.data, data.where, len(columns) if columns else None)
    if columns is None:
        columns = list(schema.columns or ())
        if table.shape[1] != len(columns):
            raise _width_error(table.shape[1], len(columns), data.where, schema, None)
    named = {str(c): table[:, j] for j, c in enumerate(columns)}
    return _named_to_feed(Named(named, data.where), schema)


def _named_to_feed(data: Named, schema: InputSchema) -> ModelRequest:
    values = data.values
    if schema.layout == "wide":
        spec = schema.inputs[0]
        if len(values) == 1:
            (name, value), = values.items()
            if _is_matrix(value):
                return _rows_to_feed(Rows(value, None, f"{data.where}.{name}"), schema)
            if (schema.width or 0) > 1 and np.ndim(value) == 1:
                raise _not_rows(1, value, f"{data.where}.{name}", schema)
        columns = _select(values, schema, data.where)
        width = schema.width
        if width is not None and len(columns) != width:
            raise _width_error(len(columns), width, data.where, schema, list(values))
        vectors = [_vector(v, spec.datatype, c, data.where) for c, v in columns.items()]
        rows = _same_length(vectors, list(columns), data.where)
        array = np.column_stack(vectors) if vectors else np.empty((rows, 0))
        return ModelRequest({spec.name: array}, rows, names=_names(schema, len(vectors)))
    if schema.layout == "columns":
        if len(values) == 1 and schema.columns and len(schema.columns) > 1:
            (name, value), = values.items()
            if _is_matrix(value):
                return _rows_to_feed(Rows(value, list(schema.columns), f"{data.where}.{name}"),
                                     schema)
        columns = _select(values, schema, data.where)
        feed: dict[str, np.ndarray] = {}
        for spec, (column, value) in zip(schema.inputs, columns.items(), strict=True):
            vector = _vector(value, spec.datatype, column, data.where)
            feed[spec.name] = vector.reshape(-1, 1) if len(spec.shape) == 2 else vector
        rows = _same_length(list(feed.values()), list(columns), data.where)
        return ModelRequest(feed, rows, frame=True, names=list(columns))
    if schema.layout == "tensors":
        return _tensors_to_feed(values, schema, data.where)
    return _any_to_feed(values, data.where)


def _tensors_to_feed(values: Mapping[str, Any], schema: InputSchema, where: str) -> ModelRequest:
    if len(schema.inputs) == 1 and len(values) == 1:
        spec = schema.inputs[0]
        (name, value), = values.items()
        array = _cast_tensor(value, spec, f"{where}.{name}")
        return ModelRequest({spec.name: array}, len(array), names=[spec.name])
    missing = [s.name for s in schema.inputs if s.name not in values]
    if missing:
        raise InvalidInputError(
            f"'{where}' lacks the model's input(s) {', '.join(missing)} (given: "
            f"{', '.join(values) or 'none'}); the model takes {schema.describe()}",
            field=missing[0])
    feed = {s.name: _cast_tensor(values[s.name], s, f"{where}.{s.name}") for s in schema.inputs}
    rows = _same_length(list(feed.values()), list(feed), where)
    return ModelRequest(feed, rows, names=list(feed))


def _any_to_feed(values: Mapping[str, Any], where: str) -> ModelRequest:
    if len(values) == 1:
        (name, value), = values.items()
        if _is_matrix(value):
            array = _auto_matrix(value, f"{where}.{name}")
            return ModelRequest({ARRAY_KEY: array}, len(array), names=_numbered(array.shape[1]))
    feed = {str(k): _auto_vector(v, str(k), where) for k, v in values.items()}
    rows = _same_length(list(feed.values()), list(feed), where)
    return ModelRequest(feed, rows, frame=True, names=list(feed))


# -- columns: selection and order ---------------------------------------------------------------


def _positional(columns: Sequence[Any]) -> bool:
    """True for the column names a frame built from a bare array has: ``0..k-1``."""
    if columns == list(range(len(columns))):
        return True
    return all(str(c) == str(i) for i, c in enumerate(columns))


def _order(given: list[Any] | None, schema: InputSchema, where: str) -> list[int] | None:
    """Indices that put the client's columns in the model's order (``None``: as sent)."""
    if given is None or _positional(given) or not schema.columns:
        return None
    names = [str(c) for c in given]
    if names == list(schema.columns):
        return None
    index = _index(names)
    missing = [c for c in schema.columns if _find(index, c) is None]
    if missing:
        raise _missing_error(missing, names, schema, where)
    return [int(_find(index, c)) for c in schema.columns]  # type: ignore[arg-type]


def _index(names: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for number, name in enumerate(names):
        found.setdefault(name, number)
        found.setdefault(name.lower(), number)
    return found


def _find(index: Mapping[str, int], column: str) -> int | None:
    found = index.get(column)
    return found if found is not None else index.get(column.lower())


def _select(values: Mapping[str, Any], schema: InputSchema, where: str) -> dict[str, Any]:
    """The model's columns from named values, in the model's order (all given, in their order,
    when the model does not name its columns)."""
    if not schema.columns:
        return {str(k): v for k, v in values.items()}
    names = [str(k) for k in values]
    if len(names) == len(schema.columns) and _positional(names):
        return dict(zip(schema.columns, values.values(), strict=True))
    index = _index(names)
    missing = [c for c in schema.columns if _find(index, c) is None]
    if missing:
        raise _missing_error(missing, names, schema, where)
    ordered = list(values.values())
    return {c: ordered[int(_find(index, c))] for c in schema.columns}  # type: ignore[arg-type]


def _names(schema: InputSchema, width: int) -> Sequence[str]:
    """The names of a wide tensor's features (``0..k-1`` when the model names none)."""
    if schema.columns and len(schema.columns) == width:
        return schema.columns
    return _numbered(width)


_NUMBERED: dict[int, tuple[str, ...]] = {}


def _numbered(width: int) -> tuple[str, ...]:
    found = _NUMBERED.get(width)
    if found is None:
        found = _NUMBERED[width] = tuple(str(i) for i in range(width))
    return found


# -- values -------------------------------------------------------------------------------------


def _is_matrix(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 2
    return isinstance(value, list) and bool(value) and isinstance(value[0], list)


def _matrix(data: Any, datatype: str, where: str, schema: InputSchema,
            columns: list[Any] | None) -> np.ndarray:
    """Rows as a ``[rows, k]`` array of ``datatype``: one numpy call on the fast path."""
    target = DATATYPES.get(datatype, np.float64)
    try:
        array = np.asarray(data, dtype=target)
    except (ValueError, TypeError, OverflowError):
        raise _diagnose_rows(data, datatype, where, schema, columns) from None
    if array.ndim != 2:
        raise _not_rows(array.ndim, data, where, schema)
    if not len(array):
        raise empty_error(where)
    if target is not object and array.dtype.kind in "iu":
        _check_integral(data, datatype, where)
    return array


def _not_rows(ndim: int, data: Any, where: str, schema: InputSchema) -> InvalidInputError:
    width = schema.width
    example = f"[[{', '.join(['...'] * min(width or 2, 3))}]]"
    if ndim == 1:
        return InvalidInputError(
            f"'{where}' is a flat list of {len(data)} values; send a list of rows, e.g. "
            f"{example} (a V2 tensor of shape [rows, {width or 'k'}]); the model takes "
            f"{schema.describe()}", field=where)
    return InvalidInputError(
        f"'{where}' has {ndim} dimensions; send a list of rows (2 dimensions), e.g. {example}",
        field=where)


def _diagnose_rows(data: list[Any], datatype: str, where: str, schema: InputSchema,
                   columns: list[Any] | None) -> InvalidInputError:
    """Why ``data`` is not a rectangular table of ``datatype`` (the first bad row or value)."""
    if isinstance(data, np.ndarray):
        data = data.tolist()
    width = schema.width if schema.width is not None else (
        len(columns) if columns else None)
    for number, row in enumerate(data):
        if not isinstance(row, list):
            return InvalidInputError(
                f"row {number} of '{where}' is {value_kind(row)}; every row must be a list of "
                f"values (the model takes {schema.describe()})", field=f"{where}[{number}]")
        expected = width if width is not None else len(data[0])
        if len(row) != expected:
            return _width_error(len(row), expected, f"{where}[{number}]", schema, columns,
                                row=number)
    names = _names(schema, len(data[0])) if not columns else [str(c) for c in columns]
    for number, row in enumerate(data):
        for position, value in enumerate(row):
            if not _fits(value, datatype):
                column = names[position] if position < len(names) else str(position)
                return InvalidInputError(
                    f"row {number}, column '{column}' of '{where}': value {value!r} is "
                    f"{value_kind(value)}, but the model expects {_type_words(datatype)}",
                    field=column)
    return InvalidInputError(f"'{where}' is not a table of {_type_words(datatype)}",
                             field=where)


def _width_error(got: int, expected: int, where: str, schema: InputSchema,
                 columns: Sequence[Any] | None, *, row: int | None = None) -> InvalidInputError:
    what = f"row {row} has" if row is not None else "the rows have"
    names = f" ({', '.join(map(str, columns))})" if columns else ""
    return InvalidInputError(
        f"{what} {got} values{names} in '{where}', but the model takes {expected}: "
        f"{schema.describe()}", field=where)


def _missing_error(missing: Sequence[str], given: Sequence[str], schema: InputSchema,
                   where: str) -> InvalidInputError:
    return InvalidInputError(
        f"'{where}' lacks the model's column(s) {', '.join(missing)} (given: "
        f"{', '.join(given) or 'no columns'}); the model takes {schema.describe()}",
        field=missing[0])


def _object_matrix(data: list[Any], where: str, width: int | None) -> np.ndarray:
    """Rows of mixed values as an object ``[rows, k]`` array (ragged rows are an error)."""
    expected = width if width is not None else (
        len(data[0]) if isinstance(data[0], list) else None)
    for number, row in enumerate(data):
        if not isinstance(row, (list, tuple)) or len(row) != expected:
            got = f"{len(row)} values" if isinstance(row, (list, tuple)) else value_kind(row)
            raise InvalidInputError(
                f"row {number} of '{where}' has {got}; every row needs {expected} values "
                "(one per column)", field=f"{where}[{number}]")
    table = np.empty((len(data), expected or 0), dtype=object)
    table[:] = data
    return table


def _auto_matrix(data: Any, where: str) -> np.ndarray:
    try:
        array = np.asarray(data)
    except ValueError:
        array = None
    if array is None or (array.dtype == object and any(isinstance(v, list) for v in array.flat)):
        raise _ragged(data, where)
    if array.ndim == 1:
        array = array.reshape(1, -1) if array.size else array.reshape(0, 0)
    if not len(array):
        raise empty_error(where)
    return array


def _ragged(data: Any, where: str) -> InvalidInputError:
    first = len(data[0]) if isinstance(data[0], list) else 1
    for number, row in enumerate(data):
        size = len(row) if isinstance(row, list) else 1
        if size != first:
            return InvalidInputError(
                f"row {number} of '{where}' has {size} values but row 0 has {first}; every "
                "row needs the same number of values", field=f"{where}[{number}]")
    return InvalidInputError(f"'{where}' is not a table of values", field=where)


def _vector(value: Any, datatype: str, column: str, where: str) -> np.ndarray:
    """One column's values as a 1-D array of ``datatype``."""
    if isinstance(value, np.ndarray) and value.ndim == 2 and value.shape[1] == 1:
        value = value.ravel()
    if not isinstance(value, (list, np.ndarray)):
        value = [value]
    if datatype == "BYTES":
        return np.asarray(["" if v is None else str(v) for v in value], dtype=object)
    target = DATATYPES.get(datatype, np.float64)
    try:
        array = np.asarray(value, dtype=target)
    except (ValueError, TypeError, OverflowError):
        for number, item in enumerate(value):
            if not _fits(item, datatype):
                raise InvalidInputError(
                    f"column '{column}' row {number}: value {item!r} is {value_kind(item)}, but the "
                    f"model expects {_type_words(datatype)}", field=column) from None
        raise InvalidInputError(f"column '{column}' of '{where}' is not a list of "
                                f"{_type_words(datatype)}", field=column) from None
    if array.ndim != 1:
        raise InvalidInputError(f"column '{column}' of '{where}' must be a flat list of values "
                                f"(one per row); got {array.ndim} dimensions", field=column)
    if array.dtype.kind in "iu":
        _check_integral(value, datatype, f"{where}.{column}")
    if datatype == "BOOL":
        probe = np.asarray(value)
        if probe.dtype.kind != "b":
            bad = next(v for v in probe.ravel() if not isinstance(v, (bool, np.bool_)))
            raise InvalidInputError(f"column '{column}': value {bad!r} is not a boolean; the "
                                    "model expects true or false", field=column)
    return array


def _auto_vector(value: Any, column: str, where: str) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if not isinstance(value, list):
        value = [value]
    array = np.asarray(value)
    if array.dtype.kind in "US":
        return array.astype(object)
    if array.ndim != 1:
        raise InvalidInputError(f"column '{column}' of '{where}' must be a flat list of values "
                                f"(one per row); got {array.ndim} dimensions", field=column)
    return array


def _cast_tensor(value: Any, spec: TensorSpec, where: str) -> np.ndarray:
    target = DATATYPES.get(spec.datatype, np.float64)
    try:
        array = np.asarray(value, dtype=target)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInputError(
            f"'{where}' is not a rectangular tensor of {_type_words(spec.datatype)}; the "
            f"model's input '{spec.name}' has shape {list(spec.shape)}", field=where) from None
    if array.ndim != len(spec.shape) or any(
            d >= 0 and d != g for d, g in zip(spec.shape[1:], array.shape[1:], strict=False)):
        raise InvalidInputError(
            f"'{where}' has shape {list(array.shape)}; the model's input '{spec.name}' takes "
            f"shape {list(spec.shape)} (-1: any size)", field=where)
    if not len(array):
        raise empty_error(where)
    return array


def _same_length(arrays: Sequence[np.ndarray], names: Sequence[str], where: str) -> int:
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        counts = ", ".join(f"{n}={len(a)}" for n, a in zip(names, arrays, strict=True))
        raise InvalidInputError(f"the columns of '{where}' have different lengths ({counts}); "
                                "every column needs one value per row", field=where)
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        raise empty_error(where)
    return rows


def empty_error(where: str) -> InvalidInputError:
    """The mistake of sending no rows in ``where``."""
    return InvalidInputError(f"'{where}' holds 0 rows; send at least one row to score",
                             field=where)


def value_kind(value: Any) -> str:
    """What a JSON value is, in words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _type_words(datatype: str) -> str:
    if datatype.startswith("FP"):
        return f"a number ({datatype})"
    if datatype.startswith(("INT", "UINT")):
        return f"a whole number ({datatype})"
    if datatype == "BOOL":
        return "a boolean (BOOL)"
    return "a string (BYTES)"


# -- V2 tensors ---------------------------------------------------------------------------------


def tensor_array(data: Any, datatype: str, where: str) -> np.ndarray:
    """A V2 tensor's ``data`` (nested or flat) as an array of ``datatype``, not yet shaped."""
    if not isinstance(data, list):
        data = [data]
    if datatype == "BYTES":
        array = np.asarray(data, dtype=object)
        if array.dtype != object or any(isinstance(v, list) for v in array.flat):
            raise InvalidInputError(f"'{where}.data' is ragged; nested lists must all have the "
                                    "same length", field=f"{where}.data")
        return array
    try:
        array = np.asarray(data, dtype=DATATYPES[datatype])
    except (ValueError, TypeError, OverflowError):
        raise _diagnose_tensor(data, datatype, where) from None
    if array.dtype.kind in "iu":
        _check_integral(data, datatype, where)
    return array


def _diagnose_tensor(data: list[Any], datatype: str, where: str) -> InvalidInputError:
    """Why ``data`` is not a tensor of ``datatype``: ragged, or its first bad value."""
    try:
        probe = np.asarray(data, dtype=object)
    except ValueError:
        probe = None
    if probe is None or any(isinstance(v, list) for v in probe.ravel()):
        return InvalidInputError(f"'{where}.data' is ragged; nested lists must all have the "
                                 "same length", field=f"{where}.data")
    for position, value in enumerate(probe.ravel()):
        if not _fits(value, datatype):
            return InvalidInputError(
                f"'{where}.data' value {value!r} (position {position}) is not {datatype}",
                field=f"{where}.data")
    return InvalidInputError(f"'{where}.data' cannot be read as {datatype}",
                             field=f"{where}.data")


def _check_integral(data: Any, datatype: str, where: str) -> None:
    probe = np.asarray(data)
    if probe.dtype.kind == "f":
        bad = ~np.isfinite(probe) | (probe != np.floor(probe))
        if bad.any():
            value = probe[bad].ravel()[0]
            raise InvalidInputError(f"'{where}.data' value {value!r} is not {datatype} (a whole "
                                    "number)", field=f"{where}.data")
    elif probe.dtype.kind not in "iub":
        for value in probe.ravel():
            if not _fits(value, datatype):
                raise InvalidInputError(f"'{where}.data' value {value!r} is not {datatype}",
                                        field=f"{where}.data")


def _fits(value: Any, datatype: str) -> bool:
    if datatype == "BYTES":
        return True
    if datatype == "BOOL":
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value is None and datatype.startswith("FP")
    if datatype.startswith(("INT", "UINT")):
        return float(value).is_integer()
    return True
