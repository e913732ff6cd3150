"""AutoML trials as Spark tasks (``compute="spark"``): real Spark in local mode running the
engine's requests, a request past its deadline cancelled on the cluster, and a whole AutoML
job whose trials run on the workspace's Spark. Skipped without Java, PySpark or the automl
extra."""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from lakeworks.core.automl import automl_spec
from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace

_EXTRA = ("pyspark", "sklearn", "lightgbm", "xgboost", "optuna", "skl2onnx", "onnxruntime")
_MISSING = [name for name in _EXTRA if importlib.util.find_spec(name) is None]
if _MISSING:
    pytest.skip(f"needs the spark and automl extras (missing {', '.join(_MISSING)})",
                allow_module_level=True)
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)", allow_module_level=True)

from pyspark.sql import SparkSession  # noqa: E402

import lakeworks.spark as lwspark  # noqa: E402
from lakeworks.adapters.automl import run_automl  # noqa: E402
from lakeworks.adapters.automl.featurize import plan_featurization  # noqa: E402
from lakeworks.adapters.automl.learners import Context  # noqa: E402
from lakeworks.adapters.automl.spark_trials import SparkPool  # noqa: E402
from lakeworks.adapters.automl.workers import Bundle, Job  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.automl]


@pytest.fixture(scope="module")
def spark(module_ws: Workspace) -> Iterator[SparkSession]:
    session = lwspark.session(module_ws)
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def bike() -> pd.DataFrame:
    return pd.read_csv(dataset_path("bike-rentals-daily")).drop(columns="dteday")


def finished_jobs(spark: SparkSession) -> int:
    tracker = spark.sparkContext.statusTracker()
    return len(tracker.getJobIdsForGroup(None))


def test_trials_run_as_spark_tasks_and_the_best_model_exports(spark: SparkSession,
                                                               bike: pd.DataFrame) -> None:
    spec = automl_spec({"task": "regression", "target_column_name": "rentals",
                        "primary_metric": "spearman_correlation",
                        "limits": {"timeout_minutes": 0.4, "max_concurrent_trials": 2},
                        "training": {"enable_onnx_compatible_models": True}})
    before = finished_jobs(spark)
    started = time.perf_counter()
    outcome = run_automl(bike, spec, spark_session=lambda: spark)
    elapsed = time.perf_counter() - started
    done = [t for t in outcome.trials if t.status == "Completed" and t.score is not None]
    singles = [t for t in done if t.algorithm != "VotingEnsemble"]
    assert len(singles) >= 3
    # every trial and the final refits were Spark jobs of this session
    assert finished_jobs(spark) - before >= len(singles)
    # the search stops at its budget; the final refits and ONNX check add a few seconds
    assert elapsed <= spec.timeout_seconds + 5  # type: ignore[operator]
    assert outcome.best.score is not None and outcome.best.score > 0.6
    assert outcome.onnx_model is not None and outcome.onnx_max_relative_error <= 1e-5
    predictions = np.asarray(outcome.model.predict(bike.drop(columns="rentals").head(20)))
    assert predictions.shape == (20,) and np.isfinite(predictions).all()


def bundle_file(tmp_path: Path, frame: pd.DataFrame) -> Path:
    spec = automl_spec({"task": "regression", "target_column_name": "rentals"})
    features = frame.drop(columns="rentals")
    y = frame["rentals"].to_numpy(dtype=float)
    rows = np.arange(len(frame))
    folds = [(rows[rows % 4 != k], rows[rows % 4 == k]) for k in range(4)]
    plan = plan_featurization(features, spec, onnx=True)
    context = Context(spec.task, 1, 0, len(frame), 0)
    path = tmp_path / "bundle.pkl"
    import pickle

    path.write_bytes(pickle.dumps(Bundle(features, y, None, folds, rows, plan, spec, context)))
    return path


def wait_for(pool: SparkPool, kind: str, within: float = 120.0) -> Any:
    deadline = time.time() + within
    while time.time() < deadline:
        for event in pool.wait(0.5):
            if event.kind == kind:
                return event
            raise AssertionError(f"expected a {kind} event, got {event.kind}: {event.error}")
    raise AssertionError(f"no {kind} event within {within} s")


def test_a_request_past_its_deadline_is_cancelled_on_the_cluster(
        spark: SparkSession, bike: pd.DataFrame, tmp_path: Path) -> None:
    big = pd.concat([bike] * 20, ignore_index=True)  # ~15k rows: a 3000-tree forest is slow
    pool = SparkPool(spark, bundle_file(tmp_path, big), size=1, threads=1)
    try:
        slow = {"n_estimators": 3000, "max_features": 1.0, "min_samples_leaf": 1}
        pool.submit(Job("trial", 1, "RandomForest", slow, deadline=time.time() + 3.0))
        timed_out = wait_for(pool, "timeout")
        assert timed_out.job.key == 1 and not pool.busy()  # the slot is free at once
        tracker = spark.sparkContext.statusTracker()
        deadline = time.time() + 60
        while tracker.getActiveJobsIds() and time.time() < deadline:
            time.sleep(0.2)
        assert not tracker.getActiveJobsIds(), "the cancelled Spark job is still running"
        quick = {"scaler": "StandardScaler", "alpha": 0.1, "l1_ratio": 0.5}
        pool.submit(Job("trial", 2, "ElasticNet", quick, deadline=time.time() + 120))
        done = wait_for(pool, "done")
        assert done.job.key == 2 and done.error is None
        predictions, _ = done.result
        assert predictions.shape == (len(big),)
    finally:
        pool.close()


@pytest.mark.slow
def test_an_automl_job_on_compute_spark_runs_its_trials_there(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    from lakeworks import Input, MLClient, automl

    ml = MLClient(workspace=workspace.path)
    data = Input(type="uri_file", path=str(dataset_path("bike-rentals-daily")))
    job = automl.regression(training_data=data, target_column_name="rentals",
                            primary_metric="r2_score", compute="spark")
    # the budget includes starting Spark in the job's process, slow on a busy machine
    job.set_limits(timeout_minutes=1.0, max_concurrent_trials=2)
    submitted = ml.jobs.create_or_update(job)
    ml.jobs.stream(submitted.name)
    log = capsys.readouterr().out
    assert ml.jobs.get(submitted.name).status == "Completed", log[-3000:]
    assert "trials run as Spark tasks" in log
    board = automl.leaderboard(ml, submitted.name)
    assert len([row for row in board if row["status"] == "Completed"]) >= 3
