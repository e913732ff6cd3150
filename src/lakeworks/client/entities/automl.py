"""AutoML jobs with Azure ML's shape: ``ClassificationJob`` and ``RegressionJob``.

Owns the SDK entities that ``automl.classification(...)`` and ``automl.regression(...)``
return and ``type: automl`` YAML loads: training data (a data asset, a file, an
``azureml://`` path or a lake table), the target column, the primary metric, validation,
``set_limits``, ``set_training``, ``set_featurization`` and ``set_data``; and turning one into
a job the engine runs: one step whose command is the AutoML driver
(``python -m lakeworks.automl_job``), with the settings as JSON, the data as the step's
input and the best model as its ``best_model`` output.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from lakeworks.client.entities.io import Input, Output
from lakeworks.core.automl import AutoMLSpec, Task, automl_spec, trials_on_spark
from lakeworks.core.jobs import JobSpec
from lakeworks.errors import InvalidInputError

DRIVER = "lakeworks.automl_job"
TABLE_PREFIX = "lake:"


class ColumnTransformer:
    """A featurization override, as ``azure.ai.ml.automl.ColumnTransformer``.

    Example:
        >>> ColumnTransformer(fields=["age"], parameters={"strategy": "median"}).fields
        ['age']
    """

    def __init__(self, *, fields: list[str] | None = None,
                 parameters: dict[str, Any] | None = None) -> None:
        self.fields = list(fields or [])
        self.parameters = dict(parameters or {})

    def _to_dict(self) -> dict[str, Any]:
        return {"fields": self.fields, "parameters": self.parameters}


def table_input(name: str) -> str:
    """The training-data value naming lake table ``name`` (``table`` or ``db.table``)."""
    return f"{TABLE_PREFIX}{name}"


class AutoMLJob:
    """An AutoML job for tabular data (the base of ``ClassificationJob``/``RegressionJob``)."""

    task: Task
    type = "automl"

    def __init__(
        self,
        *,
        training_data: Input | str | None = None,
        target_column_name: str | None = None,
        primary_metric: str | None = None,
        validation_data: Input | str | None = None,
        validation_data_size: float | None = None,
        n_cross_validations: int | str | None = None,
        weight_column_name: str | None = None,
        positive_label: Any = None,
        name: str | None = None,
        display_name: str | None = None,
        description: str | None = None,
        experiment_name: str | None = None,
        tags: dict[str, str] | None = None,
        compute: str | None = None,
        model_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.training_data = training_data
        self.target_column_name = target_column_name
        self.primary_metric = primary_metric
        self.validation_data = validation_data
        self.validation_data_size = validation_data_size
        self.n_cross_validations = n_cross_validations
        self.weight_column_name = weight_column_name
        self.positive_label = positive_label
        self.name = name
        self.display_name = display_name
        self.description = description
        self.experiment_name = experiment_name
        self.tags = dict(tags or {})
        self.compute = compute
        #: Lakeworks: register the best model under this name (the lab's "best model name")
        self.model_name = model_name
        self.outputs: dict[str, Output] = {"best_model": Output(type="mlflow_model")}
        self.limits: dict[str, Any] = {}
        self.training: dict[str, Any] = {}
        self.featurization: dict[str, Any] = {}
        self.seed = int(kwargs.pop("seed", 0))
        self.status: str | None = None

    # -- Azure's setters ------------------------------------------------------------------

    def set_limits(
        self,
        *,
        enable_early_termination: bool | None = None,
        exit_score: float | None = None,
        max_concurrent_trials: int | None = None,
        max_cores_per_trial: int | None = None,
        max_nodes: int | None = None,
        max_trials: int | None = None,
        timeout_minutes: float | None = None,
        trial_timeout_minutes: float | None = None,
    ) -> None:
        """The budget: total and per-trial minutes, trial counts, early exit."""
        given = {
            "enable_early_termination": enable_early_termination, "exit_score": exit_score,
            "max_concurrent_trials": max_concurrent_trials,
            "max_cores_per_trial": max_cores_per_trial, "max_trials": max_trials,
            "timeout_minutes": timeout_minutes, "trial_timeout_minutes": trial_timeout_minutes,
        }
        self.limits.update({k: v for k, v in given.items() if v is not None})

    def set_training(
        self,
        *,
        enable_onnx_compatible_models: bool | None = None,
        enable_dnn_training: bool | None = None,
        enable_model_explainability: bool | None = None,
        enable_stack_ensemble: bool | None = None,
        enable_vote_ensemble: bool | None = None,
        stack_ensemble_settings: Any = None,
        ensemble_model_download_timeout: Any = None,
        allowed_training_algorithms: list[str] | None = None,
        blocked_training_algorithms: list[str] | None = None,
        training_mode: Any = None,
    ) -> None:
        """Algorithms allowed or blocked, ensembles, ONNX compatibility."""
        if enable_dnn_training:
            raise InvalidInputError("DNN training is not available in Lakeworks AutoML",
                                    field="training.enable_dnn_training")
        given = {
            "enable_onnx_compatible_models": enable_onnx_compatible_models,
            "enable_model_explainability": enable_model_explainability,
            "enable_stack_ensemble": enable_stack_ensemble,
            "enable_vote_ensemble": enable_vote_ensemble,
            "allowed_training_algorithms": allowed_training_algorithms,
            "blocked_training_algorithms": blocked_training_algorithms,
        }
        self.training.update({k: v for k, v in given.items() if v is not None})

    def set_featurization(
        self,
        *,
        blocked_transformers: list[str] | None = None,
        column_name_and_types: dict[str, str] | None = None,
        dataset_language: str | None = None,
        transformer_params: dict[str, list[ColumnTransformer | dict[str, Any]]] | None = None,
        mode: str | None = None,
        enable_dnn_featurization: bool | None = None,
    ) -> None:
        """``auto`` (default), ``off`` or ``custom`` featurization with overrides."""
        if mode is not None:
            self.featurization["mode"] = mode
        if blocked_transformers is not None:
            self.featurization["blocked_transformers"] = list(blocked_transformers)
        if column_name_and_types is not None:
            self.featurization["column_name_and_types"] = dict(column_name_and_types)
        if transformer_params is not None:
            self.featurization["transformer_params"] = {
                key: [t._to_dict() if isinstance(t, ColumnTransformer) else dict(t)
                      for t in values]
                for key, values in transformer_params.items()
            }

    def set_data(
        self,
        *,
        training_data: Input | str,
        target_column_name: str,
        weight_column_name: str | None = None,
        validation_data: Input | str | None = None,
        validation_data_size: float | None = None,
        n_cross_validations: int | str | None = None,
        **_: Any,
    ) -> None:
        """Training (and validation) data and the target column."""
        self.training_data = training_data
        self.target_column_name = target_column_name
        self.weight_column_name = weight_column_name
        self.validation_data = validation_data
        self.validation_data_size = validation_data_size
        self.n_cross_validations = n_cross_validations

    # -- to the engine --------------------------------------------------------------------

    def _to_automl_spec(self) -> AutoMLSpec:
        """The settings, checked: metric for the task, algorithms, limits, featurization."""
        if not self.target_column_name:
            raise InvalidInputError("an AutoML job needs target_column_name",
                                    field="target_column_name")
        folds = self.n_cross_validations
        if isinstance(folds, str) and folds.lower() != "auto":
            try:
                folds = int(folds)
            except ValueError:
                raise InvalidInputError(
                    f"n_cross_validations must be a number or 'auto', not {folds!r}",
                    field="n_cross_validations") from None
        return automl_spec({
            "task": self.task,
            "target_column_name": self.target_column_name,
            "primary_metric": self.primary_metric,
            "n_cross_validations": folds.lower() if isinstance(folds, str) else folds,
            "validation_data_size": self.validation_data_size,
            "weight_column_name": self.weight_column_name,
            "positive_label": self.positive_label,
            "limits": self.limits,
            "training": self.training,
            "featurization": self.featurization,
            "seed": self.seed,
        })

    def _to_job_spec(self, base: Path | None = None) -> JobSpec:
        """A one-step job whose step runs the AutoML driver on the training data."""
        from lakeworks.client.builders import command
        from lakeworks.client.entities.jobs import command_job_spec

        spec = self._to_automl_spec()
        if self.training_data is None:
            raise InvalidInputError("an AutoML job needs training_data", field="training_data")
        inputs: dict[str, Any] = {}
        args = ["python", "-m", DRIVER, "--spec-json", shlex.quote(spec.model_dump_json(exclude_defaults=True))]
        for role, value in (("training", self.training_data),
                            ("validation", self.validation_data)):
            if value is None:
                continue
            if isinstance(value, str) and value.startswith(TABLE_PREFIX):
                args += [f"--{role}-table", shlex.quote(value.removeprefix(TABLE_PREFIX))]
                continue
            data = value if isinstance(value, Input) else _data_input(value)
            inputs[f"{role}_data"] = data
            args += [f"--{role}-data", "${{inputs." + role + "_data}}"]
        if self.model_name:
            args += ["--model-name", shlex.quote(self.model_name)]
        if trials_on_spark(self.compute):
            args += ["--trials-on", "spark"]
        args += ["--best-model", "${{outputs.best_model}}"]
        node = command(
            command=" ".join(args),
            inputs=inputs,
            outputs={"best_model": Output(type="mlflow_model")},
            display_name=self.display_name,
            description=self.description,
            tags={**self.tags, "lakeworks.automl.task": spec.task.value},
            experiment_name=self.experiment_name,
            compute=self.compute,
            is_deterministic=False,
            name=self.name,
        )
        job = command_job_spec(node, base)
        return job.model_copy(update={"type": "automl"})

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.name!r}, target={self.target_column_name!r}, "
                f"primary_metric={self.primary_metric!r})")


def _data_input(value: str) -> Input:
    """An ``Input`` for a string: an asset reference, a URI, or a local file or folder."""
    if value.startswith("azureml:") and not value.startswith("azureml://"):
        return Input(type="uri_file", path=value)
    if "://" in value:
        return Input(type="uri_folder" if value.endswith("/") else "uri_file", path=value)
    path = Path(value)
    if path.suffix.lower() in {".csv", ".tsv", ".parquet", ".pq", ".json", ".jsonl",
                               ".ndjson", ".txt"}:
        return Input(type="uri_file", path=value)
    return Input(type="uri_folder", path=value)


class ClassificationJob(AutoMLJob):
    """AutoML for classification (binary or multiclass); default metric ``accuracy``."""

    task = Task.CLASSIFICATION


class RegressionJob(AutoMLJob):
    """AutoML for regression; default metric ``normalized_root_mean_squared_error``."""

    task = Task.REGRESSION


def settings_json(job: AutoMLJob) -> str:
    """The job's checked settings as JSON (what the driver receives)."""
    return json.dumps(job._to_automl_spec().model_dump(mode="json"), sort_keys=True)
