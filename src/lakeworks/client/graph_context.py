"""The pipeline being built by ``@dsl.pipeline``: which nodes a call created, and its inputs.

A context variable holds the active ``PipelineBuilder`` while a pipeline function runs, so that
each component call registers its node; ``PipelineInput`` stands for a pipeline parameter
inside the function and turns into ``${{parent.inputs.<name>}}``.
"""

from __future__ import annotations

from contextvars import ContextVar
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
    """Collects the nodes created while a pipeline function runs, in creation order."""

    def __init__(self) -> None:
        self.nodes: list[Any] = []
        self._token: Any = None

    def add(self, node: Any) -> None:
        self.nodes.append(node)

    def __enter__(self) -> PipelineBuilder:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.reset(self._token)


def current_builder() -> PipelineBuilder | None:
    """The pipeline being built right now, if any."""
    return _ACTIVE.get()
