"""AutoML runs inside a job step: data in, trials tracked, the best model saved and registered.

Owns what happens between the AutoML driver (``lakeworks.automl_job``) and the engine
(adapter role ``automl_engine``): reading the training data (a lake table at the version
pinned when the job was submitted, a Delta folder, a CSV/Parquet/JSON-lines file or folder,
or an MLTable folder) into a frame, running the search with a callback per trial, keeping the
job's leaderboard (``.lakeworks/jobs/<job>/automl/leaderboard.json``, rewritten atomically
after every trial, read by the SDK and the CLI while the job runs), logging each trial as a
child MLflow run and the winner on the parent (adapter role ``automl_runs``), and writing the
best model (an MLflow model, ``model.onnx`` beside it when ONNX compatibility is on, permutation
importance in ``feature_importance.json``) to the step's ``best_model`` output.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeworks.core.automl import AutoMLSpec
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.lake import StorageLocation
from lakeworks.services import adapter_registry
from lakeworks.services.lake import LakeService
from lakeworks.services.steps import job_dir
from lakeworks.services.workspace import Workspace

log = logging.getLogger(__name__)

LEADERBOARD = "leaderboard.json"
_MLTABLE_READERS = {"read_delimited": "csv", "read_parquet": "parquet",
                    "read_json_lines": "json"}


def leaderboard_path(ws: Workspace, job_name: str) -> Path:
    """Where a job's AutoML leaderboard is kept."""
    return job_dir(ws, job_name) / "automl" / LEADERBOARD


def read_leaderboard(ws: Workspace, job_name: str) -> dict[str, Any] | None:
    """The leaderboard of an AutoML job so far (None before its first write)."""
    path = leaderboard_path(ws, job_name)
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return data


def ranked_trials(board: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A leaderboard's trials best first (failed and canceled last), as display rows."""
    maximize = bool(board.get("maximize", True))

    def key(t: Mapping[str, Any]) -> tuple[int, float]:
        score = t.get("score")
        if score is None:
            return (1, 0.0)
        return (0, -float(score) if maximize else float(score))

    rows = []
    for rank, t in enumerate(sorted(board.get("trials") or [], key=key), start=1):
        rows.append({
            "rank": rank,
            "name": ", ".join(p for p in (t.get("preprocessor"), t.get("algorithm")) if p),
            "score": None if t.get("score") is None else round(float(t["score"]), 5),
            "status": t.get("status"),
            "duration": round(float(t.get("duration_seconds") or 0.0), 1),
            "number": t.get("number"),
            "run_id": t.get("run_id"),
            "hyperparameters": t.get("hyperparameters"),
            "metrics": t.get("metrics"),
            "error": t.get("error"),
        })
    return rows


def _write_atomically(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _row(trial: Any) -> dict[str, Any]:
    return asdict(trial) if is_dataclass(trial) and not isinstance(trial, type) else dict(trial)


class AutoMLRun:
    """One AutoML job's work, inside its step."""

    def __init__(self, ws: Workspace, job_name: str, spec: AutoMLSpec) -> None:
        self.ws = ws
        self.job_name = job_name
        self.spec = spec
        self.board: dict[str, Any] = {
            "job": job_name, "task": spec.task.value, "primary_metric": spec.primary_metric,
            "maximize": spec.maximize, "budget_seconds": spec.timeout_seconds,
            "started_at": time.time(), "status": "Running", "trials": [], "best": None,
        }

    # -- data -----------------------------------------------------------------------------

    def load_table(self, name: str) -> pa.Table:
        """A lake table (``name`` or ``name@version``) as Arrow; the version read is recorded."""
        table, _, version = name.partition("@")
        lake = LakeService(self.ws)
        pinned = int(version) if version else lake.version(table)
        self.board.setdefault("data", {})[table] = {"version": pinned}
        return lake.read(table, version=pinned)

    def load_path(self, path: str) -> pa.Table:
        """A file or folder given to the step: Delta, MLTable, or CSV/Parquet/JSON lines."""
        where = Path(path)
        if not where.exists():
            raise NotFoundError(f"training data '{path}' does not exist")
        if where.is_dir() and (where / "_delta_log").is_dir():
            store = adapter_registry.load("table_store")()
            table: pa.Table = store.read(StorageLocation(str(where)))
            return table
        if where.is_dir() and (where / "MLTable").is_file():
            return self._load_mltable(where)
        reader = adapter_registry.load("file_reader")()
        data = reader.read(StorageLocation(str(where))).data
        return data.read_all() if isinstance(data, pa.RecordBatchReader) else data

    def _load_mltable(self, folder: Path) -> pa.Table:
        import yaml

        text = (folder / "MLTable").read_text(encoding="utf-8")
        doc = yaml.safe_load(text) or {}
        paths = doc.get("paths") or []
        fmt = None
        for step in doc.get("transformations") or []:
            key = next(iter(step)) if isinstance(step, dict) else str(step)
            fmt = _MLTABLE_READERS.get(key, fmt)
        reader = adapter_registry.load("file_reader")()
        tables = []
        for entry in paths:
            target = entry.get("file") or entry.get("folder") if isinstance(entry, dict) else None
            if not target:
                raise InvalidInputError(
                    f"{folder / 'MLTable'}: each of 'paths' needs 'file' or 'folder' "
                    "(patterns are not supported)", field="paths")
            local = (folder / target).resolve() if "://" not in target else target
            data = reader.read(StorageLocation(str(local)), format=fmt).data
            tables.append(data.read_all() if isinstance(data, pa.RecordBatchReader) else data)
        if not tables:
            raise InvalidInputError(f"{folder / 'MLTable'} names no paths", field="paths")
        return pa.concat_tables(tables, promote_options="default")

    # -- the search -----------------------------------------------------------------------

    def run(self, train: Any, validation: Any | None, best_model: Path,
            model_name: str | None, echo: Callable[[Any], None] | None = None,
            spark_session: Callable[[], Any] | None = None) -> Any:
        """Search, track, save and (with ``model_name``) register the best model.

        ``echo(trial)`` is called after each trial is recorded (the driver prints it);
        ``spark_session``, when given, makes the Spark session the trials run on.
        """
        engine = adapter_registry.load("automl_engine")
        tracker = adapter_registry.load("automl_runs")(self.spec)
        path = leaderboard_path(self.ws, self.job_name)
        _write_atomically(path, self.board)

        def on_trial(trial: Any) -> None:
            row = _row(trial)
            row["run_id"] = tracker.log_trial(trial)
            self.board["trials"].append(row)
            _write_atomically(path, self.board)
            if echo is not None:
                echo(trial)

        try:
            outcome = engine(train, self.spec, validation=validation, on_trial=on_trial,
                             work_dir=path.parent, spark_session=spark_session)
        except Exception as exc:
            self.board["status"] = "Failed"
            self.board["error"] = str(exc)
            _write_atomically(path, self.board)
            raise
        best = _row(outcome.best)
        self.board.update(status="Completed", best=best, stop_reason=outcome.stop_reason,
                          guardrails=outcome.guardrails, featurization=outcome.featurization,
                          onnx_max_relative_error=outcome.onnx_max_relative_error,
                          finished_at=time.time())
        _write_atomically(path, self.board)
        saved = tracker.save_best(outcome, best_model, model_name=model_name)
        self.board["model"] = saved
        _write_atomically(path, self.board)
        return outcome


def frame(table: pa.Table) -> Any:
    """Arrow to the pandas frame the engine takes."""
    return table.to_pandas()
