"""AutoML builders, as ``azure.ai.ml.automl``: ``classification(...)`` and ``regression(...)``.

Example:
    >>> from lakeworks import automl
    >>> job = automl.regression(training_data=automl.table("bike_data"),
    ...                         target_column_name="rentals",
    ...                         primary_metric="spearman_correlation")
    >>> job.set_limits(timeout_minutes=15, max_concurrent_trials=2)
    >>> job.set_training(enable_onnx_compatible_models=True)
    >>> job.task.value
    'regression'

Submit with ``ml_client.jobs.create_or_update(job)``; the best model is the job's
``best_model`` output (an MLflow model; with ONNX compatibility on, ``model.onnx`` beside
it), and ``model_name=...`` also registers it. Training data is a data asset
(``Input(type="mltable"|"uri_file", path="azureml:name:1")``), a file, an ``azureml://``
path, or a lake table (``automl.table("bike_data")``).
"""

from __future__ import annotations

from typing import Any

from lakeworks.client.entities.automl import (
    AutoMLJob,
    ClassificationJob,
    ColumnTransformer,
    RegressionJob,
    table_input,
)
from lakeworks.client.entities.io import Input
from lakeworks.errors import InvalidInputError

__all__ = [
    "AutoMLJob",
    "ClassificationJob",
    "ColumnTransformer",
    "RegressionJob",
    "classification",
    "leaderboard",
    "regression",
    "table",
]


def leaderboard(ml_client: Any, job_name: str) -> list[dict[str, Any]]:
    """The trials of AutoML job ``job_name`` so far, best first (a Lakeworks addition).

    Each row has ``rank``, ``name`` (``"MaxAbsScaler, LightGBM"``), ``score`` (the primary
    metric), ``status``, ``duration``, ``hyperparameters``, ``metrics`` and the trial's MLflow
    ``run_id``. Works while the job runs.

    Raises:
        NotFoundError: no such job, or it has not started its search.
    """
    from lakeworks.errors import NotFoundError
    from lakeworks.services.automl import ranked_trials, read_leaderboard

    ml_client.jobs.get(job_name)
    board = read_leaderboard(ml_client._workspace(), job_name)
    if board is None:
        raise NotFoundError(f"job {job_name} has no AutoML leaderboard (is it an AutoML job "
                            "that has started?)")
    return ranked_trials(board)


def table(name: str) -> str:
    """Training data from lake table ``name`` (``bike_data`` or ``db.bike_data``)."""
    return table_input(name)


def _job(cls: type[AutoMLJob], explainability: bool | None, unsupported: dict[str, Any],
         **fields: Any) -> Any:
    """A job of ``cls``; Azure arguments Lakeworks does not honour are refused, by name."""
    given = [name for name, value in unsupported.items() if value is not None]
    if given:
        raise InvalidInputError(
            f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} not supported by "
            "Lakeworks AutoML; give validation_data, validation_data_size or "
            "n_cross_validations, and score a test set after training", field=given[0])
    job = cls(**fields)
    if explainability is not None:
        job.set_training(enable_model_explainability=explainability)
    return job


def classification(
    *,
    training_data: Input | str,
    target_column_name: str,
    primary_metric: str | None = None,
    enable_model_explainability: bool | None = None,
    weight_column_name: str | None = None,
    validation_data: Input | str | None = None,
    validation_data_size: float | None = None,
    n_cross_validations: int | str | None = None,
    cv_split_column_names: list[str] | None = None,
    test_data: Input | str | None = None,
    test_data_size: float | None = None,
    **kwargs: Any,
) -> ClassificationJob:
    """An AutoML classification job (binary or multiclass); metric default ``accuracy``."""
    job: ClassificationJob = _job(
        ClassificationJob, enable_model_explainability,
        {"cv_split_column_names": cv_split_column_names, "test_data": test_data,
         "test_data_size": test_data_size},
        training_data=training_data, target_column_name=target_column_name,
        primary_metric=primary_metric, weight_column_name=weight_column_name,
        validation_data=validation_data, validation_data_size=validation_data_size,
        n_cross_validations=n_cross_validations, **kwargs)
    return job


def regression(
    *,
    training_data: Input | str,
    target_column_name: str,
    primary_metric: str | None = None,
    enable_model_explainability: bool | None = None,
    weight_column_name: str | None = None,
    validation_data: Input | str | None = None,
    validation_data_size: float | None = None,
    n_cross_validations: int | str | None = None,
    cv_split_column_names: list[str] | None = None,
    test_data: Input | str | None = None,
    test_data_size: float | None = None,
    **kwargs: Any,
) -> RegressionJob:
    """An AutoML regression job; metric default ``normalized_root_mean_squared_error``."""
    job: RegressionJob = _job(
        RegressionJob, enable_model_explainability,
        {"cv_split_column_names": cv_split_column_names, "test_data": test_data,
         "test_data_size": test_data_size},
        training_data=training_data, target_column_name=target_column_name,
        primary_metric=primary_metric, weight_column_name=weight_column_name,
        validation_data=validation_data, validation_data_size=validation_data_size,
        n_cross_validations=n_cross_validations, **kwargs)
    return job
