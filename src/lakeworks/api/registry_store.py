"""The MLflow model-registry store whose registered models ARE the workspace's Lakeworks models.

Owns translating MLflow registry calls (``create_model_version``, ``search_model_versions``,
aliases, stages, tags) into Lakeworks model assets, and fetching the files an MLflow source
names (``mlflow-artifacts:/...``, ``runs:/...``, ``models:/m-<id>``) into the artifact store.
Used by the workspace tracking server under the URI ``lakeworks:<absolute workspace path>``.
Must not keep any model state of its own except registered-model-level metadata (description,
tags of a name that has no version yet), kept in ``.lakeworks/mlflow-registry.json``. Versions
are immutable: deleting one is refused (archive it instead). Errors are ``MlflowException``s
with MLflow error codes, because MLflow's REST handlers and clients act on those codes.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from mlflow.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    STAGE_ARCHIVED,
    STAGE_NONE,
    get_canonical_stage,
)
from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
from mlflow.protos.databricks_pb2 import (
    BAD_REQUEST,
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.artifacts import download_artifacts
from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository
from mlflow.store.artifact.utils.models import _parse_model_uri, get_model_name_and_version
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.tracking._tracking_service.utils import _get_store as _get_tracking_store
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils, SearchUtils
from mlflow.utils.uri import append_to_uri_path

from lakeworks.core.assets import AssetVersion, ModelSpec, ModelType
from lakeworks.core.names import validate_name
from lakeworks.core.refs import AssetKind
from lakeworks.errors import (
    ConflictError,
    InvalidInputError,
    LakeworksError,
    NotFoundError,
)
from lakeworks.services.assets import AssetService
from lakeworks.services.workspace import Workspace, open_workspace

log = logging.getLogger(__name__)

SCHEME = "lakeworks"
#: version tags ``lakeworks.alias.<alias>`` carry the registered model's aliases
ALIAS_TAG_PREFIX = "lakeworks.alias."
#: the MLflow run tag naming the Lakeworks job that made a run
JOB_NAME_TAG = "lakeworks.job_name"
# ModelSpec.properties keys keeping the MLflow view of a version
PROP_SOURCE = "mlflow.source"
PROP_DOWNLOAD_URI = "mlflow.download_uri"
PROP_MODEL_ID = "mlflow.model_id"
PROP_RUN_LINK = "mlflow.run_link"
PROP_USER = "mlflow.user_id"
_PROXY_ANCHOR = "/api/2.0/mlflow-artifacts/artifacts/"


def workspace_path_from_uri(store_uri: str | None) -> Path:
    """The workspace folder of ``lakeworks:/abs/path`` or ``lakeworks:///abs/path``."""
    parsed = urllib.parse.urlparse(store_uri or "")
    if parsed.scheme != SCHEME or parsed.netloc or not parsed.path.startswith("/"):
        raise MlflowException(
            f"registry store URI {store_uri!r} is not valid: expected "
            f"'{SCHEME}:<absolute workspace path>' such as '{SCHEME}:/home/me/ws'",
            INVALID_PARAMETER_VALUE,
        )
    return Path(urllib.parse.unquote(parsed.path))


@contextmanager
def _mlflow_errors() -> Iterator[None]:
    """Turn Lakeworks errors into MlflowExceptions with the matching MLflow error code."""
    try:
        yield
    except NotFoundError as exc:
        raise MlflowException(str(exc), RESOURCE_DOES_NOT_EXIST) from exc
    except ConflictError as exc:
        raise MlflowException(str(exc), RESOURCE_ALREADY_EXISTS) from exc
    except InvalidInputError as exc:
        raise MlflowException(str(exc), INVALID_PARAMETER_VALUE) from exc
    except LakeworksError as exc:
        raise MlflowException(f"Lakeworks registry failed: {exc}", INTERNAL_ERROR) from exc


def _millis(version: AssetVersion) -> int:
    return int(version.created_at.timestamp() * 1000)


