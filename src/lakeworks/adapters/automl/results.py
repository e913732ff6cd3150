"""What an AutoML run hands back: one leaderboard row per trial, and the outcome of the run.

Owns the two result types of ``run_automl`` (plain frozen dataclasses, so callers can
``dataclasses.asdict`` a trial into JSON); must not import any ML library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TrialStatus = Literal["Completed", "Failed", "Canceled"]

#: Why the search ended: the time budget, ``max_trials``, ``exit_score``, early termination
#: (no improvement over a window), every configuration tried, or ``should_stop()``.
StopReason = Literal[
    "timeout", "max_trials", "exit_score", "early_termination", "completed", "canceled"
]


@dataclass(frozen=True)
class TrialResult:
    """One leaderboard row: a model tried, with every metric of the task (Azure's names).

    ``algorithm`` is Azure's REST name (``"LightGBM"``, or ``"VotingEnsemble"`` /
    ``"StackEnsemble"`` for the ensembles, whose ``hyperparameters`` name their members'
    trials and algorithms, and the weights or the meta-learner); ``preprocessor`` the scaler
    swept with it (``"MaxAbsScaler"``; None for tree models, which take features unscaled).
    ``score`` is the primary metric (None unless ``status`` is ``"Completed"``). ``status`` is
    ``"Canceled"`` for a trial stopped by its time limit or the end of the budget.
    """

    number: int
    algorithm: str
    preprocessor: str | None
    hyperparameters: dict[str, Any]
    metrics: dict[str, float]
    score: float | None
    status: TrialStatus
    duration_seconds: float
    started_at: float
    error: str | None = None
    onnx_max_relative_error: float | None = None


@dataclass(frozen=True)
class AutoMLOutcome:
    """The result of ``run_automl``.

    Attributes:
        trials: every trial in the order it finished (the ensembles last).
        best: the winner (may be the ``VotingEnsemble`` or ``StackEnsemble`` trial).
        model: a fitted scikit-learn ``Pipeline`` taking the raw columns (featurization
            inside), refit on all training data.
        onnx_model: the serialized ONNX model when ONNX compatibility was asked for.
        onnx_max_relative_error: the largest difference between ONNX and Python predictions
            on the checked rows, relative to the largest Python prediction (class
            probabilities for classifiers).
        feature_importance: permutation importance of each raw column.
        input_example: a few raw rows (for signatures and docs).
        validation: the rows the winner was scored on (the validation rows, or the training
            rows under cross-validation, scored out of fold), with the target column.
        validation_predictions: the winner's predictions for ``validation`` (labels for
            classification; out-of-fold under cross-validation).
        guardrails: Azure-style data guardrails: ``name``, ``status`` (``Passed``, ``Done``,
            ``Alerted``) and ``detail``.
        stop_reason: why the search ended.
        featurization: per raw column, its detected purpose and transformations.
    """

    trials: list[TrialResult]
    best: TrialResult
    model: Any
    onnx_model: bytes | None
    onnx_max_relative_error: float | None
    feature_importance: dict[str, float]
    input_example: Any
    validation: Any
    validation_predictions: Any
    guardrails: list[dict[str, str]]
    stop_reason: StopReason
    featurization: dict[str, Any] = field(default_factory=dict)
