"""Request bodies of the three scoring protocols turned into model input, and answers back.

Owns what a scoring request may look like and what a client is told when it is wrong:

* Azure ``POST /score`` (``Protocol.AZURE``): ``{"input_data": ...}`` holding a split frame
  (``{"columns", "index", "data"}``; the production tutorial sends integer columns
  ``0..22``), an array of rows (``[[...], ...]``) or named tensors (``{"x": [[...]]}``), with
  optional ``"params"``; the answer is the JSON list of predictions (``[1, 0]``).
* MLflow ``POST /invocations`` (``Protocol.MLFLOW``): JSON with exactly one of
  ``dataframe_split``, ``dataframe_records``, ``instances``, ``inputs`` (plus optional
  ``params``), ``text/csv`` with a header row, or Parquet; the answer is
  ``{"predictions": [...]}``; errors are ``{"error_code": "BAD_REQUEST", "message": ...}``.
* KServe V2 ``POST /v2/models/<m>/infer`` (``Protocol.V2``): ``inputs`` with ``name``,
  ``shape``, ``datatype`` and nested or flat ``data``; ``id`` echoed; ``outputs`` filters the
  answer; errors are ``{"error": ...}``.

A body is parsed against an ``InputSchema`` (what the model reads: one wide tensor
``[-1, k]``, one input per column, named tensors, or nothing known) into a ``ModelRequest``
whose ``feed`` holds numpy arrays keyed by model input, ready for one model call and for
concatenation with other requests of the same structure. Parsing uses orjson and numpy only;
loops over rows happen on error paths (to name the bad row and value), never on the fast
path of numeric tensors. Every client mistake is an ``InvalidInputError`` whose message names
the field, column, row or value at fault and what was expected; ``error_reply`` turns it
(or a model failure) into the protocol's status and body.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from operator import itemgetter
from typing import Any, Literal

import numpy as np
import orjson

from lakeworks.errors import InvalidInputError
from lakeworks.serving.wire import Protocol

#: V2 datatypes and the numpy type a tensor of that type is held in.
DATATYPES: dict[str, Any] = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
    "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
    "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64,
    "BYTES": object,
}
#: The datatype to report for a numpy dtype kind/size.
_KIND_TO_DATATYPE = {("b", 1): "BOOL", ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64",
                     ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32", ("i", 8): "INT64",
                     ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32",
                     ("u", 8): "UINT64"}

#: The field of an ``InvalidInputError`` that means "this media type is not accepted" (415).
CONTENT_TYPE_FIELD = "Content-Type"
JSON_TYPE = "application/json"
CSV_TYPE = "text/csv"
PARQUET_TYPE = "application/vnd.apache.parquet"
_ACCEPTED: dict[Protocol, tuple[str, ...]] = {
    Protocol.AZURE: (JSON_TYPE,),
    Protocol.MLFLOW: (JSON_TYPE, CSV_TYPE, PARQUET_TYPE),
    Protocol.V2: (JSON_TYPE,),
}
#: Media types taken as JSON besides application/json (curl's default form type included:
#: Azure's own examples post JSON without naming it).
_JSON_ALIASES = ("", "text/json", "text/plain", "application/x-www-form-urlencoded")
MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY

Layout = Literal["wide", "columns", "tensors", "any"]
#: The feed key of an array handed to a model that declares no inputs.
ARRAY_KEY = ""


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as V2 metadata describes it (``-1``: any size)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass(frozen=True)
class InputSchema:
    """What a model reads.

    ``layout`` is ``wide`` (one tensor ``[-1, width]``, its features optionally named by
    ``columns``), ``columns`` (one input per data column; ``columns[i]`` feeds
    ``inputs[i]``), ``tensors`` (named tensors of any shape) or ``any`` (nothing is known:
    the request's own structure goes to the model).
    """

    layout: Layout
    inputs: tuple[TensorSpec, ...] = ()
    columns: tuple[str, ...] | None = None

    @property
    def width(self) -> int | None:
        """Features per row of a wide input (``None`` when not fixed)."""
        if self.layout != "wide" or not self.inputs or len(self.inputs[0].shape) < 2:
            return None
        width = self.inputs[0].shape[1]
        return width if width >= 0 else None

    def describe(self) -> str:
        """The model's inputs in words, for messages."""
        if self.layout == "wide":
            spec = self.inputs[0]
            names = f" ({', '.join(self.columns)})" if self.columns else ""
            count = self.width if self.width is not None else "any number of"
            return f"rows of {count} {spec.datatype} values{names}"
        if self.layout == "columns":
            return "columns " + ", ".join(
                f"{c} ({s.datatype})" for c, s in zip(self.columns or (), self.inputs,
                                                       strict=False))
        if self.layout == "tensors":
            return "tensors " + ", ".join(
                f"{s.name} ({s.datatype} {list(s.shape)})" for s in self.inputs)
        return "any tabular or tensor data"


@dataclass
class ModelRequest:
    """One parsed request: the model's feed (arrays whose first dimension is ``rows``).

    ``frame`` says the feed is named columns (a model without declared inputs gets a
    DataFrame), ``params`` MLflow's inference parameters, ``outputs`` the V2 outputs asked
    for, ``request_id`` the V2 ``id`` to echo, ``names`` the input column names as collected
    data calls them.
    """

    feed: dict[str, np.ndarray]
    rows: int
    frame: bool = False
    params: dict[str, Any] | None = None
    outputs: list[str] | None = None
    request_id: str | None = None
    names: Sequence[str] = ()

    @cached_property
    def batch_key(self) -> tuple[Any, ...]:
        """Requests with equal keys can be concatenated into one model call."""
        shapes = tuple((k, v.dtype.str, v.shape[1:]) for k, v in self.feed.items())
        params = orjson.dumps(self.params, option=orjson.OPT_SORT_KEYS) if self.params else b""
        return shapes, self.frame, params


@dataclass(frozen=True)
class Reply:
    """An answer to one request: HTTP status, body, content type."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE


# -- content types and JSON ---------------------------------------------------------------------


@lru_cache(maxsize=64)
def media_type(protocol: Protocol, content_type: str) -> str:
    """The accepted media type a request's ``Content-Type`` stands for.

    Raises:
        InvalidInputError: field ``Content-Type`` (answered with 415): a type the protocol
            does not take, or a charset other than UTF-8; the message lists the accepted ones.
    """
    main, _, rest = content_type.partition(";")
    main = main.strip().lower()
    accepted = _ACCEPTED.get(protocol, (JSON_TYPE,))
    for param in filter(None, (p.strip() for p in rest.split(";"))):
        key, _, value = param.partition("=")
        if key.strip().lower() != "charset" or value.strip().strip('"').lower() not in (
                "utf-8", "utf8"):
            raise InvalidInputError(
                f"content type {content_type!r} has parameter {param!r}; only charset=utf-8 "
                f"is accepted. Send one of: {', '.join(accepted)}", field=CONTENT_TYPE_FIELD)
    if main in _JSON_ALIASES or main.endswith("+json"):
        main = JSON_TYPE
    if main not in accepted:
        raise InvalidInputError(
            f"content type {content_type!r} is not accepted here; send one of: "
            f"{', '.join(accepted)}", field=CONTENT_TYPE_FIELD)
    return main


def load_json(body: bytes) -> Any:
    """The JSON value of ``body``.

    Raises:
        InvalidInputError: empty or malformed JSON; the message says where (line, column).
    """
    if not body.strip():
        raise InvalidInputError("the request body is empty; send a JSON document",
                                field="body")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        near = body[max(exc.pos - 20, 0):exc.pos + 20].decode("utf-8", "replace")
        raise InvalidInputError(
            f"the request body is not valid JSON: {exc.msg} at line {exc.lineno}, column "
            f"{exc.colno} (character {exc.pos}, near {near!r})", field="body") from exc


def dumps(value: Any) -> bytes:
    """JSON bytes of a value that may hold numpy arrays and scalars."""
    return orjson.dumps(value, option=_JSON_OPTIONS, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):  # a pandas DataFrame (records) or Series (list)
        try:
            return to_dict(orient="records")
        except TypeError:
            return value.tolist() if hasattr(value, "tolist") else to_dict()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# -- parsing per protocol -----------------------------------------------------------------------


@dataclass
class _Rows:
    """Row-major data: a list of rows, with the column names the client sent (if any)."""

    data: Any
    columns: list[Any] | None
    where: str


@dataclass
class _Named:
    """Values by name: columns (one value per row) or tensors (first dimension = rows)."""

    values: dict[str, Any]
    where: str


def parse(protocol: Protocol, content_type: str, body: bytes, schema: InputSchema,
          *, outputs: Sequence[str] = ()) -> ModelRequest:
    """``body`` as model input for a model reading ``schema``.

    Args:
        protocol: which API the request came through.
        content_type: the request's ``Content-Type``.
        body: the raw request body.
        schema: what the model reads.
        outputs: the model's output names (a V2 ``outputs`` filter must name some of them).

    Raises:
        InvalidInputError: any client mistake (a 4xx); ``field`` names the part at fault.
    """
    kind = media_type(protocol, content_type)
    if kind == CSV_TYPE:
        return _finish(_read_csv(body), schema)
    if kind == PARQUET_TYPE:
        return _finish(_read_parquet(body), schema)
    document = load_json(body)
    if protocol is Protocol.MLFLOW:
        data, params = _mlflow_input(document)
        return _finish(data, schema, params=params)
    if protocol is Protocol.V2:
        return _v2_input(document, schema, outputs)
    data, params = _azure_input(document)
    return _finish(data, schema, params=params)


def _finish(data: _Rows | _Named, schema: InputSchema, *,
            params: dict[str, Any] | None = None) -> ModelRequest:
    request = to_feed(data, schema)
    request.params = params
    return request


def _params(document: Mapping[str, Any], where: str) -> dict[str, Any] | None:
    params = document.get("params")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise InvalidInputError(f"'params' must be a JSON object of parameter values; got "
                                f"{_kind(params)}", field=f"{where}params")
    return params


def _azure_input(document: Any) -> tuple[_Rows | _Named, dict[str, Any] | None]:
    if not isinstance(document, dict) or "input_data" not in document:
        got = (f"an object with keys {', '.join(map(repr, document))}"
               if isinstance(document, dict) else _kind(document))
        hint = " (rename 'data' to 'input_data')" if isinstance(document, dict) and (
            "data" in document) else ""
        raise InvalidInputError(
            'the body must be a JSON object {"input_data": ...} holding a split frame '
            '({"columns": [...], "index": [...], "data": [[...]]}), a list of rows or named '
            f"tensors; got {got}{hint}", field="input_data")
    extra = sorted(set(document) - {"input_data", "params"})
    if extra:
        raise InvalidInputError(
            f"unknown key(s) {', '.join(map(repr, extra))} next to 'input_data'; the body takes "
            "'input_data' and optionally 'params'", field=extra[0])
    return _tabular(document["input_data"], "input_data"), _params(document, "")


def _tabular(value: Any, where: str) -> _Rows | _Named:
    """A split frame, a list of rows or records, or named tensors."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return _records(value, where)
        return _Rows(value, None, where)
    if isinstance(value, dict):
        if "data" in value and set(value) <= {"data", "columns", "index"}:
            return _split(value, where)
        if not value:
            raise InvalidInputError(f"'{where}' is an empty object; it holds no input",
                                    field=where)
        return _Named(value, where)
    raise InvalidInputError(
        f"'{where}' must be a split frame {{\"columns\", \"data\"}}, a list of rows or an "
        f"object of named tensors; got {_kind(value)}", field=where)


def _split(value: Mapping[str, Any], where: str) -> _Rows:
    data = value.get("data")
    columns = value.get("columns")
    if not isinstance(data, list):
        raise InvalidInputError(f"'{where}.data' must be a list of rows; got {_kind(data)}",
                                field=f"{where}.data")
    if columns is not None and not isinstance(columns, list):
        raise InvalidInputError(f"'{where}.columns' must be a list of column names; got "
                                f"{_kind(columns)}", field=f"{where}.columns")
    index = value.get("index")
    if isinstance(index, list) and data and len(index) != len(data):
        raise InvalidInputError(
            f"'{where}.index' has {len(index)} entries but '{where}.data' has {len(data)} "
            "rows; send one index entry per row (or leave index out)", field=f"{where}.index")
    return _Rows(data, columns, f"{where}.data")


def _records(records: list[Any], where: str) -> _Rows:
    first = records[0]
    columns = list(first)
    if not columns:
        raise InvalidInputError(f"'{where}[0]' is an empty record; each record maps column "
                                "names to values", field=where)
    getter = itemgetter(*columns)
    try:
        data = ([[getter(r)] for r in records] if len(columns) == 1
                else list(map(getter, records)))
    except (KeyError, TypeError):
        for number, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidInputError(
                    f"'{where}[{number}]' is {_kind(record)}; every record must be an object "
                    "of column values", field=f"{where}[{number}]") from None
            lacking = [c for c in columns if c not in record]
            if lacking:
                raise InvalidInputError(
                    f"record {number} of '{where}' lacks column(s) {', '.join(lacking)} that "
                    f"record 0 has; every record needs the same columns ({', '.join(columns)})",
                    field=f"{where}[{number}]") from None
        raise
    return _Rows(data, columns, where)


def _mlflow_input(document: Any) -> tuple[_Rows | _Named, dict[str, Any] | None]:
    keys = [k for k in MLFLOW_KEYS if isinstance(document, dict) and k in document]
    if not isinstance(document, dict) or len(keys) != 1:
        got = (f"keys {', '.join(map(repr, document)) or 'none'}"
               if isinstance(document, dict) else _kind(document))
        raise InvalidInputError(
            "the body must be a JSON object with exactly one of the input fields "
            f"{', '.join(MLFLOW_KEYS)} (and optionally 'params'); got {got}. Example: "
            '{"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2]]}}', field="body")
    key = keys[0]
    extra = sorted(set(document) - {key, "params"})
    if extra:
        raise InvalidInputError(
            f"unknown key(s) {', '.join(map(repr, extra))} next to '{key}'; the body takes one "
            f"input field and optionally 'params'", field=extra[0])
    value = document[key]
    params = _params(document, "")
    if key == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise InvalidInputError(
                "'dataframe_split' must be an object {\"columns\": [...], \"data\": [[...]]}; "
                f"got {_kind(value)}", field=key)
        return _split(value, key), params
    if key == "dataframe_records":
        if not isinstance(value, list) or (value and not isinstance(value[0], dict)):
            raise InvalidInputError(
                "'dataframe_records' must be a list of records [{\"column\": value, ...}]; got "
                f"{_kind(value)}", field=key)
        if not value:
            raise _empty(key)
        return _records(value, key), params
    return _tabular(value, key), params


def _v2_input(document: Any, schema: InputSchema, outputs: Sequence[str]) -> ModelRequest:
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise InvalidInputError(
            'the body must be an inference request {"inputs": [{"name", "shape", "datatype", '
            f'"data"}}, ...]}}; got {_kind(document)}', field="inputs")
    inputs = document["inputs"]
    if not inputs:
        raise InvalidInputError("'inputs' is empty; send at least one input tensor",
                                field="inputs")
    tensors: dict[str, Any] = {}
    for number, item in enumerate(inputs):
        name, array = _v2_tensor(item, number)
        tensors[name] = array
    request = to_feed(_Named(tensors, "inputs"), schema)
    request.request_id = _v2_id(document)
    request.outputs = _v2_outputs(document.get("outputs"), outputs)
    parameters = document.get("parameters")
    if isinstance(parameters, dict) and parameters:
        request.params = {k: v for k, v in parameters.items() if k != "content_type"} or None
    return request


def _v2_id(document: Mapping[str, Any]) -> str | None:
    value = document.get("id")
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(f"'id' must be a string; got {_kind(value)}", field="id")
    return value


def _v2_tensor(item: Any, number: int) -> tuple[str, np.ndarray]:
    where = f"inputs[{number}]"
    if not isinstance(item, dict):
        raise InvalidInputError(f"'{where}' must be an object with name, shape, datatype and "
                                f"data; got {_kind(item)}", field=where)
    missing = [k for k in ("name", "shape", "datatype", "data") if k not in item]
    if missing:
        raise InvalidInputError(f"'{where}' lacks {', '.join(missing)}; each input needs name, "
                                "shape, datatype and data", field=where)
    name, shape, datatype = item["name"], item["shape"], item["datatype"]
    if not isinstance(name, str) or not name:
        raise InvalidInputError(f"'{where}.name' must be a non-empty string", field=where)
    where = f"inputs[{number}] ({name})"
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise InvalidInputError(f"'{where}.shape' must be a list of sizes (integers >= 0); "
                                f"got {shape!r}", field=f"{where}.shape")
    if datatype not in DATATYPES:
        raise InvalidInputError(f"'{where}.datatype' {datatype!r} is not a V2 datatype",
                                field=f"{where}.datatype", allowed=DATATYPES)
    array = _v2_array(item["data"], datatype, where)
    size = math.prod(shape)
    if array.size != size:
        raise InvalidInputError(
            f"'{where}' has {array.size} values but shape {shape} needs {size}; send the data "
            "row-major, nested or flat", field=f"{where}.data")
    return name, array.reshape(shape)


def _v2_array(data: Any, datatype: str, where: str) -> np.ndarray:
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


def _v2_outputs(value: Any, available: Sequence[str]) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
            isinstance(o, dict) and isinstance(o.get("name"), str) for o in value):
        raise InvalidInputError("'outputs' must be a list of {\"name\": ...} objects",
                                field="outputs")
    names = [o["name"] for o in value]
    unknown = [n for n in names if available and n not in available]
    if unknown:
        raise InvalidInputError(
            f"the model has no output(s) {', '.join(map(repr, unknown))}; its outputs are "
            f"{', '.join(available)}", field="outputs")
    return names


