"""The ensembles: Azure's VotingEnsemble (Caruana selection) and StackEnsemble, as sklearn models.

Owns both ensembles of a run, built from the trials' out-of-fold or validation predictions,
and assembling fitted members into the final pipeline: raw columns -> featurizer -> the
ensemble model.

VotingEnsemble: greedy ensemble selection as Azure does it (Caruana et al., ICML 2004: sorted
initialisation with up to 5 of the best models within 5% of the best score, then repeatedly
adding, with replacement, the model that most improves the ensemble's validation score until
nothing improves; weights are selection counts); the model is a soft ``VotingClassifier`` /
``VotingRegressor`` (weights as a numpy array, ``flatten_transform=False``: what the ONNX
converters need). A classifier is always a ``VotingClassifier`` (one member with weight 1 for
a single winner): its label encoder turns the members' class indices back into the user's
labels.

StackEnsemble: a two-layer model as Azure builds it. The base learners are up to
``STACK_SIZE`` of the best candidates, the best of each algorithm first; the meta-learner is
fitted on their out-of-fold predictions (class probabilities, the first column dropped for two
classes, exactly as ``StackingClassifier`` feeds them at predict time; values for regression):
a ``LogisticRegression`` whose ``C`` is chosen by cross-validated log loss (Azure:
``LogisticRegressionCV``) or an ``ElasticNet`` whose ``alpha`` and ``l1_ratio``
``ElasticNetCV`` chooses. Its score is honest: the meta-learner, search included, is
cross-validated over the evaluation rows (``cross_val_predict``), never scored on the rows it
was fitted on; a stack whose scoring would not fit in the time left is not built. The model is a ``StackingClassifier`` / ``StackingRegressor`` whose fitted
attributes are set from members refit on all rows and the meta-learner fitted on every
out-of-fold row. It is not built under ``enable_onnx_compatible_models`` (Azure turns it off
there, and the engine says so in a guardrail), nor when ``enable_stack_ensemble`` is off.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone
from sklearn.ensemble import (
    StackingClassifier,
    StackingRegressor,
    VotingClassifier,
    VotingRegressor,
)
from sklearn.linear_model import ElasticNet, ElasticNetCV, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from lakeworks.adapters.automl.metrics import better
from lakeworks.core.automl import AutoMLTraining, Task, is_maximized

log = logging.getLogger(__name__)

#: Candidates the ensembles choose their members from (best first).
LIBRARY = 20
#: Azure's defaults: sorted initialisation size, its tolerance, selection rounds.
INIT_SIZE = 5
INIT_WITHIN = 0.05
ITERATIONS = 15

#: StackEnsemble: base learners at most; folds of the meta-learner's honest score and of its
#: own parameter search; the search's grids; the fewest evaluation rows (per class when
#: classifying) the meta-learner is cross-validated on.
STACK_SIZE = 5
META_FOLDS = 5
META_INNER_FOLDS = 3
META_CS = (0.01, 0.1, 1.0, 10.0, 100.0)
META_L1_RATIOS = (0.5, 1.0)
META_ALPHAS = 12
META_MIN_ROWS = 30
#: Up to this many coefficients the logistic meta-learner takes Newton steps (else L-BFGS).
NEWTON_LIMIT = 64


def caruana(predictions: Sequence[np.ndarray], scores: Sequence[float],
            score: Callable[[np.ndarray], float], metric: str) -> tuple[dict[int, int], float]:
    """Selection counts per candidate index, and the ensemble's score.

    Args:
        predictions: each candidate's predictions on the same validation rows.
        scores: each candidate's own score (primary metric).
        score: the primary metric of averaged predictions.
        metric: the primary metric's name (which direction is better).
    """
    maximize = is_maximized(metric)
    order = sorted(range(len(scores)), key=lambda i: scores[i], reverse=maximize)
    best = scores[order[0]]
    slack = INIT_WITHIN * abs(best)
    chosen = [i for i in order[:INIT_SIZE]
              if (scores[i] >= best - slack if maximize else scores[i] <= best + slack)]
    counts = {i: 1 for i in chosen}
    total = np.sum([predictions[i] for i in chosen], axis=0)
    size = len(chosen)
    current = score(total / size)
    for _ in range(ITERATIONS):
        trials = [(score((total + predictions[j]) / (size + 1)), j) for j in order]
        top_score, top = trials[0]
        for value, j in trials[1:]:
            if better(metric, value, top_score):
                top_score, top = value, j
        if not better(metric, top_score, current):
            break
        counts[top] = counts.get(top, 0) + 1
        total = total + predictions[top]
        size += 1
        current = top_score
    return counts, float(current)


def blend(predictions: Sequence[np.ndarray], weights: Sequence[float]) -> np.ndarray:
    """The weighted average of members' predictions (probabilities or values)."""
    w = np.asarray(weights, dtype=np.float64)
    return np.tensordot(w / w.sum(), np.stack(list(predictions)), axes=1)


