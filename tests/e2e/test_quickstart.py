"""The README's main job: ``lakeworks quickstart`` runs offline and reuses on the second run.

The first run does the production-pipeline tutorial, then the whole Synapse lab (Spark tables,
AutoML with a short budget, the model deployed to SQL, ``EXEC predict_rentals``), shows the
10-day prediction table, and ends by deploying the model to an online endpoint and calling
it; the second reuses the pipeline's steps, the tables, the registered model (no second
AutoML job) and the running deployment, and still shows both tables.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import MLClient
from lakeworks.client.entities.jobs import PipelineJob
from lakeworks.services.workspace import open_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials.synapse_lab_demo import spark_available

FORECAST_DAY = re.compile(r"^\W*2013-01-(0[1-9]|10)\b", re.MULTILINE)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "demo"
    yield path
    if path.exists():
        ws = open_workspace(path)
        stop_workspace_processes(ws)
        ws.close()


def quickstart(path: Path, *args: str) -> str:
    # PIP_NO_INDEX proves the demo needs no network: any download attempt would fail.
    env = {**os.environ, "PIP_NO_INDEX": "1", "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "lakeworks", "quickstart", str(path), *args],
        capture_output=True,
        text=True,
        timeout=900,  # the pipeline, Spark (~15 s) and the AutoML budget, on two busy cores
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def forecast_days(out: str) -> list[str]:
    """The forecast days shown in the prediction table, in order."""
    table = out.split("EXEC predict_rentals", 1)[1].split("Online endpoint", 1)[0]
    return [m.group(1) for m in FORECAST_DAY.finditer(table)]


def endpoint_answers(out: str) -> list[tuple[str, str]]:
    """Per forecast day, the online endpoint's prediction and the SQL procedure's."""
    table = out.split("Online endpoint", 1)[1]
    return re.findall(r"^\W*2013-01-\d\d\W+([\d,]+)\W+([\d,]+)\W*$", table, re.M)


def automl_jobs(ml: MLClient) -> list[str]:
    return [str(j.name) for j in ml.jobs.list() if "lakeworks.automl.task" in (j.tags or {})]


@pytest.mark.slow
def test_quickstart_runs_the_pipeline_and_the_lab_and_reuses_them(demo: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the lab's AutoML is the 'automl' extra")
    pytest.importorskip("lightgbm", reason="the lab's AutoML is the 'automl' extra")
    out = quickstart(demo, "--automl-timeout", "45s")
    assert "Registered model credit_defaults_model version 1" in out
    assert "test_accuracy" in out
    assert (demo / "tutorial" / "pipeline.yml").is_file()
    how = "spark job" if spark_available() else "SQL (no Spark)"
    assert f"bike_data (731 rows) and weather_forecast (10 days) made by {how}" in out
    assert "registered model rental-prediction-model version 1 with model.onnx" in out
    assert "procedure predict_rentals" in out
    assert forecast_days(out) == [f"{d:02d}" for d in range(1, 11)]
    # the README's main job ends by calling the lab's model behind an online endpoint
    assert "Online endpoint rentals-endpoint (deployment blue, model " \
           "rental-prediction-model:1): deployed now" in out
    answers = endpoint_answers(out)
    assert len(answers) == 10 and all(online == sql for online, sql in answers), answers
    ml = MLClient(workspace=demo)
    assert len(automl_jobs(ml)) == 1

    again = quickstart(demo)
    assert "reused registered model rental-prediction-model version 1" in again
    assert "bike_data (731 rows) and weather_forecast (10 days): present, reused" in again
    assert "already deployed (unchanged)" in again
    assert "rentals-endpoint (deployment blue, model rental-prediction-model:1): already " \
           "serving it" in again
    assert len(endpoint_answers(again)) == 10
    assert forecast_days(again) == [f"{d:02d}" for d in range(1, 11)]
    latest = next(j for j in ml.jobs.list() if isinstance(j, PipelineJob))
    assert latest.status == "Completed"
    assert all(step.reused_from for step in latest.steps)
    assert [m.version for m in ml.models.list("credit_defaults_model")] == ["1"]
    assert [m.version for m in ml.models.list("rental-prediction-model")] == ["1"]
    assert len(automl_jobs(ml)) == 1