def _read_csv(body: bytes) -> _Named:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if not body.strip():
        raise InvalidInputError("the CSV body is empty; send a header row and data rows",
                                field="body")
    try:
        table = pacsv.read_csv(io.BytesIO(body),
                               read_options=pacsv.ReadOptions(use_threads=False))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInputError(f"the CSV body cannot be read: {exc}; send a header row then "
                                "one line per row", field="body") from exc
    return _Named(_table_columns(table), "csv")


def _read_parquet(body: bytes) -> _Named:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"the Parquet body cannot be read: {exc}", field="body") from exc
    return _Named(_table_columns(table), "parquet")


def _table_columns(table: Any) -> dict[str, Any]:
    if table.num_rows == 0:
        raise _empty("body")
    return {name: table.column(name).to_numpy() for name in table.column_names}


# -- to the model's feed ------------------------------------------------------------------------


def to_feed(data: _Rows | _Named, schema: InputSchema) -> ModelRequest:
    """The model's feed from parsed data, checked against ``schema``.

    Raises:
        InvalidInputError: no rows, missing columns, wrong widths or types.
    """
    if isinstance(data, _Rows):
        if not isinstance(data.data, list):
            raise InvalidInputError(f"'{data.where}' must be a list of rows; got "
                                    f"{_kind(data.data)}", field=data.where)
        if not data.data:
            raise _empty(data.where)
        return _rows_to_feed(data, schema)
    return _named_to_feed(data, schema)


