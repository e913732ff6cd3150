"""The ``lakeworks`` command line, end to end, in fresh workspaces under tmp_path.

Most tests drive the real Typer app in-process; a few run the installed console script in a
subprocess (help, startup imports, exit codes and tracebacks as a shell sees them). Job tests
share one workspace per module (its tracking server starts once, with the first job, and is
stopped at teardown).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import Result

RunCli = Callable[..., Result]

NOUNS = (
    "workspace",
    "data",
    "environment",
    "component",
    "model",
    "job",
    "run",
    "server",
    "config",
    "quickstart",
)
HEAVY = ("sqlalchemy", "mlflow", "pandas", "fsspec", "numpy")


@pytest.fixture(autouse=True)
def workspace_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace root of the test's own (nothing lands in the user's home); the environment
    cache stays shared so built environments are reused."""
    root = tmp_path / "workspace-root"
    monkeypatch.setenv("LAKEWORKS_WORKSPACE_ROOT", str(root))
    monkeypatch.delenv("LAKEWORKS_WORKSPACE", raising=False)
    return root


def _json(text: str) -> Any:
    return json.loads(text)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# -- startup -----------------------------------------------------------------------------------


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = (
        "import lakeworks.cli.app, sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(HEAVY)!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_help_in_a_subprocess_lists_every_noun(lakeworks_script: Path) -> None:
    proc = subprocess.run(
        [str(lakeworks_script), "--help"], capture_output=True, text=True, check=True
    )
    for noun in NOUNS:
        assert f"  {noun} " in proc.stdout, noun
    assert "--workspace" in proc.stdout and "--debug" in proc.stdout


def test_every_command_has_help_with_examples(run_cli: RunCli) -> None:
    for noun in NOUNS[:-1]:  # quickstart is documented by its own module
        group = run_cli(noun, "--help").stdout
        verbs = [
            line.split()[0] for line in group.split("Commands:")[1].splitlines() if line.strip()
        ]
        assert verbs, noun
        for verb in verbs:
            text = run_cli(noun, verb, "--help").stdout
            assert "Examples:" in text and f"lakeworks {noun} {verb}" in text, (noun, verb)


def test_version(run_cli: RunCli) -> None:
    assert run_cli("--version").stdout.startswith("lakeworks ")


# -- workspaces and settings -------------------------------------------------------------------


def test_workspace_create_and_show(run_cli: RunCli, tmp_path: Path) -> None:
    path = tmp_path / "credit"
    run_cli(
        "workspace",
        "create",
        path,
        "--name",
        "credit-ws",
        "--location",
        "westeurope",
        "--description",
        "for the e2e test",
    )
    shown = _json(run_cli("-w", path, "workspace", "show", "-o", "json").stdout)
    assert shown["name"] == "credit-ws"
    assert shown["location"] == "westeurope"
    assert Path(shown["path"]) == path.resolve()
    assert (path / "lakeworks.toml").is_file()
    table = run_cli("-w", path, "workspace", "show").stdout
    assert "credit-ws" in table and "westeurope" in table


def test_workspace_is_found_upward_from_the_current_folder(
    run_cli: RunCli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = workspace / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert _json(run_cli("workspace", "show", "-o", "json").stdout)["name"] == "e2e-ws"


def test_no_workspace_is_a_clear_user_error(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    result = run_cli("data", "list", expect=2)
    assert "Error: no workspace configuration found" in result.stderr
    assert "lakeworks workspace create" in result.stderr
    assert "Traceback" not in result.output


def test_workspace_list_shows_workspaces_under_the_root(
    run_cli: RunCli, workspace_root: Path
) -> None:
    root = workspace_root
    run_cli("workspace", "create", root / "alpha")
    run_cli("workspace", "create", root / "beta", "--resource-group", "rg-beta")
    listed = _json(run_cli("-w", root / "beta", "workspace", "list", "-o", "json").stdout)
    assert [w["name"] for w in listed] == ["alpha", "beta"]
    assert [w["current"] for w in listed] == ["", "*"]
    assert listed[1]["resource_group"] == "rg-beta"


def test_config_show_lists_settings_with_sources(
    run_cli: RunCli, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWORKS_MAX_PARALLEL_STEPS", "3")
    rows = _json(run_cli("-w", workspace, "config", "show", "-o", "json").stdout)
    by_key = {r["setting"]: r for r in rows}
    assert {"database_url", "artifact_url", "workspace_root", "log_level"} <= set(by_key)
    assert by_key["max_parallel_steps"]["value"] == 3
    assert (
        by_key["max_parallel_steps"]["source"]
        == "environment variable LAKEWORKS_MAX_PARALLEL_STEPS"
    )
    assert by_key["log_level"]["source"] == "default"
    table = run_cli("-w", workspace, "config", "show").stdout
    assert "workspace_root" in table and "environment variable" in table


# -- data --------------------------------------------------------------------------------------


def test_data_create_from_flags_show_and_list(run_cli: RunCli, workspace: Path) -> None:
    csv = _write(workspace / "raw" / "credit.csv", "a,b\n1,2\n")
    created = _json(
        run_cli(
            "-w",
            workspace,
            "data",
            "create",
            "--name",
            "credit-card",
            "--version",
            "initial",
            "--type",
            "uri_file",
            "--path",
            csv,
            "-o",
            "json",
        ).stdout
    )
    assert created["version"] == "initial"
    assert created["path"].startswith("azureml://datastores/workspaceblobstore/paths/")
    shown = yaml.safe_load(
        run_cli(
            "-w", workspace, "data", "show", "-n", "credit-card", "-v", "initial", "-o", "yaml"
        ).stdout
    )
    assert shown["type"] == "uri_file" and shown["id"] == "azureml:credit-card:initial"
    panel = run_cli(
        "-w", workspace, "data", "show", "-n", "credit-card", "--label", "latest"
    ).stdout
    assert "credit-card" in panel and "uri_file" in panel
    table = run_cli("-w", workspace, "data", "list").stdout
    assert "credit-card" in table and "initial" in table


def test_data_create_from_yaml_with_set(run_cli: RunCli, workspace: Path) -> None:
    _write(workspace / "data" / "rows.csv", "x\n1\n")
    spec = _write(
        workspace / "data" / "data.yml",
        """
        name: rows
        type: uri_file
        path: rows.csv
        description: from yaml
    """,
    )
    run_cli(
        "-w",
        workspace,
        "data",
        "create",
        "--file",
        spec,
        "--set",
        "version=7",
        "--set",
        "description=overridden",
        "--set",
        "tags.team=risk",
    )
    shown = _json(
        run_cli("-w", workspace, "data", "show", "-n", "rows", "-v", "7", "-o", "json").stdout
    )
    assert shown["description"] == "overridden"
    assert shown["tags"] == {"team": "risk"}
    assert shown["path"].endswith("/rows.csv")


def test_data_versions_auto_increment(run_cli: RunCli, workspace: Path) -> None:
    folder = workspace / "images"
    _write(folder / "1.txt", "one\n")
    args = ("-w", workspace, "data", "create", "--name", "images", "--path", folder, "-o", "json")
    assert _json(run_cli(*args).stdout)["version"] == "1"
    _write(folder / "2.txt", "two\n")
    assert _json(run_cli(*args).stdout)["version"] == "2"
    latest = _json(
        run_cli(
            "-w", workspace, "data", "show", "-n", "images", "-l", "latest", "-o", "json"
        ).stdout
    )
    assert latest["version"] == "2" and latest["type"] == "uri_folder"
    versions = _json(run_cli("-w", workspace, "data", "list", "-n", "images", "-o", "json").stdout)
    assert [v["version"] for v in versions] == ["2", "1"]


def test_data_archive_hides_from_list_and_restore_brings_back(
    run_cli: RunCli, workspace: Path
) -> None:
    csv = _write(workspace / "t.csv", "a\n")
    for name in ("keep", "hide"):
        run_cli(
            "-w", workspace, "data", "create", "-n", name, "-v", "1", "-t", "uri_file", "-p", csv
        )

    def names(*flags: str) -> list[str]:
        rows = _json(run_cli("-w", workspace, "data", "list", *flags, "-o", "json").stdout)
        return sorted(r["name"] for r in rows)

    out = run_cli("-w", workspace, "data", "archive", "-n", "hide", "-v", "1").stdout
    assert "Archived data asset 'hide' version 1" in out
    assert names() == ["keep"]
    assert names("--archived-only") == ["hide"]
    everything = _json(
        run_cli("-w", workspace, "data", "list", "--include-archived", "-o", "json").stdout
    )
    assert {r["name"]: r["archived"] for r in everything} == {"keep": False, "hide": True}
    run_cli("-w", workspace, "data", "restore", "-n", "hide", "-v", "1")
    assert names() == ["hide", "keep"]
    both = run_cli(
        "-w", workspace, "data", "list", "--archived-only", "--include-archived", expect=2
    )
    assert "not both" in both.stderr


def test_invalid_yaml_names_file_and_line(run_cli: RunCli, workspace: Path) -> None:
    bad = _write(workspace / "bad.yml", "name: rows\ntype: uri_file\n  path: rows.csv\n")
    result = run_cli("-w", workspace, "data", "create", "-f", bad, expect=2)
    assert result.stderr.startswith("Error: ")
    assert "bad.yml:3" in result.stderr and "not valid YAML" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_field_names_file_line_and_field(run_cli: RunCli, workspace: Path) -> None:
    bad = _write(
        workspace / "unknown.yml", "name: rows\ntype: uri_file\npath: x.csv\ncolour: red\n"
    )
    result = run_cli("-w", workspace, "data", "create", "-f", bad, expect=2)
    assert f"{bad}:4" in result.stderr
    assert "field 'colour'" in result.stderr and "allowed:" in result.stderr


def test_missing_local_path_is_a_clear_error(run_cli: RunCli, workspace: Path) -> None:
    missing = workspace / "no-such-file.csv"
    result = run_cli(
        "-w", workspace, "data", "create", "-n", "ghost", "-t", "uri_file", "-p", missing, expect=2
    )
    assert f"local path '{missing}' does not exist" in result.stderr


def test_show_needs_a_version_or_label(run_cli: RunCli, workspace: Path) -> None:
    result = run_cli("-w", workspace, "data", "show", "-n", "anything", expect=2)
    assert "--version" in result.stderr and "--label latest" in result.stderr
    missing = run_cli("-w", workspace, "data", "show", "-n", "anything", "-v", "1", expect=2)
    assert missing.stderr.startswith("Error: ")


# -- other assets ------------------------------------------------------------------------------


def test_component_create_from_yaml_then_list_and_show(run_cli: RunCli, workspace: Path) -> None:
    _write(workspace / "components" / "train" / "train.py", "print('training')\n")
    spec = _write(
        workspace / "components" / "train" / "train.yml",
        """
        name: train_model
        display_name: Train model
        type: command
        code: .
        inputs:
          learning_rate:
            type: number
            default: 0.1
        outputs:
          model:
            type: uri_folder
        command: python train.py --lr ${{inputs.learning_rate}} --model ${{outputs.model}}
    """,
    )
    created = _json(
        run_cli("-w", workspace, "component", "create", "-f", spec, "-o", "json").stdout
    )
    assert created["version"] == "1"
    assert created["code"].startswith("azureml://")
    run_cli(
        "-w",
        workspace,
        "component",
        "create",
        "-f",
        spec,
        "--version",
        "2",
        "--set",
        "display_name=Train v2",
    )
    listed = _json(run_cli("-w", workspace, "component", "list", "-o", "json").stdout)
    assert [(c["name"], c["version"]) for c in listed] == [("train_model", "2")]
    assert "train_model" in run_cli("-w", workspace, "component", "list").stdout
    shown = _json(
        run_cli(
            "-w", workspace, "component", "show", "-n", "train_model", "-v", "1", "-o", "json"
        ).stdout
    )
    assert shown["inputs"]["learning_rate"] == {"type": "number", "default": 0.1}
    assert shown["display_name"] == "Train model"


def test_environment_and_model_from_flags(run_cli: RunCli, workspace: Path, tmp_path: Path) -> None:
    conda = _write(
        workspace / "conda.yaml",
        """
        name: sk
        dependencies:
          - python=3.11
          - pip:
            - scikit-learn
    """,
    )
    env = _json(
        run_cli(
            "-w",
            workspace,
            "environment",
            "create",
            "-n",
            "sk-env",
            "--conda-file",
            conda,
            "--image",
            "ubuntu:22.04",
            "-o",
            "json",
        ).stdout
    )
    assert env["version"] == "1" and env["conda_file"]["name"] == "sk"
    model_dir = workspace / "model"
    _write(model_dir / "MLmodel", "flavors: {}\n")
    run_cli(
        "-w",
        workspace,
        "model",
        "create",
        "-n",
        "credit_model",
        "-v",
        "1",
        "-t",
        "mlflow_model",
        "-p",
        model_dir,
    )
    assert "credit_model" in run_cli("-w", workspace, "model", "list").stdout
    out = tmp_path / "downloaded"
    run_cli(
        "-w",
        workspace,
        "model",
        "download",
        "-n",
        "credit_model",
        "-v",
        "1",
        "--download-path",
        out,
    )
    assert (out / "credit_model" / "model" / "MLmodel").is_file()


# -- errors in a real process ------------------------------------------------------------------


def test_exit_codes_and_tracebacks_in_a_subprocess(lakeworks_script: Path, workspace: Path) -> None:
    bad = _write(workspace / "bad.yml", "name: [unclosed\n")
    argv = [str(lakeworks_script), "-w", str(workspace), "data", "create", "-f", str(bad)]
    plain = subprocess.run(argv, capture_output=True, text=True)
    assert plain.returncode == 2
    assert plain.stderr.startswith("Error: ") and "Traceback" not in plain.stderr
    assert plain.stdout == ""
    debug = subprocess.run([argv[0], "--debug", *argv[1:]], capture_output=True, text=True)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "InvalidInputError" in debug.stderr


# -- jobs ----------------------------------------------------------------------------------------

HELLO_JOB = """
    command: >-
      python -c "import pathlib, sys; pathlib.Path(sys.argv[1], 'hello.txt').write_text('hello');
      print('wrote hello')" ${{outputs.out}}
    outputs:
      out:
        type: uri_folder
    experiment_name: cli-e2e
"""


@pytest.fixture(scope="module")
def hello_job(job_workspace: Path, run_cli: RunCli) -> dict[str, Any]:
    """A command job run with ``job create --stream -o json``: its stdout JSON and stderr logs."""
    spec = _write(job_workspace / "hello" / "job.yml", HELLO_JOB)
    result = run_cli("-w", job_workspace, "job", "create", "-f", spec, "--stream", "-o", "json")
    return {"job": _json(result.stdout), "logs": result.stderr}


def test_command_job_streams_to_completion(
    hello_job: dict[str, Any], job_workspace: Path, run_cli: RunCli
) -> None:
    job = hello_job["job"]
    assert job["status"] == "Completed"
    assert "wrote hello" in hello_job["logs"] and "Execution Summary" in hello_job["logs"]
    shown = _json(
        run_cli("-w", job_workspace, "job", "show", "-n", job["name"], "-o", "json").stdout
    )
    assert shown["status"] == "Completed"
    assert shown["outputs"]["out"].endswith(f"/azureml/{job['name']}/out")
    assert shown["experiment_name"] == "cli-e2e"
    listed = _json(
        run_cli("-w", job_workspace, "job", "list", "-e", "cli-e2e", "-o", "json").stdout
    )
    assert job["name"] in [j["name"] for j in listed]


def test_job_download_named_output(
    hello_job: dict[str, Any], job_workspace: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    name = hello_job["job"]["name"]
    run_cli(
        "-w",
        job_workspace,
        "job",
        "download",
        "-n",
        name,
        "--output-name",
        "out",
        "--download-path",
        tmp_path,
    )
    assert (tmp_path / "named-outputs" / "out" / "hello.txt").read_text() == "hello"
    missing = run_cli(
        "-w",
        job_workspace,
        "job",
        "download",
        "-n",
        name,
        "--output-name",
        "nope",
        "--download-path",
        tmp_path,
        expect=2,
    )
    assert "has no output 'nope'" in missing.stderr


def test_server_status_after_a_job_shows_url(
    hello_job: dict[str, Any], job_workspace: Path, run_cli: RunCli
) -> None:
    status = _json(run_cli("-w", job_workspace, "server", "status", "-o", "json").stdout)
    assert status["running"] is True
    assert status["url"].startswith("http://127.0.0.1:")
    assert status["url"] in run_cli("-w", job_workspace, "server", "status").stdout
    assert status["url"] in run_cli("-w", job_workspace, "server", "start").stdout


def test_failing_job_stream_exits_nonzero_with_log_tail(
    job_workspace: Path, run_cli: RunCli
) -> None:
    spec = _write(
        job_workspace / "fail" / "job.yml",
        """
        command: python -c "import sys; print('about to fail with boom'); sys.exit(3)"
        experiment_name: cli-e2e
    """,
    )
    result = run_cli("-w", job_workspace, "job", "create", "-f", spec, "--stream", expect=1)
    assert "about to fail with boom" in result.stdout
    assert "Status: Failed" in result.stdout
    assert result.stderr.startswith("Error: job '")
    assert "exit code 3" in result.stderr and "about to fail with boom" in result.stderr
    assert "Traceback" not in result.output


LOG_STEP = """
    import json, os, sys, time, urllib.request

    def call(path, body):
        url = os.environ["MLFLOW_TRACKING_URI"].rstrip("/") + "/api/2.0/mlflow/" + path
        request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=30).read()

    run, stage = os.environ["MLFLOW_RUN_ID"], sys.argv[1]
    call("runs/log-parameter", {"run_id": run, "key": "stage", "value": stage})
    call("runs/log-metric", {"run_id": run, "key": "score", "value": len(stage) / 10,
                             "timestamp": int(time.time() * 1000), "step": 0})
    if len(sys.argv) > 2:
        os.makedirs(sys.argv[2], exist_ok=True)
        open(os.path.join(sys.argv[2], "rows.txt"), "w").write("1\\n2\\n")
    print("logged", stage)
"""

PIPELINE = """
    type: pipeline
    experiment_name: cli-e2e-runs
    jobs:
      prep:
        command: python log_step.py prep ${{outputs.data}}
        code: .
        outputs:
          data:
      train:
        command: python log_step.py train ${{inputs.data}}
        code: .
        inputs:
          data: ${{parent.jobs.prep.outputs.data}}
"""


def test_pipeline_show_lists_steps_and_run_list_has_metrics(
    job_workspace: Path, run_cli: RunCli
) -> None:
    _write(job_workspace / "pipe" / "log_step.py", LOG_STEP)
    spec = _write(job_workspace / "pipe" / "pipeline.yml", PIPELINE)
    run_cli("-w", job_workspace, "job", "validate", "-f", spec)
    job = _json(
        run_cli("-w", job_workspace, "job", "create", "-f", spec, "--stream", "-o", "json").stdout
    )
    assert job["status"] == "Completed"
    steps = {s["step"]: s for s in job["steps"]}
    assert list(steps) == ["prep", "train"]
    assert steps["train"]["metrics"] == {"score": 0.5}
    assert steps["prep"]["params"] == {"stage": "prep"}
    assert all(
        s["status"] == "Completed" and s["duration_seconds"] is not None for s in steps.values()
    )
    panel = run_cli("-w", job_workspace, "job", "show", "-n", job["name"]).stdout
    assert "prep" in panel and "train" in panel and "score: 0.4" in panel
    children = _json(
        run_cli(
            "-w", job_workspace, "job", "list", "--parent-job-name", job["name"], "-o", "json"
        ).stdout
    )
    assert sorted(c["step"] for c in children) == ["prep", "train"]
    runs = run_cli("-w", job_workspace, "run", "list", "--experiment", "cli-e2e-runs").stdout
    assert "metrics.score" in runs and "params.stage" in runs
    rows = _json(
        run_cli("-w", job_workspace, "run", "list", "-e", "cli-e2e-runs", "-o", "json").stdout
    )
    assert [(r["job"], r["step"]) for r in rows] == [
        (job["name"], None),
        (job["name"], "prep"),
        (job["name"], "train"),
    ]
    assert rows[2]["metrics"] == {"score": 0.5} and rows[2]["params"] == {"stage": "train"}


def test_resume_reruns_only_what_did_not_finish(
    job_workspace: Path, run_cli: RunCli, tmp_path: Path
) -> None:
    marker = tmp_path / "go"
    spec = _write(
        job_workspace / "resume" / "pipeline.yml",
        f"""
        type: pipeline
        experiment_name: cli-e2e-resume
        jobs:
          first:
            command: python -c "import sys, pathlib; pathlib.Path(sys.argv[1], 'f').write_text('1')" ${{{{outputs.out}}}}
            outputs:
              out:
          second:
            command: python -c "import os, sys; sys.exit(0 if os.path.exists(sys.argv[1]) else 4)" {marker} ${{{{inputs.data}}}}
            inputs:
              data: ${{{{parent.jobs.first.outputs.out}}}}
    """,
    )
    failed = run_cli("-w", job_workspace, "job", "create", "-f", spec, "--stream", expect=1)
    name = failed.stdout.split("RunId: ", 1)[1].split()[0]
    before = _json(run_cli("-w", job_workspace, "job", "show", "-n", name, "-o", "json").stdout)
    assert before["status"] == "Failed"
    assert [s["status"] for s in before["steps"]] == ["Completed", "Failed"]
    marker.write_text("go")
    after = _json(
        run_cli("-w", job_workspace, "job", "resume", "-n", name, "--stream", "-o", "json").stdout
    )
    assert after["status"] == "Completed"
    assert [s["status"] for s in after["steps"]] == ["Completed", "Completed"]
    assert after["steps"][0]["name"] == before["steps"][0]["name"]
    assert after["steps"][0]["ended_at"] == before["steps"][0]["ended_at"]


def test_cancel_stops_a_running_job(job_workspace: Path, run_cli: RunCli) -> None:
    spec = _write(
        job_workspace / "sleep" / "job.yml",
        """
        command: python -c "import time; print('sleeping', flush=True); time.sleep(120)"
        experiment_name: cli-e2e
    """,
    )
    name = _json(run_cli("-w", job_workspace, "job", "create", "-f", spec, "-o", "json").stdout)[
        "name"
    ]
    # Cancel once the step runs (cancelling a runner that is still starting is reported as a
    # services bug: the job ends NotResponding).
    deadline = time.monotonic() + 60
    while (
        _json(run_cli("-w", job_workspace, "job", "show", "-n", name, "-o", "json").stdout)[
            "status"
        ]
        != "Running"
    ):
        assert time.monotonic() < deadline, "the job did not start within 60 s"
        time.sleep(0.2)
    out = run_cli("-w", job_workspace, "job", "cancel", "-n", name).stdout
    assert f"Job '{name}' is Canceled." in out
    streamed = run_cli("-w", job_workspace, "job", "stream", "-n", name, expect=1)
    assert "Status: Canceled" in streamed.stdout
    assert f"Error: job '{name}' ended Canceled" in streamed.stderr


def test_job_errors_are_user_errors(job_workspace: Path, run_cli: RunCli) -> None:
    missing = run_cli("-w", job_workspace, "job", "show", "-n", "no_such_job", expect=2)
    assert missing.stderr.startswith("Error: ") and "no_such_job" in missing.stderr
    spec = _write(
        job_workspace / "invalid" / "job.yml",
        """
        command: python -c "print(1)"
        inputs:
          data:
            type: uri_file
            path: ./missing.csv
    """,
    )
    invalid = run_cli("-w", job_workspace, "job", "validate", "-f", spec, expect=2)
    assert "missing.csv" in invalid.stderr


def test_environment_variable_selects_the_workspace(
    job_workspace: Path, run_cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEWORKS_WORKSPACE", str(job_workspace))
    assert "e2e-jobs" in run_cli("workspace", "show").stdout
