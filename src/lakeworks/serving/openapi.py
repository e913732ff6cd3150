"""OpenAPI 3 documents of online endpoints, built from what a deployment's worker reported.

Owns turning a worker's model description (its READY ``ModelInfo``: tensors, columns, MLflow
signature) into the ``swagger.json`` / ``openapi.json`` an endpoint serves: Azure's ``/score``
(``input_data`` in split, array and named-tensor forms), MLflow's ``/invocations`` forms, the
Open Inference V2 ``infer`` route, their response schemas and the bearer security scheme.
Pure functions over plain dicts; no I/O.
"""

from __future__ import annotations

import json
from typing import Any

OPENAPI_VERSION = "3.0.3"

_V2_TYPES = {"BOOL": {"type": "boolean"}, "BYTES": {"type": "string"},
             "FP16": {"type": "number"}, "FP32": {"type": "number", "format": "float"},
             "FP64": {"type": "number", "format": "double"}}
_MLFLOW_TYPES = {"double": {"type": "number", "format": "double"},
                 "float": {"type": "number", "format": "float"},
                 "long": {"type": "integer", "format": "int64"},
                 "integer": {"type": "integer", "format": "int32"},
                 "boolean": {"type": "boolean"}, "string": {"type": "string"},
                 "binary": {"type": "string", "format": "byte"},
                 "datetime": {"type": "string", "format": "date-time"}}
_ANY: dict[str, Any] = {}


def _v2_scalar(datatype: str) -> dict[str, Any]:
    upper = (datatype or "").upper()
    if upper in _V2_TYPES:
        return dict(_V2_TYPES[upper])
    if upper.startswith(("INT", "UINT")):
        return {"type": "integer"}
    return {}


def _signature_columns(signature: Any, part: str) -> list[dict[str, Any]]:
    """The column specs of an MLflow signature's ``inputs`` or ``outputs`` (strings parsed)."""
    if not isinstance(signature, dict):
        return []
    spec = signature.get(part)
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            return []
    return [c for c in spec if isinstance(c, dict)] if isinstance(spec, list) else []


def _column_schema(column: dict[str, Any]) -> dict[str, Any]:
    kind = str(column.get("type", ""))
    if kind == "tensor":
        dtype = str((column.get("tensor-spec") or {}).get("dtype", ""))
        scalar = {"type": "number"} if dtype.startswith("float") else \
            {"type": "integer"} if "int" in dtype else {}
        return {"type": "array", "items": scalar}
    return dict(_MLFLOW_TYPES.get(kind, _ANY))


def _columns(info: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(name, schema) of each input column the model takes, when it takes named columns."""
    from_signature = [(str(c["name"]), _column_schema(c))
                      for c in _signature_columns(info.get("signature"), "inputs") if "name" in c]
    if from_signature:
        return from_signature
    columns: list[tuple[str, dict[str, Any]]] = []
    for column in info.get("columns") or []:
        if isinstance(column, dict) and "name" in column:
            columns.append((str(column["name"]), _column_schema(column)))
        elif isinstance(column, str | int):
            columns.append((str(column), {}))
    return columns


def _row_value(columns: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    kinds = {json.dumps(schema, sort_keys=True) for _, schema in columns}
    if len(kinds) == 1:
        return columns[0][1] if columns else {}
    return {}


def _row(info: dict[str, Any], columns: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One row of the split/array forms: a value per column, or per feature of a wide
    tensor input of shape ``[-1, n]``."""
    if columns:
        return {"type": "array", "items": _row_value(columns), "minItems": len(columns),
                "maxItems": len(columns)}
    tensors = [t for t in info.get("inputs") or [] if isinstance(t, dict)]
    if len(tensors) == 1:
        shape = tensors[0].get("shape") or []
        if len(shape) == 2 and isinstance(shape[1], int) and shape[1] > 0:
            return {"type": "array", "items": _v2_scalar(str(tensors[0].get("datatype", ""))),
                    "minItems": shape[1], "maxItems": shape[1]}
    return {"type": "array"}


def _prediction_items(info: dict[str, Any]) -> dict[str, Any]:
    outputs = _signature_columns(info.get("signature"), "outputs")
    if len(outputs) == 1:
        return _column_schema(outputs[0])
    tensors = info.get("outputs") or []
    if len(tensors) == 1 and isinstance(tensors[0], dict):
        return _v2_scalar(str(tensors[0].get("datatype", "")))
    return {}


def _score_request(info: dict[str, Any], kind: str) -> dict[str, Any]:
    columns = _columns(info)
    row = _row(info, columns)
    tensors = [t for t in info.get("inputs") or [] if isinstance(t, dict)]
    split: dict[str, Any] = {
        "type": "object", "required": ["data"], "properties": {
            "columns": {"type": "array", "items": {"type": "string"}},
            "index": {"type": "array", "items": {"type": "integer"}},
            "data": {"type": "array", "items": row}}}
    if columns:
        split["properties"]["columns"]["items"]["enum"] = [name for name, _ in columns]
        split["properties"]["columns"]["example"] = [name for name, _ in columns]
    array = {"type": "array", "items": row}
    named = {"type": "object", "properties": {
        str(t.get("name")): {"type": "array", "items": {}} for t in tensors}}
    forms = [split, array, named]
    if kind == "script" and not columns and not tensors:
        return {"description": "the raw body passed to the scoring script's run()",
                "type": "object"}
    return {"type": "object", "required": ["input_data"],
            "properties": {"input_data": {"oneOf": forms}}}


def _invocations_request(info: dict[str, Any]) -> dict[str, Any]:
    columns = _columns(info)
    row = _row(info, columns)
    record = {"type": "object", "properties": dict(columns)} if columns else \
        {"type": "object"}
    names = [name for name, _ in columns]
    column_list: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
    if names:
        column_list["items"]["enum"] = names
    return {"oneOf": [
        {"type": "object", "required": ["dataframe_split"], "properties": {
            "dataframe_split": {"type": "object", "required": ["data"], "properties": {
                "columns": column_list, "index": {"type": "array"},
                "data": {"type": "array", "items": row}}},
            "params": {"type": "object"}}},
        {"type": "object", "required": ["dataframe_records"], "properties": {
            "dataframe_records": {"type": "array", "items": record},
            "params": {"type": "object"}}},
        {"type": "object", "required": ["instances"], "properties": {
            "instances": {"type": "array"}, "params": {"type": "object"}}},
        {"type": "object", "required": ["inputs"], "properties": {
            "inputs": {"oneOf": [{"type": "array"}, {"type": "object"}]},
            "params": {"type": "object"}}},
    ]}


def _tensor(names: list[str], described: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64",
                                                "INT8", "INT16", "INT32", "INT64", "FP16",
                                                "FP32", "FP64", "BYTES"]},
        "parameters": {"type": "object"}, "data": {"type": "array"}}
    if names and described:
        properties["name"]["enum"] = names
    return {"type": "object", "required": ["name", "shape", "datatype", "data"],
            "properties": properties}


