"""YAML schemas in Azure ML's shape (components, command and pipeline jobs, data, environments,
models), as strict pydantic models: an unknown or mistyped field is an error naming it and the
fields allowed there.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _Doc(_Strict):
    schema_: str | None = Field(default=None, alias="$schema")


class _JobDoc(_Doc):
    """The header every job type's YAML shares."""

    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    experiment_name: str | None = None
    compute: str | None = None


class InputYaml(_Strict):
    type: str = "uri_folder"
    path: str | None = None
    mode: str | None = None
    default: Scalar | None = None
    optional: bool | None = None
    min: float | None = None
    max: float | None = None
    enum: list[Scalar] | None = None
    description: str | None = None
    datastore: str | None = None


class OutputYaml(_Strict):
    type: str = "uri_folder"
    path: str | None = None
    mode: str | None = None
    description: str | None = None
    name: str | None = None
    version: str | None = None


class BuildYaml(_Strict):
    path: str
    dockerfile_path: str = "Dockerfile"


class EnvironmentYaml(_Doc):
    name: str | None = None
    version: str | int | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    image: str | None = None
    conda_file: str | dict[str, Any] | None = None
    build: BuildYaml | None = None
    os_type: str | None = None
    inference_config: dict[str, Any] | None = None
    datastore: str | None = None


class LimitsYaml(_Strict):
    timeout: int | None = None


class ComponentYaml(_Doc):
    type: Literal["command"] = "command"
    name: str | None = None
    version: str | int | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, InputYaml] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    command: str
    is_deterministic: bool = True
    environment_variables: dict[str, str] = Field(default_factory=dict)
    distribution: dict[str, Any] | None = None
    resources: dict[str, Any] | None = None
    additional_includes: list[str] | None = None


class CommandJobYaml(_JobDoc):
    type: Literal["command"] = "command"
    command: str
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    inputs: dict[str, InputYaml | Scalar | None] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    limits: LimitsYaml | None = None
    resources: dict[str, Any] | None = None
    identity: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None
    services: dict[str, Any] | None = None
    queue_settings: dict[str, Any] | None = None
    is_deterministic: bool = True


class EntryYaml(_Strict):
    file: str | None = None
    class_name: str | None = None


class _SparkFields(_Strict):
    entry: EntryYaml | None = None
    py_files: list[str] = Field(default_factory=list)
    jars: list[str] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    archives: list[str] = Field(default_factory=list)
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    args: str | None = None
    identity: dict[str, Any] | None = None


class SparkComponentYaml(_SparkFields, _Doc):
    type: Literal["spark"]
    name: str | None = None
    version: str | int | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    inputs: dict[str, InputYaml] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    resources: dict[str, Any] | None = None
    is_deterministic: bool = True


class SparkJobYaml(_SparkFields, _JobDoc):
    type: Literal["spark"]
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    inputs: dict[str, InputYaml | Scalar | None] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    resources: dict[str, Any] | None = None


class PipelineStepYaml(_SparkFields):
    type: Literal["command", "spark"] = "command"
    component: str | ComponentYaml | SparkComponentYaml | None = None
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    inputs: dict[str, InputYaml | Scalar | None] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | str | None] = Field(default_factory=dict)
    environment_variables: dict[str, str] = Field(default_factory=dict)
    limits: LimitsYaml | None = None
    resources: dict[str, Any] | None = None
    # inline command step (no component:)
    command: str | None = None
    code: str | None = None
    environment: str | EnvironmentYaml | None = None
    is_deterministic: bool | None = None


class PipelineSettingsYaml(_Strict):
    default_datastore: str | None = None
    default_compute: str | None = None
    continue_on_step_failure: bool | None = None
    force_rerun: bool | None = None
    is_deterministic: bool | None = None
    max_parallel_steps: int | None = None


class PipelineJobYaml(_JobDoc):
    type: Literal["pipeline"]
    inputs: dict[str, InputYaml | Scalar | None] = Field(default_factory=dict)
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    settings: PipelineSettingsYaml = Field(default_factory=PipelineSettingsYaml)
    jobs: dict[str, PipelineStepYaml]


class DataYaml(_Doc):
    name: str
    version: str | int | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    type: Literal["uri_file", "uri_folder", "mltable"] = "uri_folder"
    path: str


class ModelYaml(_Doc):
    name: str
    version: str | int | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    type: Literal["custom_model", "mlflow_model", "triton_model"] = "custom_model"
    path: str
    flavors: dict[str, Any] | None = None
    stage: str | None = None
