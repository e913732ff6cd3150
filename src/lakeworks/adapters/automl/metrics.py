"""Every classification and regression metric Azure AutoML logs for a trial, by Azure's names.

Owns the metric definitions (scikit-learn underneath) and scoring by the primary metric; must
not fit models. Classification metrics take encoded labels (0..K-1) and class probabilities;
regression metrics take the range of the training target, which normalises the
``normalized_*`` errors as Azure does (error / (max(y) - min(y))).

Definitions that are Azure's own (not a scikit-learn function):

- ``norm_macro_recall``: (macro recall - R) / (1 - R), R = 1/K, the expected macro recall of
  random predictions (0.5 for two classes); random is 0, perfect is 1.
- ``weighted_accuracy``: accuracy with each row weighted by the size of its true class.
- ``AUC_*`` and ``average_precision_score_*``: one-vs-rest over the classes, averaged
  ``macro`` (plain mean), ``weighted`` (by class size) or ``micro`` (all pairs pooled).
- ``*_binary``: two-class targets only, for the positive class (``positive_label``, else the
  last class in sorted order).
- ``normalized_*``: the error divided by the training target's range.
- ``mean_absolute_percentage_error``: in percent, over the rows whose true value is not 0.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from functools import partial

import numpy as np
from scipy.stats import rankdata, spearmanr
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from lakeworks.core.automl import Task, is_maximized

CLASSIFICATION_METRICS = (
    "accuracy", "AUC_macro", "AUC_micro", "AUC_weighted", "average_precision_score_macro",
    "average_precision_score_micro", "average_precision_score_weighted", "balanced_accuracy",
    "f1_score_macro", "f1_score_micro", "f1_score_weighted", "log_loss",
    "matthews_correlation", "norm_macro_recall", "precision_score_macro",
    "precision_score_micro", "precision_score_weighted", "recall_score_macro",
    "recall_score_micro", "recall_score_weighted", "weighted_accuracy",
)
#: Logged for two-class targets only, for the positive class (``positive_label``; by default
#: the last class in sorted order, as Azure picks it from the encoded labels).
BINARY_METRICS = ("AUC_binary", "average_precision_score_binary", "f1_score_binary",
                  "precision_score_binary", "recall_score_binary")
REGRESSION_METRICS = (
    "explained_variance", "mean_absolute_error", "mean_absolute_percentage_error",
    "median_absolute_error", "normalized_mean_absolute_error",
    "normalized_median_absolute_error", "normalized_root_mean_squared_error",
    "normalized_root_mean_squared_log_error", "r2_score", "root_mean_squared_error",
    "root_mean_squared_log_error", "spearman_correlation",
)


def metric_names(task: Task) -> tuple[str, ...]:
    """Every metric a trial of ``task`` logs."""
    return CLASSIFICATION_METRICS if task is Task.CLASSIFICATION else REGRESSION_METRICS


def _safe(fn: Callable[[], float]) -> float:
    """A metric's value, NaN where it is undefined (one class present, constant values)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = float(fn())
    except ValueError:
        return math.nan
    return value if math.isfinite(value) else math.nan


