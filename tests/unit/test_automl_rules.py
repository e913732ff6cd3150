"""AutoML's rules as plain values (``lakeworks.core.automl``): metric and algorithm spellings,
wrong-task errors listing the valid names, durations and validation folds by data size."""

from __future__ import annotations

import re

import pytest

from lakeworks.core.automl import (
    ALGORITHMS,
    PRIMARY_METRICS,
    Task,
    automl_spec,
    default_cv_folds,
    is_maximized,
    normalize_algorithm,
    normalize_metric,
    parse_duration,
)
from lakeworks.errors import InvalidInputError


def pascal(snake: str) -> str:
    """Azure's REST spelling of a snake metric name (``AUC_weighted`` -> ``AUCWeighted``)."""
    return "".join(part[:1].upper() + part[1:] for part in snake.split("_"))


EVERY_METRIC = [(task, metric) for task in Task for metric in PRIMARY_METRICS[task]]


@pytest.mark.parametrize(("task", "metric"), EVERY_METRIC)
def test_every_metric_is_accepted_in_both_spellings(task: Task, metric: str) -> None:
    assert normalize_metric(task, metric) == metric
    assert normalize_metric(task, pascal(metric)) == metric
    assert normalize_metric(task, metric.upper()) == metric
    spec = automl_spec({"task": task.value, "target_column_name": "y",
                        "primary_metric": pascal(metric)})
    assert spec.primary_metric == metric


def test_default_metrics_and_directions() -> None:
    assert normalize_metric(Task.CLASSIFICATION, None) == "accuracy"
    assert normalize_metric(Task.REGRESSION, None) == "normalized_root_mean_squared_error"
    assert is_maximized("spearman_correlation") and is_maximized("AUC_weighted")
    assert not is_maximized("normalized_mean_absolute_error")
    spec = automl_spec({"task": "Regression", "target_column_name": "y",
                        "primary_metric": "NormalizedRootMeanSquaredError"})
    assert spec.maximize is False


@pytest.mark.parametrize(("task", "metric", "other"), [
    (Task.REGRESSION, "accuracy", "classification"),
    (Task.REGRESSION, "AUCWeighted", "classification"),
    (Task.CLASSIFICATION, "r2_score", "regression"),
    (Task.CLASSIFICATION, "SpearmanCorrelation", "regression"),
])
def test_a_metric_of_the_other_task_names_it_and_lists_the_valid_ones(
        task: Task, metric: str, other: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        automl_spec({"task": task.value, "target_column_name": "y", "primary_metric": metric})
    message = str(caught.value)
    assert f"it is a {other} metric" in message
    assert "field 'primary_metric'" in message
    for valid in PRIMARY_METRICS[task]:
        assert valid in message


def test_an_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInputError, match=r"allowed: .*r2_score"):
        normalize_metric(Task.REGRESSION, "mape")


EVERY_ALGORITHM = [(task, rest, snake) for task in Task
                   for rest, snake in ALGORITHMS[task].items()]


@pytest.mark.parametrize(("task", "rest", "snake"), EVERY_ALGORITHM)
def test_every_algorithm_in_rest_and_snake_spelling(task: Task, rest: str, snake: str) -> None:
    assert normalize_algorithm(task, rest) == rest
    assert normalize_algorithm(task, snake) == rest
    assert normalize_algorithm(task, rest.lower()) == rest


def test_allowed_and_blocked_algorithms_become_rest_names() -> None:
    spec = automl_spec({"task": "regression", "target_column_name": "y",
                        "training": {"allowed_training_algorithms": ["light_gbm", "KNN",
                                                                     "xg_boost_regressor"],
                                     "blocked_training_algorithms": ["knn"]}})
    assert spec.algorithms() == ("LightGBM", "XGBoostRegressor")


def test_an_algorithm_of_the_other_task_is_refused_with_the_list() -> None:
    with pytest.raises(InvalidInputError) as caught:
        automl_spec({"task": "regression", "target_column_name": "y",
                     "training": {"allowed_training_algorithms": ["logistic_regression"]}})
    assert "training algorithm 'logistic_regression' is not available for regression" in str(
        caught.value)
    assert "ElasticNet" in str(caught.value)


def test_blocking_every_algorithm_is_an_error() -> None:
    spec = automl_spec({"task": "regression", "target_column_name": "y",
                        "training": {"blocked_training_algorithms": list(
                            ALGORITHMS[Task.REGRESSION])}})
    with pytest.raises(InvalidInputError, match="every training algorithm is blocked"):
        spec.algorithms()


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90.0), ("15m", 900.0), ("0.25h", 900.0), ("1d", 86400.0), ("2", 120.0),
    (1.5, 90.0), (" 30 S ", 30.0), (".5m", 30.0),
])
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "10 minutes", "-5m", "0s", "1w"])
def test_bad_durations_name_the_field(text: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape("field 'limits.timeout'")):
        parse_duration(text, field="limits.timeout")


@pytest.mark.parametrize(("rows", "folds"), [
    (10, 10), (731, 10), (999, 10), (1000, 3), (1470, 3), (20000, 3), (20001, None),
    (22500, None),
])
def test_default_folds_by_training_size(rows: int, folds: int | None) -> None:
    assert default_cv_folds(rows) == folds


def test_limit_and_fold_errors_name_the_field() -> None:
    with pytest.raises(InvalidInputError, match="n_cross_validations must be at least 2"):
        automl_spec({"task": "regression", "target_column_name": "y",
                     "n_cross_validations": 1})
    with pytest.raises(InvalidInputError, match=r"limits\.max_trials"):
        automl_spec({"task": "regression", "target_column_name": "y",
                     "limits": {"max_trials": 0}})
    with pytest.raises(InvalidInputError, match="AutoML task 'forecast' is not supported"):
        automl_spec({"task": "forecast", "target_column_name": "y"})
