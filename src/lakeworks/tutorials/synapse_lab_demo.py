"""The Synapse lab, run end to end by ``lakeworks quickstart`` after the pipeline tutorial.

Owns the lab's steps through the public SDK, as a user would do them: register the shipped
bike-rentals CSV as a data asset, run the lab's Spark job (``synapse_lab/prepare.yml``, copied
into the workspace) that saves the lake tables ``bike_data`` and ``weather_forecast``, train
``rental-prediction-model`` with AutoML on ``bike_data`` (a short budget, ONNX-compatible
models only), deploy it to SQL with the scoring procedure ``predict_rentals`` and ``EXEC`` it
for the ten forecast days. Rendering is the CLI's job (``cli/quickstart.py``).

Every step reuses what a previous run left: tables present are not loaded again, a registered
``rental-prediction-model`` is not trained again, and deploying the same version changes
nothing, so a second run takes seconds. Without Java or PySpark the two tables are made by the
lake and SQL engine instead of Spark (the same columns and rows), and the result says so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from lakeworks import automl
from lakeworks.client.entities.assets import Data, Model
from lakeworks.client.entities.jobs import Job
from lakeworks.client.loaders import load_job
from lakeworks.client.ml_client import MLClient
from lakeworks.errors import JobFailedError, MissingDependencyError, NotFoundError
from lakeworks.sample_data import dataset_path
from lakeworks.services.sql_models import DeployedModel
from lakeworks.tutorials import tutorial_path

MODEL_NAME = "rental-prediction-model"
DATA_NAME = "bike-rentals"
TABLES = ("bike_data", "weather_forecast")
PROCEDURE = "predict_rentals"
OUTPUT_COLUMN = "predicted_rentals"
DEFAULT_AUTOML_SECONDS = 60.0
TERMINAL = ("Completed", "Failed", "Canceled", "NotResponding")
LAB_COLUMNS = ("season, mnth, holiday, weekday, workingday, weathersit, temp, atemp, hum, "
               "windspeed")

#: ``weather_forecast`` without Spark: what ``prepare.py`` computes, in the SQL engine.
FORECAST_SQL = """
CREATE OR REPLACE TABLE weather_forecast AS
WITH days AS (
    SELECT CAST(CAST(dteday AS DATE) + INTERVAL 1 YEAR AS DATE) AS day, *
    FROM bike_rentals_raw
    WHERE CAST(dteday AS DATE) BETWEEN DATE '2012-01-01' AND DATE '2012-01-10'
)
SELECT day, season, mnth,
       CASE WHEN day = DATE '2013-01-01' THEN 'Yes' ELSE 'No' END AS holiday,
       strftime(day, '%a') AS weekday,
       CASE WHEN isodow(day) <= 5 AND day <> DATE '2013-01-01' THEN 'Yes' ELSE 'No' END
           AS workingday,
       weathersit, temp, atemp, hum, windspeed