def assemble(featurizer: Any, members: Sequence[tuple[str, Any]], weights: Sequence[float],
             labels: np.ndarray | None) -> Pipeline:
    """The final model: featurizer then the voting model over fitted ``members``.

    ``labels`` are the user's class labels in encoded order (None for regression); a
    regression model with one member is the member itself.
    """
    names = [name for name, _ in members]
    fitted = [est for _, est in members]
    w = np.asarray(weights, dtype=np.float64)
    model: Any
    if labels is not None:
        model = VotingClassifier(list(members), voting="soft", weights=w,
                                 flatten_transform=False)
        encoder = LabelEncoder()
        encoder.classes_ = np.asarray(labels)
        model.le_ = encoder
        model.classes_ = encoder.classes_
    elif len(members) == 1:
        return Pipeline([("featurize", featurizer), ("model", fitted[0])])
    else:
        model = VotingRegressor(list(members), weights=w)
    model.estimators_ = fitted
    model.named_estimators_ = Bunch(**dict(zip(names, fitted, strict=True)))
    return Pipeline([("featurize", featurizer), ("model", model)])


# -- StackEnsemble ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Stack:
    """A StackEnsemble's second layer, fitted on its members' out-of-fold predictions.

    Attributes:
        members: the base learners' trial numbers, in the order of the meta features.
        meta: the meta-learner fitted on every evaluation row's out-of-fold predictions.
        predictions: the meta-learner's cross-validated predictions on those rows
            (probabilities or values): what the StackEnsemble is scored on.
    """

    members: tuple[int, ...]
    meta: Any
    predictions: np.ndarray


def stacking(training: AutoMLTraining) -> bool:
    """Whether a run builds a StackEnsemble: asked for, and no ONNX-compatible models.

    Azure turns StackEnsemble off when ``enable_onnx_compatible_models`` is on; so does this.
    """
    return training.enable_stack_ensemble and not training.enable_onnx_compatible_models


def stack_members(algorithms: Sequence[str], size: int = STACK_SIZE) -> list[int]:
    """Indices of the base learners among candidates ranked best first.

    The best candidate of each algorithm comes first (diverse members), then the next best
    candidates fill the remaining places.

    Args:
        algorithms: each candidate's algorithm, best candidate first.
        size: the most members.

    Returns:
        Candidate indices, in rank order.
    """
    firsts: dict[str, int] = {}
    for i, name in enumerate(algorithms):
        firsts.setdefault(name, i)
    rest = [i for i in range(len(algorithms)) if i not in firsts.values()]
    return sorted([*firsts.values(), *rest][:size])


def meta_features(predictions: Sequence[np.ndarray]) -> np.ndarray:
    """The meta-learner's input: members' predictions side by side.

    Mirrors what ``StackingClassifier`` / ``StackingRegressor`` feed their final estimator:
    a column per regression member; per classifier member its class probabilities, less the
    first column when there are two classes (it is one minus the second).
    """
    columns = []
    for pred in predictions:
        values = np.asarray(pred, dtype=np.float64)
        if values.ndim == 1:
            columns.append(values.reshape(-1, 1))
        else:
            columns.append(values[:, 1:] if values.shape[1] == 2 else values)
    return np.hstack(columns)


def _meta_search(task: Task, seed: int, coefficients: int) -> Any:
    """The meta-learner with its parameter search (Azure: ``LogisticRegressionCV`` or
    ``ElasticNetCV``); ``coefficients``: how many the logistic model fits."""
    if task is Task.CLASSIFICATION:
        inner: Any = StratifiedKFold(META_INNER_FOLDS, shuffle=True, random_state=seed)
        # Newton steps are the fastest for few coefficients; their cost grows with the square.
        solver = "newton-cholesky" if coefficients <= NEWTON_LIMIT else "lbfgs"
        meta = LogisticRegression(solver=solver, max_iter=1000)
        return GridSearchCV(meta, {"C": list(META_CS)}, scoring="neg_log_loss", cv=inner)
    inner = KFold(META_INNER_FOLDS, shuffle=True, random_state=seed)
    # scikit-learn 1.7 renamed ``n_alphas`` (the size of the path ElasticNetCV derives from
    # the data) to ``alphas``
    size = ({"alphas": META_ALPHAS} if isinstance(ElasticNetCV().alphas, int)
            else {"n_alphas": META_ALPHAS})
    return ElasticNetCV(l1_ratio=list(META_L1_RATIOS), cv=inner, max_iter=5000,
                        random_state=seed, **size)


def _chosen(search: Any, X: np.ndarray, y: np.ndarray) -> Any:
    """The plain meta-learner ``search`` chooses on all rows, fitted on them."""
    fitted = clone(search).fit(X, y)
    if isinstance(fitted, GridSearchCV):
        return fitted.best_estimator_
    return ElasticNet(alpha=fitted.alpha_, l1_ratio=fitted.l1_ratio_, max_iter=5000,
                      random_state=fitted.random_state).fit(X, y)


