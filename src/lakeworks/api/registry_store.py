"""The MLflow model-registry store whose registered models ARE the workspace's Lakeworks models.

Owns translating MLflow registry calls (``create_model_version``, ``search_model_versions``,
aliases, stages, tags) into Lakeworks model assets through ``AssetService``. Used by the
workspace tracking server under the URI ``lakeworks:<absolute workspace path>`` (also an
``mlflow.model_registry_store`` entry point). Keeps no model state of its own beyond the
name-level records of ``registry_entities.ModelRecords``. Versions are immutable: deleting one
(or a model that has versions) is refused; archive instead. Errors are ``MlflowException``s
with MLflow error codes, because MLflow's REST handlers and clients act on those codes.
"""

# MLflow's AbstractStore, entities and search helpers carry no type hints.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import logging
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
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
    STAGE_ARCHIVED,
    STAGE_NONE,
    get_canonical_stage,
)
from mlflow.entities.webhook import Webhook, WebhookEvent
from mlflow.exceptions import MlflowException
from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
from mlflow.protos.databricks_pb2 import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.model_registry.abstract_store import AbstractStore
from mlflow.utils.search_utils import SearchModelUtils, SearchModelVersionUtils

from lakeworks.api.registry_entities import (
    ALIAS_TAG_PREFIX,
    PROP_DOWNLOAD_URI,
    PROP_MODEL_ID,
    PROP_RUN_LINK,
    PROP_SOURCE,
    PROP_USER,
    ModelRecords,
    latest_per_stage,
    mlflow_errors,
    model_spec,
    now_ms,
    page,
    to_model_version,
    version_order,
)
from lakeworks.api.registry_sources import (
    download_folder,
    logged_model_id,
    resolve_source,
    tracking_store,
)
from lakeworks.core.assets import AssetVersion, ModelSpec, ModelType
from lakeworks.core.names import validate_name
from lakeworks.core.refs import AssetKind
from lakeworks.services.assets import AssetService
from lakeworks.services.workspace import Workspace, open_workspace

log = logging.getLogger(__name__)

SCHEME = "lakeworks"
#: the MLflow run tag naming the Lakeworks job that made a run
JOB_NAME_TAG = "lakeworks.job_name"
RECORDS_FILE = "mlflow-registry.json"


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


def _refuse(message: str) -> MlflowException:
    return MlflowException(message, BAD_REQUEST)


def _no_prompts(tags: dict[str, str]) -> None:
    if IS_PROMPT_TAG_KEY in tags:
        raise _refuse("prompts are not supported by the Lakeworks model registry")


