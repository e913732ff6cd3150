"""The VotingEnsemble: Caruana ensemble selection over the trials, and the final scikit-learn model.

Owns greedy ensemble selection as Azure's VotingEnsemble does it (Caruana et al., ICML 2004:
sorted initialisation with up to 5 of the best models within 5% of the best score, then
repeatedly adding, with replacement, the model that most improves the ensemble's validation
score until nothing improves; weights are selection counts) over the trials' out-of-fold or
validation predictions, and assembling fitted members into the final pipeline: raw columns ->
featurizer -> a soft ``VotingClassifier`` / ``VotingRegressor`` (weights as a numpy array,
``flatten_transform=False``: what the ONNX converters need). A classifier is always a
``VotingClassifier`` (one member with weight 1 for a single winner): its label encoder turns
the members' class indices back into the user's labels. StackEnsemble is not built.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import Bunch

from lakeworks.adapters.automl.metrics import better
from lakeworks.core.automl import is_maximized

#: Azure's defaults: sorted initialisation size, its tolerance, selection rounds.
INIT_SIZE = 5
INIT_WITHIN = 0.05
ITERATIONS = 15


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
