"""Asset entities with Azure ML's signatures: ``Data``, ``Environment``, ``BuildContext``, ``Model``.

Mutable objects users build and get back from operations; each converts to and from its frozen
core spec. Local paths stay local here; the asset service uploads them on registration.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from lakeworks.core.assets import (
    AssetVersion,
    DataSpec,
    DataType,
    EnvironmentSpec,
    ModelSpec,
    ModelType,
)
from lakeworks.errors import InvalidInputError, NotFoundError


def _abs(path: str | Path | None, base: Path | None) -> str | None:
    """Absolute local path for a relative one (URIs pass through)."""
    if path is None:
        return None
    text = str(path)
    if "://" in text or text.startswith("azureml:"):
        return text
    p = Path(text).expanduser()
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return str(p)


def _enum(cls: type[DataType] | type[ModelType], value: str, field: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise InvalidInputError(
            f"type {value!r} is not valid", field=field, allowed=[t.value for t in cls]
        ) from None


class _Asset:
    """Fields every asset has."""

    def __init__(
        self,
        name: str | None,
        version: str | int | None,
        description: str | None,
        tags: dict[str, str] | None,
        properties: dict[str, str] | None,
    ) -> None:
        self.name = name
        self.version = str(version) if version is not None else None
        self.description = description
        self.tags = dict(tags or {})
        self.properties = dict(properties or {})
        self.creation_context: dict[str, Any] | None = None
        self.id: str | None = None

    def _stamp(self, stored: AssetVersion, kind: str) -> None:
        self.creation_context = {"created_at": stored.created_at}
        self.id = f"azureml:{stored.name}:{stored.version}"
        self._archived = stored.archived
        self._kind = kind

    @property
    def created_at(self) -> datetime | None:
        return self.creation_context["created_at"] if self.creation_context else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


class Data(_Asset):
    """A data asset: ``uri_file``, ``uri_folder`` or ``mltable``."""

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        path: str | Path | None = None,
        type: str = "uri_folder",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, version, description, tags, properties)
        self.path = str(path) if path is not None else None
        self.type = type

    def _to_spec(self, base: Path | None = None) -> DataSpec:
        if not self.name:
            raise InvalidInputError("a data asset needs a name", field="name")
        if not self.path:
            raise InvalidInputError(f"data asset '{self.name}' needs a path", field="path")
        return DataSpec(
            name=self.name,
            version=self.version,
            description=self.description,
            tags=self.tags,
            properties=self.properties,
            type=_enum(DataType, self.type, "type"),
            path=_abs(self.path, base) or "",
        )

    @classmethod
    def _from_stored(cls, stored: AssetVersion) -> Data:
        spec = stored.to_spec()
        assert isinstance(spec, DataSpec)
        out = cls(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            tags=spec.tags,
            properties=spec.properties,
            path=spec.path,
            type=spec.type.value,
        )
        out._stamp(stored, "data")
        return out


class BuildContext:
    """A Docker build context (``path`` folder with a Dockerfile), as in Azure."""

    def __init__(self, *, path: str | Path, dockerfile_path: str = "Dockerfile", **_: Any) -> None:
        self.path = str(path)
        self.dockerfile_path = dockerfile_path


class Environment(_Asset):
    """A Python environment: a conda file (path or dict), an image, or a build context."""

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | int | None = None,
        description: str | None = None,
        image: str | None = None,
        build: BuildContext | None = None,
        conda_file: str | Path | dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        datastore: str | None = None,
        os_type: str | None = None,
        inference_config: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, version, description, tags, properties)
        self.image = image
        self.build = build
        self.conda_file = conda_file
        self.os_type = os_type
        self.inference_config = inference_config
        self.datastore = datastore

    def _conda_dict(self, base: Path | None) -> dict[str, Any] | None:
        conda = self.conda_file
        if conda is None or isinstance(conda, dict):
            return conda
        path = Path(_abs(conda, base) or "")
        if not path.is_file():
            raise NotFoundError(f"conda file '{path}' does not exist")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInputError(f"{path}: a conda file must be a mapping")
        return data

    def _to_spec(self, base: Path | None = None) -> EnvironmentSpec:
        if not self.name:
            raise InvalidInputError("an environment needs a name", field="name")
        build = None
        if self.build is not None:
            build = {
                "path": _abs(self.build.path, base) or "",
                "dockerfile_path": self.build.dockerfile_path,
            }
        return EnvironmentSpec(
            name=self.name,
            version=self.version,
            description=self.description,
            tags=self.tags,
            properties=self.properties,
            image=self.image,
            conda_file=self._conda_dict(base),
            build=build,
            os_type=self.os_type,
            inference_config=self.inference_config,
        )

    @classmethod
    def _from_spec(cls, spec: EnvironmentSpec) -> Environment:
        build = BuildContext(**spec.build) if spec.build else None
        return cls(
            name=spec.name,
            version=spec.version,
            description=spec.description,
            tags=spec.tags,
            properties=spec.properties,
            image=spec.image,
            conda_file=spec.conda_file,
            build=build,
            os_type=spec.os_type,
            inference_config=spec.inference_config,
        )

    @classmethod
    def _from_stored(cls, stored: AssetVersion) -> Environment:
        spec = stored.to_spec()
        assert isinstance(spec, EnvironmentSpec)
        out = cls._from_spec(spec)
        out._stamp(stored, "environment")
        return out


class Model(_Asset):
    """A registered model (``custom_model``, ``mlflow_model`` or ``triton_model``)."""

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | int | None = None,
        type: str | None = None,
        path: str | Path | None = None,
        flavors: dict[str, Any] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, str] | None = None,
        stage: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, version, description, tags, properties)
        self.type = type or "custom_model"
        self.path = str(path) if path is not None else None
        self.flavors = flavors
        self.stage = stage
        self.job_name: str | None = None
        self.run_id: str | None = None

    def _to_spec(self, base: Path | None = None) -> ModelSpec:
        if not self.name:
            raise InvalidInputError("a model needs a name", field="name")
        if not self.path:
            raise InvalidInputError(f"model '{self.name}' needs a path", field="path")
        return ModelSpec(
            name=self.name,
            version=self.version,
            description=self.description,
            tags=self.tags,
            properties=self.properties,
            type=_enum(ModelType, self.type, "type"),
            path=_abs(self.path, base) or "",
            flavors=self.flavors,
            stage=self.stage,
        )

    @classmethod
    def _from_stored(cls, stored: AssetVersion) -> Model:
        spec = stored.to_spec()
        assert isinstance(spec, ModelSpec)
        out = cls(
            name=spec.name,
            version=spec.version,
            type=spec.type.value,
            path=spec.path,
            flavors=spec.flavors,
            description=spec.description,
            tags=spec.tags,
            properties=spec.properties,
            stage=spec.stage,
        )
        out.job_name = spec.job_name
        out.run_id = spec.run_id
        out._stamp(stored, "model")
        return out


class Workspace:
    """What ``ml_client.workspaces.get`` returns: ``name``, ``location``, ``resource_group``."""

    def __init__(
        self,
        *,
        name: str,
        location: str = "local",
        resource_group: str = "local",
        description: str | None = None,
        display_name: str | None = None,
        path: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.location = location
        self.resource_group = resource_group
        self.description = description
        self.display_name = display_name or name
        self.path = path

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}, location={self.location!r}, path={self.path!r})"