def _version_order(mv: ModelVersion) -> tuple[int, int, int]:
    """Sort key: numeric versions by number, after non-numeric ones ordered by creation time."""
    text = str(mv.version)
    return (1, int(text), mv.creation_timestamp) if text.isdigit() else (0, 0, mv.creation_timestamp)


class _ModelRecords:
    """Registered-model-level metadata in one JSON file, edited under an exclusive file lock."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(self.path.read_text() or "{}")
        return data

    @contextmanager
    def edit(self) -> Iterator[dict[str, dict[str, Any]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self.read()
            yield records
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
            tmp.replace(self.path)


class LakeworksRegistryStore(AbstractStore):  # type: ignore[misc]
    """MLflow model registry over the model assets of one Lakeworks workspace.

    Args:
        store_uri: ``lakeworks:<absolute workspace path>``.
        tracking_uri: the tracking store used to resolve runs and logged models when this
            store runs outside the tracking server.
    """

    def __init__(self, store_uri: str | None = None, tracking_uri: str | None = None) -> None:
        super().__init__(store_uri, tracking_uri)
        self.store_uri = store_uri
        self.tracking_uri = tracking_uri
        with _mlflow_errors():
            self.workspace: Workspace = open_workspace(workspace_path_from_uri(store_uri))
        self.assets = AssetService(self.workspace)
        self._records = _ModelRecords(self.workspace.state_dir / "mlflow-registry.json")

    # -- reading ---------------------------------------------------------------------------

    def _to_mlflow(self, version: AssetVersion) -> ModelVersion:
        spec = version.to_spec()
        assert isinstance(spec, ModelSpec)
        props = spec.properties
        tags = [ModelVersionTag(k, v) for k, v in spec.tags.items()
                if not k.startswith(ALIAS_TAG_PREFIX)]
        aliases = [k[len(ALIAS_TAG_PREFIX):] for k in spec.tags if k.startswith(ALIAS_TAG_PREFIX)]
        return ModelVersion(
            name=version.name,
            version=version.version,
            creation_timestamp=_millis(version),
            last_updated_timestamp=_millis(version),
            description=spec.description,
            user_id=props.get(PROP_USER),
            current_stage=spec.stage or STAGE_NONE,
            source=props.get(PROP_SOURCE, spec.path),
            run_id=spec.run_id,
            tags=tags,
            run_link=props.get(PROP_RUN_LINK),
            aliases=aliases,
            model_id=props.get(PROP_MODEL_ID),
        )

    def _asset(self, name: str, version: str | int) -> AssetVersion:
        with _mlflow_errors():
            return self.assets.get(AssetKind.MODEL, name, version=str(version))

    def _versions(self, name: str, *, must_exist: bool = True) -> list[ModelVersion]:
        with _mlflow_errors():
            found = self.assets.list(AssetKind.MODEL, name, include_archived=True)
        if must_exist and not found and name not in self._records.read():
            raise MlflowException(f"Registered Model with name={name} not found",
                                  RESOURCE_DOES_NOT_EXIST)
        return [self._to_mlflow(v) for v in found if not v.archived]

    def _registered(self, name: str, record: dict[str, Any] | None = None) -> RegisteredModel:
        versions = self._versions(name)
        record = record if record is not None else self._records.read().get(name, {})
        times = [mv.creation_timestamp for mv in versions]
        created = record.get("created", min(times, default=0))
        updated = max([record.get("updated", created), *times])
        return RegisteredModel(
            name=name,
            creation_timestamp=created,
            last_updated_timestamp=updated,
            description=record.get("description"),
            latest_versions=self._latest(versions, None),
            tags=[RegisteredModelTag(k, v) for k, v in record.get("tags", {}).items()],
            aliases=[RegisteredModelAlias(a, mv.version) for mv in versions for a in mv.aliases],
        )

    @staticmethod
    def _latest(versions: list[ModelVersion], stages: Sequence[str] | None) -> list[ModelVersion]:
        by_stage: dict[str, ModelVersion] = {}
        for mv in sorted(versions, key=_version_order):
            by_stage[mv.current_stage] = mv
        if not stages:
            return [by_stage[s] for s in ALL_STAGES if s in by_stage]
        wanted = [get_canonical_stage(s) for s in stages]
        return [by_stage[s] for s in wanted if s in by_stage]

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registered(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        records = self._records.read()
        with _mlflow_errors():
            names = {v.name for v in self.assets.list(AssetKind.MODEL)} | set(records)
        models = [self._registered(n, records.get(n)) for n in sorted(names)]
        models = SearchModelUtils.filter(models, filter_string)
        models = SearchModelUtils.sort(models, order_by or ["name ASC"])
        return _page(models, max_results or 100, page_token)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return self._latest(self._versions(name), stages)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        return self._to_mlflow(self._asset(name, version))

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        asset = self._asset(name, version)
        spec = asset.to_spec()
        assert isinstance(spec, ModelSpec)
        if PROP_DOWNLOAD_URI in spec.properties:
            return spec.properties[PROP_DOWNLOAD_URI]
        # A model registered through Lakeworks itself: point at its stored files.
        with _mlflow_errors():
            key = self.assets.key_of(spec.path)
        local = self.workspace.artifacts.local_path(key)
        if local is not None:
            return local.as_uri()
        return f"{self.workspace.artifacts.url.rstrip('/')}/{key}"

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        with _mlflow_errors():
            every = self.workspace.metadata.assets.list_versions(AssetKind.MODEL, None)
        versions = SearchModelVersionUtils.filter(
            [self._to_mlflow(v) for v in every if not v.archived], filter_string
        )
        if order_by:
            versions = SearchModelVersionUtils.sort(versions, order_by)
        else:  # name ascending, newest version first; non-numeric versions must not break this
            versions = sorted(versions, key=_version_order, reverse=True)
            versions.sort(key=lambda mv: mv.name)
        return _page(versions, max_results or 10000, page_token)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        for mv in self._versions(name):
            if alias in mv.aliases:
                return mv
        raise MlflowException(
            f"Registered model alias {alias} not found.", RESOURCE_DOES_NOT_EXIST
        )

    # -- registered models -----------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Sequence[RegisteredModelTag] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        with _mlflow_errors():
            validate_name(name, what="model name")
        tag_map = {t.key: t.value for t in tags or []}
        if IS_PROMPT_TAG_KEY in tag_map:
            raise MlflowException(
                "prompts are not supported by the Lakeworks model registry", BAD_REQUEST
            )
        with self._records.edit() as records:
            if name in records or self._versions(name, must_exist=False):
                raise MlflowException(
                    f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS
                )
            now = _now_ms()
            records[name] = {"created": now, "updated": now, "tags": tag_map}
            if description:
                records[name]["description"] = description
        return self._registered(name)

    def _edit_record(self, name: str) -> Any:
        self._versions(name)  # raises RESOURCE_DOES_NOT_EXIST for an unknown name
        return self._records.edit()

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        with self._edit_record(name) as records:
            record = records.setdefault(name, {"created": _now_ms(), "tags": {}})
            record["description"] = description or None
            record["updated"] = _now_ms()
        return self._registered(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        raise MlflowException(
            f"renaming registered model '{name}' is not supported: Lakeworks model versions are "
            f"immutable; register the files again under '{new_name}'",
            BAD_REQUEST,
        )

    def delete_registered_model(self, name: str) -> None:
        if self._versions(name):
            raise MlflowException(
                f"deleting registered model '{name}' is not supported: Lakeworks model versions "
                f"are immutable; archive it instead (lakeworks model archive --name {name})",
                BAD_REQUEST,
            )
        with self._records.edit() as records:
            records.pop(name, None)

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        with self._edit_record(name) as records:
            record = records.setdefault(name, {"created": _now_ms(), "tags": {}})
            record.setdefault("tags", {})[tag.key] = tag.value
            record["updated"] = _now_ms()

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        with self._edit_record(name) as records:
            records.get(name, {}).get("tags", {}).pop(key, None)

    # -- model versions --------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Sequence[ModelVersionTag] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        local_model_path: str | None = None,
        model_id: str | None = None,
    ) -> ModelVersion:
        """Copy the model files ``source`` names into the workspace as a new model version."""
        tag_map = {t.key: t.value for t in tags or []}
        if IS_PROMPT_TAG_KEY in tag_map:
            raise MlflowException(
                "prompts are not supported by the Lakeworks model registry", BAD_REQUEST
            )
        with _mlflow_errors():
            validate_name(name, what="model name")
        tracking = self._tracking_store()
        run_id = run_id or None
        model_id = model_id or _logged_model_id(source)
        if model_id and not run_id:
            run_id = tracking.get_logged_model(model_id).source_run_id or None
        job_name = user = None
        if run_id:
            run = tracking.get_run(run_id)
            job_name = run.data.tags.get(JOB_NAME_TAG)
            user = run.info.user_id or None
        download_uri = self._resolve(source, model_id)
        with tempfile.TemporaryDirectory(prefix="lakeworks-register-") as tmp:
            folder = Path(tmp) / "model"
            if local_model_path and Path(local_model_path).is_dir():
                shutil.copytree(local_model_path, folder)
            else:
                shutil.move(self._download(download_uri, Path(tmp) / "download"), folder)
            mlmodel = folder / "MLmodel"
            flavors = yaml.safe_load(mlmodel.read_text()).get("flavors") if mlmodel.is_file() else None
            props = {PROP_SOURCE: source, PROP_DOWNLOAD_URI: download_uri, PROP_MODEL_ID: model_id,
                     PROP_RUN_LINK: run_link or None, PROP_USER: user}
            spec = ModelSpec(
                name=name,
                type=ModelType.MLFLOW if mlmodel.is_file() else ModelType.CUSTOM,
                path=str(folder),
                description=description or None,
                tags=tag_map,
                flavors=flavors,
                properties={k: v for k, v in props.items() if v},
                job_name=job_name,
                run_id=run_id,
            )
            with _mlflow_errors():
                _, stored = self.assets.create_or_update(spec)
        log.info("registered model %s version %s from %s", name, stored.version, source)
        return self._to_mlflow(stored)

    def _edit(self, name: str, version: str | int, **changes: Any) -> ModelVersion:
        spec = self._asset(name, version).to_spec()
        with _mlflow_errors():
            _, stored = self.assets.create_or_update(spec.model_copy(update=changes))
        return self._to_mlflow(stored)

    def _tags(self, name: str, version: str | int) -> dict[str, str]:
        return dict(self._asset(name, version).to_spec().tags)

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        return self._edit(name, version, description=description or None)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        stage = get_canonical_stage(stage)
        if archive_existing_versions:
            if stage not in ("Staging", "Production"):
                raise MlflowException(
                    f"archive_existing_versions is only valid for stages Staging and Production, "
                    f"not {stage}", INVALID_PARAMETER_VALUE,
                )
            for mv in self._versions(name):
                if mv.current_stage == stage and mv.version != str(version):
                    self._edit(name, mv.version, stage=STAGE_ARCHIVED)
        return self._edit(name, version, stage=None if stage == STAGE_NONE else stage)

    def delete_model_version(self, name: str, version: str) -> None:
        self._asset(name, version)
        raise MlflowException(
            f"deleting version {version} of model '{name}' is not supported: Lakeworks model "
            f"versions are immutable; archive it instead "
            f"(lakeworks model archive --name {name} --version {version})",
            BAD_REQUEST,
        )

    def set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        if tag.key.startswith(ALIAS_TAG_PREFIX):
            raise MlflowException(
                f"tag keys starting with '{ALIAS_TAG_PREFIX}' are reserved for aliases",
                INVALID_PARAMETER_VALUE,
            )
        self._edit(name, version, tags={**self._tags(name, version), tag.key: tag.value})

    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        tags = self._tags(name, version)
        if tags.pop(key, None) is not None:
            self._edit(name, version, tags=tags)

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        self._asset(name, version)
        self.delete_registered_model_alias(name, alias)
        tags = self._tags(name, version)
        self._edit(name, version, tags={**tags, ALIAS_TAG_PREFIX + alias: "true"})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        for mv in self._versions(name):
            if alias in mv.aliases:
                tags = self._tags(name, mv.version)
                tags.pop(ALIAS_TAG_PREFIX + alias, None)
                self._edit(name, mv.version, tags=tags)

    # -- sources ---------------------------------------------------------------------------

    def _tracking_store(self) -> Any:
        """The tracking server's own store when running inside it, else the client's."""
        handlers = sys.modules.get("mlflow.server.handlers")
        if handlers is not None and getattr(handlers, "_tracking_store", None) is not None:
            return handlers._tracking_store
        return _get_tracking_store(self.tracking_uri)

    def _resolve(self, source: str, model_id: str | None) -> str:
        """The artifact URI holding the files of ``source`` (runs:/ and models:/ resolved)."""
        scheme = urllib.parse.urlparse(source).scheme
        if scheme == "runs":
            run_id, path = RunsArtifactRepository.parse_runs_uri(source)
            root = self._tracking_store().get_run(run_id).info.artifact_uri
            return append_to_uri_path(root, path) if path else str(root)
        if scheme == "models":
            if model_id:
                return str(self._tracking_store().get_logged_model(model_id).artifact_location)
            name, version = get_model_name_and_version(self, source)
            return self.get_model_version_download_uri(name, version)
        return source

    @staticmethod
    def _download(uri: str, dest: Path) -> Path:
        """Copy the folder at ``uri`` under ``dest``; return the local folder."""
        dest.mkdir(parents=True)
        relative = _proxied_path(uri)
        handlers = sys.modules.get("mlflow.server.handlers")
        try:
            if relative is not None and handlers is not None and (
                handlers._is_serving_proxied_artifacts()
            ):
                repo = handlers._get_artifact_repo_mlflow_artifacts()
                return Path(repo.download_artifacts(relative, dst_path=str(dest)))
            return Path(download_artifacts(artifact_uri=uri, dst_path=str(dest)))
        except MlflowException:
            raise
        except OSError as exc:
            raise MlflowException(
                f"could not read the model files at '{uri}': {exc}", RESOURCE_DOES_NOT_EXIST
            ) from exc


def _proxied_path(uri: str) -> str | None:
    """The path below the artifact destination of an ``mlflow-artifacts`` URI, else None."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme == "mlflow-artifacts":
        path = parsed.path.lstrip("/")
    elif parsed.scheme in ("http", "https") and _PROXY_ANCHOR in parsed.path:
        path = parsed.path.split(_PROXY_ANCHOR, 1)[1]
    else:
        return None
    path = urllib.parse.unquote(path)
    if ".." in path.split("/"):
        raise MlflowException(f"model source '{uri}' may not contain '..'", INVALID_PARAMETER_VALUE)
    return path


def _logged_model_id(source: str) -> str | None:
    if urllib.parse.urlparse(source).scheme != "models":
        return None
    try:
        model_id: str | None = _parse_model_uri(source).model_id
    except MlflowException:
        return None
    return model_id


def _now_ms() -> int:
    return int(time.time() * 1000)


def _page(items: list[Any], max_results: int, page_token: str | None) -> PagedList:
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    token = SearchUtils.create_page_token(end) if end < len(items) else None
    return PagedList(items[start:end], token)
