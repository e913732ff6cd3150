"""The lab's "Train a new model" step as a user drives it, and AutoML classification.

Regression: ``bike_data`` with the lab's 11 columns in the lake, then ``lakeworks automl
train --table bike_data --target rentals --task regression --metric spearman_correlation
--max-concurrent 2 --onnx --model-name rental-prediction-model`` with a short budget: the
model is registered with ``model.onnx``, whose predictions match the Python model's.
Classification: the IBM HR attrition file through the SDK; the registered model's ONNX graph
gives class probabilities.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import Input, MLClient, automl
from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes

pytestmark = [pytest.mark.automl, pytest.mark.slow]
pytest.importorskip("onnxruntime", reason="AutoML is the 'automl' extra")
pytest.importorskip("lightgbm", reason="AutoML is the 'automl' extra")

LAB_COLUMNS = ("season, mnth, holiday, weekday, workingday, weathersit, temp, atemp, hum, "
               "windspeed, rentals")


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = create_workspace(tmp_path / "ws")
    try:
        yield ws
    finally:
        stop_workspace_processes(ws)
        ws.close()


def cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lakeworks", "-w", str(ws.path), *args],
        capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done


def registered_folder(ml: MLClient, name: str, tmp: Path) -> Path:
    model = ml.models.get(name, label="latest")
    folder = ml.models.download(name, model.version, download_path=tmp)
    (mlmodel,) = Path(folder).rglob("MLmodel")
    return mlmodel.parent


def test_lab_automl_regression_registers_an_onnx_model(workspace: Workspace,
                                                       tmp_path: Path) -> None:
    import mlflow.pyfunc
    import numpy as np
    import onnxruntime as ort
    from scipy.stats import spearmanr

    cli(workspace, "table", "load", str(dataset_path("bike-rentals-daily")), "--name", "raw")
    cli(workspace, "sql", f"CREATE TABLE bike_data AS SELECT {LAB_COLUMNS} FROM raw")
    done = cli(workspace, "automl", "train", "--table", "bike_data", "--target", "rentals",
               "--task", "regression", "--metric", "spearman_correlation", "--timeout", "60s",
               "--max-concurrent", "2", "--onnx", "--model-name", "rental-prediction-model")
    assert "Registered model rental-prediction-model:1 (with model.onnx)" in done.stdout
    job_name = (done.stdout + done.stderr).split("Submitted AutoML job ", 1)[1].split()[0]
    board = json.loads(cli(workspace, "automl", "leaderboard", job_name, "-o", "json").stdout)
    scores = [row["score"] for row in board if row["score"] is not None]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)  # best first
    assert {row["rank"] for row in board} == set(range(1, len(board) + 1))

    ml = MLClient(workspace=workspace.path)
    folder = registered_folder(ml, "rental-prediction-model", tmp_path / "dl")
    assert (folder / "model.onnx").is_file() and (folder / "feature_importance.json").is_file()
    rows = ml.sql("SELECT * FROM bike_data").to_pandas()
    features = rows.drop(columns=["rentals"])
    python = mlflow.pyfunc.load_model(str(folder)).predict(features)
    session = ort.InferenceSession(str(folder / "model.onnx"))
    feeds = {}
    for node in session.get_inputs():
        column = features[node.name]
        feeds[node.name] = (column.astype(str).to_numpy().reshape(-1, 1) if "string" in node.type
                            else column.astype(np.float32).to_numpy().reshape(-1, 1))
    onnx = session.run(None, feeds)[0].ravel()
    assert np.allclose(onnx, np.asarray(python, dtype=float), rtol=1e-5,
                       atol=1e-5 * float(np.max(np.abs(python))))
    assert spearmanr(onnx, rows["rentals"]).statistic > 0.8


def test_classification_on_hr_attrition_gives_onnx_probabilities(workspace: Workspace,
                                                                  tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import pandas as pd

    ml = MLClient(workspace=workspace.path)
    csv = dataset_path("ibm-hr-attrition")
    job = automl.classification(training_data=Input(type="uri_file", path=str(csv)),
                                target_column_name="Attrition", primary_metric="AUC_weighted",
                                model_name="attrition", experiment_name="hr")
    job.set_limits(timeout_minutes=1, max_concurrent_trials=2)
    job.set_training(enable_onnx_compatible_models=True)
    submitted = ml.jobs.create_or_update(job)
    ml.jobs.stream(submitted.name)
    assert ml.jobs.get(submitted.name).status == "Completed"
    board = automl.leaderboard(ml, submitted.name)
    scores = [row["score"] for row in board if row["score"] is not None]
    assert scores == sorted(scores, reverse=True) and len(scores) >= 2
    import mlflow

    tracking = mlflow.MlflowClient(workspace.tracking().uri)
    child = tracking.get_run(board[0]["run_id"])
    parent = tracking.get_run(child.data.tags["mlflow.parentRunId"])
    assert parent.data.tags["automl_best_child_run_id"] in {row["run_id"] for row in board}
    assert "AUC_weighted" in child.data.metrics and "accuracy" in child.data.metrics
    folder = registered_folder(ml, "attrition", tmp_path / "dl")
    session = ort.InferenceSession(str(folder / "model.onnx"))
    frame = pd.read_csv(csv).drop(columns=["Attrition"]).head(50)
    feeds = {}
    for node in session.get_inputs():
        column = frame[node.name]
        feeds[node.name] = (column.astype(str).to_numpy().reshape(-1, 1) if "string" in node.type
                            else column.astype(np.float32).to_numpy().reshape(-1, 1))
    outputs = {o.name: v for o, v in zip(session.get_outputs(), session.run(None, feeds),
                                         strict=True)}
    probabilities = np.asarray(outputs["probabilities"])
    assert probabilities.shape == (50, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_automl_train_on_a_terminal_shows_a_live_budget_bar_and_leaderboard(
        workspace: Workspace, tmp_path: Path) -> None:
    """On a real pseudo-terminal the CLI redraws a progress bar and the leaderboard."""
    import pty
    import re

    from sklearn.datasets import load_diabetes

    data = tmp_path / "diabetes.csv"
    load_diabetes(as_frame=True).frame.to_csv(data, index=False)
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "160", "LINES": "50", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lakeworks", "-w", str(workspace.path), "automl", "train",
         "--file", str(data), "--target", "target", "--task", "regression", "--timeout", "20s",
         "--max-concurrent", "2"],
        stdin=child, stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal closed: the process is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=120) == 0
    raw = b"".join(chunks).decode("utf-8", errors="replace")
    assert "\x1b[" in raw  # drawn with terminal control sequences, not printed line by line
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", raw)
    assert re.search(r"AutoML \d+ trials", text) and "of 20s" in text
    assert "leaderboard" in text and "normalized_root_mean_squared_error" in text
    assert text.count("AutoML ") >= 3  # redrawn as trials came in
