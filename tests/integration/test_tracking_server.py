"""The workspace tracking server with real processes on 127.0.0.1 and real MLflow clients.

Covers starting, sharing and stopping the server (``lakeworks.adapters.tracking``), the runner's
REST client, and MLflow scripts (3.x here, 2.x in a fresh venv) whose
``log_model(registered_model_name=...)`` lands as a Lakeworks model version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
import sqlalchemy as sa
from mlflow.exceptions import MlflowException
from sqlalchemy.pool import NullPool

from lakeworks.adapters.tracking import (
    MlflowRestTracking,
    connect_tracking,
    ensure_tracking_server,
    stop_tracking_server,
    tracking_server_status,
)
from lakeworks.core.assets import ModelSpec, ModelType
from lakeworks.core.refs import AssetKind
from lakeworks.errors import BackendError, NotFoundError
from lakeworks.services.assets import AssetService
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.s3 import S3Server

REGISTER_SCRIPT = textwrap.dedent(
    """
    import sys

    import mlflow
    import mlflow.sklearn
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    mlflow.sklearn.autolog()
    with mlflow.start_run() as run:
        X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0]])
        y = np.array([0, 0, 0, 1, 1, 1])
        model = LogisticRegression().fit(X, y)
        mlflow.log_metric("accuracy", float(model.score(X, y)))
        mlflow.log_param("script", "register")
        major = int(mlflow.__version__.split(".")[0])
        where = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
        mlflow.sklearn.log_model(model, registered_model_name=sys.argv[1], **where)
        print("RUN_ID", run.info.run_id)
    """
)
_MLFLOW_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_RUN_ID",
                "MLFLOW_EXPERIMENT_NAME", "MLFLOW_EXPERIMENT_ID")


@pytest.fixture(scope="module", autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No user config, caches or MLflow variables of the developer's shell leak in."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        mp.setenv("XDG_CACHE_HOME", str(home / "cache"))
        mp.setenv("LAKEWORKS_ENV_CACHE_DIR", str(home / "envs"))
        for name in _MLFLOW_VARS:
            mp.delenv(name, raising=False)
        yield


def _stop_all(*workspaces: Workspace) -> None:
    for ws in workspaces:
        stop_tracking_server(ws)
        ws.close()


@pytest.fixture
def fresh_ws(tmp_path: Path) -> Iterator[Workspace]:
    ws = create_workspace(tmp_path / "ws")
    yield ws
    _stop_all(ws)


@pytest.fixture(scope="module")
def served_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, str]]:
    """A workspace with its tracking server running (shared by the MLflow-client tests)."""
    ws = create_workspace(tmp_path_factory.mktemp("served") / "ws")
    url = ensure_tracking_server(ws)
    yield ws, url
    _stop_all(ws)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or b"tracking_server" in cmdline.read_bytes()


def _wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def _health(url: str) -> int:
    with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
        return int(response.status)


# -- server life cycle -------------------------------------------------------------------------


def test_ensure_starts_once_reuses_and_stops(fresh_ws: Workspace) -> None:
    started = time.monotonic()
    url = ensure_tracking_server(fresh_ws)
    print(f"tracking server cold start: {time.monotonic() - started:.2f} s")
    status = tracking_server_status(fresh_ws)
    assert status is not None and status["url"] == url
    assert url == f"http://127.0.0.1:{status['port']}"
    assert status["workspace"] == str(fresh_ws.path)
    assert _health(url) == 200
    info_file = fresh_ws.state_dir / "tracking.json"
    assert json.loads(info_file.read_text())["pid"] == status["pid"]
    assert (fresh_ws.state_dir / "logs" / "tracking.log").is_file()

    assert ensure_tracking_server(fresh_ws) == url
    assert tracking_server_status(fresh_ws)["pid"] == status["pid"]  # type: ignore[index]

    assert stop_tracking_server(fresh_ws) is True
    assert not _pid_alive(status["pid"])
    assert not info_file.exists()
    assert tracking_server_status(fresh_ws) is None
    assert stop_tracking_server(fresh_ws) is False

    again = ensure_tracking_server(fresh_ws)
    assert tracking_server_status(fresh_ws)["pid"] != status["pid"]  # type: ignore[index]
    assert _health(again) == 200


def test_concurrent_ensure_starts_one_server(fresh_ws: Workspace) -> None:
    code = (
        "import sys; from pathlib import Path\n"
        "from lakeworks.services.workspace import open_workspace\n"
        "from lakeworks.adapters.tracking import ensure_tracking_server\n"
        "print(ensure_tracking_server(open_workspace(Path(sys.argv[1]))))\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(fresh_ws.path)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    urls: list[str] = []
    in_thread: list[str] = []
    worker = threading.Thread(target=lambda: in_thread.append(ensure_tracking_server(fresh_ws)))
    worker.start()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        urls.append(out.strip().splitlines()[-1])
    worker.join(timeout=120)
    assert len(set(urls + in_thread)) == 1
    log_text = (fresh_ws.state_dir / "logs" / "tracking.log").read_text()
    assert log_text.count("starting tracking server") == 1


def test_stale_tracking_json_is_replaced(fresh_ws: Workspace) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info_file = fresh_ws.state_dir / "tracking.json"
    info_file.write_text(json.dumps({"pid": dead.pid, "port": 9, "url": "http://127.0.0.1:9"}))
    assert tracking_server_status(fresh_ws) is None
    assert not info_file.exists()

    # A live process that is not a tracking server (this test) must be left alone.
    info_file.write_text(json.dumps({"pid": os.getpid(), "port": 9, "url": "http://127.0.0.1:9"}))
    url = ensure_tracking_server(fresh_ws)
    assert url != "http://127.0.0.1:9"
    assert json.loads(info_file.read_text())["pid"] not in (dead.pid, os.getpid())
    assert _health(url) == 200


def test_server_exits_when_idle(tmp_path: Path) -> None:
    ws = create_workspace(tmp_path / "idle", settings={"tracking_idle_timeout": 1.5})
    try:
        ensure_tracking_server(ws)
        status = tracking_server_status(ws)
        assert status is not None
        info_file = ws.state_dir / "tracking.json"
        _wait_until(lambda: not _pid_alive(status["pid"]) and not info_file.exists(), 30,
                    "the idle server to exit and remove tracking.json")
        assert "no requests for 1.5 s" in (ws.state_dir / "logs/tracking.log").read_text()
    finally:
        _stop_all(ws)


def test_start_failure_reports_log_tail(fresh_ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server process reads settings itself; an invalid one makes it exit while starting.
    monkeypatch.setenv("LAKEWORKS_TRACKING_IDLE_TIMEOUT", "-1")
    with pytest.raises(BackendError, match=r"(?s)exited with code 1.*tracking_idle_timeout"):
        ensure_tracking_server(fresh_ws, timeout=60)
    assert tracking_server_status(fresh_ws) is None


# -- the runner's REST client --------------------------------------------------------------------


def test_rest_tracking_runs_and_data(served_ws: tuple[Workspace, str]) -> None:
    ws, url = served_ws
    tracking = connect_tracking(ws)
    assert tracking.uri == url
    exp = tracking.ensure_experiment("rest-exp")
    assert tracking.ensure_experiment("rest-exp") == exp
    parent = tracking.create_run(exp, "pipeline", tags={"lakeworks.job_name": "pipe1"})
    child = tracking.create_run(exp, "step", parent_run_id=parent)

    client = mlflow.MlflowClient(tracking_uri=url)
    run = client.get_run(child)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.info.run_name == "step"
    assert run.info.status == "RUNNING"
    assert client.get_run(parent).data.tags["lakeworks.job_name"] == "pipe1"

    for step, value in enumerate([0.1, 0.5, 0.9]):
        client.log_metric(child, "acc", value, step=step)
    client.log_param(child, "lr", "0.01")
    metrics, params = tracking.run_data(child)
    assert metrics == {"acc": 0.9}
    assert params == {"lr": "0.01"}

    tracking.end_run(child, "FINISHED")
    ended = client.get_run(child)
    assert ended.info.status == "FINISHED"
    assert ended.info.end_time is not None

    with pytest.raises(NotFoundError, match="runs/get"):
        tracking.run_data("0" * 32)


def test_rest_tracking_restarts_a_server_that_went_away(fresh_ws: Workspace) -> None:
    tracking = connect_tracking(fresh_ws)
    exp = tracking.ensure_experiment("survives")
    first = tracking_server_status(fresh_ws)
    assert first is not None and stop_tracking_server(fresh_ws)
    assert tracking.ensure_experiment("survives") == exp  # same store, new process
    second = tracking_server_status(fresh_ws)
    assert second is not None and second["pid"] != first["pid"]
    assert tracking.uri == second["url"]


def test_rest_tracking_errors_name_server_and_endpoint() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tracking = MlflowRestTracking(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(BackendError, match=rf"127\.0\.0\.1:{port}.*experiments/get-by-name"):
        tracking.ensure_experiment("x")


# -- MLflow scripts registering models -----------------------------------------------------------


def _run_script(python: str, url: str, tracking: MlflowRestTracking, workdir: Path,
                model: str, job_name: str) -> str:
    """Run the registering script as a job step would; return the job's MLflow run id."""
    exp = "scripts"
    run_id = tracking.create_run(tracking.ensure_experiment(exp), job_name,
                                 tags={"lakeworks.job_name": job_name})
    script = workdir / "register.py"
    script.write_text(REGISTER_SCRIPT)
    env = {k: v for k, v in os.environ.items() if k not in _MLFLOW_VARS}
    env.update(MLFLOW_TRACKING_URI=url, MLFLOW_RUN_ID=run_id, MLFLOW_EXPERIMENT_NAME=exp)
    proc = subprocess.run([python, str(script), model], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"RUN_ID {run_id}" in proc.stdout  # start_run() continued the job's run
    return run_id


def _check_version(ws: Workspace, name: str, version: str, run_id: str, job: str) -> ModelSpec:
    stored = AssetService(ws).get(AssetKind.MODEL, name, version=version)
    spec = stored.to_spec()
    assert isinstance(spec, ModelSpec)
    assert spec.type is ModelType.MLFLOW
    assert spec.flavors is not None and "sklearn" in spec.flavors
    assert spec.run_id == run_id
    assert spec.job_name == job
    assert spec.path.startswith("azureml://datastores/")
    key = AssetService(ws).key_of(spec.path)
    assert ws.artifacts.exists(f"{key}/MLmodel")
    return spec


def test_mlflow3_script_registers_workspace_models(
    served_ws: tuple[Workspace, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, url = served_ws
    tracking = connect_tracking(ws)
    run1 = _run_script(sys.executable, url, tracking, tmp_path, "m", "job-one")
    spec = _check_version(ws, "m", "1", run1, "job-one")

    metrics, params = tracking.run_data(run1)
    assert metrics["accuracy"] == 1.0
    assert params["script"] == "register"
    assert "C" in params  # from sklearn autolog

    local = AssetService(ws).local_copy(spec.path)
    predictions = mlflow.pyfunc.load_model(str(local)).predict(np.array([[0.0], [5.0]]))
    assert list(predictions) == [0, 1]

    run2 = _run_script(sys.executable, url, tracking, tmp_path, "m", "job-two")
    _check_version(ws, "m", "2", run2, "job-two")

    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    versions = client.search_model_versions("name='m'")
    assert sorted((v.version, v.run_id) for v in versions) == [("1", run1), ("2", run2)]
    assert all(v.status == "READY" for v in versions)
    assert client.get_registered_model("m").name == "m"

    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    served = mlflow.pyfunc.load_model("models:/m/2")  # downloads through the server
    assert list(served.predict(np.array([[5.0]]))) == [1]


def test_registry_tags_aliases_stages_and_immutability(
    served_ws: tuple[Workspace, str], tmp_path: Path
) -> None:
    ws, url = served_ws
    tracking = connect_tracking(ws)
    run_id = _run_script(sys.executable, url, tracking, tmp_path, "reg", "job-reg")
    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)

    client.set_model_version_tag("reg", "1", "quality", "good")
    client.set_registered_model_alias("reg", "champion", "1")
    client.update_model_version("reg", "1", description="first")
    mv = client.get_model_version_by_alias("reg", "champion")
    assert (mv.version, mv.tags, mv.description, mv.run_id) == ("1", {"quality": "good"},
                                                                "first", run_id)
    spec = AssetService(ws).get(AssetKind.MODEL, "reg", version="1").to_spec()
    assert spec.tags["quality"] == "good" and spec.description == "first"

    client.set_registered_model_tag("reg", "team", "risk")
    model = client.get_registered_model("reg")
    assert model.tags == {"team": "risk"}
    assert model.aliases == {"champion": "1"}

    with pytest.warns(FutureWarning):
        client.transition_model_version_stage("reg", "1", "Staging")
    staged = AssetService(ws).get(AssetKind.MODEL, "reg", version="1").to_spec()
    assert isinstance(staged, ModelSpec) and staged.stage == "Staging"

    with pytest.raises(MlflowException, match="immutable"):
        client.delete_model_version("reg", "1")
    assert AssetService(ws).get(AssetKind.MODEL, "reg", version="1") is not None
    with pytest.raises(MlflowException) as missing:
        client.get_model_version("reg", "99")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException, match="immutable"):
        client.delete_registered_model("reg")
    with pytest.raises(MlflowException) as exists:
        client.create_registered_model("reg")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"


def test_registry_lists_lakeworks_models_with_any_version(
    served_ws: tuple[Workspace, str], tmp_path: Path
) -> None:
    ws, url = served_ws
    files = tmp_path / "native"
    files.mkdir()
    (files / "weights.bin").write_bytes(b"\x00\x01")
    AssetService(ws).register_model_files("native", files, version="initial",
                                          type=ModelType.CUSTOM)
    client = mlflow.MlflowClient(tracking_uri=url, registry_uri=url)
    listed = client.search_model_versions("name='native'")
    assert [(v.name, v.version) for v in listed] == [("native", "initial")]
    assert "native" in {m.name for m in client.search_registered_models()}
    with pytest.warns(FutureWarning):  # stages are deprecated in MLflow, still supported
        latest = client.get_latest_versions("native", stages=["None"])
    assert [v.version for v in latest] == ["initial"]

    created = client.create_registered_model("empty-yet", description="no versions")
    assert created.name == "empty-yet"
    assert client.get_registered_model("empty-yet").description == "no versions"


@pytest.mark.network
@pytest.mark.slow
def test_mlflow2_client_registers_workspace_model(
    served_ws: tuple[Workspace, str], tmp_path: Path
) -> None:
    ws, url = served_ws
    venv = tmp_path / "mlflow2"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = str(venv / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "mlflow<2.19", "scikit-learn<1.6", "pandas<2.3"],
        capture_output=True, text=True, timeout=900,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    tracking = connect_tracking(ws)
    run_id = _run_script(python, url, tracking, tmp_path, "m2", "job-v2")
    spec = _check_version(ws, "m2", "1", run_id, "job-v2")
    assert spec.properties["mlflow.source"].startswith("mlflow-artifacts:/")
    local = AssetService(ws).local_copy(spec.path)
    check = (
        "import sys, mlflow, numpy as np\n"
        "client = mlflow.MlflowClient()\n"
        "print('VERSIONS', sorted(v.version for v in client.search_model_versions(\"name='m2'\")))\n"
        "print('PREDICT', mlflow.pyfunc.load_model(sys.argv[1]).predict(np.array([[5.0]])).tolist())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in _MLFLOW_VARS}
    env["MLFLOW_TRACKING_URI"] = url
    out = subprocess.run([python, "-c", check, str(local)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "VERSIONS ['1']" in out.stdout
    assert "PREDICT [1]" in out.stdout


@pytest.mark.postgres
@pytest.mark.s3
def test_postgres_and_s3_workspace_registers_models(
    tmp_path: Path, postgres_url: str, s3_bucket_url: str, s3_server: S3Server
) -> None:
    ws = create_workspace(tmp_path / "ws", settings={
        "database_url": postgres_url,
        "artifact_url": s3_bucket_url,
        "s3_endpoint_url": s3_server.endpoint_url,
    })
    try:
        tracking = connect_tracking(ws)
        run_id = _run_script(sys.executable, tracking.uri, tracking, tmp_path, "pm", "job-pg")
        spec = _check_version(ws, "pm", "1", run_id, "job-pg")
        assert ws.artifacts.url.startswith("s3://")
        assert any(key.endswith("MLmodel") for key in ws.artifacts.list("mlflow"))

        engine = sa.create_engine(postgres_url, poolclass=NullPool)
        try:
            tables = set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()
        assert {"experiments", "runs", "logged_models"} <= tables  # MLflow's tables
        assert any(t.startswith("lw_") for t in tables)  # beside Lakeworks' own

        local = AssetService(ws).local_copy(spec.path)
        assert list(mlflow.pyfunc.load_model(str(local)).predict(np.array([[0.0]]))) == [0]
        metrics, _ = tracking.run_data(run_id)
        assert metrics["accuracy"] == 1.0
    finally:
        _stop_all(ws)
