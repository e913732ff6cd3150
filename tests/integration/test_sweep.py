"""Sweep jobs end to end: a real driver step submitting real trial jobs that log to MLflow."""

from __future__ import annotations

import textwrap
import time
from datetime import datetime
from pathlib import Path

import pytest

from lakeworks import Input, MLClient, Output, command, dsl, load_job
from lakeworks.core.jobs import JobRecord
from lakeworks.services.sweep import SWEEP_TAG, hyperparameters, trials_of
from lakeworks.services.workspace import Workspace
from lakeworks.sweep import BanditPolicy, Choice, LogUniform, Uniform

# score(x) = -(x - 0.3)^2, logged once per epoch (rising a little each epoch); trials whose
# x is 1 or more sleep longer per epoch, so an early-terminated one has plenty left to run.
TRAIN = """
    import os, sys, time, mlflow
    x, epochs, out = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    data = sys.argv[4] if len(sys.argv) > 4 else None
    offset = float(open(os.path.join(data, "offset.txt")).read()) if data else 0.0
    mlflow.start_run()
    for epoch in range(epochs):
        mlflow.log_metric("score", offset - (x - 0.3) ** 2 - 0.01 * (epochs - epoch), step=epoch)
        time.sleep(0.05 if x < 1 else 0.4)
    open(os.path.join(out, "x.txt"), "w").write(repr(x))
    mlflow.end_run()
"""


@pytest.fixture
def train_code(code_dir: Path) -> Path:
    (code_dir / "train.py").write_text(textwrap.dedent(TRAIN))
    return code_dir


