"""Sweeps from the command line, and over the production-pipeline tutorial's train component."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import Result

from lakeworks import MLClient, load_job
from lakeworks.client.entities.jobs import PipelineJob
from lakeworks.client.entities.sweep import SweepJob
from lakeworks.services.workspace import open_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials.quickstart import prepare, register_assets

RunCli = Callable[..., Result]

SCRIPT = """
    import os, sys, mlflow
    depth, out = int(sys.argv[1]), sys.argv[2]
    mlflow.start_run()
    for epoch in range(3):
        mlflow.log_metric("loss", abs(depth - 4) + 1.0 / (epoch + 1), step=epoch)
    open(os.path.join(out, "depth.txt"), "w").write(str(depth))
    mlflow.end_run()
"""

SWEEP_YAML = """
    $schema: https://azuremlschemas.azureedge.net/latest/sweepJob.schema.json
    type: sweep
    experiment_name: e2e-sweep
    trial:
      command: python fit.py ${{search_space.depth}} ${{outputs.model}}
      code: ./src
    outputs:
      model:
    search_space:
      depth:
        type: choice
        values: [1, 4, 6]
    sampling_algorithm: grid
    objective:
      primary_metric: loss
      goal: minimize
    limits:
      max_concurrent_trials: 3
"""


def test_lakeworks_job_create_runs_a_sweep_yaml_and_show_lists_its_trials(
    job_workspace: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "fit.py").write_text(textwrap.dedent(SCRIPT))
    (tmp_path / "sweep.yml").write_text(textwrap.dedent(SWEEP_YAML))
    created = run_cli("-w", job_workspace, "job", "create", "--file", tmp_path / "sweep.yml",
                      "--stream", "-o", "json")
    shown = json.loads(created.stdout)
    assert shown["type"] == "sweep" and shown["status"] == "Completed"
    assert "leaderboard (loss, minimize)" in created.stderr  # the streamed log
    trials = shown["trials"]
    assert sorted(t["hyperparameters"]["depth"] for t in trials) == ["1", "4", "6"]
    best = next(t for t in trials if t["hyperparameters"]["depth"] == "4")
    assert shown["tags"]["best_child_run_id"] == best["name"]
    assert shown["metrics"] == {"loss": pytest.approx(1 / 3)}
    table = run_cli("-w", job_workspace, "job", "show", "-n", shown["name"]).stdout
    assert "trials" in table and best["name"] in table and "loss=0.333333" in table
    run_cli("-w", job_workspace, "job", "download", "-n", shown["name"], "--output-name",
            "model", "--download-path", tmp_path / "dl")
    assert (tmp_path / "dl" / "named-outputs" / "model" / "depth.txt").read_text() == "4"


PIPELINE = """
    type: pipeline
    experiment_name: credit_sweep
    inputs:
      data_input: {type: uri_file, path: "azureml:credit-card:initial"}
    outputs:
      best_model:
    jobs:
      data_prep_job:
        component: ./components/data_prep/data_prep.yml
        inputs:
          data: ${{parent.inputs.data_input}}
          test_train_ratio: 0.25
      sweep_step:
        type: sweep
        trial: ./components/train/train.yml
        inputs:
          train_data: ${{parent.jobs.data_prep_job.outputs.train_data}}
          test_data: ${{parent.jobs.data_prep_job.outputs.test_data}}
          registered_model_name: credit_sweep_model
        outputs:
          model: ${{parent.outputs.best_model}}
        search_space:
          learning_rate: {type: choice, values: [0.01, 0.6]}
        sampling_algorithm: grid
        objective: {primary_metric: test_accuracy, goal: maximize}
        limits: {max_total_trials: 2, max_concurrent_trials: 2}
"""


@pytest.fixture
def tutorial_ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # any download attempt would fail: offline
    path = tmp_path / "ws"
    yield path
    if path.exists():
        ws = open_workspace(path)
        stop_workspace_processes(ws)
        ws.close()


@pytest.mark.slow
def test_a_sweep_over_the_tutorials_train_component_finds_and_exposes_its_best_trial(
    tutorial_ws: Path, tmp_path: Path, run_cli: RunCli
) -> None:
    ml = prepare(tutorial_ws)
    tutorial = tutorial_ws / "tutorial"
    register_assets(ml, tutorial)
    (tutorial / "sweep_pipeline.yml").write_text(textwrap.dedent(PIPELINE))
    job = load_job(tutorial / "sweep_pipeline.yml")
    assert isinstance(job, PipelineJob)
    sweep = job.jobs["sweep_step"]
    assert isinstance(sweep, SweepJob)
    # As `lakeworks quickstart` does: skip the component's online `pip install 'mlflow<2.19'`.
    sweep.trial.command = (sweep.trial.command or "").split("&&", 1)[1].strip()

    submitted = ml.jobs.create_or_update(job)
    deadline = time.monotonic() + 600
    while (done := ml.jobs.get(submitted.name)).status not in ("Completed", "Failed",
                                                                "Canceled"):
        assert time.monotonic() < deadline, "the sweep pipeline did not finish in 10 minutes"
        time.sleep(1)
    assert done.status == "Completed", done.error
    step = {s.step: s for s in done.steps}["sweep_step"]
    shown = json.loads(run_cli("-w", tutorial_ws, "job", "show", "-n", step.name,
                               "-o", "json").stdout)
    trials = shown["trials"]
    assert sorted(t["hyperparameters"]["learning_rate"] for t in trials) == ["0.01", "0.6"]
    assert all(t["status"] == "Completed" for t in trials)
    scores = {t["name"]: ml.jobs.get(t["name"]).metrics["test_accuracy"] for t in trials}
    best = max(scores, key=lambda name: scores[name])
    assert shown["tags"]["best_child_run_id"] == best
    assert shown["metrics"]["test_accuracy"] == pytest.approx(scores[best])
    assert "training_accuracy_score" in ml.jobs.get(best).metrics  # sklearn autologging ran

    ml.jobs.download(submitted.name, download_path=tmp_path / "dl", output_name="best_model")
    model = tmp_path / "dl" / "named-outputs" / "best_model" / "trained_model"
    assert (model / "MLmodel").is_file()
    best_output = MLClient(workspace=tutorial_ws).jobs.get(best).outputs["model"].path
    assert best_output is not None and best_output.endswith(f"/{best}/model")
