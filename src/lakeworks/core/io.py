"""Component inputs and outputs: declared types, modes, defaults, and the values bound to them.

Owns ``InputSpec``/``OutputSpec`` (what a component declares), ``DataInput`` (a data value bound
at job level), literal coercion (``"0.25"`` for a ``number``), and the type-compatibility rule
(a ``uri_file`` may be bound where ``uri_folder`` is declared, as the tutorial does). No I/O.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lakeworks.errors import InvalidInputError

Literal_ = str | int | float | bool


class IOType(StrEnum):
    """Declared types of inputs and outputs."""

    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"
    MLFLOW_MODEL = "mlflow_model"
    CUSTOM_MODEL = "custom_model"
    TRITON_MODEL = "triton_model"
    STRING = "string"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"


DATA_TYPES = frozenset(
    {
        IOType.URI_FILE,
        IOType.URI_FOLDER,
        IOType.MLTABLE,
        IOType.MLFLOW_MODEL,
        IOType.CUSTOM_MODEL,
        IOType.TRITON_MODEL,
    }
)
LITERAL_TYPES = frozenset({IOType.STRING, IOType.NUMBER, IOType.INTEGER, IOType.BOOLEAN})


class InputMode(StrEnum):
    """How a data input reaches the step (Azure's ``InputOutputModes``)."""

    RO_MOUNT = "ro_mount"
    DOWNLOAD = "download"
    DIRECT = "direct"
    EVAL_MOUNT = "eval_mount"
    EVAL_DOWNLOAD = "eval_download"
    RW_MOUNT = "rw_mount"
    UPLOAD = "upload"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputSpec(_Frozen):
    """One declared input of a component."""

    type: IOType = IOType.URI_FOLDER
    default: Literal_ | None = None
    optional: bool = False
    min: float | None = None
    max: float | None = None
    enum: tuple[str, ...] | None = None
    description: str | None = None
    mode: InputMode | None = None

    @property
    def is_data(self) -> bool:
        return self.type in DATA_TYPES


class OutputSpec(_Frozen):
    """One declared output of a component; data outputs are folders in the artifact store."""

    type: IOType = IOType.URI_FOLDER
    mode: InputMode | None = None
    description: str | None = None
    path: str | None = None


class DataInput(_Frozen):
    """A data value bound to an input: a stored or external URI with its declared type.

    ``path`` is a workspace URI (``azureml://datastores/...``), a job output URI, or an
    external fsspec URL. ``content_hash`` is known for everything Lakeworks stored itself.
    """

    type: IOType = IOType.URI_FOLDER
    path: str
    mode: InputMode | None = None
    content_hash: str | None = Field(default=None)


def compatible(declared: IOType, given: IOType) -> bool:
    """Whether a value of type ``given`` may be bound to an input declared ``declared``.

    Data types bind to each other loosely (Azure lets the job-level type win, and the tutorial
    binds a ``uri_file`` to a ``uri_folder`` input); literals never bind to data inputs.
    """
    if declared == given:
        return True
    return declared in DATA_TYPES and given in DATA_TYPES


def coerce_literal(spec: InputSpec, value: Any, *, where: str) -> Literal_:
    """Coerce a literal value to the declared type and check min/max/enum.

    Args:
        spec: the declared input.
        value: the given value (YAML and ``--set`` give strings).
        where: the field path for error messages, e.g. ``inputs.learning_rate``.

    Raises:
        InvalidInputError: the value cannot be read as the declared type or is out of range.
    """
    t = spec.type
    try:
        if t is IOType.BOOLEAN:
            if isinstance(value, bool):
                out: Literal_ = value
            elif isinstance(value, str) and value.lower() in ("true", "false"):
                out = value.lower() == "true"
            else:
                raise ValueError(value)
        elif t is IOType.INTEGER:
            if isinstance(value, bool):
                raise ValueError(value)
            f = float(value)
            if not f.is_integer():
                raise ValueError(value)
            out = int(f)
        elif t is IOType.NUMBER:
            if isinstance(value, bool):
                raise ValueError(value)
            out = float(value)
            if math.isnan(out):
                raise ValueError(value)
        else:
            if isinstance(value, dict | list):
                raise ValueError(value)
            out = str(value)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"value {value!r} is not a valid {t.value}", field=where
        ) from None
    if isinstance(out, int | float) and not isinstance(out, bool):
        if spec.min is not None and out < spec.min:
            raise InvalidInputError(f"value {out} is below the minimum {spec.min}", field=where)
        if spec.max is not None and out > spec.max:
            raise InvalidInputError(f"value {out} is above the maximum {spec.max}", field=where)
    if spec.enum is not None and str(out) not in spec.enum:
        raise InvalidInputError(f"value {out!r} is not allowed", field=where, allowed=spec.enum)
    return out
