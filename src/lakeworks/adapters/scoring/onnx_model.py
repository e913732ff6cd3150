"""ONNX models for scoring: the model's interface, input binding and casts, cached sessions.

Owns turning ONNX bytes into something SQL and Spark can call: the graph's inputs (each bound
to a data column by name: the input's own name, or the raw column an AutoML export recorded in
its ``lakeworks.columns`` metadata when the converter renamed it), its outputs (a regressor's
``variable``, a classifier's label and probabilities, with a ZipMap's sequence of maps turned
into a ``[rows, classes]`` array; a classifier's class labels read from the graph), casting each column to its input's element type, and one
ONNX Runtime session per model content (sha256), created with one intra-op thread: the caller
(DuckDB's threads, Spark's tasks) already runs batches in parallel, and a pool per call is
slower (see BENCHMARKS.md). Must not know where models are stored.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from lakeworks.errors import InvalidInputError, MissingDependencyError

_META_COLUMNS = "lakeworks.columns"
_CLASS_LABELS = ("classlabels_strings", "classlabels_int64s", "classlabels_ints")
_SESSIONS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()

#: ONNX tensor element types and the numpy type a column is cast to.
_ELEMENTS: dict[str, Any] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(int16)": np.int16, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_, "tensor(string)": object,
}


@dataclass(frozen=True)
class ModelInput:
    """One graph input: its name, the data column it reads, its element type."""

    name: str
    column: str
    onnx_type: str  # e.g. "tensor(float)"
    width: int  # second dimension (1 for one column per input)

    @property
    def is_text(self) -> bool:
        return self.onnx_type == "tensor(string)"


@dataclass(frozen=True)
class ModelOutput:
    """One graph output: its name and ONNX type (``seq(map(...))`` for a ZipMap)."""

    name: str
    onnx_type: str


def content_hash(content: bytes) -> str:
    """The sha256 of a model's bytes: the cache key of its session."""
    return hashlib.sha256(content).hexdigest()


