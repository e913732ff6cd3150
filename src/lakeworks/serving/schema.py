"""The shared types of scoring: what a model reads, one parsed request, one model answer.

Owns ``TensorSpec`` (one model input or output as V2 metadata names it), ``InputSchema`` (a
model's inputs: one wide tensor, one input per column, named tensors, or nothing known),
``ModelRequest`` (a parsed request's feed of numpy arrays and how it batches), ``ModelAnswer``
(a model call's outputs) and the V2 datatypes with their numpy types. Protocol bodies are
parsed and rendered in ``lakeworks.serving.payloads``; feeds are built in
``lakeworks.serving.feeds``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import orjson

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
class ModelAnswer:
    """A model call's outputs for one request: arrays by output name, first dim = rows.

    ``main`` names the prediction (a classifier's label, a regressor's value); ``None`` means
    the model answers several columns (MLflow and Azure get them as records).
    """

    outputs: dict[str, np.ndarray]
    main: str | None


def datatype_of(array: np.ndarray) -> str:
    """The V2 datatype of a numpy array (``BYTES`` for text and objects)."""
    return _KIND_TO_DATATYPE.get((array.dtype.kind, array.dtype.itemsize), "BYTES")