def _auc(truth: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count half), as ``roc_auc_score``."""
    truth = np.asarray(truth, dtype=bool)
    positives = int(truth.sum())
    negatives = truth.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError("ROC AUC needs both classes")
    ranks = rankdata(score)
    return float((ranks[truth].sum() - positives * (positives + 1) / 2)
                 / (positives * negatives))


def _one_vs_rest(y: np.ndarray, proba: np.ndarray, fn: Callable[..., float],
                 average: str) -> float:
    k = proba.shape[1]
    if k == 2 and average != "micro" and fn is _auc:  # both classes give the same AUC
        return _auc(y == 1, proba[:, 1])
    onehot = np.column_stack([1 - y, y]) if k == 2 else label_binarize(y, classes=np.arange(k))
    present = onehot.sum(axis=0) > 0
    if average == "micro":
        return fn(onehot[:, present].ravel(), proba[:, present].ravel())
    scores = np.array([fn(onehot[:, j], proba[:, j]) for j in np.flatnonzero(present)])
    if average == "macro":
        return float(scores.mean())
    weights = onehot[:, present].sum(axis=0)
    return float(np.average(scores, weights=weights))


def classification_metrics(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every classification metric for encoded labels ``y`` and probabilities ``proba``."""
    y = np.asarray(y, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    pred = proba.argmax(axis=1)
    out: dict[str, float] = {"accuracy": float(np.mean(pred == y))}
    labels = np.arange(k)
    for average in ("macro", "micro", "weighted"):
        out[f"AUC_{average}"] = _safe(partial(
            _one_vs_rest, y, proba, _auc, average))
        out[f"average_precision_score_{average}"] = _safe(partial(
            _one_vs_rest, y, proba, skm.average_precision_score, average))
        for name, fn in (("f1_score", skm.f1_score), ("precision_score", skm.precision_score),
                         ("recall_score", skm.recall_score)):
            out[f"{name}_{average}"] = _safe(partial(
                fn, y, pred, average=average, labels=labels, zero_division=0))
    out["balanced_accuracy"] = _safe(lambda: skm.balanced_accuracy_score(y, pred))
    clipped = np.clip(proba, 1e-15, 1.0)
    out["log_loss"] = _safe(lambda: skm.log_loss(
        y, clipped / clipped.sum(axis=1, keepdims=True), labels=np.arange(k)))
    out["matthews_correlation"] = _safe(lambda: skm.matthews_corrcoef(y, pred))
    chance = 1.0 / k
    out["norm_macro_recall"] = (out["recall_score_macro"] - chance) / (1.0 - chance)
    sizes = np.bincount(y, minlength=k).astype(np.float64)
    out["weighted_accuracy"] = float(np.average(pred == y, weights=sizes[y]))
    if k == 2:
        out.update(_binary_metrics(y == 1, proba[:, 1], pred == 1))
    return {name: value for name, value in out.items() if not math.isnan(value)}


def _binary_metrics(truth: np.ndarray, score: np.ndarray, said: np.ndarray) -> dict[str, float]:
    """Azure's ``*_binary`` metrics, for the positive class (encoded 1)."""
    return {
        "AUC_binary": _safe(lambda: _auc(truth, score)),
        "average_precision_score_binary": _safe(
            lambda: skm.average_precision_score(truth, score)),
        "f1_score_binary": _safe(lambda: skm.f1_score(truth, said, zero_division=0)),
        "precision_score_binary": _safe(
            lambda: skm.precision_score(truth, said, zero_division=0)),
        "recall_score_binary": _safe(lambda: skm.recall_score(truth, said, zero_division=0)),
    }


def regression_metrics(y: np.ndarray, pred: np.ndarray, y_range: float) -> dict[str, float]:
    """Every regression metric; ``y_range`` is max - min of the training target."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64).ravel()
    scale = y_range if y_range > 0 else 1.0
    err = pred - y
    rmse = float(np.sqrt(np.mean(err**2)))
    mae = float(np.mean(np.abs(err)))
    median = float(np.median(np.abs(err)))
    out = {
        "explained_variance": _safe(lambda: skm.explained_variance_score(y, pred)),
        "r2_score": _safe(lambda: skm.r2_score(y, pred)),
        "spearman_correlation": _safe(lambda: spearmanr(y, pred).statistic),
        "mean_absolute_error": mae,
        "normalized_mean_absolute_error": mae / scale,
        "median_absolute_error": median,
        "normalized_median_absolute_error": median / scale,
        "root_mean_squared_error": rmse,
        "normalized_root_mean_squared_error": rmse / scale,
    }
    if np.all(y >= 0) and np.all(pred > -1):
        rmsle = float(np.sqrt(np.mean((np.log1p(np.maximum(pred, 0)) - np.log1p(y)) ** 2)))
        log_range = float(np.log1p(y.max()) - np.log1p(y.min())) or 1.0
        out["root_mean_squared_log_error"] = rmsle
        out["normalized_root_mean_squared_log_error"] = rmsle / log_range
    nonzero = y != 0
    if nonzero.any():
        out["mean_absolute_percentage_error"] = float(
            100.0 * np.mean(np.abs(err[nonzero] / y[nonzero])))
    return {name: value for name, value in out.items() if not math.isnan(value)}


def all_metrics(task: Task, y: np.ndarray, pred: np.ndarray,
                y_range: float = 1.0) -> dict[str, float]:
    """Every metric of ``task``: ``pred`` holds probabilities (classification) or values."""
    if task is Task.CLASSIFICATION:
        return classification_metrics(y, pred)
    return regression_metrics(y, pred, y_range)


def primary_score(task: Task, metric: str, y: np.ndarray, pred: np.ndarray,
                  y_range: float = 1.0) -> float:
    """The primary metric alone (cheaper than ``all_metrics``; NaN when undefined)."""
    y = np.asarray(y)
    if task is Task.REGRESSION:
        pred = np.asarray(pred, dtype=np.float64).ravel()
        scale = y_range if y_range > 0 else 1.0
        if metric == "r2_score":
            return _safe(lambda: skm.r2_score(y, pred))
        if metric == "spearman_correlation":
            return _safe(lambda: spearmanr(y, pred).statistic)
        if metric == "normalized_root_mean_squared_error":
            return float(np.sqrt(np.mean((pred - y) ** 2))) / scale
        if metric == "normalized_mean_absolute_error":
            return float(np.mean(np.abs(pred - y))) / scale
    else:
        proba = np.asarray(pred, dtype=np.float64)
        labels = np.asarray(y, dtype=np.int64)
        if metric == "accuracy":
            return float(np.mean(proba.argmax(axis=1) == labels))
        if metric == "AUC_weighted":
            return _safe(lambda: _one_vs_rest(labels, proba, _auc, "weighted"))
        if metric == "average_precision_score_weighted":
            return _safe(lambda: _one_vs_rest(
                labels, proba, skm.average_precision_score, "weighted"))
    value = all_metrics(task, y, pred, y_range).get(metric, math.nan)
    return float(value)


def better(metric: str, a: float | None, b: float | None) -> bool:
    """Whether score ``a`` beats ``b`` on ``metric`` (None and NaN never win)."""
    if a is None or math.isnan(a):
        return False
    if b is None or math.isnan(b):
        return True
    return a > b if is_maximized(metric) else a < b


def loss(metric: str, score: float) -> float:
    """The value to minimise for ``score`` (infinite when undefined)."""
    if math.isnan(score):
        return math.inf
    return -score if is_maximized(metric) else score