FROM days ORDER BY day
"""
BIKE_DATA_SQL = (f"CREATE OR REPLACE TABLE bike_data AS SELECT {LAB_COLUMNS}, rentals "
                 "FROM bike_rentals_raw")

Progress = Callable[[str], None]


@dataclass
class LabResult:
    """What the lab did, for the CLI to show."""

    tables_loaded_by: str  # "spark job NAME", "SQL (no Spark)" or "reused"
    model: Model
    automl_job: str | None  # None: the registered model was reused
    deployed: DeployedModel
    predictions: pa.Table
    best: str | None = None  # the best trial's name and score, when AutoML ran now
    table_rows: dict[str, int] = field(default_factory=dict)  # bike_data, weather_forecast
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def spark_available() -> bool:
    """Whether a Spark job can run here: PySpark importable and a ``java`` to start."""
    java_home = os.environ.get("JAVA_HOME")
    has_java = shutil.which("java") is not None or bool(
        java_home and (Path(java_home) / "bin" / "java").is_file())
    return has_java and importlib.util.find_spec("pyspark") is not None


def missing_automl_package() -> str | None:
    """The first package of the ``automl`` extra that is not installed, or None."""
    for module, package in (("sklearn", "scikit-learn"), ("lightgbm", "lightgbm"),
                            ("onnxruntime", "onnxruntime"), ("skl2onnx", "skl2onnx")):
        if importlib.util.find_spec(module) is None:
            return package
    return None


def wait(ml_client: MLClient, name: str, what: str, on_progress: Progress,
         detail: Callable[[], str] = lambda: "") -> Job:
    """Poll job ``name`` until it ends; a job that did not complete is a ``JobFailedError``."""
    job = ml_client.jobs.get(name)
    started = time.monotonic()
    while job.status not in TERMINAL:
        on_progress(f"{what}: job {name} {job.status} ({time.monotonic() - started:.0f}s"
                    f"{detail()})")
        time.sleep(0.5)
        job = ml_client.jobs.get(name)
    if job.status != "Completed":
        raise JobFailedError(f"{what}: job {name} ended {job.status}: {job.error or ''} "
                             f"(lakeworks job stream -n {name} shows its log)")
    return job


def register_data(ml_client: MLClient) -> Data:
    """The lab's raw data: the daily bike-rentals CSV as data asset ``bike-rentals:1``."""
    try:
        found: Data = ml_client.data.get(DATA_NAME, version="1")
        return found
    except NotFoundError:
        made: Data = ml_client.data.create_or_update(Data(
            name=DATA_NAME, version="1", type="uri_file",
            path=str(dataset_path("bike-rentals-daily")),
            description="Capital Bikeshare daily rentals 2011-2012 (UCI, CC BY 4.0)"))
        return made


def missing_tables(ml_client: MLClient) -> list[str]:
    """Which of the lab's tables the lake's ``default`` database lacks."""
    present = {t.name for t in ml_client.lake.list("default")}
    return [t for t in TABLES if t not in present]