def _session(content: bytes, digest: str, threads: int) -> Any:
    key = (digest, threads)
    with _LOCK:
        found = _SESSIONS.get(key)
        if found is not None:
            return found
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise MissingDependencyError("onnxruntime", "automl", "scoring ONNX models") from exc

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(content, sess_options=options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own types for unreadable graphs
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(f"the model's bytes are not a usable ONNX model ({first})",
                                field="model") from exc
    with _LOCK:
        return _SESSIONS.setdefault(key, session)


class OnnxModel:
    """An ONNX model ready to score columns.

    Args:
        content: the serialized ONNX model.
        threads: ONNX Runtime intra-op threads of its session (1 inside engines that run
            batches in parallel).

    Raises:
        InvalidInputError: the bytes are not an ONNX model ONNX Runtime can load.

    Example:
        >>> model = OnnxModel(onnx_bytes)  # doctest: +SKIP
        >>> model.score({"temp": pa.array([0.3, 0.5]), "season": pa.array(["w", "s"])})
        {'variable': array([1234.5, 2345.6], dtype=float32)}
    """

    def __init__(self, content: bytes, *, threads: int = 1) -> None:
        if not content:
            raise InvalidInputError("the model is empty (no ONNX bytes)", field="model")
        self.digest = content_hash(content)
        self._content = content
        self._classes: list[Any] | None = None
        self.session = _session(content, self.digest, threads)
        mapping = self._column_mapping()
        self.inputs = [
            ModelInput(i.name, mapping.get(i.name, i.name), i.type, _width(i.shape))
            for i in self.session.get_inputs()
        ]
        self.outputs = [ModelOutput(o.name, o.type) for o in self.session.get_outputs()]

    def _column_mapping(self) -> dict[str, str]:
        meta = self.session.get_modelmeta().custom_metadata_map
        try:
            entries = json.loads(meta.get(_META_COLUMNS, "[]"))
        except ValueError:
            return {}
        return {e["input"]: e["column"] for e in entries if "input" in e and "column" in e}

    @property
    def columns(self) -> list[str]:
        """The data columns the model reads, in input order."""
        return [i.column for i in self.inputs]

    @property
    def classes(self) -> list[Any]:
        """A classifier's class labels in the order of its probability columns (the labels a
        classifier node of the graph declares); empty when the graph declares none."""
        if self._classes is None:
            labels = _class_labels(self._content)
            zipmap = any(o.onnx_type.startswith("seq(map") for o in self.outputs)
            self._classes = sorted(labels) if zipmap else labels  # as ``_as_array`` orders
        return self._classes

    def missing(self, available: Sequence[str]) -> list[str]:
        """The model's columns absent from ``available`` (matched case-insensitively)."""
        have = {c.lower() for c in available}
        return [c for c in self.columns if c.lower() not in have]

    def output(self, name: str) -> ModelOutput:
        """The output called ``name`` (case-insensitive).

        Raises:
            InvalidInputError: no output has that name (the error lists the real ones).
        """
        for out in self.outputs:
            if out.name.lower() == name.lower():
                return out
        raise InvalidInputError(
            f"the model has no output '{name}'; its outputs are "
            + ", ".join(f"{o.name} ({o.onnx_type})" for o in self.outputs), field=name)

    def score(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Run the model over ``columns`` (name -> pyarrow array, numpy array or list).

        Columns are found by the model's column names, case-insensitively. Returns each output
        as a numpy array: ``[rows]`` for one value per row, ``[rows, k]`` for several (a
        ZipMap's maps become columns in class order).

        Raises:
            InvalidInputError: a column is missing (the error lists the model's inputs and the
                columns given) or cannot be cast to its input's type.
        """
        by_lower = {name.lower(): value for name, value in columns.items()}
        missing = self.missing(list(columns))
        if missing:
            raise InvalidInputError(
                f"the data lacks the model's input column(s) {', '.join(missing)}; the model "
                f"takes {', '.join(self._describe())} and the data has "
                f"{', '.join(columns) or 'no columns'}", field=missing[0])
        feeds = {i.name: _cast(i, by_lower[i.column.lower()]) for i in self.inputs}
        raw = self.session.run(None, feeds)
        return {o.name: _as_array(value) for o, value in zip(self.outputs, raw, strict=True)}

    def _describe(self) -> list[str]:
        return [f"{i.column} ({i.onnx_type.removeprefix('tensor(').rstrip(')')})"
                for i in self.inputs]


def _class_labels(content: bytes) -> list[Any]:
    """The class labels of the first graph node that declares them (ZipMap, or a classifier
    node such as TreeEnsembleClassifier), in the node's order."""
    try:
        import onnx
    except ImportError as exc:
        raise MissingDependencyError("onnx", "automl", "reading a classifier's labels") from exc
    graph = onnx.load_model_from_string(content).graph
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.name in _CLASS_LABELS:
                values = onnx.helper.get_attribute_value(attribute)
                labels = [v.decode() if isinstance(v, bytes) else int(v) for v in values]
                return labels
    return []


def _width(shape: Sequence[Any]) -> int:
    if len(shape) >= 2 and isinstance(shape[1], int):
        return shape[1]
    return 1


def _cast(model_input: ModelInput, value: Any) -> np.ndarray:
    """A column as the ``[rows, 1]`` tensor its input takes."""
    target = _ELEMENTS.get(model_input.onnx_type)
    if target is None:
        raise InvalidInputError(
            f"input '{model_input.name}' has type {model_input.onnx_type}, which SQL columns "
            "cannot feed", field=model_input.name)
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    try:
        if model_input.is_text:
            if isinstance(value, pa.Array):  # Arrow casts and fills in C: no loop per row
                array = np.asarray(value.cast(pa.string()).fill_null("").to_numpy(
                    zero_copy_only=False), dtype=object)
            else:
                array = np.asarray([("" if v is None else str(v)) for v in value], dtype=object)
        else:
            if isinstance(value, pa.Array):
                if np.issubdtype(target, np.integer) or target is np.bool_:
                    if value.null_count:
                        raise InvalidInputError(
                            f"column '{model_input.column}' has missing values, which input "
                            f"'{model_input.name}' ({model_input.onnx_type}) cannot take",
                            field=model_input.column)
                    value = value.to_numpy(zero_copy_only=False)
                else:  # missing values become NaN, which tree models route as missing
                    if pa.types.is_boolean(value.type):
                        value = value.cast(pa.int8())
                    value = value.cast(pa.float64()).to_numpy(zero_copy_only=False)
            array = np.asarray(value).astype(target)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidInputError(
            f"column '{model_input.column}' cannot be cast to "
            f"{model_input.onnx_type} for input '{model_input.name}': {exc}",
            field=model_input.column) from exc
    return array.reshape(-1, 1) if model_input.width == 1 else array


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, list) and value and isinstance(value[0], dict):  # a ZipMap
        keys = sorted(value[0])
        return np.asarray([[row[k] for k in keys] for row in value], dtype=np.float64)
    array = np.asarray(value)
    if array.ndim == 2 and array.shape[1] == 1:
        return array.ravel()
    return array
