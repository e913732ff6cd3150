"""The production-pipeline tutorial, as written for Azure ML with only its imports changed.

Runs ``pipeline.py`` (SDK) and ``pipeline.yml`` (CLI) from a copy of the shipped tutorial. The
train step runs ``pip install 'mlflow<2.19'`` into its own environment layer, so this needs
PyPI (marker ``network``) and takes a couple of minutes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import MLClient
from lakeworks.services.workspace import open_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials import tutorial_path

pytestmark = [pytest.mark.slow, pytest.mark.network]


@pytest.fixture
def tutorial(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    folder = tmp_path / "tutorial"
    shutil.copytree(
        tutorial_path("production_pipeline"), folder, ignore=shutil.ignore_patterns("__pycache__")
    )
    env = {
        **os.environ,
        "LAKEWORKS_WORKSPACE_ROOT": str(tmp_path / "root"),
        "WORKSPACE_NAME": "tutorial",
    }
    yield folder, env
    ws_path = tmp_path / "root" / "tutorial"
    if ws_path.exists():
        ws = open_workspace(ws_path)
        stop_workspace_processes(ws)
        ws.close()


def run_tutorial(folder: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "pipeline.py"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_tutorial_runs_as_written_then_reuses_then_runs_from_yaml(
    tutorial: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    folder, env = tutorial
    out = run_tutorial(folder, env)
    assert "local : local" in out  # print(ws.location, ":", ws.resource_group)
    assert "Environment aml-scikit-learn registered with version 0.2.0" in out
    assert "Status: Completed" in out
    job_name = re.search(r"^RunId: (\S+)", out, re.M).group(1)  # type: ignore[union-attr]

    ml = MLClient(workspace=tmp_path / "root" / "tutorial")
    job = ml.jobs.get(job_name)
    steps = {s.step: s for s in job.steps}
    train = steps["train_job"]
    model = ml.models.get("credit_defaults_model", version="1")
    assert model.type == "mlflow_model"
    assert model.job_name == train.name  # lineage: the model knows the step that made it
    assert "sklearn" in (model.flavors or {})
    assert train.metrics["test_accuracy"] > 0.7
    assert "training_accuracy_score" in train.metrics  # autolog from the MLflow 2.18 client
    assert steps["data_prep_job"].metrics["num_samples"] == 30000
    assert (
        "the Python Lakeworks runs on"
        in (
            tmp_path
            / "root"
            / "tutorial"
            / ".lakeworks"
            / "jobs"
            / steps["data_prep_job"].name
            / "user_logs"
            / "std_log.txt"
        ).read_text()
    )

    again = run_tutorial(folder, env)
    again_name = re.search(r"^RunId: (\S+)", again, re.M).group(1)  # type: ignore[union-attr]
    reused = {s.step: s.reused_from for s in ml.jobs.get(again_name).steps}
    assert reused == {"data_prep_job": steps["data_prep_job"].name, "train_job": train.name}
    assert [m.version for m in ml.models.list("credit_defaults_model")] == ["1"]

    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "lakeworks",
            "-w",
            str(tmp_path / "root" / "tutorial"),
            "job",
            "create",
            "--file",
            "pipeline.yml",
            "--set",
            "settings.force_rerun=true",
            "--stream",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert cli.returncode == 0, cli.stdout[-3000:] + cli.stderr[-3000:]
    assert sorted(m.version for m in ml.models.list("credit_defaults_model")) == ["1", "2"]
