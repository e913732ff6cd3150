"""The pipeline being built by ``@dsl.pipeline``: which nodes a call created, and its inputs.

A context variable holds the active ``PipelineBuilder`` while a pipeline function runs, so that
each component call registers its node; ``PipelineInput`` stands for a pipeline parameter
inside the function and turns into ``${{parent.inputs.<name>}}``.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from types import CodeType, FrameType
from typing import Any

from lakeworks.client.entities.io import Input, infer_literal_spec, input_from_spec

_ACTIVE: ContextVar[PipelineBuilder | None] = ContextVar("lakeworks_pipeline", default=None)


class PipelineInput:
    """A pipeline parameter as seen inside the pipeline function."""

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    @property
    def binding(self) -> str:
        return f"${{{{parent.inputs.{self.name}}}}}"

    def declaration(self) -> Input:
        """The input declaration a ``command(inputs=...)`` infers from this parameter."""
        if isinstance(self.value, Input):
            return Input(type=self.value.type)
        if isinstance(self.value, bool | int | float) or (
            isinstance(self.value, str) and "://" not in self.value and ":" not in self.value
        ):
            return input_from_spec(infer_literal_spec(self.value))
        return Input(type="uri_folder")

    def __repr__(self) -> str:
        return f"PipelineInput({self.name}={self.value!r})"

    def __str__(self) -> str:
        return self.binding


class PipelineBuilder:
    """Collects the nodes created while a pipeline function runs, in creation order.

    It also keeps the pipeline function's frame (found on the stack when a node is added), so
    that after the function returns its local variable names can name the steps.
    """

    def __init__(self, code: CodeType | None = None) -> None:
        self.nodes: list[Any] = []
        self.code = code
        self.frames: dict[CodeType, FrameType] = {}
        self._token: Any = None

    def watch(self, code: CodeType) -> None:
        """Also remember the frame of ``code`` (a pipeline called inside this one)."""
        self.frames.pop(code, None)
        self._watched = (*getattr(self, "_watched", ()), code)

    def add(self, node: Any) -> None:
        self.nodes.append(node)
        wanted = {c for c in (self.code, *getattr(self, "_watched", ())) if c is not None}
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and wanted:
            if frame.f_code in wanted and frame.f_code not in self.frames:
                self.frames[frame.f_code] = frame
            frame = frame.f_back

    def local_names(self, code: CodeType) -> dict[str, Any]:
        """The final local variables of the pipeline function ``code`` (empty if unknown)."""
        frame = self.frames.get(code)
        return dict(frame.f_locals) if frame is not None else {}

    def __enter__(self) -> PipelineBuilder:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._token)


def current_builder() -> PipelineBuilder | None:
    """The pipeline being built right now, if any."""
    return _ACTIVE.get()
