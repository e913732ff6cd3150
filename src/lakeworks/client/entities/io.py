"""``Input`` and ``Output``, with Azure ML's signatures, and their conversion to core specs.

An ``Input`` is either a declaration (in a component: type, default, optional, min, max, enum)
or a value (in a job: type plus path, or a literal default). ``Output`` declares or configures a
data output. Mutable, as in Azure; the frozen core specs are made from them on submission.
"""

from __future__ import annotations

from typing import Any

from lakeworks.core.io import DataInput, InputMode, InputSpec, IOType, Literal_, OutputSpec
from lakeworks.errors import InvalidInputError


def _io_type(value: str, where: str) -> IOType:
    try:
        return IOType(value)
    except ValueError:
        raise InvalidInputError(
            f"type {value!r} is not a known input/output type",
            field=where,
            allowed=[t.value for t in IOType],
        ) from None


def _mode(value: str | None, where: str) -> InputMode | None:
    if value is None:
        return None
    try:
        return InputMode(value)
    except ValueError:
        raise InvalidInputError(
            f"mode {value!r} is not known", field=where, allowed=[m.value for m in InputMode]
        ) from None


class Input:
    """An input declaration or value, as ``azure.ai.ml.Input``.

    Example:
        >>> Input(type="uri_file", path="./data.csv").type
        'uri_file'
    """

    def __init__(
        self,
        *,
        type: str = "uri_folder",
        path: str | None = None,
        mode: str | None = None,
        path_on_compute: str | None = None,
        default: Literal_ | None = None,
        optional: bool | None = None,
        min: float | None = None,
        max: float | None = None,
        enum: list[Any] | None = None,
        description: str | None = None,
        datastore: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.type = type
        self.path = path
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.default = default
        self.optional = optional
        self.min = min
        self.max = max
        self.enum = enum
        self.description = description
        self.datastore = datastore
        _io_type(type, "type")

    def _to_spec(self, where: str = "inputs") -> InputSpec:
        return InputSpec(
            type=_io_type(self.type, f"{where}.type"),
            default=self.default,
            optional=bool(self.optional),
            min=self.min,
            max=self.max,
            enum=tuple(str(e) for e in self.enum) if self.enum is not None else None,
            description=self.description,
            mode=_mode(self.mode, f"{where}.mode"),
        )

    def _to_value(self, where: str = "inputs") -> DataInput | Literal_ | None:
        """The job-level value this Input carries (a data path, or a literal default)."""
        t = _io_type(self.type, f"{where}.type")
        if t.value in ("string", "number", "integer", "boolean"):
            return self.default
        if self.path is None:
            return None
        return DataInput(type=t, path=str(self.path), mode=_mode(self.mode, f"{where}.mode"))

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if v is not None}
        return "Input(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


class Output:
    """An output declaration or configuration, as ``azure.ai.ml.Output``."""

    def __init__(
        self,
        *,
        type: str = "uri_folder",
        path: str | None = None,
        mode: str | None = None,
        description: str | None = None,
        name: str | None = None,
        version: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.type = type
        self.path = path
        self.mode = mode
        self.description = description
        self.name = name
        self.version = version
        _io_type(type, "type")

    def _to_spec(self, where: str = "outputs") -> OutputSpec:
        return OutputSpec(
            type=_io_type(self.type, f"{where}.type"),
            mode=_mode(self.mode, f"{where}.mode"),
            description=self.description,
            path=self.path,
        )

    def __repr__(self) -> str:
        fields = {k: v for k, v in self.__dict__.items() if v is not None}
        return "Output(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def input_from_spec(spec: InputSpec) -> Input:
    """The ``Input`` declaring ``spec``."""
    return Input(
        type=spec.type.value,
        default=spec.default,
        optional=spec.optional or None,
        min=spec.min,
        max=spec.max,
        enum=list(spec.enum) if spec.enum is not None else None,
        description=spec.description,
        mode=spec.mode.value if spec.mode else None,
    )


def output_from_spec(spec: OutputSpec) -> Output:
    """The ``Output`` declaring ``spec``."""
    return Output(
        type=spec.type.value,
        mode=spec.mode.value if spec.mode else None,
        description=spec.description,
        path=spec.path,
    )


def infer_literal_spec(value: Literal_) -> InputSpec:
    """Declare an input from a literal given where Azure infers the type (``lr=0.01``)."""
    if isinstance(value, bool):
        return InputSpec(type=IOType.BOOLEAN, default=value)
    if isinstance(value, int):
        return InputSpec(type=IOType.INTEGER, default=value)
    if isinstance(value, float):
        return InputSpec(type=IOType.NUMBER, default=value)
    return InputSpec(type=IOType.STRING, default=value)
