"""The whole Synapse lab from a fresh workspace, as a user drives it from the CLI.

First half: load the bike-rentals CSV into the lake (a data asset), run the lab's Spark job
that saves ``bike_data`` (the lab's 11 columns) and ``weather_forecast`` (10 future days), then
query ``bike_data`` in the SQL engine: 731 rows with the right types. Second half: AutoML on
``bike_data`` with a short budget registers ``rental-prediction-model`` (with ONNX), ``sql
deploy-model`` puts it in the models table with the scoring procedure ``predict_rentals``, and
``EXEC predict_rentals`` returns the 10 forecast days with predicted rentals equal to the
registered MLflow model's own predictions (to 1e-5 relative). The Spark part runs once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakeworks import MLClient
from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials import tutorial_path

pytestmark = [pytest.mark.spark, pytest.mark.automl, pytest.mark.slow]

LAB_COLUMNS = {
    "season": "VARCHAR", "mnth": "INTEGER", "holiday": "VARCHAR", "weekday": "VARCHAR",
    "workingday": "VARCHAR", "weathersit": "VARCHAR", "temp": "DOUBLE", "atemp": "DOUBLE",
    "hum": "DOUBLE", "windspeed": "DOUBLE", "rentals": "INTEGER",
}
FORECAST_COLUMNS = ("day", "season", "mnth", "holiday", "weekday", "workingday", "weathersit",
                    "temp", "atemp", "hum", "windspeed")
MODEL = "rental-prediction-model"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (a JRE 17 on PATH)")
    ws = create_workspace(tmp_path / "ws")
    folder = tmp_path / "lab"
    shutil.copytree(tutorial_path("synapse_lab"), folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    try:
        yield ws, folder
    finally:
        stop_workspace_processes(ws)
        ws.close()


def cli(ws: Workspace, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lakeworks", "-w", str(ws.path), *args],
        cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_whole_lab_from_a_fresh_workspace(lab: tuple[Workspace, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="AutoML is the 'automl' extra")
    pytest.importorskip("lightgbm", reason="AutoML is the 'automl' extra")
    ws, folder = lab
    first_half(ws, folder)
    train_model(ws, folder)
    deployed = json.loads(cli(
        ws, "sql", "deploy-model", "--model", MODEL, "--table", "weather_forecast",
        "--procedure", "predict_rentals", "--output-column", "predicted_rentals", "-o", "json",
        cwd=folder).stdout)
    assert deployed["id"] == f"{MODEL}:1" and deployed["deployed"] == "now"

    scored = by_day(json.loads(cli(ws, "sql", "exec", "predict_rentals", "-o", "json",
                                   cwd=folder).stdout))
    assert len(scored) == 10
    assert set(FORECAST_COLUMNS) | {"predicted_rentals"} <= set(scored[0])
    expected = registered_predictions(ws, tmp_path / "dl")
    got = np.array([row["predicted_rentals"] for row in scored], dtype=float)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=0)

    # The same through the SQL statement, and written to a lake table by a second procedure
    # (the model is already in the models table: deploying it again changes nothing).
    again = by_day(json.loads(cli(ws, "sql", "EXEC predict_rentals", "-o", "json",
                                  cwd=folder).stdout))
    assert [r["predicted_rentals"] for r in again] == [r["predicted_rentals"] for r in scored]
    redeploy = json.loads(cli(
        ws, "sql", "deploy-model", "--model", MODEL, "--table", "weather_forecast",
        "--procedure", "predict_rentals_to_lake", "--output-column", "predicted_rentals",
        "--materialize", "rental_predictions", "-o", "json", cwd=folder).stdout)
    assert redeploy["deployed"] == "already there (unchanged)"
    cli(ws, "sql", "exec", "predict_rentals_to_lake", cwd=folder)
    stored = by_day(json.loads(cli(ws, "sql", "SELECT * FROM rental_predictions", "-o", "json",
                                   cwd=folder).stdout))
    assert [r["predicted_rentals"] for r in stored] == [r["predicted_rentals"] for r in scored]


def by_day(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: str(r["day"]))


def train_model(ws: Workspace, folder: Path) -> None:
    """The lab's "Train a new model" step, with a short budget."""
    done = cli(ws, "automl", "train", "--table", "bike_data", "--target", "rentals",
               "--task", "regression", "--metric", "spearman_correlation", "--timeout", "45s",
               "--max-concurrent", "2", "--onnx", "--model-name", MODEL, cwd=folder)
    assert f"Registered model {MODEL}:1 (with model.onnx)" in done.stdout


def registered_predictions(ws: Workspace, download: Path) -> np.ndarray:
    """The registered MLflow model's own predictions for the forecast days, by day."""
    import mlflow.pyfunc

    ml = MLClient(workspace=ws.path)
    folder = ml.models.download(MODEL, "1", download_path=download)
    (mlmodel,) = Path(folder).rglob("MLmodel")
    forecast = ml.lake.read("weather_forecast").to_pandas().sort_values("day")
    features = forecast[[c for c in FORECAST_COLUMNS if c != "day"]]
    predicted = mlflow.pyfunc.load_model(str(mlmodel.parent)).predict(features)
    return np.asarray(predicted, dtype=float).ravel()


def first_half(ws: Workspace, folder: Path) -> None:
    """Load, the Spark job, and the lab's SQL checks of the two tables."""
    cli(ws, "data", "create", "--name", "bike-rentals", "--version", "1", "--type", "uri_file",
        "--path", str(dataset_path("bike-rentals-daily")), cwd=folder)
    job = cli(ws, "job", "create", "--file", "prepare.yml", "--stream", cwd=folder)
    assert "bike_data: 731 rows; weather_forecast: 10 rows" in job.stdout

    rows = json.loads(cli(ws, "sql", "SELECT * FROM bike_data", "-o", "json", cwd=folder).stdout)
    assert len(rows) == 731
    assert set(rows[0]) == set(LAB_COLUMNS)
    types = json.loads(cli(
        ws, "sql", "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'bike_data' ORDER BY ordinal_position", "-o", "json",
        cwd=folder).stdout)
    found = {r["column_name"]: r["data_type"] for r in types}
    for column, expected in LAB_COLUMNS.items():
        assert found[column] in (expected, "BIGINT" if expected == "INTEGER" else expected), (
            column, found[column])
    assert sum(r["rentals"] for r in rows) == 3292679  # UCI's total over 2011-2012

    forecast = json.loads(cli(
        ws, "sql", "SELECT * FROM default.weather_forecast ORDER BY day", "-o", "json",
        cwd=folder).stdout)
    assert len(forecast) == 10
    assert forecast[0]["day"].startswith("2013-01-01") and forecast[0]["holiday"] == "Yes"
    assert {r["weekday"] for r in forecast} == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
