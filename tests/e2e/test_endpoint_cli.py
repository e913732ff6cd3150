"""``lakeworks online-endpoint``, ``online-deployment`` and ``serve``, as a shell runs them.

The lifecycle runs the real Typer app in-process (each command as a shell would type it; a
subprocess costs two seconds of imports per command); ``lakeworks serve`` and a few others run
the installed console script in a subprocess. One workspace per module; the serving process
the first endpoint starts (or ``lakeworks serve`` runs in the foreground) is stopped at
teardown. The model is a small scikit-learn classifier as ONNX.
"""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakeworks.services import serving_process
from lakeworks.services.workspace import open_workspace

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory: pytest.TempPathFactory, lakeworks_script: Path) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("endpoint-cli") / "ws"
    subprocess.run([str(lakeworks_script), "workspace", "create", str(path), "--name", "ep-cli"],
                   check=True, capture_output=True, text=True)
    try:
        yield path
    finally:
        ws = open_workspace(path)
        serving_process.stop_server(ws)
        ws.close()


@pytest.fixture(scope="module")
def cli(ws_path: Path, lakeworks_script: Path) -> Cli:
    def run(*args: str | Path, expect: int = 0, timeout: float = 180) -> Any:
        argv = [str(lakeworks_script), "-w", str(ws_path), *(str(a) for a in args)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=ws_path)
        assert proc.returncode == expect, (
            f"{' '.join(argv[1:])} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    return run


@pytest.fixture(scope="module")
def inproc(ws_path: Path, run_cli: Callable[..., Any]) -> Callable[..., Any]:
    """The CLI in-process on the module's workspace: ``inproc("online-endpoint", "list")``."""
    def run(*args: str | Path, expect: int = 0) -> Any:
        return run_cli("-w", ws_path, *args, expect=expect)

    return run


@pytest.fixture(scope="module")
def files(ws_path: Path) -> dict[str, Path]:
    """The model folder, endpoint and deployment YAML, and a request file."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = DecisionTreeClassifier(max_depth=2).fit(x, y)
    onnx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 3]))],
                           options={id(model): {"zipmap": False}}, target_opset=17)
    folder = ws_path.parent / "src"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "model.onnx").write_bytes(onnx.SerializeToString())
    (folder / "endpoint.yml").write_text(textwrap.dedent("""\
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineEndpoint.schema.json
        name: cli-ep
        auth_mode: key
        """))
    (folder / "blue.yml").write_text(textwrap.dedent("""\
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: blue
        endpoint_name: cli-ep
        model: azureml:cli-model@latest
        instance_type: Standard_DS3_v2
        instance_count: 1
        """))
    rows = [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]
    (folder / "request.json").write_text(json.dumps({"input_data": rows}))
    expected = model.predict(np.array(rows, dtype=np.float32)).tolist()
    (folder / "expected.json").write_text(json.dumps(expected))
    return {name: folder / name for name in ("model", "endpoint.yml", "blue.yml",
                                             "request.json", "expected.json")}


def test_help_shows_examples_of_each_noun(cli: Cli) -> None:
    shown = cli("online-endpoint", "--help").stdout
    for verb in ("create", "show", "list", "update", "invoke", "get-credentials",
                 "regenerate-keys", "delete"):
        assert verb in shown
    assert "lakeworks online-deployment get-logs" in cli("online-deployment", "get-logs",
                                                         "--help").stdout
    assert "--max-body-mb" in cli("serve", "--help").stdout


def test_endpoint_lifecycle(inproc: Callable[..., Any], files: dict[str, Path]) -> None:
    cli = inproc
    cli("model", "create", "--name", "cli-model", "--path", files["model"], "--type",
        "custom_model")
    created = json.loads(cli("online-endpoint", "create", "-f", files["endpoint.yml"],
                             "-o", "json").stdout)
    assert created["name"] == "cli-ep" and created["scoring_uri"].endswith("/cli-ep/score")
    blue = json.loads(cli("online-deployment", "create", "-f", files["blue.yml"],
                          "--all-traffic", "-o", "json").stdout)
    assert blue["provisioning_state"] == "Succeeded"
    assert blue["model"] == "azureml:cli-model:1"
    shown = json.loads(cli("online-endpoint", "show", "-n", "cli-ep", "-o", "json").stdout)
    assert shown["traffic"] == {"blue": 100}

    answer = cli("online-endpoint", "invoke", "-n", "cli-ep", "--request-file",
                 files["request.json"]).stdout
    assert json.loads(answer) == json.loads(files["expected.json"].read_text())
    routed = cli("online-endpoint", "invoke", "-n", "cli-ep", "--request-file",
                 files["request.json"], "--deployment-name", "blue").stdout
    assert json.loads(routed) == json.loads(answer)

    keys = json.loads(cli("online-endpoint", "get-credentials", "-n", "cli-ep").stdout)
    assert set(keys) == {"primaryKey", "secondaryKey"}
    cli("online-endpoint", "regenerate-keys", "-n", "cli-ep", "--key-type", "secondary")
    again = json.loads(cli("online-endpoint", "get-credentials", "-n", "cli-ep").stdout)
    assert again["primaryKey"] == keys["primaryKey"]
    assert again["secondaryKey"] != keys["secondaryKey"]

    bad = cli("online-endpoint", "update", "-n", "cli-ep", "--traffic", "blue=50", expect=2)
    assert "add up to 100" in bad.stderr
    unknown = cli("online-endpoint", "update", "-n", "cli-ep", "--traffic",
                  "blue=90 green=10", expect=2)
    assert "deployment 'green' does not exist" in unknown.stderr

    scaled = json.loads(cli("online-deployment", "update", "-n", "blue", "-e", "cli-ep",
                            "--set", "instance_count=2", "-o", "json").stdout)
    assert scaled["instance_count"] == 2 and scaled["provisioning_state"] == "Succeeded"
    listing = cli("online-deployment", "list", "-e", "cli-ep").stdout
    assert "blue" in listing and "cli-model" in listing
    logs = cli("online-deployment", "get-logs", "-n", "blue", "-e", "cli-ep", "--lines", "3",
               "--container", "storage-initializer").stdout
    assert 0 < len(logs.strip().splitlines()) <= 3

    refused = cli("online-deployment", "delete", "-n", "blue", "-e", "cli-ep", "--yes",
                  expect=1)
    assert "move its traffic to other deployments first" in refused.stderr
    status = json.loads(cli("serve", "--status", "-o", "json").stdout)
    assert status["running"] is True
    assert status["endpoints"]["cli-ep"] == {"blue": "Succeeded"}

    cli("online-endpoint", "delete", "-n", "cli-ep", "--yes")
    assert "No online endpoints." in cli("online-endpoint", "list").stdout
    missing = cli("online-endpoint", "show", "-n", "cli-ep", expect=2)
    assert "online endpoint 'cli-ep' does not exist" in missing.stderr
    assert "Stopped the serving process" in cli("serve", "--stop").stdout


def test_serve_in_the_foreground_serves_stored_endpoints(
        cli: Cli, inproc: Callable[..., Any], files: dict[str, Path], ws_path: Path,
        lakeworks_script: Path) -> None:
    inproc("online-endpoint", "create", "--name", "fg-ep")
    inproc("online-deployment", "create", "-f", files["blue.yml"], "--endpoint-name", "fg-ep",
           "--all-traffic")
    inproc("serve", "--stop")
    info_file = ws_path / ".lakeworks" / "serving" / "server.json"
    assert not info_file.exists()
    proc = subprocess.Popen([str(lakeworks_script), "-w", str(ws_path), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not info_file.exists():
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "lakeworks serve did not start"
            time.sleep(0.1)
        assert json.loads(info_file.read_text())["pid"] == proc.pid
        answer = cli("online-endpoint", "invoke", "-n", "fg-ep", "--request-file",
                     files["request.json"]).stdout
        assert json.loads(answer) == json.loads(files["expected.json"].read_text())
        second = cli("serve", "--port", "0", expect=1)
        assert "already served" in second.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert not info_file.exists()