def _v2_schemas(info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = [str(t.get("name")) for t in info.get("inputs") or [] if isinstance(t, dict)]
    outputs = [str(t.get("name")) for t in info.get("outputs") or [] if isinstance(t, dict)]
    columns = [name for name, _ in _columns(info)]
    request = {"type": "object", "required": ["inputs"], "properties": {
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "inputs": {"type": "array", "items": _tensor(inputs + columns, True)},
        "outputs": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string", **({"enum": outputs} if outputs else {})},
            "parameters": {"type": "object"}}}}}}
    response = {"type": "object", "required": ["model_name", "outputs"], "properties": {
        "model_name": {"type": "string"}, "model_version": {"type": "string"},
        "id": {"type": "string"}, "parameters": {"type": "object"},
        "outputs": {"type": "array", "items": _tensor(outputs, True)}}}
    return request, response


def _error_schema() -> dict[str, Any]:
    return {"type": "object", "properties": {"error": {"type": "string"}}}


def _operation(summary: str, request: dict[str, Any] | None, response: dict[str, Any],
               content_types: tuple[str, ...] = ("application/json",)) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {
        "200": {"description": "the model's answer",
                "content": {"application/json": {"schema": response}}},
        "401": {"description": "missing or wrong key or token"},
        "404": {"description": "unknown endpoint or deployment, or no deployment with traffic"},
        "408": {"description": "request_timeout_ms exceeded",
                "content": {"application/json": {"schema": _error_schema()}}},
        "413": {"description": "body larger than the server allows"},
        "429": {"description": "too many requests in flight for the deployment"},
        "503": {"description": "no ready instance"}}}
    if request is not None:
        content: dict[str, Any] = {content_types[0]: {"schema": request}}
        for extra in content_types[1:]:
            content[extra] = {"schema": {"type": "string"}}
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def build_document(endpoint: str, deployment: str, kind: str,
                   info: dict[str, Any] | None) -> dict[str, Any]:
    """The OpenAPI 3 document of ``endpoint`` as ``deployment`` serves it.

    Args:
        endpoint: the endpoint's name (the document's server is ``/endpoints/<endpoint>``).
        deployment: the deployment the description comes from.
        kind: the deployment's kind (``onnx``, ``mlflow`` or ``script``).
        info: the worker's model description, or None before any instance is ready.

    Example:
        >>> build_document("credit", "blue", "onnx", {"inputs": []})["openapi"]
        '3.0.3'
    """
    info = info or {}
    name = str(info.get("name") or deployment)
    version = str(info.get("version") or "1")
    items = _prediction_items(info)
    score_response = {"type": "array", "items": items} if kind != "script" else {}
    v2_request, v2_response = _v2_schemas(info)
    infer_summary = "Open Inference Protocol (V2) inference"
    paths: dict[str, Any] = {
        "/": {"get": {"summary": "liveness", "security": [],
                      "responses": {"200": {"description": "Healthy"}}}},
        "/score": {"post": _operation("Score (Azure): input_data as split, array or named "
                                      "tensors", _score_request(info, kind), score_response)},
        "/invocations": {"post": _operation(
            "Score (MLflow): dataframe_split, dataframe_records, instances or inputs",
            _invocations_request(info), {"type": "object", "properties": {
                "predictions": {"type": "array", "items": items}}},
            ("application/json", "text/csv"))},
        f"/v2/models/{endpoint}/infer": {"post": _operation(
            infer_summary + " through the traffic split", v2_request, v2_response)},
        f"/v2/models/{deployment}/infer": {"post": _operation(
            infer_summary + f" on deployment {deployment}", v2_request, v2_response)},
        "/v2/health/ready": {"get": {"summary": "readiness", "security": [],
                                     "responses": {"200": {"description": "ready"},
                                                   "503": {"description": "not ready"}}}},
    }
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"{endpoint} ({deployment})", "version": version,
                 "description": f"Online endpoint '{endpoint}' serving model '{name}' "
                                f"({info.get('platform') or kind}) from deployment "
                                f"'{deployment}'."},
        "servers": [{"url": f"/endpoints/{endpoint}"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {"securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "the endpoint's primary or secondary key, or an access token"}}},
    }
