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
``[-1, k]``, one input per column, named tensors, or nothing known; the shared types live in
``lakeworks.serving.schema``) into rows or values by name, which ``lakeworks.serving.feeds``
turns into a ``ModelRequest`` whose ``feed`` holds numpy arrays keyed by model input, ready
for one model call and for concatenation with other requests of the same structure. Parsing
uses orjson and numpy only; loops over rows happen on error paths (to name the bad row and
value), never on the fast path of numeric tensors. Every client mistake is an
``InvalidInputError`` whose message names the field, column, row or value at fault and what
was expected; ``error_reply`` turns it (or a model failure) into the protocol's status and
body.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter
from typing import Any

import numpy as np
import orjson

from lakeworks.errors import InvalidInputError
from lakeworks.serving.feeds import Named, Rows, empty_error, tensor_array, to_feed, value_kind
from lakeworks.serving.schema import DATATYPES, InputSchema, ModelAnswer, ModelRequest, datatype_of
from lakeworks.serving.wire import Protocol

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


def _finish(data: Rows | Named, schema: InputSchema, *,
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
                                f"{value_kind(params)}", field=f"{where}params")
    return params


def _azure_input(document: Any) -> tuple[Rows | Named, dict[str, Any] | None]:
    if not isinstance(document, dict) or "input_data" not in document:
        got = (f"an object with keys {', '.join(map(repr, document))}"
               if isinstance(document, dict) else value_kind(document))
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


def _tabular(value: Any, where: str) -> Rows | Named:
    """A split frame, a list of rows or records, or named tensors."""
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return _records(value, where)
        return Rows(value, None, where)
    if isinstance(value, dict):
        if "data" in value and set(value) <= {"data", "columns", "index"}:
            return _split(value, where)
        if not value:
            raise InvalidInputError(f"'{where}' is an empty object; it holds no input",
                                    field=where)
        return Named(value, where)
    raise InvalidInputError(
        f"'{where}' must be a split frame {{\"columns\", \"data\"}}, a list of rows or an "
        f"object of named tensors; got {value_kind(value)}", field=where)


def _split(value: Mapping[str, Any], where: str) -> Rows:
    data = value.get("data")
    columns = value.get("columns")
    if not isinstance(data, list):
        raise InvalidInputError(f"'{where}.data' must be a list of rows; got {value_kind(data)}",
                                field=f"{where}.data")
    if columns is not None and not isinstance(columns, list):
        raise InvalidInputError(f"'{where}.columns' must be a list of column names; got "
                                f"{value_kind(columns)}", field=f"{where}.columns")
    index = value.get("index")
    if isinstance(index, list) and data and len(index) != len(data):
        raise InvalidInputError(
            f"'{where}.index' has {len(index)} entries but '{where}.data' has {len(data)} "
            "rows; send one index entry per row (or leave index out)", field=f"{where}.index")
    return Rows(data, columns, f"{where}.data")


def _records(records: list[Any], where: str) -> Rows:
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
                    f"'{where}[{number}]' is {value_kind(record)}; every record must be an object "
                    "of column values", field=f"{where}[{number}]") from None
            lacking = [c for c in columns if c not in record]
            if lacking:
                raise InvalidInputError(
                    f"record {number} of '{where}' lacks column(s) {', '.join(lacking)} that "
                    f"record 0 has; every record needs the same columns ({', '.join(columns)})",
                    field=f"{where}[{number}]") from None
        raise
    return Rows(data, columns, where)


def _mlflow_input(document: Any) -> tuple[Rows | Named, dict[str, Any] | None]:
    keys = [k for k in MLFLOW_KEYS if isinstance(document, dict) and k in document]
    if not isinstance(document, dict) or len(keys) != 1:
        got = (f"keys {', '.join(map(repr, document)) or 'none'}"
               if isinstance(document, dict) else value_kind(document))
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
                f"got {value_kind(value)}", field=key)
        return _split(value, key), params
    if key == "dataframe_records":
        if not isinstance(value, list) or (value and not isinstance(value[0], dict)):
            raise InvalidInputError(
                "'dataframe_records' must be a list of records [{\"column\": value, ...}]; got "
                f"{value_kind(value)}", field=key)
        if not value:
            raise empty_error(key)
        return _records(value, key), params
    return _tabular(value, key), params


def _v2_input(document: Any, schema: InputSchema, outputs: Sequence[str]) -> ModelRequest:
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise InvalidInputError(
            'the body must be an inference request {"inputs": [{"name", "shape", "datatype", '
            f'"data"}}, ...]}}; got {value_kind(document)}', field="inputs")
    inputs = document["inputs"]
    if not inputs:
        raise InvalidInputError("'inputs' is empty; send at least one input tensor",
                                field="inputs")
    tensors: dict[str, Any] = {}
    for number, item in enumerate(inputs):
        name, array = _v2_tensor(item, number)
        tensors[name] = array
    request = to_feed(Named(tensors, "inputs"), schema)
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
        raise InvalidInputError(f"'id' must be a string; got {value_kind(value)}", field="id")
    return value


def _v2_tensor(item: Any, number: int) -> tuple[str, np.ndarray]:
    where = f"inputs[{number}]"
    if not isinstance(item, dict):
        raise InvalidInputError(f"'{where}' must be an object with name, shape, datatype and "
                                f"data; got {value_kind(item)}", field=where)
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
    array = tensor_array(item["data"], datatype, where)
    size = math.prod(shape)
    if array.size != size:
        raise InvalidInputError(
            f"'{where}' has {array.size} values but shape {shape} needs {size}; send the data "
            "row-major, nested or flat", field=f"{where}.data")
    return name, array.reshape(shape)


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


def _read_csv(body: bytes) -> Named:
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
    return Named(_table_columns(table), "csv")


def _read_parquet(body: bytes) -> Named:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"the Parquet body cannot be read: {exc}", field="body") from exc
    return Named(_table_columns(table), "parquet")


def _table_columns(table: Any) -> dict[str, Any]:
    if table.num_rows == 0:
        raise empty_error("body")
    return {name: table.column(name).to_numpy() for name in table.column_names}


# -- answers ------------------------------------------------------------------------------------


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
