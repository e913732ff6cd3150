"""``@dsl.pipeline``: a Python function whose component calls become a pipeline's steps.

Calling the decorated function runs it once with each parameter standing for a pipeline input;
every component call inside creates a node. Steps are named after the variables the nodes are
assigned to (``prep = data_prep(...)`` makes step ``prep``), else after their component. The
function may return ``{output_name: node.outputs.x}`` to expose pipeline outputs. Calling a
pipeline inside another inlines its steps.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from typing import Any, TypeVar

from lakeworks.client.entities.components import Command, NodeOutput
from lakeworks.client.entities.jobs import PipelineJob, PipelineJobSettings
from lakeworks.client.graph_context import PipelineBuilder, PipelineInput, current_builder
from lakeworks.errors import InvalidInputError

F = TypeVar("F", bound=Callable[..., Any])

_SETTING_KEYS = {
    "default_compute": "default_compute",
    "default_compute_target": "default_compute",
    "default_datastore": "default_datastore",
    "continue_on_step_failure": "continue_on_step_failure",
    "force_rerun": "force_rerun",
    "max_parallel_steps": "max_parallel_steps",
}


class _SubPipeline:
    """What calling a pipeline inside another pipeline returns: its outputs."""

    def __init__(self, outputs: dict[str, NodeOutput]) -> None:
        self.outputs = type("Outputs", (), dict(outputs))()


def _step_names(nodes: list[Command], local_vars: dict[str, Any], prefix: str = "") -> list[str]:
    by_id = {id(v): k for k, v in local_vars.items() if isinstance(v, Command)}
    names: list[str] = []
    for node in nodes:
        base = by_id.get(id(node)) or node.name or node.component.name or "step"
        base = re.sub(r"[^A-Za-z0-9_.\-]", "_", prefix + base)
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.append(name)
    return names


def pipeline(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    version: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    experiment_name: str | None = None,
    tags: dict[str, str] | None = None,
    compute: str | None = None,
    **kwargs: Any,
) -> Any:
    """Decorate a function that calls components; calling it builds a ``PipelineJob``.

    Settings ``default_compute``, ``default_datastore``, ``continue_on_step_failure``,
    ``force_rerun`` and ``max_parallel_steps`` may be given here or changed later on
    ``job.settings``.

    Example:
        >>> @pipeline(description="prep then train")  # doctest: +SKIP
        ... def flow(data, lr):
        ...     prep = prep_component(data=data)
        ...     train = train_component(train_data=prep.outputs.train_data, lr=lr)
        ...     return {"model": train.outputs.model}
    """
    unknown = set(kwargs) - set(_SETTING_KEYS) - {"non_pipeline_inputs"}
    if unknown:
        raise InvalidInputError(
            f"@dsl.pipeline got unknown argument(s) {sorted(unknown)}",
            allowed=[*_SETTING_KEYS, "name", "display_name", "description", "experiment_name",
                     "tags", "compute", "version"],
        )

    def decorate(f: F) -> F:
        sig = inspect.signature(f)
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in sig.parameters.values()):
            raise InvalidInputError(f"pipeline function '{f.__name__}' may not take *args")

        @functools.wraps(f)
        def build(*args: Any, **call_kwargs: Any) -> Any:
            bound = sig.bind(*args, **call_kwargs)
            bound.apply_defaults()
            outer = current_builder()
            if outer is not None:
                # Inside another pipeline: inline this pipeline's steps there.
                before = len(outer.nodes)
                outer.watch(f.__code__)
                result = f(**bound.arguments)
                local_vars = outer.local_names(f.__code__)
                inner = outer.nodes[before:]
                for node, step in zip(inner, _step_names(inner, local_vars), strict=True):
                    node.name = node.name or f"{f.__name__}_{step}"
                return _SubPipeline(dict(result or {}))
            params = {k: PipelineInput(k, v) for k, v in bound.arguments.items()}
            with PipelineBuilder(f.__code__) as builder:
                result = f(**params)
            local_vars = builder.local_names(f.__code__)
            if result is not None and not isinstance(result, dict):
                raise InvalidInputError(
                    f"pipeline function '{f.__name__}' must return a dict of outputs or None"
                )
            names = _step_names(builder.nodes, local_vars)
            settings = PipelineJobSettings(
                **{_SETTING_KEYS[k]: v for k, v in kwargs.items() if k in _SETTING_KEYS}
            )
            job_name = name or f.__name__
            return PipelineJob(
                jobs=dict(zip(names, builder.nodes, strict=True)),
                inputs=dict(bound.arguments),
                outputs=dict(result or {}),
                settings=settings,
                display_name=display_name or job_name,
                description=description or inspect.getdoc(f),
                tags=tags,
                experiment_name=experiment_name or job_name,
                compute=compute,
            )

        return build  # type: ignore[return-value]

    if func is not None:
        return decorate(func)
    return decorate