class LakeworksRegistryStore(AbstractStore):
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
        with mlflow_errors():
            self.workspace: Workspace = open_workspace(workspace_path_from_uri(store_uri))
        self.assets = AssetService(self.workspace)
        self.records = ModelRecords(self.workspace.state_dir / RECORDS_FILE)

    # -- reading ---------------------------------------------------------------------------

    def _asset(self, name: str, version: str | int) -> AssetVersion:
        with mlflow_errors():
            return self.assets.get(AssetKind.MODEL, name, version=str(version))

    def _exists(self, name: str) -> bool:
        with mlflow_errors():
            found = self.assets.list(AssetKind.MODEL, name, include_archived=True)
        return bool(found) or name in self.records.read()

    def _versions(self, name: str) -> list[ModelVersion]:
        """The visible (not archived) versions of ``name``; RESOURCE_DOES_NOT_EXIST if unknown."""
        with mlflow_errors():
            found = self.assets.list(AssetKind.MODEL, name, include_archived=True)
        if not found and name not in self.records.read():
            raise MlflowException(
                f"Registered Model with name={name} not found", RESOURCE_DOES_NOT_EXIST
            )
        return [to_model_version(v) for v in found if not v.archived]

    def _registered(self, name: str, record: dict[str, Any] | None = None) -> RegisteredModel:
        versions = self._versions(name)
        record = record if record is not None else self.records.read().get(name, {})
        times = [int(mv.creation_timestamp) for mv in versions]
        created = record.get("created", min(times, default=0))
        return RegisteredModel(
            name=name,
            creation_timestamp=created,
            last_updated_timestamp=max([record.get("updated", created), *times]),
            description=record.get("description"),
            latest_versions=latest_per_stage(versions, None),
            tags=[RegisteredModelTag(k, v) for k, v in record.get("tags", {}).items()],
            aliases=[RegisteredModelAlias(a, mv.version) for mv in versions for a in mv.aliases],
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._registered(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        records = self.records.read()
        with mlflow_errors():
            names = {v.name for v in self.assets.list(AssetKind.MODEL)} | set(records)
        models = [self._registered(n, records.get(n)) for n in sorted(names)]
        models = SearchModelUtils.filter(models, filter_string)
        models = SearchModelUtils.sort(models, order_by or ["name ASC"])
        return page(models, max_results or 100, page_token)

    def get_latest_versions(self, name: str, stages: list[str] | None = None) -> list[ModelVersion]:
        return latest_per_stage(self._versions(name), stages)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        return to_model_version(self._asset(name, version))

    def get_model_version_download_uri(self, name: str, version: str) -> str:
        spec = model_spec(self._asset(name, version))
        if PROP_DOWNLOAD_URI in spec.properties:
            return spec.properties[PROP_DOWNLOAD_URI]
        # Registered through Lakeworks itself: its stored files.
        with mlflow_errors():
            key = self.assets.key_of(spec.path)
        local = self.workspace.artifacts.local_path(key)
        return local.as_uri() if local is not None else (
            f"{self.workspace.artifacts.url.rstrip('/')}/{key}"
        )

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        with mlflow_errors():
            every = self.workspace.metadata.assets.list_versions(AssetKind.MODEL, None)
        found = [to_model_version(v) for v in every if not v.archived]
        versions = SearchModelVersionUtils.filter(found, filter_string)
        if order_by:
            versions = SearchModelVersionUtils.sort(versions, order_by)
        else:  # by name, newest version first; non-numeric versions ("initial") sort too
            versions = sorted(versions, key=version_order, reverse=True)
            versions.sort(key=lambda mv: mv.name)
        return page(versions, max_results or 10000, page_token)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        for mv in self._versions(name):
            if alias in mv.aliases:
                return mv
        raise MlflowException(f"Registered model alias {alias} not found.", RESOURCE_DOES_NOT_EXIST)

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        return PagedList([], None)  # Lakeworks has no registry webhooks

    def list_webhooks_by_event(
        self, event: WebhookEvent, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        return PagedList([], None)

    # -- registered models -----------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        tags: Sequence[RegisteredModelTag] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        tag_map = {t.key: t.value for t in tags or []}
        _no_prompts(tag_map)
        with mlflow_errors():
            validate_name(name, what="model name")
        with self.records.edit() as records:
            if self._exists(name):
                raise MlflowException(
                    f"Registered Model (name={name}) already exists.", RESOURCE_ALREADY_EXISTS
                )
            now = now_ms()
            records[name] = {"created": now, "updated": now, "tags": tag_map,
                             "description": description or None}
        return self._registered(name)

    def update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        self._versions(name)
        with self.records.edit_one(name) as record:
            record["description"] = description or None
        return self._registered(name)

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        raise _refuse(
            f"renaming registered model '{name}' is not supported: Lakeworks model versions are "
            f"immutable; register the files again under '{new_name}'"
        )

    def delete_registered_model(self, name: str) -> None:
        if self._versions(name):
            raise _refuse(
                f"deleting registered model '{name}' is not supported: Lakeworks model versions "
                f"are immutable; archive it instead (lakeworks model archive --name {name})"
            )
        with self.records.edit() as records:
            records.pop(name, None)

    def set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        self._versions(name)
        with self.records.edit_one(name) as record:
            record["tags"][tag.key] = tag.value

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._versions(name)
        with self.records.edit_one(name) as record:
            record["tags"].pop(key, None)

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
        """Copy the model files ``source`` names into the workspace as its next model version."""
        tag_map = {t.key: t.value for t in tags or []}
        _no_prompts(tag_map)
        with mlflow_errors():
            validate_name(name, what="model name")
        tracking = tracking_store(self.tracking_uri)
        model_id = model_id or logged_model_id(source)
        run_id = run_id or None
        if model_id and not run_id:
            run_id = tracking.get_logged_model(model_id).source_run_id or None
        run = tracking.get_run(run_id) if run_id else None
        download_uri = resolve_source(source, model_id, tracking, self)
        props = {PROP_SOURCE: source, PROP_DOWNLOAD_URI: download_uri, PROP_MODEL_ID: model_id,
                 PROP_RUN_LINK: run_link, PROP_USER: run.info.user_id if run else None}
        with tempfile.TemporaryDirectory(prefix="lakeworks-register-") as tmp:
            folder = Path(tmp) / "model"
            if local_model_path and Path(local_model_path).is_dir():
                shutil.copytree(local_model_path, folder)
            else:
                shutil.move(download_folder(download_uri, Path(tmp) / "download"), folder)
            mlmodel = folder / "MLmodel"
            meta = yaml.safe_load(mlmodel.read_text()) if mlmodel.is_file() else None
            spec = ModelSpec(
                name=name,
                type=ModelType.MLFLOW if meta is not None else ModelType.CUSTOM,
                path=str(folder),
                description=description or None,
                tags=tag_map,
                flavors=(meta or {}).get("flavors"),
                properties={k: str(v) for k, v in props.items() if v},
                job_name=run.data.tags.get(JOB_NAME_TAG) if run else None,
                run_id=run_id,
            )
            with mlflow_errors():
                _, stored = self.assets.create_or_update(spec)
        log.info("registered model %s version %s from %s", name, stored.version, source)
        return to_model_version(stored)

    def _edit(self, name: str, version: str | int, **changes: Any) -> ModelVersion:
        spec = model_spec(self._asset(name, version))
        with mlflow_errors():
            _, stored = self.assets.create_or_update(spec.model_copy(update=changes))
        return to_model_version(stored)

    def _tags(self, name: str, version: str | int) -> dict[str, str]:
        return dict(model_spec(self._asset(name, version)).tags)

    def update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        return self._edit(name, version, description=description or None)

    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        stage = get_canonical_stage(stage)
        if archive_existing_versions:
            if stage not in ("Staging", "Production"):
                raise MlflowException(
                    "archive_existing_versions is only valid for stages Staging and "
                    f"Production, not {stage}", INVALID_PARAMETER_VALUE,
                )
            for mv in self._versions(name):
                if mv.current_stage == stage and mv.version != str(version):
                    self._edit(name, mv.version, stage=STAGE_ARCHIVED)
        return self._edit(name, version, stage=None if stage == STAGE_NONE else stage)

    def delete_model_version(self, name: str, version: str) -> None:
        self._asset(name, version)
        raise _refuse(
            f"deleting version {version} of model '{name}' is not supported: Lakeworks model "
            f"versions are immutable; archive it instead "
            f"(lakeworks model archive --name {name} --version {version})"
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
        self._edit(name, version, tags={**self._tags(name, version), ALIAS_TAG_PREFIX + alias: "1"})

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        for mv in self._versions(name):
            if alias in mv.aliases:
                tags = self._tags(name, mv.version)
                tags.pop(ALIAS_TAG_PREFIX + alias, None)
                self._edit(name, mv.version, tags=tags)
