"""Versioned asset specs: Data, Environment, Model and Component, as frozen pydantic models.

Owns what each asset *is* (its content fields) and what may change after registration (the
mutable metadata: description, tags, properties, stage). ``content_hash`` fingerprints the
content fields, so re-registering a version with the same content is a no-op and with other
content is a conflict. Specs hold resolved, stored locations (``azureml://...`` URIs); turning
local paths into stored ones is the asset service's job. No I/O.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from lakeworks.core.io import InputSpec, OutputSpec
from lakeworks.core.refs import AssetKind


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: fields that may change on an existing version; everything else is content.
    mutable_fields: ClassVar[frozenset[str]] = frozenset(
        {"description", "tags", "properties", "stage"}
    )
    kind: ClassVar[AssetKind]

    name: str
    version: str | None = None
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of the content fields (name and version excluded)."""
        data = self.model_dump(mode="json", exclude=set(self.mutable_fields) | {"name", "version"})
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class DataType(StrEnum):
    """Azure's data asset types."""

    URI_FILE = "uri_file"
    URI_FOLDER = "uri_folder"
    MLTABLE = "mltable"


class DataSpec(_Spec):
    """A data asset: an immutable pointer to a stored file, folder or MLTable folder."""

    kind: ClassVar[AssetKind] = AssetKind.DATA
    type: DataType = DataType.URI_FOLDER
    path: str
    properties: dict[str, str] = Field(default_factory=dict)
    #: SHA-256 of the stored bytes, when Lakeworks stored them.
    data_hash: str | None = None


class EnvironmentSpec(_Spec):
    """A Python environment: a conda file's Python part and/or pip requirements.

    ``image`` and ``build`` are kept for Azure compatibility; steps run on this machine's Python,
    and the environment builder says so in the job log.
    """

    kind: ClassVar[AssetKind] = AssetKind.ENVIRONMENT
    name: str = "anonymous"
    image: str | None = None
    conda_file: dict[str, Any] | None = None
    requirements: tuple[str, ...] | None = None
    build: dict[str, str] | None = None
    os_type: str | None = None
    inference_config: dict[str, Any] | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class ModelType(StrEnum):
    """Azure's model types."""

    CUSTOM = "custom_model"
    MLFLOW = "mlflow_model"
    TRITON = "triton_model"


class ModelSpec(_Spec):
    """A registered model: stored files plus lineage to the job and MLflow run that made it."""

    kind: ClassVar[AssetKind] = AssetKind.MODEL
    type: ModelType = ModelType.CUSTOM
    path: str
    flavors: dict[str, Any] | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    stage: str | None = None
    job_name: str | None = None
    run_id: str | None = None
    data_hash: str | None = None


class ComponentSpec(_Spec):
    """A reusable step: a shell command over a code snapshot in an environment.

    ``code`` is the stored snapshot URI (or None for no code); ``environment`` is a reference
    string (``name:version``, ``azureml://registries/...``) or an inline environment. A Spark
    component (``type: spark``) also keeps its ``entry`` file, ``args`` and Spark ``conf``;
    its ``command`` is the generated launch of that entry in a Lakeworks Spark session.
    """

    kind: ClassVar[AssetKind] = AssetKind.COMPONENT
    type: Literal["command", "spark"] = "command"
    display_name: str | None = None
    command: str
    code: str | None = None
    code_hash: str | None = None
    environment: str | EnvironmentSpec | None = None
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    outputs: dict[str, OutputSpec] = Field(default_factory=dict)
    is_deterministic: bool = True
    environment_variables: dict[str, str] = Field(default_factory=dict)
    properties: dict[str, str] = Field(default_factory=dict)
    entry: str | None = None
    args: str | None = None
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)
    py_files: tuple[str, ...] = ()

    mutable_fields: ClassVar[frozenset[str]] = frozenset(
        {"description", "tags", "properties", "stage", "display_name"}
    )


AssetSpec = DataSpec | EnvironmentSpec | ModelSpec | ComponentSpec

SPEC_CLASSES: dict[AssetKind, type[_Spec]] = {
    AssetKind.DATA: DataSpec,
    AssetKind.ENVIRONMENT: EnvironmentSpec,
    AssetKind.MODEL: ModelSpec,
    AssetKind.COMPONENT: ComponentSpec,
}


class AssetVersion(BaseModel):
    """One stored version of an asset, as the metadata store returns it."""

    model_config = ConfigDict(frozen=True)

    kind: AssetKind
    name: str
    version: str
    spec: dict[str, Any]
    content_hash: str
    created_at: datetime
    archived: bool = False

    def to_spec(self) -> AssetSpec:
        """Rebuild the typed spec from the stored JSON."""
        cls = SPEC_CLASSES[self.kind]
        return cls.model_validate({**self.spec, "name": self.name, "version": self.version})  # type: ignore[return-value]
