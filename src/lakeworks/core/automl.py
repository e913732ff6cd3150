"""AutoML settings as plain values: tasks, primary metrics, algorithms, limits, durations.

Owns Azure ML's AutoML vocabulary and its rules, with no I/O and no ML library: the tasks
(classification, regression), every primary metric of each task in both spellings Azure
accepts (``spearman_correlation`` and ``SpearmanCorrelation``), the training algorithms by
their REST and snake names, the limits, training and featurization settings of an AutoML job
(``set_limits``, ``set_training``, ``set_featurization``), how validation is chosen by data
size when the user does not say, and durations such as ``90s``, ``15m`` or ``0.25h``.
The search itself lives in ``lakeworks.adapters.automl``.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakeworks.errors import InvalidInputError


class Task(StrEnum):
    CLASSIFICATION = "classification"
    REGRESSION = "regression"


#: Every primary metric per task, in Azure's snake spelling (the first is the default).
PRIMARY_METRICS: dict[Task, tuple[str, ...]] = {
    Task.CLASSIFICATION: (
        "accuracy",
        "AUC_weighted",
        "average_precision_score_weighted",
        "norm_macro_recall",
        "precision_score_weighted",
    ),
    Task.REGRESSION: (
        "normalized_root_mean_squared_error",
        "spearman_correlation",
        "r2_score",
        "normalized_mean_absolute_error",
    ),
}

#: Metrics where smaller is better; every other primary metric is maximised.
MINIMIZED_METRICS = frozenset(
    {"normalized_root_mean_squared_error", "normalized_mean_absolute_error"}
)

#: Training algorithms per task: Azure's REST name -> the snake name used in YAML.
ALGORITHMS: dict[Task, dict[str, str]] = {
    Task.CLASSIFICATION: {
        "LogisticRegression": "logistic_regression",
        "SGD": "sgd",
        "MultinomialNaiveBayes": "multinomial_naive_bayes",
        "BernoulliNaiveBayes": "bernoulli_naive_bayes",
        "SVM": "svm",
        "LinearSVM": "linear_svm",
        "KNN": "knn",
        "DecisionTree": "decision_tree",
        "RandomForest": "random_forest",
        "ExtremeRandomTrees": "extreme_random_trees",
        "LightGBM": "light_gbm",
        "GradientBoosting": "gradient_boosting",
        "XGBoostClassifier": "xg_boost_classifier",
    },
    Task.REGRESSION: {
        "ElasticNet": "elastic_net",
        "GradientBoosting": "gradient_boosting",
        "DecisionTree": "decision_tree",
        "KNN": "knn",
        "LassoLars": "lasso_lars",
        "SGD": "sgd",
        "RandomForest": "random_forest",
        "ExtremeRandomTrees": "extreme_random_trees",
        "LightGBM": "light_gbm",
        "XGBoostRegressor": "xg_boost_regressor",
    },
}

#: Names of the final ensemble iterations (not choosable as training algorithms).
VOTING_ENSEMBLE = "VotingEnsemble"
STACK_ENSEMBLE = "StackEnsemble"

#: Featurization steps that may be blocked (Azure's names).
BLOCKABLE_TRANSFORMERS = (
    "TextTargetEncoder", "OneHotEncoder", "CatTargetEncoder", "TfIdf", "WoETargetEncoder",
    "LabelEncoder", "WordEmbedding", "NaiveBayes", "CountVectorizer", "HashOneHotEncoder",
)

#: Column purposes a user may force in ``column_name_and_types``.
COLUMN_PURPOSES = ("Numeric", "Categorical", "DateTime", "Text", "Ignore")


def _squash(name: str) -> str:
    """A spelling-free key: lower case, no underscores, spaces or dashes."""
    return re.sub(r"[\s_\-]", "", name).lower()


def task_of(value: str | Task) -> Task:
    """The task named ``value`` (case-insensitive)."""
    try:
        return Task(str(value).strip().lower())
    except ValueError:
        raise InvalidInputError(
            f"AutoML task {value!r} is not supported", field="task",
            allowed=[t.value for t in Task],
        ) from None


def normalize_metric(task: Task, name: str | None) -> str:
    """The snake spelling of primary metric ``name`` for ``task`` (the default when None).

    Accepts Azure's snake names and the PascalCase REST names in any case
    (``SpearmanCorrelation``, ``AUCWeighted``, ``NormalizedRootMeanSquaredError``).

    Raises:
        InvalidInputError: the metric does not belong to the task; the error lists valid ones.
    """
    valid = PRIMARY_METRICS[task]
    if name is None:
        return valid[0]
    wanted = _squash(name)
    for metric in valid:
        if _squash(metric) == wanted:
            return metric
    other = next((t for t in Task if t != task
                  and any(_squash(m) == wanted for m in PRIMARY_METRICS[t])), None)
    hint = f" (it is a {other.value} metric)" if other else ""
    raise InvalidInputError(
        f"primary metric {name!r} does not fit a {task.value} task{hint}",
        field="primary_metric", allowed=list(valid),
    )


def is_maximized(metric: str) -> bool:
    """Whether a larger value of ``metric`` is better."""
    return metric not in MINIMIZED_METRICS


def normalize_algorithm(task: Task, name: str) -> str:
    """Azure's REST name of training algorithm ``name`` (REST or snake spelling, any case)."""
    wanted = _squash(name)
    for rest, snake in ALGORITHMS[task].items():
        if wanted in (_squash(rest), _squash(snake)):
            return rest
    raise InvalidInputError(
        f"training algorithm {name!r} is not available for {task.value}",
        field="training.allowed_training_algorithms", allowed=list(ALGORITHMS[task]),
    )


