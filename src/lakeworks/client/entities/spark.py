"""Spark components with Azure ML's shape (``SparkComponent``), runnable as pipeline steps.

A Spark component names an ``entry`` file in its ``code`` folder, ``args`` with
``${{inputs.x}}``/``${{outputs.y}}``, and Spark ``conf``; it runs through the same job engine
as command components, in a local Spark session wired to the workspace's lake (or the
cluster the workspace points at).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakeworks.client.entities.components import CommandComponent, environment_value
from lakeworks.client.entities.io import Input, Output
from lakeworks.core.assets import AssetVersion, ComponentSpec
from lakeworks.core.io import InputSpec, OutputSpec
from lakeworks.core.spark import KEYWORD_CONF, spark_command, validate_conf
from lakeworks.errors import InvalidInputError


def entry_file(entry: Any) -> str:
    """The file of ``entry={"file": "x.py"}`` (or an object with ``.entry``)."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping):
        if "file" in entry:
            return str(entry["file"])
        if "class_name" in entry:
            raise InvalidInputError(
                "Scala/Java Spark entries (entry.class_name) are not supported; give "
                "entry.file with a Python script",
                field="entry",
            )
    value = getattr(entry, "entry", None)
    if isinstance(value, str):
        return value
    raise InvalidInputError(f"entry {entry!r} is not valid: give {{'file': 'script.py'}}",
                            field="entry")


def merged_conf(conf: Mapping[str, Any] | None, keywords: Mapping[str, Any]) -> dict[str, Any]:
    """``conf`` plus the Spark settings given as Azure keyword arguments (driver_memory...)."""
    out = dict(conf or {})
    for key, value in keywords.items():
        if key in KEYWORD_CONF and value is not None:
            out[KEYWORD_CONF[key]] = value
    return out


class SparkComponent(CommandComponent):
    """A Spark component, as ``azure.ai.ml.entities.SparkComponent``."""

    type = "spark"

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        display_name: str | None = None,
        code: str | Path | None = None,
        entry: Any = None,
        py_files: list[str] | None = None,
        conf: Mapping[str, Any] | None = None,
        args: str | None = None,
        environment: Any = None,
        inputs: Mapping[str, Input | InputSpec] | None = None,
        outputs: Mapping[str, Output | OutputSpec | None] | None = None,
        is_deterministic: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            name=name, version=version, description=description, tags=tags,
            display_name=display_name, command="(spark)", code=code, environment=environment,
            inputs=inputs, outputs=outputs, is_deterministic=is_deterministic,
        )
        self.entry = {"file": entry_file(entry)} if entry is not None else None
        self.py_files = list(py_files or [])
        self.conf = merged_conf(conf, kwargs)
        self.args = args

    def _to_spec(self, base: Path | None = None) -> ComponentSpec:
        if self._spec is not None:
            return self._spec
        if self.entry is None:
            raise InvalidInputError(
                f"Spark component '{self.name or '?'}' needs entry={{'file': 'script.py'}}",
                field="entry",
            )
        file = self.entry["file"]
        conf = validate_conf(self.conf)
        return ComponentSpec(
            name=self.name or "anonymous_spark_component",
            version=self.version,
            type="spark",
            display_name=self.display_name,
            description=self.description,
            tags=self.tags,
            command=spark_command(file, self.args, conf, self.py_files),
            code=self.code,
            environment=environment_value(self.environment, base),
            inputs={k: v._to_spec(f"inputs.{k}") for k, v in self.inputs.items()},
            outputs={k: v._to_spec(f"outputs.{k}") for k, v in self.outputs.items()},
            is_deterministic=self.is_deterministic,
            entry=file,
            args=self.args,
            conf=conf,
            py_files=tuple(self.py_files),
        )

    @classmethod
    def _from_spec(cls, spec: ComponentSpec) -> SparkComponent:
        out = cls(
            name=spec.name, version=spec.version, description=spec.description,
            tags=spec.tags, display_name=spec.display_name, entry={"file": spec.entry},
            py_files=list(spec.py_files), conf=spec.conf, args=spec.args,
            environment=spec.environment if isinstance(spec.environment, str) else None,
            inputs=dict(spec.inputs), outputs=dict(spec.outputs),
            is_deterministic=spec.is_deterministic,
        )
        out.code = spec.code
        out._spec = spec
        return out

    def __repr__(self) -> str:
        return f"SparkComponent(name={self.name!r}, version={self.version!r})"


def component_from_stored(stored: AssetVersion) -> CommandComponent:
    """The entity of a stored component of any type (command or spark)."""
    spec = stored.to_spec()
    assert isinstance(spec, ComponentSpec)
    out = SparkComponent._from_spec(spec) if spec.type == "spark" else CommandComponent._from_spec(spec)
    out.id = f"azureml:{stored.name}:{stored.version}"
    return out
