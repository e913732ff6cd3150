"""AutoML jobs as the SDK, YAML and the job engine see them (the search itself is tested in
test_automl_engine.py): builders and setters, settings errors naming the field, ``type:
automl`` YAML with errors pointing at the line, and the one-step job a submission makes."""

from __future__ import annotations

import json
import shlex
import textwrap
from pathlib import Path

import pytest

from lakeworks import Input, automl, load_job
from lakeworks.client.entities.automl import ClassificationJob, RegressionJob
from lakeworks.errors import InvalidInputError


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def driver_args(job: RegressionJob | ClassificationJob) -> list[str]:
    command = job._to_job_spec().steps["main"].component.command
    return shlex.split(command)


def test_regression_builder_and_setters_make_a_one_step_automl_job() -> None:
    job = automl.regression(training_data=automl.table("bike_data"),
                            target_column_name="rentals",
                            primary_metric="SpearmanCorrelation", model_name="rentals")
    job.set_limits(timeout_minutes=15, max_concurrent_trials=2, max_trials=40)
    job.set_training(enable_onnx_compatible_models=True,
                     blocked_training_algorithms=["knn", "LassoLars"])
    job.set_featurization(mode="custom", column_name_and_types={"mnth": "Categorical"},
                          transformer_params={"imputer": [automl.ColumnTransformer(
                              fields=["hum"], parameters={"strategy": "median"})]})
    spec = job._to_job_spec()
    assert spec.type == "automl" and list(spec.steps) == ["main"]
    step = spec.steps["main"]
    assert step.component.is_deterministic is False
    assert "best_model" in step.component.outputs
    args = driver_args(job)
    assert args[:3] == ["python", "-m", "lakeworks.automl_job"]
    settings = json.loads(args[args.index("--spec-json") + 1])
    assert settings["primary_metric"] == "spearman_correlation"
    assert settings["training"]["blocked_training_algorithms"] == ["KNN", "LassoLars"]
    assert settings["limits"] == {"timeout_minutes": 15.0, "max_trials": 40,
                                  "max_concurrent_trials": 2}
    assert settings["featurization"]["column_name_and_types"] == {"mnth": "Categorical"}
    assert args[args.index("--training-table") + 1] == "bike_data"
    assert args[args.index("--model-name") + 1] == "rentals"
    assert "--trials-on" not in args  # local processes unless compute is spark


def test_classification_with_a_data_input_binds_it_to_the_step(tmp_path: Path) -> None:
    data = tmp_path / "hr.csv"
    data.write_text("a,b\n1,x\n")
    job = automl.classification(training_data=Input(type="uri_file", path=str(data)),
                                target_column_name="b", primary_metric="auc_weighted")
    step = job._to_job_spec().steps["main"]
    assert "${{inputs.training_data}}" in step.component.command
    assert step.inputs["training_data"].path == str(data)
    settings = json.loads(driver_args(job)[driver_args(job).index("--spec-json") + 1])
    assert settings["primary_metric"] == "AUC_weighted"


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: automl.regression(training_data="x.csv", target_column_name="y",
                                   primary_metric="accuracy"),
         r"primary metric 'accuracy' does not fit a regression task .*allowed: "
         r"normalized_mean_absolute_error, normalized_root_mean_squared_error, r2_score, "
         r"spearman_correlation"),
        (lambda: automl.classification(training_data="x.csv", target_column_name="y",
                                       primary_metric="r2_score"),
         r"does not fit a classification task \(it is a regression metric\)"),
        (lambda: automl.classification(training_data="x.csv", target_column_name="",
                                       primary_metric=None),
         "needs target_column_name"),
        (lambda: automl.classification(training_data="x.csv", target_column_name="y",
                                       n_cross_validations=1),
         "n_cross_validations must be at least 2"),
    ],
)
def test_settings_errors_name_the_field(build: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build()._to_job_spec()  # type: ignore[operator]


def test_unknown_algorithm_lists_the_task_algorithms() -> None:
    job = automl.regression(training_data="x.csv", target_column_name="y")
    job.set_training(allowed_training_algorithms=["XGBoostClassifier"])
    with pytest.raises(InvalidInputError, match=r"training.allowed_training_algorithms.*"
                       r"'XGBoostClassifier' is not available for regression.*XGBoostRegressor"):
        job._to_job_spec()


def test_automl_yaml_loads_with_azures_fields(tmp_path: Path) -> None:
    write(tmp_path / "train.csv", "a,y\n1,2\n")
    write(tmp_path / "job.yml", """
        $schema: https://azuremlschemas.azureedge.net/latest/autoMLJob.schema.json
        type: automl
        task: regression
        experiment_name: lab
        primary_metric: spearman_correlation
        target_column_name: y
        training_data: {type: uri_file, path: ./train.csv}
        n_cross_validations: 5
        limits: {timeout_minutes: 15, max_concurrent_trials: 2, enable_early_termination: true}
        training: {enable_onnx_compatible_models: true, allowed_training_algorithms: [light_gbm]}
        featurization: {mode: auto}
        model_name: rental-prediction-model
        compute: azureml:spark
    """)
    job = load_job(tmp_path / "job.yml")
    assert isinstance(job, RegressionJob)
    args = driver_args(job)
    assert args[args.index("--trials-on") + 1] == "spark"  # compute: spark runs trials there
    spec = job._to_job_spec()
    step = spec.steps["main"]
    assert step.inputs["training_data"].path == str(tmp_path / "train.csv")
    settings = json.loads(driver_args(job)[driver_args(job).index("--spec-json") + 1])
    assert settings["training"]["allowed_training_algorithms"] == ["LightGBM"]
    assert settings["n_cross_validations"] == 5


def test_automl_yaml_errors_point_at_the_line(tmp_path: Path) -> None:
    write(tmp_path / "bad.yml", """
        type: automl
        task: classification
        target_column_name: y
        training_data: ./train.csv
        primary_metric: spearman_correlation
    """)
    with pytest.raises(InvalidInputError, match=r"bad.yml:5: field 'primary_metric'"):
        load_job(tmp_path / "bad.yml")
    write(tmp_path / "typo.yml", """
        type: automl
        task: classification
        target_column_name: y
        training_data: ./train.csv
        limits: {timeout_minute: 5}
    """)
    with pytest.raises(InvalidInputError, match=r"unknown field 'timeout_minute'.*timeout_minutes"):
        load_job(tmp_path / "typo.yml")


def test_azure_arguments_not_honoured_are_refused_by_name() -> None:
    with pytest.raises(InvalidInputError, match=r"field 'test_data': test_data is not supported"):
        automl.regression(training_data="x.csv", target_column_name="y", test_data="t.csv")