_DURATION = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>[smhd]?)\s*$", re.I)
_UNIT_SECONDS = {"": 60.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | float | int, *, field: str = "timeout") -> float:
    """Seconds in a duration: ``90s``, ``15m``, ``0.25h``, ``1d``; a bare number is minutes.

    Raises:
        InvalidInputError: not a positive duration.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text) * 60.0
    else:
        match = _DURATION.match(str(text))
        if match is None:
            raise InvalidInputError(
                f"{field} {text!r} is not a duration; write e.g. 90s, 15m, 0.25h or 1d",
                field=field,
            )
        seconds = float(match["value"]) * _UNIT_SECONDS[match["unit"].lower()]
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInputError(f"{field} must be longer than zero, not {text!r}", field=field)
    return seconds


def default_cv_folds(rows: int) -> int | None:
    """Azure's validation by training size: 10 folds under 1,000 rows, 3 up to 20,000,
    and None (one split holding out 10%) above."""
    if rows < 1000:
        return 10
    if rows <= 20000:
        return 3
    return None


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AutoMLLimits(_Settings):
    """``set_limits``: the budget. Minutes as Azure has them; None means Azure's default."""

    timeout_minutes: float | None = Field(default=None, gt=0)
    trial_timeout_minutes: float | None = Field(default=None, gt=0)
    max_trials: int | None = Field(default=None, ge=1)
    max_concurrent_trials: int = Field(default=1, ge=1)
    max_cores_per_trial: int | None = None
    enable_early_termination: bool | None = None
    exit_score: float | None = None


class AutoMLTraining(_Settings):
    """``set_training``: which algorithms, ensembles and ONNX compatibility."""

    enable_onnx_compatible_models: bool = False
    allowed_training_algorithms: tuple[str, ...] | None = None
    blocked_training_algorithms: tuple[str, ...] = ()
    enable_vote_ensemble: bool = True
    enable_stack_ensemble: bool = True
    enable_model_explainability: bool = True


