"""Spark's ``PREDICT`` wired to the workspace's model registry (used by ``lakeworks.spark``).

Owns the two ends the Spark adapter leaves open: which model a name means (resolved through
``services.scoring`` in the workspace the session was made for) and how it becomes a
predictor (ONNX Runtime, or ``mlflow.pyfunc`` for an MLflow model without ONNX). SQL's
``PREDICT('name[:version]', ...)`` resolves the model in each Python worker (they read the
workspace folder, as local and shared-folder clusters can), once per stage, and keeps one
predictor per model version per worker; ``score_dataframe`` resolves it on the driver and
ships it (ONNX bytes, or the MLflow folder zipped) to the executors, so it also runs where
workers cannot see the workspace. It must not import PySpark (the adapter does)."""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from lakeworks.errors import NotFoundError
from lakeworks.services.scoring import (
    ModelFormat,
    Predictor,
    open_content,
    open_model,
    resolve_model,
)
from lakeworks.services.workspace import Workspace, open_workspace

if TYPE_CHECKING:
    from types import ModuleType

    from pyspark.sql import DataFrame, SparkSession

# per Python worker process
_WORKSPACES: dict[str, Workspace] = {}
_PREDICTORS: dict[tuple[str, str], Predictor] = {}
_LOCK = threading.Lock()


def _adapter() -> ModuleType:
    from lakeworks.adapters.spark import predict

    return predict


def register(spark: SparkSession, workspace: Path) -> None:
    """Register ``PREDICT``, ``PREDICT_LABEL`` and ``PREDICT_PROBA`` for ``workspace``'s
    models in ``spark`` (replacing those of another workspace)."""
    _adapter().register_predict_functions(
        spark, partial(load_registered, str(workspace)), scope=str(workspace))


def _workspace(folder: str) -> Workspace:
    with _LOCK:
        ws = _WORKSPACES.get(folder)
        if ws is None:
            ws = _WORKSPACES[folder] = open_workspace(Path(folder))
        return ws


def load_registered(workspace: str, reference: str) -> Predictor:
    """The predictor of model ``reference`` in ``workspace`` (runs in Spark's Python workers).

    Raises:
        NotFoundError: the model or version does not exist (named), or this worker cannot
            open the workspace folder.
        InvalidInputError: the model has no ONNX graph and is no MLflow model.
    """
    try:
        ws = _workspace(workspace)
    except NotFoundError as exc:
        raise NotFoundError(
            f"PREDICT('{reference}') reads models from the workspace at '{workspace}', which "
            f"this Spark worker cannot open ({exc}); where workers do not share that folder, "
            f"score with lakeworks.spark.predict(df, '{reference}'), which ships the model"
        ) from exc
    model = resolve_model(ws, reference)
    key = (workspace, model.ref)
    with _LOCK:
        found = _PREDICTORS.get(key)
    if found is None:
        found = open_model(model)
        with _LOCK:
            found = _PREDICTORS.setdefault(key, found)
    return found


def open_shipped(format: ModelFormat, content: bytes, model: str) -> Predictor:
    """A predictor over a model shipped as bytes (runs in Spark's Python workers)."""
    return open_content(content, format, model=model)


def score_dataframe(
    df: DataFrame,
    ws: Workspace,
    model: str,
    *,
    output_col: str = "prediction",
    probability_col: str | None = None,
) -> DataFrame:
    """``df`` with model ``model``'s prediction appended; see ``lakeworks.spark.predict``.

    Raises:
        NotFoundError: no such model or version.
        InvalidInputError: the model is neither ONNX nor MLflow, ``df`` lacks one of its
            columns (the message lists the model's inputs and ``df``'s columns), an output
            column exists, or probabilities were asked of a model without them.
    """
    adapter = _adapter()
    resolved = resolve_model(ws, model)
    predictor = open_model(resolved)
    if probability_col is not None:
        predictor.check_probabilities()
    shipment = adapter.ship_model(df.sparkSession, resolved.content(), model=resolved.ref)
    scored: DataFrame = adapter.with_prediction(
        df, predictor, shipment, partial(open_shipped, resolved.format),
        output_col=output_col, probability_col=probability_col)
    return scored
