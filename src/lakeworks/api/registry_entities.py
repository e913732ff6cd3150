"""The MLflow registry's view of Lakeworks models: entities, ordering, records and error codes.

Owns how a Lakeworks model version (``AssetVersion`` of a ``ModelSpec``) reads as an MLflow
``ModelVersion`` (MLflow source, model id, run link and user in ``properties``; aliases as
version tags ``lakeworks.alias.<alias>``; stage in ``stage``), the ordering of versions that
need not be numeric (``"initial"``), the registered-model-level records (description and tags
of a name, kept in ``.lakeworks/mlflow-registry.json`` because Lakeworks models have no
name-level entity), and the Lakeworks-error to MLflow-error-code mapping. No store calls.
"""

# MLflow's registry entities and search helpers carry no type hints.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    STAGE_NONE,
    get_canonical_stage,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.utils.search_utils import SearchUtils

from lakeworks.core.assets import AssetVersion, ModelSpec
from lakeworks.errors import ConflictError, InvalidInputError, LakeworksError, NotFoundError

#: version tags ``lakeworks.alias.<alias>`` carry the registered model's aliases
ALIAS_TAG_PREFIX = "lakeworks.alias."
# ModelSpec.properties keys keeping the MLflow view of a version
PROP_SOURCE = "mlflow.source"
PROP_DOWNLOAD_URI = "mlflow.download_uri"
PROP_MODEL_ID = "mlflow.model_id"
PROP_RUN_LINK = "mlflow.run_link"
PROP_USER = "mlflow.user_id"


@contextmanager
def mlflow_errors() -> Iterator[None]:
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


def model_spec(version: AssetVersion) -> ModelSpec:
    spec = version.to_spec()
    if not isinstance(spec, ModelSpec):
        raise MlflowException(f"{version.kind} '{version.name}' is not a model", INTERNAL_ERROR)
    return spec


def to_model_version(version: AssetVersion) -> ModelVersion:
    """The MLflow ``ModelVersion`` (status READY) of a stored Lakeworks model version."""
    spec = model_spec(version)
    props = spec.properties
    millis = int(version.created_at.timestamp() * 1000)
    return ModelVersion(
        name=version.name,
        version=version.version,
        creation_timestamp=millis,
        last_updated_timestamp=millis,
        description=spec.description,
        user_id=props.get(PROP_USER),
        current_stage=spec.stage or STAGE_NONE,
        source=props.get(PROP_SOURCE, spec.path),
        run_id=spec.run_id,
        tags=[ModelVersionTag(k, v) for k, v in spec.tags.items()
              if not k.startswith(ALIAS_TAG_PREFIX)],
        run_link=props.get(PROP_RUN_LINK),
        aliases=[k[len(ALIAS_TAG_PREFIX):] for k in spec.tags if k.startswith(ALIAS_TAG_PREFIX)],
        model_id=props.get(PROP_MODEL_ID),
    )


def version_order(mv: ModelVersion) -> tuple[int, int, int]:
    """Sort key: numeric versions by number, after non-numeric ones (by creation time)."""
    text = str(mv.version)
    created = int(mv.creation_timestamp or 0)
    return (1, int(text), created) if text.isdigit() else (0, 0, created)


def latest_per_stage(
    versions: Sequence[ModelVersion], stages: Sequence[str] | None
) -> list[ModelVersion]:
    """The latest version in each of ``stages`` (every stage when None or empty)."""
    by_stage: dict[str, ModelVersion] = {}
    for mv in sorted(versions, key=version_order):
        by_stage[mv.current_stage or STAGE_NONE] = mv
    wanted = [get_canonical_stage(s) for s in stages] if stages else ALL_STAGES
    return [by_stage[s] for s in wanted if s in by_stage]


def page(items: list[Any], max_results: int, page_token: str | None) -> PagedList[Any]:
    """One page of ``items`` with MLflow's offset page tokens."""
    start = SearchUtils.parse_start_offset_from_page_token(page_token)
    end = start + max_results
    token = SearchUtils.create_page_token(end) if end < len(items) else None
    return PagedList(items[start:end], token)


def now_ms() -> int:
    return int(time.time() * 1000)


class ModelRecords:
    """Registered-model-level metadata in one JSON file, edited under an exclusive file lock.

    Each record: ``{"created": ms, "updated": ms, "description": str | None, "tags": {}}``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        if not self.path.is_file():
            return {}
        data: dict[str, dict[str, Any]] = json.loads(self.path.read_text() or "{}")
        return data

    @contextmanager
    def edit(self) -> Iterator[dict[str, dict[str, Any]]]:
        """Yield the records for changing in place; written back atomically on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self.read()
            yield records
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(records, indent=1, sort_keys=True))
            tmp.replace(self.path)

    @contextmanager
    def edit_one(self, name: str) -> Iterator[dict[str, Any]]:
        """Yield the record of ``name`` (created if missing) for changing; stamps ``updated``."""
        with self.edit() as records:
            now = now_ms()
            record = records.setdefault(name, {"created": now, "tags": {}})
            record.setdefault("tags", {})
            yield record
            record["updated"] = now