def load_with_spark(ml_client: MLClient, workspace: Path, on_progress: Progress) -> str:
    """Run the lab's Spark job (copied into ``workspace/synapse_lab``); its name."""
    folder = workspace / "synapse_lab"
    if not folder.exists():
        shutil.copytree(tutorial_path("synapse_lab"), folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    submitted = ml_client.jobs.create_or_update(load_job(folder / "prepare.yml"))
    assert submitted.name is not None
    wait(ml_client, submitted.name, "Spark job (bike_data, weather_forecast)", on_progress)
    return submitted.name


def load_with_sql(ml_client: MLClient) -> None:
    """The same two tables without Spark: the CSV into the lake, then SQL."""
    ml_client.lake.load(str(dataset_path("bike-rentals-daily")), "bike_rentals_raw",
                        mode="overwrite")
    ml_client.sql(BIKE_DATA_SQL)
    ml_client.sql(FORECAST_SQL)


def ensure_tables(ml_client: MLClient, workspace: Path, on_progress: Progress,
                  notes: list[str]) -> str:
    """``bike_data`` and ``weather_forecast`` in the lake; says how they got there."""
    register_data(ml_client)
    if not missing_tables(ml_client):
        return "reused"
    if spark_available():
        on_progress("Spark job: starting (bike_data, weather_forecast)")
        return f"spark job {load_with_spark(ml_client, workspace, on_progress)}"
    notes.append("Java or PySpark is missing, so bike_data and weather_forecast were made by "
                 "the lake and SQL engine instead of the lab's Spark job (the same tables; "
                 "pip install 'lakeworks[spark]' and a Java 17 runtime run the Spark job)")
    on_progress("loading bike_data and weather_forecast with SQL (no Spark)")
    load_with_sql(ml_client)
    return "SQL (no Spark)"


def registered_model(ml_client: MLClient) -> Model | None:
    """The latest registered ``rental-prediction-model``, or None."""
    try:
        model: Model = ml_client.models.get(MODEL_NAME, label="latest")
    except NotFoundError:
        return None
    return model


def train_model(ml_client: MLClient, budget_seconds: float,
                on_progress: Progress) -> tuple[str, str | None]:
    """AutoML regression on ``bike_data`` (the lab's settings); the job and its best trial."""
    missing = missing_automl_package()
    if missing is not None:
        raise MissingDependencyError(missing, "automl", "The Synapse lab's AutoML step")
    job = automl.regression(training_data=automl.table("bike_data"),
                            target_column_name="rentals", primary_metric="spearman_correlation",
                            model_name=MODEL_NAME, experiment_name="synapse_lab")
    job.set_limits(timeout_minutes=budget_seconds / 60.0, max_concurrent_trials=2)
    job.set_training(enable_onnx_compatible_models=True)
    submitted = ml_client.jobs.create_or_update(job)
    assert submitted.name is not None
    name = submitted.name
    wait(ml_client, name, f"AutoML ({budget_seconds:.0f}s budget)", on_progress,
         detail=lambda: f", {trials_so_far(ml_client, name)} trials")
    board = automl.leaderboard(ml_client, name)
    best = next((r for r in board if r.get("score") is not None), None)
    summary = f"{best['name']} spearman_correlation={best['score']:.4f}" if best else None
    return name, summary


def trials_so_far(ml_client: MLClient, job_name: str) -> int:
    """How many trials AutoML job ``job_name`` has run (0 before its search starts)."""
    try:
        return len(automl.leaderboard(ml_client, job_name))
    except NotFoundError:
        return 0


def run_synapse_lab(
    workspace: Path,
    *,
    automl_seconds: float = DEFAULT_AUTOML_SECONDS,
    on_progress: Progress | None = None,
) -> LabResult:
    """Run (or reuse) the whole lab in ``workspace``; see the module docstring.

    Raises:
        JobFailedError: the Spark or AutoML job did not complete.
        MissingDependencyError: AutoML is needed and the ``automl`` extra is missing.
    """
    started = time.monotonic()
    progress = on_progress or (lambda _: None)
    workspace = workspace.expanduser().resolve()
    ml_client = MLClient(workspace=workspace)
    try:
        result = run_steps(ml_client, workspace, automl_seconds, progress)
    finally:
        ml_client.close()
    result.seconds = time.monotonic() - started
    return result


def run_steps(ml_client: MLClient, workspace: Path, automl_seconds: float,
              progress: Progress) -> LabResult:
    """The lab's steps in order: tables, model, deployment, ``EXEC``."""
    notes: list[str] = []
    loaded_by = ensure_tables(ml_client, workspace, progress, notes)
    counts = ml_client.sql(" UNION ALL ".join(
        f"SELECT '{t}' AS name, count(*) AS n FROM {t}" for t in TABLES)).to_pylist()
    model, job_name, best = registered_model(ml_client), None, None
    if model is None:
        job_name, best = train_model(ml_client, automl_seconds, progress)
        model = registered_model(ml_client)
        if model is None:
            raise JobFailedError(f"AutoML job {job_name} completed without registering "
                                 f"{MODEL_NAME}")
    progress(f"deploying {MODEL_NAME}:{model.version} to SQL and running {PROCEDURE}")
    deployed = ml_client.sql.deploy_model(
        f"{MODEL_NAME}:{model.version}", table="weather_forecast", procedure=PROCEDURE,
        output_column=OUTPUT_COLUMN)
    predictions = ml_client.sql.exec(PROCEDURE)
    if "day" in predictions.column_names:
        predictions = predictions.sort_by("day")
    return LabResult(tables_loaded_by=loaded_by, model=model, automl_job=job_name,
                     deployed=deployed, predictions=predictions, best=best, notes=notes,
                     table_rows={r["name"]: int(r["n"]) for r in counts})
