"""AutoML trials as MLflow runs, and the best model as an MLflow model (with ONNX beside it).

Owns every MLflow call of an AutoML step: each trial becomes a child run of the step's run
(``MLFLOW_RUN_ID``) named as Azure names children (``"MaxAbsScaler, LightGBM"``), with its
algorithm, hyperparameters, every metric of the task and its duration; the parent run gets
``automl_best_child_run_id`` and the winner's metrics; the best model is saved as an MLflow
scikit-learn model with a signature and an input example, ``model.onnx`` and
``feature_importance.json`` are written beside ``MLmodel``, the folder is logged under
``outputs/mlflow-model`` (Azure's place) and, when asked, registered in the workspace's
registry (whose versions keep the job as lineage).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_ARTIFACT = "outputs/mlflow-model"
ONNX_FILE = "model.onnx"
IMPORTANCE_FILE = "feature_importance.json"
_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED"}


def _plain(trial: Any) -> dict[str, Any]:
    return asdict(trial) if is_dataclass(trial) and not isinstance(trial, type) else dict(trial)


def _param(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text[:500]


def _trusted_types(model: Any) -> list[str]:
    """The types skops must be told to trust to save (and load) ``model``.

    MLflow saves scikit-learn models with skops, which refuses types it does not know: the
    model's own estimators (XGBoost, LightGBM) and Lakeworks' featurization steps. They are
    the types of the model AutoML just built, so listing them is what makes it loadable.
    """
    import skops.io

    found: list[str] = skops.io.get_untrusted_types(data=skops.io.dumps(model))
    return found


class AutoMLRunLogger:
    """Logs one AutoML job's trials and best model to the step's MLflow run."""

    def __init__(self, spec: Any) -> None:
        import mlflow

        self.spec = spec
        self.client = mlflow.MlflowClient()
        self.parent = os.environ.get("MLFLOW_RUN_ID")
        self.experiment_id = os.environ.get("MLFLOW_EXPERIMENT_ID")
        if self.parent and not self.experiment_id:
            self.experiment_id = self.client.get_run(self.parent).info.experiment_id
        self.runs: dict[int, str] = {}

    def log_trial(self, trial: Any) -> str | None:
        """One child run for ``trial``; returns its run id (None outside a tracked step)."""
        if not self.parent or not self.experiment_id:
            return None
        row = _plain(trial)
        name = ", ".join(p for p in (row.get("preprocessor"), row["algorithm"]) if p)
        tags = {
            "mlflow.parentRunId": self.parent,
            "mlflow.runName": name,
            "automl.algorithm": str(row["algorithm"]),
            "automl.trial": str(row["number"]),
            "automl.status": str(row["status"]),
        }
        if row.get("error"):
            tags["automl.error"] = str(row["error"])[:4000]
        run = self.client.create_run(self.experiment_id, tags=tags,
                                     start_time=int(float(row["started_at"]) * 1000))
        run_id = str(run.info.run_id)
        params = {k: _param(v) for k, v in (row.get("hyperparameters") or {}).items()}
        metrics = {k: float(v) for k, v in (row.get("metrics") or {}).items()
                   if isinstance(v, int | float) and v == v}
        metrics["duration_seconds"] = float(row["duration_seconds"])
        if row.get("onnx_max_relative_error") is not None:
            metrics["onnx_max_relative_error"] = float(row["onnx_max_relative_error"])
        from mlflow.entities import Metric, Param

        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        end = int((float(row["started_at"]) + float(row["duration_seconds"])) * 1000)
        self.client.set_terminated(run_id, _STATUS.get(str(row["status"]), "FINISHED"),
                                   end_time=end)
        self.runs[int(row["number"])] = run_id
        return run_id

    def save_best(self, outcome: Any, folder: Path, *, model_name: str | None) -> dict[str, Any]:
        """Save the winner in ``folder`` as an MLflow model; log it; register it if named."""
        import mlflow
        from mlflow.models import infer_signature

        example = outcome.input_example
        signature = infer_signature(example, outcome.model.predict(example))
        folder.mkdir(parents=True, exist_ok=True)
        mlflow.sklearn.save_model(outcome.model, str(folder), signature=signature,
                                  input_example=example,
                                  skops_trusted_types=_trusted_types(outcome.model))
        if outcome.onnx_model is not None:
            (folder / ONNX_FILE).write_bytes(outcome.onnx_model)
        (folder / IMPORTANCE_FILE).write_text(
            json.dumps(outcome.feature_importance, indent=1), encoding="utf-8")
        saved: dict[str, Any] = {"path": str(folder), "onnx": outcome.onnx_model is not None}
        if not self.parent:
            return saved
        best = _plain(outcome.best)
        child = self.runs.get(int(best["number"]))
        if child:
            self.client.set_tag(self.parent, "automl_best_child_run_id", child)
        self.client.set_tag(self.parent, "automl.best_algorithm", str(best["algorithm"]))
        score = best.get("score")
        if score is not None:
            self.client.log_metric(self.parent, f"best_{self.spec.primary_metric}", float(score))
        self.client.log_artifacts(self.parent, str(folder), MODEL_ARTIFACT)
        if model_name:
            version = mlflow.register_model(f"runs:/{self.parent}/{MODEL_ARTIFACT}", model_name)
            saved["registered"] = {"name": model_name, "version": str(version.version)}
        return saved