def wait_done(ml: MLClient, name: str, timeout: float = 180) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = ml.jobs.get(name)
        if job.status in ("Completed", "Failed", "Canceled", "NotResponding"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {name} did not finish within {timeout} s")


def max_overlap(records: list[JobRecord]) -> int:
    """The most trials whose [started_at, ended_at] intervals overlap at one moment."""
    events: list[tuple[datetime, int]] = []
    for r in records:
        assert r.started_at is not None and r.ended_at is not None, r
        events += [(r.started_at, 1), (r.ended_at, -1)]
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


def sweep_log(ws: Workspace, name: str) -> str:
    return (ws.state_dir / "jobs" / name / "user_logs" / "std_log.txt").read_text()


def test_grid_sweep_runs_every_choice_and_exposes_the_best(
    ml_client: MLClient, module_ws: Workspace, train_code: Path, tmp_path: Path
) -> None:
    job = command(command="python train.py ${{inputs.x}} ${{inputs.epochs}} ${{outputs.model}}",
                  code=train_code, inputs={"x": Choice([0.0, 0.3, 0.6, 0.9]), "epochs": 3},
                  outputs={"model": Output(type="uri_folder")}, experiment_name="it-sweep")
    sweep = job.sweep(primary_metric="score", goal="maximize", sampling_algorithm="grid")
    sweep.set_limits(max_total_trials=10, max_concurrent_trials=2)
    submitted = ml_client.jobs.create_or_update(sweep)
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error

    trials = trials_of(module_ws.metadata.jobs, submitted.name)
    assert len(trials) == 4  # the grid ran out before max_total_trials
    assert all(t.type == "command" and t.parent is None for t in trials)
    assert all(t.tags[SWEEP_TAG] == submitted.name for t in trials)
    assert sorted(float(hyperparameters(t)["x"]) for t in trials) == [0.0, 0.3, 0.6, 0.9]
    assert all(t.status.value == "Completed" for t in trials)
    best = max(trials, key=lambda t: t.metrics["score"])
    assert hyperparameters(best) == {"x": "0.3"}
    assert done.tags["best_child_run_id"] == best.name
    assert done.metrics == {"score": best.metrics["score"]}
    assert done.params == {"x": "0.3"}
    assert max_overlap(trials) == 2
    # every trial's MLflow run is a child of the sweep's run, as Azure's trials are
    import mlflow

    parent = module_ws.metadata.jobs.get(submitted.name).mlflow_run_id
    tracking = mlflow.MlflowClient(module_ws.tracking().uri)
    assert parent and all(
        tracking.get_run(str(t.mlflow_run_id)).data.tags.get("mlflow.parentRunId") == parent
        for t in trials)

    ml_client.jobs.download(submitted.name, download_path=tmp_path / "dl", output_name="model")
    assert (tmp_path / "dl" / "named-outputs" / "model" / "x.txt").read_text() == "0.3"
    log = sweep_log(module_ws, submitted.name)
    assert log.count(f"trial {submitted.name}_") >= 4 and "leaderboard (score, maximize)" in log


def test_bandit_policy_cancels_a_clearly_poor_trial(
    ml_client: MLClient, module_ws: Workspace, train_code: Path
) -> None:
    job = command(command="python train.py ${{inputs.x}} 30 ${{outputs.model}}",
                  code=train_code, inputs={"x": Choice([0.3, 5.0])},
                  outputs={"model": Output(type="uri_folder")}, experiment_name="it-sweep")
    sweep = job.sweep(primary_metric="score", goal="maximize", sampling_algorithm="grid",
                      max_concurrent_trials=2,
                      early_termination_policy=BanditPolicy(slack_amount=1.0, delay_evaluation=2))
    submitted = ml_client.jobs.create_or_update(sweep)
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    trials = {hyperparameters(t)["x"]: t for t in trials_of(module_ws.metadata.jobs,
                                                             submitted.name)}
    assert trials["0.3"].status.value == "Completed"
    poor = trials["5.0"]
    assert poor.status.value == "Canceled"  # 30 epochs x 0.4 s were left to run
    assert poor.ended_at is not None and poor.started_at is not None
    assert (poor.ended_at - poor.started_at).total_seconds() < 12
    assert done.tags["best_child_run_id"] == trials["0.3"].name
    assert f"stopping trial {poor.name} early: bandit policy" in sweep_log(module_ws,
                                                                           submitted.name)


def test_random_sweep_from_yaml_respects_max_total_trials(
    ml_client: MLClient, module_ws: Workspace, train_code: Path, tmp_path: Path
) -> None:
    path = tmp_path / "sweep.yml"
    path.write_text(textwrap.dedent(f"""
        type: sweep
        experiment_name: it-sweep-yaml
        trial:
          command: python train.py ${{{{search_space.x}}}} 2 ${{{{outputs.model}}}}
          code: {train_code}
        outputs:
          model:
        search_space:
          x: {{type: uniform, min_value: 0.0, max_value: 1.0}}
        sampling_algorithm: {{type: random, seed: 7, rule: sobol}}
        objective: {{primary_metric: score, goal: maximize}}
        limits: {{max_total_trials: 3, max_concurrent_trials: 3}}
    """))
    submitted = ml_client.jobs.create_or_update(load_job(path))
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    trials = trials_of(module_ws.metadata.jobs, submitted.name)
    assert len(trials) == 3
    values = [float(hyperparameters(t)["x"]) for t in trials]
    assert all(0.0 <= v <= 1.0 for v in values) and len(set(values)) == 3
    best = max(trials, key=lambda t: t.metrics["score"])
    assert done.tags["best_child_run_id"] == best.name


def test_timeout_and_trial_timeout_stop_long_trials(
    ml_client: MLClient, module_ws: Workspace, train_code: Path
) -> None:
    job = command(command="python train.py ${{inputs.x}} 100 ${{outputs.model}}",
                  code=train_code, inputs={"x": LogUniform(min_value=0.1, max_value=1.0)},
                  outputs={"model": Output(type="uri_folder")}, experiment_name="it-sweep")
    sweep = job.sweep(primary_metric="score", goal="maximize", max_concurrent_trials=1,
                      max_total_trials=50, timeout=15, trial_timeout=3)
    started = time.monotonic()
    submitted = ml_client.jobs.create_or_update(sweep)
    done = wait_done(ml_client, submitted.name)
    assert time.monotonic() - started < 60
    assert done.status == "Failed"  # no trial completed
    trials = trials_of(module_ws.metadata.jobs, submitted.name)
    assert 1 <= len(trials) <= 5
    assert all(t.status.value in ("Failed", "Canceled") for t in trials)
    assert any("exceeded its timeout of 3 s" in (t.error or "") for t in trials)
    assert "no trial completed with metric 'score'" in sweep_log(module_ws, submitted.name)


def test_cancelling_a_sweep_cancels_its_running_trials(
    ml_client: MLClient, module_ws: Workspace, train_code: Path
) -> None:
    job = command(command="python train.py ${{inputs.x}} 200 ${{outputs.model}}",
                  code=train_code, inputs={"x": Uniform(2.0, 3.0)},
                  outputs={"model": Output(type="uri_folder")}, experiment_name="it-sweep")
    sweep = job.sweep(primary_metric="score", goal="maximize", max_concurrent_trials=2,
                      max_total_trials=4)
    submitted = ml_client.jobs.create_or_update(sweep)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        trials = trials_of(module_ws.metadata.jobs, submitted.name)
        if len(trials) == 2 and all(t.status.value == "Running" for t in trials):
            break
        time.sleep(0.3)
    else:
        raise AssertionError("the sweep did not start two trials")
    ml_client.jobs.begin_cancel(submitted.name).result(timeout=30)
    assert wait_done(ml_client, submitted.name, timeout=30).status == "Canceled"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        trials = trials_of(module_ws.metadata.jobs, submitted.name)
        if all(t.status.is_terminal for t in trials):
            break
        time.sleep(0.3)
    assert [t.status.value for t in trials] == ["Canceled", "Canceled"]


def test_sweep_node_in_a_pipeline_feeds_its_best_output_onwards(
    ml_client: MLClient, module_ws: Workspace, train_code: Path, tmp_path: Path
) -> None:
    (train_code / "prep.py").write_text("import os, sys\n"
                                        "open(os.path.join(sys.argv[1], 'offset.txt'), 'w')"
                                        ".write('10')\n")
    (train_code / "use.py").write_text("import os, sys\n"
                                       "x = open(os.path.join(sys.argv[1], 'x.txt')).read()\n"
                                       "open(os.path.join(sys.argv[2], 'used.txt'), 'w')"
                                       ".write('used ' + x)\n")
    prep = command(command="python prep.py ${{outputs.data}}", code=train_code,
                   outputs={"data": Output(type="uri_folder")})
    train = command(
        command="python train.py ${{inputs.x}} 2 ${{outputs.model}} ${{inputs.data}}",
        code=train_code, inputs={"x": 0.5, "data": Input(type="uri_folder")},
        outputs={"model": Output(type="uri_folder")})
    use = command(command="python use.py ${{inputs.model}} ${{outputs.report}}",
                  code=train_code, inputs={"model": Input(type="uri_folder")},
                  outputs={"report": Output(type="uri_folder")})

    @dsl.pipeline(experiment_name="it-sweep-pipeline")
    def flow():  # type: ignore[no-untyped-def]
        prep_step = prep()
        train_step = train(x=Choice([0.1, 0.3, 0.7]), data=prep_step.outputs.data)
        sweep_step = train_step.sweep(primary_metric="score", goal="maximize",
                                      sampling_algorithm="grid", max_concurrent_trials=3)
        use_step = use(model=sweep_step.outputs.model)
        return {"best_model": sweep_step.outputs.model, "report": use_step.outputs.report}

    pipeline = flow()
    assert list(pipeline.jobs) == ["prep_step", "sweep_step", "use_step"]
    submitted = ml_client.jobs.create_or_update(pipeline)
    done = wait_done(ml_client, submitted.name)
    assert done.status == "Completed", done.error
    step = {s.step: s for s in done.steps}["sweep_step"]
    trials = trials_of(module_ws.metadata.jobs, step.name)
    assert len(trials) == 3
    best = max(trials, key=lambda t: t.metrics["score"])
    assert best.metrics["score"] == pytest.approx(10 - 0.01)  # the offset came from prep
    assert step.tags.get("best_child_run_id") == best.name
    ml_client.jobs.download(submitted.name, download_path=tmp_path / "dl", all=True)
    assert (tmp_path / "dl" / "named-outputs" / "best_model" / "x.txt").read_text() == "0.3"
    assert (tmp_path / "dl" / "named-outputs" / "report" / "used.txt").read_text() == "used 0.3"
