"""``type: automl`` job YAML (Azure's ``autoMLJob.schema.json``) into an AutoML job entity.

Owns the schema of the document (strict: an unknown field is an error naming it and the
fields allowed) and building a ``ClassificationJob`` or ``RegressionJob`` from it, with
relative data paths taken from the YAML file's folder and settings errors (a metric that does
not fit the task, an unknown algorithm) pointing at the file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from lakeworks.client.entities.assets import _abs
from lakeworks.client.entities.automl import (
    TABLE_PREFIX,
    AutoMLJob,
    ClassificationJob,
    RegressionJob,
)
from lakeworks.client.entities.io import Input
from lakeworks.client.schemas import InputYaml, OutputYaml, _Doc, _Strict
from lakeworks.errors import InvalidInputError
from lakeworks.services.documents import Document, validate


class AutoMLLimitsYaml(_Strict):
    timeout_minutes: float | None = None
    trial_timeout_minutes: float | None = None
    max_trials: int | None = None
    max_concurrent_trials: int | None = None
    max_cores_per_trial: int | None = None
    max_nodes: int | None = None
    enable_early_termination: bool | None = None
    exit_score: float | None = None


class AutoMLTrainingYaml(_Strict):
    allowed_training_algorithms: list[str] | None = None
    blocked_training_algorithms: list[str] | None = None
    enable_model_explainability: bool | None = None
    enable_stack_ensemble: bool | None = None
    enable_vote_ensemble: bool | None = None
    enable_onnx_compatible_models: bool | None = None
    enable_dnn_training: bool | None = None


class AutoMLFeaturizationYaml(_Strict):
    mode: Literal["auto", "off", "custom"] | None = None
    blocked_transformers: list[str] | None = None
    column_name_and_types: dict[str, str] | None = None
    transformer_params: dict[str, list[dict[str, Any]]] | None = None
    dataset_language: str | None = None


class AutoMLJobYaml(_Doc):
    type: Literal["automl"] = "automl"
    task: Literal["classification", "regression"]
    name: str | None = None
    display_name: str | None = None
    description: str | None = None
    experiment_name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    compute: str | None = None
    log_verbosity: str | None = None
    primary_metric: str | None = None
    target_column_name: str
    weight_column_name: str | None = None
    positive_label: str | int | bool | None = None
    training_data: InputYaml | str
    validation_data: InputYaml | str | None = None
    test_data: InputYaml | str | None = None
    validation_data_size: float | None = None
    test_data_size: float | None = None
    n_cross_validations: int | str | None = None
    limits: AutoMLLimitsYaml | None = None
    training: AutoMLTrainingYaml | None = None
    featurization: AutoMLFeaturizationYaml | None = None
    outputs: dict[str, OutputYaml | None] = Field(default_factory=dict)
    #: Lakeworks: register the best model under this name
    model_name: str | None = None


def _data(value: InputYaml | str | None, base: Path) -> Input | str | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith(TABLE_PREFIX):
            return value
        value = InputYaml(type="uri_file", path=value)
    return Input(type=value.type, path=_abs(value.path, base), mode=value.mode)


def automl_job_from(doc: Document) -> AutoMLJob:
    """The AutoML job a ``type: automl`` document describes.

    Raises:
        InvalidInputError: a schema error, or a setting that does not fit (named by field).
    """
    y: AutoMLJobYaml = validate(doc, AutoMLJobYaml, "an AutoML job")
    for unsupported in ("test_data", "test_data_size"):
        if getattr(y, unsupported) is not None:
            raise doc.error(f"{unsupported} is not supported by Lakeworks AutoML; score a test "
                            "set after training", (unsupported,))
    base = doc.folder
    cls = ClassificationJob if y.task == "classification" else RegressionJob
    job = cls(
        training_data=_data(y.training_data, base),
        target_column_name=y.target_column_name,
        primary_metric=y.primary_metric,
        validation_data=_data(y.validation_data, base),
        validation_data_size=y.validation_data_size,
        n_cross_validations=y.n_cross_validations,
        weight_column_name=y.weight_column_name,
        positive_label=y.positive_label,
        name=y.name,
        display_name=y.display_name,
        description=y.description,
        experiment_name=y.experiment_name or Path.cwd().name,
        tags=y.tags,
        compute=y.compute,
        model_name=y.model_name,
    )
    if y.limits is not None:
        job.set_limits(**y.limits.model_dump(exclude_none=True))
    if y.training is not None:
        job.set_training(**y.training.model_dump(exclude_none=True))
    if y.featurization is not None:
        job.set_featurization(**y.featurization.model_dump(exclude_none=True))
    try:
        job._to_automl_spec()
    except InvalidInputError as exc:
        loc = tuple(exc.field.split(".")) if exc.field else ()
        raise doc.error(exc.detail, loc, allowed=exc.allowed) from None
    return job
