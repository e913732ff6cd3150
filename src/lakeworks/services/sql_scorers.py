"""A resolved model as SQL functions: input and output types, and the batch functions.

Owns what the engine's functions for ``PREDICT`` are made of: a resolved model (``SqlModel``:
how messages name it, its scorer from role ``onnx_scorer`` or ``pyfunc_scorer``, which share
one surface) with its inputs as SQL types; what each model output is returned as (a tensor
as its SQL type; class probabilities, a ZipMap or a ``[rows, classes]`` tensor, as
``MAP(label, DOUBLE)`` keyed by the graph's class labels); what the function form returns (a
regressor's value as DOUBLE, a classifier's ``STRUCT(label, probabilities)``); and the
functions over Arrow batches that run the scorer and build those values. Nothing here knows
the engine or the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lakeworks.core.predict import ONNX_SQL_TYPES
from lakeworks.errors import InvalidInputError

#: Arrow types of the SQL types model values come out as
ARROW: dict[str, pa.DataType] = {
    "FLOAT": pa.float32(), "DOUBLE": pa.float64(), "BIGINT": pa.int64(),
    "INTEGER": pa.int32(), "SMALLINT": pa.int16(), "TINYINT": pa.int8(),
    "UTINYINT": pa.uint8(), "BOOLEAN": pa.bool_(), "VARCHAR": pa.string(),
}
#: SQL types of numeric (and boolean) model inputs and values
NUMERIC = {"FLOAT", "DOUBLE", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "UTINYINT",
           "BOOLEAN"}


@dataclass(frozen=True)
class SqlModel:
    """A resolved model: how messages name it, its scorer (ONNX or pyfunc, one surface)."""

    ref: str
    scorer: Any

    @property
    def inputs(self) -> list[tuple[str, str, str]]:
        """(data column, input name, SQL type) per model input, in input order."""
        found = []
        for item in self.scorer.inputs:
            sql_type = ONNX_SQL_TYPES.get(item.onnx_type)
            if sql_type is None or item.width != 1:
                raise InvalidInputError(
                    f"model '{self.ref}': input '{item.name}' has type {item.onnx_type} "
                    f"(width {item.width}), which one SQL column cannot feed; export the "
                    "model with one input per column", field=item.name)
            found.append((item.column, item.name, sql_type))
        return found

    def describe(self) -> str:
        return ", ".join(f"{c} ({t})" for c, _, t in self.inputs) or "no named inputs"


#: how one output is returned: its SQL type and a converter from the scorer's numpy array
_Kind = tuple[str, Callable[[np.ndarray], pa.Array]]


def _label_type(model: SqlModel) -> str:
    label = next((o for o in model.scorer.outputs if "label" in o.name.lower()), None)
    if label is not None and label.onnx_type in ONNX_SQL_TYPES:
        return ONNX_SQL_TYPES[label.onnx_type].replace("INTEGER", "BIGINT")
    classes = model.scorer.classes
    return "BIGINT" if classes and isinstance(classes[0], int) else "VARCHAR"


def output_kind(model: SqlModel, output: Any) -> _Kind:
    """How one model output is returned in SQL.

    Args:
        model: the resolved model.
        output: one of its scorer's outputs (``name``, ``onnx_type``).

    Returns:
        The SQL type and a converter from the scorer's numpy array to an Arrow array.

    Raises:
        InvalidInputError: an output type SQL cannot return (naming the output).
    """
    probabilities = output.onnx_type.startswith("seq(map") or (
        "prob" in output.name.lower() and model.scorer.classes)
    if probabilities:
        key = _label_type(model)
        classes = list(model.scorer.classes)
        return f"MAP({key}, DOUBLE)", lambda v: _map(v, classes, key, model.ref)
    sql_type = ONNX_SQL_TYPES.get(output.onnx_type)
    if sql_type is None:
        raise InvalidInputError(
            f"model '{model.ref}': output '{output.name}' has type {output.onnx_type}, which "
            "SQL cannot return", field=output.name)
    return sql_type, lambda v: _scalar(v, sql_type)


def _scalar(values: np.ndarray, sql_type: str) -> pa.Array:
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise InvalidInputError(f"the output has {array.shape[1]} values per row; read it "
                                "as a probabilities output or a list")
    arrow = pa.array(array.tolist() if array.dtype == object else array)
    return arrow.cast(ARROW[sql_type])


def _map(values: np.ndarray, classes: list[Any], key: str, ref: str) -> pa.Array:
    probs = np.asarray(values, dtype=np.float64)
    rows, width = probs.shape if probs.ndim == 2 else (len(probs), 1)
    if width != len(classes):
        raise InvalidInputError(f"model '{ref}' gives {width} probabilities per row but "
                                f"declares {len(classes)} classes")
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    keys = pa.array(list(classes) * rows, type=ARROW[key])
    return pa.MapArray.from_arrays(offsets, keys, pa.array(probs.reshape(-1)))


def clause_scorer(
    model: SqlModel, outputs: list[Any], kinds: list[_Kind]
) -> Callable[[Sequence[pa.Array]], pa.Array]:
    """The batch function of a PREDICT clause: the model's input columns (in input order)
    in, a struct of the WITH ``outputs`` (fields ``o0, o1, ...``, typed by ``kinds``) out."""
    columns = [c for c, _, _ in model.inputs]
    names = [f"o{k}" for k in range(len(outputs))]

    def score(arrays: Sequence[pa.Array]) -> pa.Array:
        result = model.scorer.score(dict(zip(columns, arrays, strict=True)))
        fields = [convert(result[o.name]) for o, (_, convert) in zip(outputs, kinds, strict=True)]
        return pa.StructArray.from_arrays(fields, names=names)
    return score


def call_result(model: SqlModel) -> tuple[str, Callable[[dict[str, np.ndarray]], pa.Array]]:
    """What the function form returns: a regressor's value (DOUBLE; a text value VARCHAR)
    or a classifier's ``STRUCT(label, probabilities MAP(label, DOUBLE))``.

    Returns:
        The SQL type and a converter from the scorer's outputs to an Arrow array.
    """
    outputs = list(model.scorer.outputs)
    label = next((o for o in outputs if "label" in o.name.lower()), None)
    if label is None:
        value = outputs[0]
        sql_type = ONNX_SQL_TYPES.get(value.onnx_type, "DOUBLE")
        if sql_type in NUMERIC - {"BOOLEAN"}:
            sql_type = "DOUBLE"
        return sql_type, lambda result: _scalar(result[value.name], sql_type)
    key = _label_type(model)
    probs = next((o for o in outputs if "prob" in o.name.lower()), None)
    convert_map = output_kind(model, probs)[1] if probs is not None else None
    return_type = f"STRUCT(label {key}, probabilities MAP({key}, DOUBLE))"

    def convert(result: dict[str, np.ndarray]) -> pa.Array:
        labels = _scalar(result[label.name], key)
        if convert_map is not None and probs is not None:
            maps = convert_map(result[probs.name])
        else:
            maps = pa.nulls(len(labels), pa.map_(ARROW[key], pa.float64()))
        return pa.StructArray.from_arrays([labels, maps], names=["label", "probabilities"])
    return return_type, convert


def call_scorer(
    model: SqlModel, convert: Callable[[dict[str, np.ndarray]], pa.Array]
) -> Callable[[Sequence[pa.Array]], pa.Array]:
    """The batch function of the function form: the model's inputs in, ``convert``'s
    values out."""
    columns = [c for c, _, _ in model.inputs]

    def score(arrays: Sequence[pa.Array]) -> pa.Array:
        return convert(model.scorer.score(dict(zip(columns, arrays, strict=True))))
    return score