def _outer_folds(task: Task, y: np.ndarray, classes: int, seed: int) -> Any | None:
    """Folds of the meta-learner's honest score; None when there are too few rows."""
    if len(y) < META_MIN_ROWS:
        return None
    if task is Task.CLASSIFICATION:
        counts = np.bincount(np.asarray(y, dtype=np.int64), minlength=classes)
        if counts.min() < META_FOLDS:
            return None
        return StratifiedKFold(META_FOLDS, shuffle=True, random_state=seed)
    return KFold(META_FOLDS, shuffle=True, random_state=seed)


def fit_stack(task: Task, numbers: Sequence[int], predictions: Sequence[np.ndarray],
              y: np.ndarray, seed: int, seconds: float | None = None) -> Stack | None:
    """Fit and honestly score the meta-learner over members' out-of-fold predictions.

    The meta-learner is searched and fitted on every row first; the cross-validated score
    (``META_FOLDS`` more searches) follows only if it fits in ``seconds``.

    Args:
        task: classification (``y`` encoded 0..K-1, predictions are probabilities) or
            regression.
        numbers: the members' trial numbers.
        predictions: each member's out-of-fold predictions on the evaluation rows.
        y: the evaluation rows' target.
        seed: the run's seed (folds, solver).
        seconds: the time it may take (None: no limit).

    Returns:
        The stack, or None when the rows (or a class's rows) are too few to cross-validate
        the meta-learner, or when scoring it would not fit in ``seconds``.
    """
    classes = np.asarray(predictions[0]).shape[1] if task is Task.CLASSIFICATION else 0
    folds = _outer_folds(task, y, classes, seed)
    if folds is None or len(predictions) < 2:
        log.info("no StackEnsemble: too few evaluation rows to cross-validate its meta-learner")
        return None
    X = meta_features(predictions)
    search = _meta_search(task, seed, X.shape[1] * (classes if classes > 2 else 1))
    method = "predict_proba" if task is Task.CLASSIFICATION else "predict"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes of a tiny linear model
        started = time.perf_counter()
        meta = _chosen(search, X, y)
        took = time.perf_counter() - started
        if seconds is not None and took * (1 + META_FOLDS) > seconds:
            log.info("no StackEnsemble: scoring its meta-learner would take about %.1f s; "
                     "%.1f s are left for it", took * META_FOLDS, max(0.0, seconds - took))
            return None
        honest = cross_val_predict(search, X, y, cv=folds, method=method)
    return Stack(tuple(numbers), meta, np.asarray(honest, dtype=np.float64))


def describe_stack(stack: Stack, algorithms: Sequence[str]) -> dict[str, Any]:
    """The StackEnsemble's leaderboard hyperparameters (``algorithms``: its members')."""
    meta = stack.meta
    chosen = ({"C": float(meta.C)} if isinstance(meta, LogisticRegression)
              else {"alpha": float(meta.alpha), "l1_ratio": float(meta.l1_ratio)})
    return {"ensembled_iterations": list(stack.members),
            "ensembled_algorithms": list(algorithms),
            "meta_learner": type(meta).__name__, "meta_learner_parameters": chosen}


def assemble_stack(featurizer: Any, members: Sequence[tuple[str, Any]], meta: Any,
                   labels: np.ndarray | None) -> Pipeline:
    """The final model of a StackEnsemble: featurizer then a fitted stacking model.

    Args:
        featurizer: the fitted featurizer (raw columns in, features out).
        members: (name, estimator) of each base learner refit on all rows, in the order of
            the meta-learner's features.
        meta: the fitted meta-learner (``Stack.meta``).
        labels: the user's class labels in encoded order; None for regression.

    Returns:
        ``Pipeline([("featurize", featurizer), ("model", stacking)])``.
    """
    names = [name for name, _ in members]
    fitted = [est for _, est in members]
    model: Any
    if labels is not None:
        model = StackingClassifier(list(members), final_estimator=clone(meta),
                                   stack_method="predict_proba")
        encoder = LabelEncoder()
        encoder.classes_ = np.asarray(labels)
        model._label_encoder = encoder
        model.classes_ = encoder.classes_
        width = len(labels) - 1 if len(labels) == 2 else len(labels)
    else:
        model = StackingRegressor(list(members), final_estimator=clone(meta))
        width = 1
    model.estimators_ = fitted
    model.named_estimators_ = Bunch(**dict(zip(names, fitted, strict=True)))
    model.stack_method_ = ["predict_proba" if labels is not None else "predict"] * len(fitted)
    model.final_estimator_ = meta
    model._n_feature_outs = [width] * len(fitted)
    return Pipeline([("featurize", featurizer), ("model", model)])