class AutoMLFeaturization(_Settings):
    """``set_featurization``: ``auto`` (default), ``off`` or ``custom`` with overrides."""

    mode: Literal["auto", "off", "custom"] = "auto"
    blocked_transformers: tuple[str, ...] = ()
    column_name_and_types: dict[str, str] = Field(default_factory=dict)
    #: transformer -> [{"fields": [...], "parameters": {...}}], e.g. {"imputer": [...]}
    transformer_params: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)

    @field_validator("blocked_transformers")
    @classmethod
    def _known_transformers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        by_key = {_squash(t): t for t in BLOCKABLE_TRANSFORMERS}
        out = []
        for name in value:
            if _squash(name) not in by_key:
                raise InvalidInputError(
                    f"transformer {name!r} cannot be blocked",
                    field="featurization.blocked_transformers",
                    allowed=list(BLOCKABLE_TRANSFORMERS),
                )
            out.append(by_key[_squash(name)])
        return tuple(out)

    @field_validator("column_name_and_types")
    @classmethod
    def _known_purposes(cls, value: dict[str, str]) -> dict[str, str]:
        by_key = {_squash(p): p for p in COLUMN_PURPOSES}
        out = {}
        for column, purpose in value.items():
            if _squash(purpose) not in by_key:
                raise InvalidInputError(
                    f"column {column!r}: type {purpose!r} is not a column type",
                    field=f"featurization.column_name_and_types.{column}",
                    allowed=list(COLUMN_PURPOSES),
                )
            out[column] = by_key[_squash(purpose)]
        return out


class AutoMLSpec(_Settings):
    """What an AutoML job asks for, once the training data is resolved to a table.

    ``n_cross_validations``: a fold count, ``"auto"`` or None; with None and no
    ``validation_data_size`` (and no validation data given to the run), folds follow
    ``default_cv_folds``.
    """

    task: Task
    target_column_name: str = Field(min_length=1)
    primary_metric: str
    n_cross_validations: int | Literal["auto"] | None = None
    validation_data_size: float | None = Field(default=None, gt=0, lt=1)
    weight_column_name: str | None = None
    positive_label: str | int | bool | None = None
    limits: AutoMLLimits = Field(default_factory=AutoMLLimits)
    training: AutoMLTraining = Field(default_factory=AutoMLTraining)
    featurization: AutoMLFeaturization = Field(default_factory=AutoMLFeaturization)
    seed: int = 0

    @model_validator(mode="before")
    @classmethod
    def _spellings(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        task = task_of(data.get("task", ""))
        data["task"] = task
        data["primary_metric"] = normalize_metric(task, data.get("primary_metric"))
        training = data.get("training")
        if isinstance(training, AutoMLTraining):
            training = training.model_dump()
        if isinstance(training, dict):
            training = dict(training)
            for key in ("allowed_training_algorithms", "blocked_training_algorithms"):
                if training.get(key) is not None:
                    training[key] = tuple(normalize_algorithm(task, a) for a in training[key])
            data["training"] = training
        folds = data.get("n_cross_validations")
        if isinstance(folds, int) and not isinstance(folds, bool) and folds < 2:
            raise InvalidInputError(
                f"n_cross_validations must be at least 2 (or 'auto'), not {folds}",
                field="n_cross_validations",
            )
        return data

    @property
    def maximize(self) -> bool:
        return is_maximized(self.primary_metric)

    @property
    def timeout_seconds(self) -> float | None:
        minutes = self.limits.timeout_minutes
        return None if minutes is None else minutes * 60.0

    def algorithms(self) -> tuple[str, ...]:
        """The REST names of the algorithms this job may train (allowed minus blocked)."""
        allowed = self.training.allowed_training_algorithms or tuple(ALGORITHMS[self.task])
        chosen = tuple(a for a in allowed if a not in self.training.blocked_training_algorithms)
        if not chosen:
            raise InvalidInputError(
                "every training algorithm is blocked; allow at least one",
                field="training.blocked_training_algorithms",
                allowed=list(ALGORITHMS[self.task]),
            )
        return chosen


def automl_spec(data: dict[str, Any]) -> AutoMLSpec:
    """``AutoMLSpec`` from plain values (YAML, SDK keywords), with errors naming the field.

    Raises:
        InvalidInputError: a value that does not fit: the metric for the task, an unknown
            algorithm or transformer, a limit out of range; the message names the field.
    """
    try:
        return AutoMLSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, InvalidInputError):
            raise cause from None
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInputError(f"{first['msg']}", field=where or None) from None


#: The compute name that runs an AutoML job's trials as tasks on the workspace's Spark
#: (``spark_master`` / ``spark_remote``) instead of local processes.
SPARK_COMPUTE = "spark"


def trials_on_spark(compute: str | None) -> bool:
    """Whether a job's ``compute`` (``spark`` or ``azureml:spark``) sends its trials to Spark."""
    return (compute or "").strip().lower().removeprefix("azureml:") == SPARK_COMPUTE
