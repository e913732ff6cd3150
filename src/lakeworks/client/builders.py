"""``command(...)`` and ``spark(...)``: build nodes, jobs or components as ``azure.ai.ml`` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakeworks.client.entities.components import Command, CommandComponent, declare_inputs
from lakeworks.client.entities.io import Output
from lakeworks.client.entities.spark import SparkComponent
from lakeworks.core.spark import KEYWORD_CONF


def _declare_outputs(
    outputs: dict[str, Output | None] | None,
) -> tuple[dict[str, Output], dict[str, Output]]:
    """Outputs as given (None -> a default folder) and as the component declares them."""
    given = {k: (v if v is not None else Output()) for k, v in (outputs or {}).items()}
    return given, {k: Output(type=v.type, mode=v.mode, description=v.description)
                   for k, v in given.items()}


def command(
    *,
    name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    properties: dict[str, str] | None = None,
    display_name: str | None = None,
    command: str | None = None,
    experiment_name: str | None = None,
    environment: Any = None,
    environment_variables: dict[str, str] | None = None,
    distribution: Any = None,
    compute: str | None = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Output | None] | None = None,
    instance_count: int | None = None,
    instance_type: str | None = None,
    timeout: int | None = None,
    code: str | Path | None = None,
    is_deterministic: bool = True,
    **kwargs: Any,
) -> Command:
    """Build a command: submit it as a job, register ``.component``, or call it in a pipeline.

    ``inputs`` maps names to ``Input(...)`` declarations (optionally with a path or default) or
    plain literals (their type is inferred). ``code`` is a local folder snapshotted on
    submission; relative paths are read from the current folder.

    Example:
        >>> job = command(
        ...     command="python train.py --lr ${{inputs.lr}}",
        ...     inputs={"lr": 0.01},
        ...     code="./src",
        ... )
        >>> job.component.inputs["lr"].type
        'number'
    """
    decls, values = declare_inputs(inputs or {})
    out_decls, out_specs = _declare_outputs(outputs)
    component = CommandComponent(
        name=name,
        description=description,
        tags=tags,
        properties=properties,
        display_name=display_name,
        command=command,
        code=code,
        environment=environment,
        inputs=decls,
        outputs=out_specs,
        is_deterministic=is_deterministic,
        environment_variables=environment_variables,
    )
    configured = {k: v for k, v in out_decls.items() if v.path is not None or v.mode is not None}
    return Command(
        component=component,
        inputs=values,
        outputs=configured,
        name=name,
        display_name=display_name,
        description=description,
        tags=tags,
        experiment_name=experiment_name,
        compute=compute,
        environment_variables=None,
        timeout=timeout,
    )


def spark(
    *,
    experiment_name: str | None = None,
    name: str | None = None,
    display_name: str | None = None,
    description: str | None = None,
    tags: dict[str, str] | None = None,
    code: str | Path | None = None,
    entry: Any = None,
    py_files: list[str] | None = None,
    conf: dict[str, Any] | None = None,
    environment: Any = None,
    inputs: dict[str, Any] | None = None,
    outputs: dict[str, Output | None] | None = None,
    args: str | None = None,
    compute: str | None = None,
    is_deterministic: bool = True,
    **kwargs: Any,
) -> Command:
    """Build a Spark job or node, as ``azure.ai.ml.spark``.

    ``entry={"file": "prep.py"}`` names the script in ``code``; ``args`` may use
    ``${{inputs.x}}`` and ``${{outputs.y}}``; ``conf`` (and the keyword forms
    ``driver_memory``, ``executor_cores``...) configure Spark. The script runs in a Spark
    session wired to the workspace's lake tables.

    Example:
        >>> job = spark(code="./src", entry={"file": "prep.py"},
        ...             args="--out ${{outputs.out}}", outputs={"out": Output()})
        >>> job.component.type
        'spark'
    """
    decls, values = declare_inputs(inputs or {})
    out_decls, out_specs = _declare_outputs(outputs)
    component = SparkComponent(
        name=name,
        display_name=display_name,
        description=description,
        tags=tags,
        code=code,
        entry=entry,
        py_files=py_files,
        conf=conf,
        args=args,
        environment=environment,
        inputs=decls,
        outputs=out_specs,
        is_deterministic=is_deterministic,
        **{k: v for k, v in kwargs.items() if k in KEYWORD_CONF},
    )
    configured = {k: v for k, v in out_decls.items() if v.path is not None}
    return Command(
        component=component,
        inputs=values,
        outputs=configured,
        name=name,
        display_name=display_name,
        description=description,
        tags=tags,
        experiment_name=experiment_name,
        compute=compute,
    )
