"""Permutation feature importance of the final model, per raw column, within a time allowance.

Owns how many rows and repeats permutation importance uses (scikit-learn's
``permutation_importance`` on the raw frame, so importance is reported per raw column, scored
by the primary metric) so that it fits the time left; must not train models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

#: At most this many rows and repeats.
MAX_ROWS = 2000
MIN_ROWS = 100
MAX_REPEATS = 5


def feature_importance(model: Any, frame: pd.DataFrame, y: np.ndarray, columns: list[str],
                       scorer: Callable[[Any, pd.DataFrame, np.ndarray], float],
                       seconds: float, seed: int) -> dict[str, float]:
    """Mean drop of the primary metric when each column of ``columns`` is shuffled.

    Returns an empty dict when not even one repeat fits in ``seconds``.
    """
    if not columns or seconds <= 0 or len(frame) < 2:
        return {}
    if len(frame) > MAX_ROWS:
        picked = np.random.default_rng(seed).choice(len(frame), MAX_ROWS, replace=False)
        frame, y = frame.iloc[picked], y[picked]
    started = time.perf_counter()
    scorer(model, frame, y)
    one = max(time.perf_counter() - started, 1e-4)
    repeats = int(min(MAX_REPEATS, seconds / (one * (len(columns) + 1))))
    if repeats < 1:  # fewer rows: scoring time grows with them
        keep = int(len(frame) * seconds / (one * (len(columns) + 1)))
        if keep < MIN_ROWS:
            return {}
        picked = np.random.default_rng(seed).choice(len(frame), keep, replace=False)
        frame, y, repeats = frame.iloc[picked], y[picked], 1
    result = permutation_importance(model, frame, y, scoring=scorer, n_repeats=repeats,
                                    random_state=seed, n_jobs=1)
    scores = result["importances_mean"]
    names = list(frame.columns)
    wanted = set(columns)
    ranked = {names[i]: float(scores[i]) for i in range(len(names)) if names[i] in wanted}
    return dict(sorted(ranked.items(), key=lambda kv: -kv[1]))