def _rows_to_feed(data: _Rows, schema: InputSchema) -> ModelRequest:
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
    return _named_to_feed(_Named(named, data.where), schema)


def _named_to_feed(data: _Named, schema: InputSchema) -> ModelRequest:
    values = data.values
    if schema.layout == "wide":
        spec = schema.inputs[0]
        if len(values) == 1:
            (name, value), = values.items()
            if _is_matrix(value):
                return _rows_to_feed(_Rows(value, None, f"{data.where}.{name}"), schema)
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
                return _rows_to_feed(_Rows(value, list(schema.columns), f"{data.where}.{name}"),
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
        raise _empty(where)
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
                f"row {number} of '{where}' is {_kind(row)}; every row must be a list of "
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
                    f"{_kind(value)}, but the model expects {_type_words(datatype)}",
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
            got = f"{len(row)} values" if isinstance(row, (list, tuple)) else _kind(row)
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
        raise _empty(where)
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
                    f"column '{column}' row {number}: value {item!r} is {_kind(item)}, but the "
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
        raise _empty(where)
    return array


def _same_length(arrays: Sequence[np.ndarray], names: Sequence[str], where: str) -> int:
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        counts = ", ".join(f"{n}={len(a)}" for n, a in zip(names, arrays, strict=True))
        raise InvalidInputError(f"the columns of '{where}' have different lengths ({counts}); "
                                "every column needs one value per row", field=where)
    rows = lengths.pop() if lengths else 0
    if rows == 0:
        raise _empty(where)
    return rows


def _empty(where: str) -> InvalidInputError:
    return InvalidInputError(f"'{where}' holds 0 rows; send at least one row to score",
                             field=where)


def _kind(value: Any) -> str:
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


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of a numpy array (``BYTES`` for text and objects)."""
    return _KIND_TO_DATATYPE.get((array.dtype.kind, array.dtype.itemsize), "BYTES")


# -- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelAnswer:
    """A model call's outputs for one request: arrays by output name, first dim = rows.

    ``main`` names the prediction (a classifier's label, a regressor's value); ``None`` means
    the model answers several columns (MLflow and Azure get them as records).
    """

    outputs: dict[str, np.ndarray]
    main: str | None


def _jsonable(array: np.ndarray) -> Any:
    if array.dtype == object or not array.flags.c_contiguous:
        return array.tolist()
    return array


def render(protocol: Protocol, answer: ModelAnswer, request: ModelRequest, *, model_name: str,
           model_version: str | None) -> bytes:
    """The protocol's success body for one request."""
    if protocol is Protocol.V2:
        return _render_v2(answer, request, model_name, model_version)
    if answer.main is not None:
        predictions: Any = _jsonable(answer.outputs[answer.main])
    else:
        columns = {k: v.tolist() for k, v in answer.outputs.items()}
        names = list(columns)
        predictions = [dict(zip(names, row, strict=True))
                       for row in zip(*columns.values(), strict=True)]
    if protocol is Protocol.MLFLOW:
        return dumps({"predictions": predictions})
    return dumps(predictions)


def _render_v2(answer: ModelAnswer, request: ModelRequest, model_name: str,
               model_version: str | None) -> bytes:
    names = request.outputs if request.outputs is not None else list(answer.outputs)
    outputs = []
    for name in names:
        array = answer.outputs[name]
        outputs.append({"name": name, "shape": list(array.shape), "datatype": datatype_of(array),
                        "data": _jsonable(array.ravel())})
    document: dict[str, Any] = {"model_name": model_name, "model_version": model_version,
                                "id": request.request_id, "outputs": outputs}
    return dumps(document)


def error_reply(protocol: Protocol, message: str, status: int = 400) -> Reply:
    """An error answer in the protocol's own shape."""
    if protocol is Protocol.MLFLOW:
        code = "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR"
        return Reply(status, dumps({"error_code": code, "message": message}))
    return Reply(status, dumps({"error": message}))


def invalid_reply(protocol: Protocol, exc: InvalidInputError) -> Reply:
    """The 400 (or 415 for a media type) answer to a client mistake."""
    status = 415 if exc.field == CONTENT_TYPE_FIELD else 400
    return error_reply(protocol, exc.detail, status)
