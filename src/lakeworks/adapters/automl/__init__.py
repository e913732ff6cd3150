"""The AutoML engine: search, ensembles and ONNX export for tabular classification and regression.

Pure machine learning, no workspace: ``run_automl(frame, spec)`` takes a pandas frame and an
``AutoMLSpec`` (``lakeworks.core.automl``) and returns an ``AutoMLOutcome`` (leaderboard,
winner, a fitted scikit-learn pipeline taking raw columns, its ONNX form, permutation
importance, guardrails). ``predict_onnx`` / ``predict_proba_onnx`` score raw rows with an
exported model. Services reach it through the adapter registry (role ``automl_engine``).

Modules: ``data`` (checks, target, validation folds), ``featurize`` (column types and the
ColumnTransformer), ``learners`` (algorithms, spaces, defaults), ``workers`` (trial
processes), ``spark_trials`` (trials as Spark tasks), ``search`` (Optuna TPE, limits),
``ensemble`` (the VotingEnsemble by Caruana selection and the StackEnsemble, a meta-learner
over the members' out-of-fold predictions, off under ONNX as in Azure; their scikit-learn
models), ``finalize`` (refit, ONNX check, importance), ``onnx_export``, ``metrics``,
``importance``, ``engine`` (one run end to end), ``results`` (the result types).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeworks.adapters.automl.engine import run_automl
    from lakeworks.adapters.automl.onnx_export import predict_onnx, predict_proba_onnx
    from lakeworks.adapters.automl.results import AutoMLOutcome, TrialResult

__all__ = ["AutoMLOutcome", "TrialResult", "predict_onnx", "predict_proba_onnx", "run_automl"]

# Resolved on first use, so a trial process (``python -m ...automl.workers``) and a pickled
# model's loader import only what they need.
_WHERE = {"run_automl": "engine", "predict_onnx": "onnx_export",
          "predict_proba_onnx": "onnx_export", "AutoMLOutcome": "results",
          "TrialResult": "results"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
