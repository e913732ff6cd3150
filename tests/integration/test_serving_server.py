"""The serving front process over real sockets, with real worker processes.

One server (port 0, in a thread) serves several endpoints built by hand as ``ServingState``;
tests change that state through ``POST /-/reload`` like the services do. Deployments are
scoring scripts written into the test's folder (their ``run()`` can sleep or crash on demand).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lakeworks.core.endpoints import (
    AuthMode,
    DeploymentRuntime,
    EndpointKeys,
    EndpointRuntime,
    ProbeSettings,
    RequestSettings,
    ServingState,
    issue_token,
)
from lakeworks.serving.openapi import build_document
from lakeworks.serving.server import FrontServer

SCRIPT = '''
import json, os, time

def init():
    global TAG
    TAG = os.environ["TAG"]

def run(raw_data):
    data = json.loads(raw_data)
    if os.environ.get("RECORD"):
        with open(os.environ["RECORD"], "a") as record:
            record.write(str(data.get("x")) + "\\n")
    if data.get("crash"):
        os._exit(3)
    if data.get("crash_once") and not os.path.exists(data["crash_once"]):
        open(data["crash_once"], "w").close()
        os._exit(3)
    if data.get("sleep"):
        time.sleep(data["sleep"])
    if data.get("fail"):
        raise ValueError("the model cannot score " + str(data["fail"]))
    return {"tag": TAG, "echo": data.get("x")}
'''

BROKEN = '''
def init():
    raise RuntimeError("the model file is missing: init cannot load it")

def run(raw_data):
    return None
'''

KEYS = EndpointKeys.generate()
TOKEN_KEYS = EndpointKeys.generate()


def _worker_python() -> str:
    return sys.executable


def _onnx_model(folder: Path) -> Path:
    """A small classifier on 4 features, as ONNX (probabilities as a tensor, no zipmap)."""
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    x, y = make_classification(n_samples=200, n_features=4, n_informative=3, n_redundant=0,
                               random_state=0)
    model = LogisticRegression().fit(x, y)
    graph = to_onnx(model, x[:1].astype(np.float32), options={id(model): {"zipmap": False}},
                    target_opset=17)
    path = folder / "model.onnx"
    path.write_bytes(graph.SerializeToString())
    return path


class Harness:
    """The server under test, its state and a small HTTP client."""

    def __init__(self, root: Path, code: Path) -> None:
        self.root = root
        self.code = code
        self.state = ServingState()
        self.server = FrontServer(root, port=0, max_body_mb=1, state_loader=lambda: self.state)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self._local = threading.local()

    def deployment(self, endpoint: str, name: str, *, script: str = "score.py",
                   timeout_ms: int = 5000, concurrency: int = 4, instances: int = 1,
                   tag: str | None = None, record: Path | None = None,
                   liveness: ProbeSettings | None = None) -> DeploymentRuntime:
        variables = {"TAG": tag or name}
        if record is not None:
            variables["RECORD"] = str(record)
        return DeploymentRuntime(
            endpoint=endpoint, name=name, kind="script", code_dir=str(self.code),
            scoring_script=script, python=_worker_python(),
            environment_variables=variables, instance_count=instances,
            liveness_probe=liveness or ProbeSettings(),
            request_settings=RequestSettings(request_timeout_ms=timeout_ms,
                                             max_concurrent_requests_per_instance=concurrency),
            log_dir=str(self.root / ".lakeworks" / "serving" / "logs" / endpoint / name))

    # -- HTTP -----------------------------------------------------------------------------------

    def onnx(self, endpoint: str, name: str, path: Path) -> DeploymentRuntime:
        return DeploymentRuntime(
            endpoint=endpoint, name=name, kind="onnx", model_name="classifier",
            model_version="3", model_dir=str(path.parent), onnx_path=str(path),
            python=_worker_python(),
            log_dir=str(self.root / ".lakeworks" / "serving" / "logs" / endpoint / name))

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            self._local.conn = conn
        return conn

    def call(self, method: str, path: str, body: Any = None, *, key: str | None = KEYS.primary,
             headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        sent = dict(headers or {})
        if key is not None:
            sent.setdefault("Authorization", f"Bearer {key}")
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request(method, path, body=data, headers=sent)
                response = conn.getresponse()
                payload = response.read()
                return response.status, {k.lower(): v for k, v in response.getheaders()}, payload
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def score(self, endpoint: str, body: Any, **kwargs: Any) -> tuple[int, dict[str, str],
                                                                        bytes]:
        return self.call("POST", f"/endpoints/{endpoint}/score", body, **kwargs)

    def admin(self, method: str, path: str) -> dict[str, Any]:
        status, _, payload = self.call(method, path, key=self.server.admin_token)
        assert status == 200, payload
        result: dict[str, Any] = json.loads(payload)
        return result

    def reload(self) -> dict[str, Any]:
        return self.admin("POST", "/-/reload?wait=true")

    def metrics(self) -> str:
        status, _, payload = self.call("GET", "/metrics", key=None)
        assert status == 200
        return payload.decode()


def _endpoint(name: str, traffic: dict[str, int], *, mirror: dict[str, int] | None = None,
              auth: AuthMode = AuthMode.KEY) -> EndpointRuntime:
    keys = TOKEN_KEYS if auth is not AuthMode.KEY else KEYS
    return EndpointRuntime(name=name, auth_mode=auth, keys=keys, traffic=traffic,
                           mirror_traffic=mirror or {})


def _poll(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    root = tmp_path_factory.mktemp("serving")
    code = root / "code"
    code.mkdir()
    (code / "score.py").write_text(SCRIPT)
    (code / "broken.py").write_text(BROKEN)
    h = Harness(root, code)
    h.state = ServingState(
        endpoints=(
            _endpoint("main-ep", {"blue": 100}),
            _endpoint("split-ep", {"blue": 50, "green": 50}, mirror={"shadow": 50}),
            _endpoint("token-ep", {"blue": 100}, auth=AuthMode.AML_TOKEN),
            _endpoint("slow-ep", {"blue": 100}),
            _endpoint("crash-ep", {"blue": 100}),
            _endpoint("onnx-ep", {"clf": 100}),
            _endpoint("hang-ep", {"blue": 100}),
            _endpoint("retry-ep", {"blue": 100}),
        ),
        deployments=(
            h.deployment("main-ep", "blue"),
            h.deployment("main-ep", "green"),
            h.deployment("split-ep", "blue"),
            h.deployment("split-ep", "green"),
            h.deployment("split-ep", "shadow", record=root / "shadow.txt"),
            h.deployment("token-ep", "blue"),
            h.deployment("slow-ep", "blue", timeout_ms=400, concurrency=1),
            h.deployment("crash-ep", "blue"),
            h.onnx("onnx-ep", "clf", _onnx_model(root)),
            h.deployment("hang-ep", "blue", timeout_ms=300, liveness=ProbeSettings(
                initial_delay=0, period=1, timeout=1, failure_threshold=2)),
            h.deployment("retry-ep", "blue", instances=2),
        ),
    )
    h.thread.start()
    assert h.server.started.wait(30), "the server did not start"
    _poll(lambda: h.call("GET", "/-/ready", key=None)[0] == 200, "every deployment ready", 60)
    try:
        yield h
    finally:
        h.server.request_stop()
        h.thread.join(30)


def test_discovery_file_and_status(harness: Harness) -> None:
    info = json.loads((harness.root / ".lakeworks" / "serving" / "server.json").read_text())
    assert info["port"] == harness.server.port != 0
    assert info["url"] == f"http://127.0.0.1:{info['port']}"
    assert info["pid"] == os.getpid()
    status = harness.admin("GET", "/-/status")
    blue = status["endpoints"]["main-ep"]["deployments"]["blue"]
    assert blue["state"] == "Succeeded"
    assert blue["instances_ready"] == 1
    assert blue["fingerprint"] == harness.state.deployments[0].fingerprint
    assert harness.call("GET", "/-/status", key="wrong")[0] == 401


def test_key_auth(harness: Harness) -> None:
    status, headers, body = harness.score("main-ep", {"x": 1})
    assert status == 200, body
    assert json.loads(body) == {"tag": "blue", "echo": 1}
    assert headers["azureml-model-deployment"] == "blue"
    assert harness.score("main-ep", {"x": 2}, key=KEYS.secondary)[0] == 200
    status, headers, body = harness.score("main-ep", {"x": 3}, key="not-a-key")
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert "key" in json.loads(body)["error"]
    status, _, body = harness.score("main-ep", {"x": 4}, key=None)
    assert status == 401
    assert "Authorization" in json.loads(body)["error"]


def test_token_auth_and_expiry(harness: Harness) -> None:
    token, _ = issue_token("token-ep", TOKEN_KEYS.token_secret)
    assert harness.score("token-ep", {"x": 1}, key=token)[0] == 200
    assert harness.score("token-ep", {"x": 1}, key=TOKEN_KEYS.primary)[0] == 401
    expired, _ = issue_token("token-ep", TOKEN_KEYS.token_secret, now=time.time() - 7200)
    status, _, body = harness.score("token-ep", {"x": 1}, key=expired)
    assert status == 401
    assert "expired" in json.loads(body)["error"]
    other, _ = issue_token("main-ep", TOKEN_KEYS.token_secret)
    assert harness.score("token-ep", {"x": 1}, key=other)[0] == 401


def test_traffic_split_and_mirror(harness: Harness) -> None:
    before = _metric(harness.metrics(), "lakeworks_serving_mirror_requests_total",
                     endpoint="split-ep", deployment="shadow")
    served = [json.loads(harness.score("split-ep", {"x": i})[2])["tag"] for i in range(60)]
    assert set(served) == {"blue", "green"}  # both take traffic; the shadow answers nobody
    _poll(lambda: _metric(harness.metrics(), "lakeworks_serving_mirror_requests_total",
                          endpoint="split-ep", deployment="shadow") - before >= 5,
          "mirrored copies counted")
    mirrored = _metric(harness.metrics(), "lakeworks_serving_mirror_requests_total",
                       endpoint="split-ep", deployment="shadow", code="200")
    assert 5 <= mirrored - before <= 60


def test_deployment_header(harness: Harness) -> None:
    for i in range(10):
        status, headers, body = harness.score(
            "split-ep", {"x": f"named-{i}"}, headers={"azureml-model-deployment": "green"})
        assert (status, json.loads(body)["tag"]) == (200, "green")
        assert headers["azureml-model-deployment"] == "green"
    # a deployment with no traffic answers when named
    status, _, body = harness.score("main-ep", {}, headers={"azureml-model-deployment": "green"})
    assert (status, json.loads(body)["tag"]) == (200, "green")
    # named requests are never mirrored: once a later copy of a split request reached the
    # shadow (its one instance answers in order), none of the named ones had
    record = harness.root / "shadow.txt"

    def later_copy_seen() -> bool:
        harness.score("split-ep", {"x": "after-named"})
        return record.exists() and "after-named" in record.read_text().split()

    _poll(later_copy_seen, "a mirrored copy of a split request")
    assert not [x for x in record.read_text().split() if x.startswith("named-")]


def test_not_found(harness: Harness) -> None:
    status, _, body = harness.score("nope", {})
    assert status == 404
    assert "main-ep" in json.loads(body)["error"]
    status, _, body = harness.score("main-ep", {}, headers={"azureml-model-deployment": "red"})
    assert status == 404
    message = json.loads(body)["error"]
    assert "'red'" in message and "blue" in message and "green" in message
    status, _, body = harness.call("POST", "/endpoints/main-ep/v2/models/red/infer", {})
    assert status == 404
    assert harness.call("GET", "/endpoints/main-ep/nothing-here")[0] == 404


def test_body_limit(harness: Harness) -> None:
    big = b'{"x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    status, _, body = harness.score("main-ep", None, raw=big)
    assert status == 413
    assert "larger than" in json.loads(body)["error"]
    # without Content-Length (chunked), the limit holds while reading
    conn = http.client.HTTPConnection("127.0.0.1", harness.server.port, timeout=30)
    chunks = (b"a" * 65536 for _ in range(20))
    conn.request("POST", "/endpoints/main-ep/score", body=chunks, encode_chunked=True,
                 headers={"Authorization": f"Bearer {KEYS.primary}"})
    assert conn.getresponse().status == 413
    conn.close()
    assert harness.score("main-ep", {"x": "a" * 1000})[0] == 200


def test_request_timeout_and_admission(harness: Harness) -> None:
    status, headers, body = harness.score("slow-ep", {"sleep": 1.5})
    assert status == 408
    assert "400 ms" in json.loads(body)["error"]
    assert headers["azureml-model-deployment"] == "blue"
    # max_in_flight is 2 x 1 x 1: of several concurrent slow requests some are refused
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda _: harness.score("slow-ep", {"sleep": 0.3})[0],
                                 range(6)))
    assert 429 in statuses
    assert set(statuses) <= {200, 408, 429}


def test_worker_error_is_424_on_azure_protocol(harness: Harness) -> None:
    status, headers, _body = harness.score("main-ep", {"fail": "this row"})
    assert status == 424
    assert headers["ms-azureml-model-error-statuscode"].startswith("5")
    assert "this row" in headers["ms-azureml-model-error-reason"]
    assert harness.score("main-ep", {"x": 1})[0] == 200


def test_crash_restart(harness: Harness) -> None:
    status, _, _ = harness.score("crash-ep", {"crash": True})
    assert status == 503
    _poll(lambda: harness.score("crash-ep", {"x": 1})[0] == 200, "the restarted instance")
    for _ in range(5):
        assert harness.score("crash-ep", {"x": 2})[0] == 200
    restarts = _metric(harness.metrics(), "lakeworks_serving_worker_restarts_total",
                       endpoint="crash-ep", deployment="blue")
    assert restarts >= 1


def test_request_of_a_crashed_instance_is_retried_on_another(harness: Harness) -> None:
    marker = harness.root / "crashed-once"
    status, _, body = harness.score("retry-ep", {"crash_once": str(marker), "x": 7})
    assert (status, json.loads(body)) == (200, {"tag": "blue", "echo": 7})
    assert marker.exists()  # one instance did exit on it
    _poll(lambda: _metric(harness.metrics(), "lakeworks_serving_worker_restarts_total",
                          endpoint="retry-ep") >= 1, "the restart to be counted")
    _poll(lambda: harness.admin("GET", "/-/status")["endpoints"]["retry-ep"]["deployments"][
        "blue"]["instances_ready"] == 2, "both instances ready again")


def test_liveness_probe_restarts_a_hung_instance(harness: Harness) -> None:
    status, _, _ = harness.score("hang-ep", {"sleep": 60})  # run() never returns in time
    assert status == 408

    def restarted() -> bool:
        return _metric(harness.metrics(), "lakeworks_serving_worker_restarts_total",
                       endpoint="hang-ep") >= 1

    _poll(restarted, "the hung instance to be restarted")
    _poll(lambda: harness.score("hang-ep", {"x": 1})[0] == 200, "the restarted instance")
    log = (harness.root / ".lakeworks" / "serving" / "logs" / "hang-ep" / "blue" /
           "inference-server.log").read_text()
    assert "liveness probes" in log


def test_metrics_content(harness: Harness) -> None:
    for _ in range(3):
        harness.score("main-ep", {"x": 1})
    text = harness.metrics()
    assert _metric(text, "lakeworks_serving_requests_total", endpoint="main-ep",
                   deployment="blue", protocol="azure", code="200") >= 3
    assert _metric(text, "lakeworks_serving_request_duration_seconds_count",
                   endpoint="main-ep", deployment="blue") >= 3
    assert "lakeworks_serving_request_duration_seconds_bucket" in text
    assert _metric(text, "lakeworks_serving_model_load_seconds_count", endpoint="main-ep") >= 1
    assert _metric(text, "lakeworks_serving_ready_instances", endpoint="main-ep",
                   deployment="blue") == 1
    assert "lakeworks_serving_in_flight" in text


def test_request_id_and_access_log(harness: Harness) -> None:
    status, headers, _ = harness.score("main-ep", {"x": 1},
                                       headers={"x-request-id": "caller-id-42"})
    assert status == 200
    assert headers["x-request-id"] == headers["x-ms-request-id"] == "caller-id-42"
    _, headers, _ = harness.score("main-ep", {"x": 1})
    generated = headers["x-request-id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    log_path = harness.root / ".lakeworks" / "serving" / "server.log"

    def logged() -> bool:
        if not log_path.exists():
            return False
        return any(json.loads(line)["request_id"] == "caller-id-42"
                   for line in log_path.read_text().splitlines())

    _poll(logged, "the access log line")
    line = next(json.loads(x) for x in log_path.read_text().splitlines()
                if json.loads(x)["request_id"] == "caller-id-42")
    assert line["endpoint"] == "main-ep" and line["deployment"] == "blue"
    assert line["status"] == 200 and line["method"] == "POST"
    assert line["path"] == "/endpoints/main-ep/score"
    assert line["bytes_in"] > 0 and line["bytes_out"] > 0 and line["ms"] > 0
    assert line["ts"].endswith("Z")


def test_health_and_v2_metadata(harness: Harness) -> None:
    assert harness.call("GET", "/", key=None)[2] == b"Healthy"
    assert harness.call("GET", "/endpoints/main-ep/", key=None)[0] == 200
    assert harness.call("GET", "/-/live", key=None)[0] == 200
    assert harness.call("GET", "/endpoints/main-ep/ping", key=None)[0] == 200
    status, _, body = harness.call("GET", "/endpoints/main-ep/v2/health/live", key=None)
    assert (status, json.loads(body)) == (200, {"live": True})
    status, _, body = harness.call("GET", "/endpoints/main-ep/v2/health/ready", key=None)
    assert (status, json.loads(body)) == (200, {"ready": True})
    status, _, body = harness.call("GET", "/endpoints/main-ep/v2/models/green")
    assert status == 200
    metadata = json.loads(body)
    assert metadata["name"] == "green"
    assert {"platform", "inputs", "outputs"} <= set(metadata)
    assert harness.call("GET", "/endpoints/main-ep/v2/models/green", key="bad")[0] == 401
    status, _, body = harness.call("GET", "/endpoints/main-ep/v2/models/main-ep/ready")
    assert (status, json.loads(body)["ready"]) == (200, True)


def test_swagger(harness: Harness) -> None:
    status, headers, body = harness.call("GET", "/endpoints/main-ep/swagger.json")
    assert status == 200
    document = json.loads(body)
    assert document["openapi"].startswith("3.")
    assert "/score" in document["paths"] and "/invocations" in document["paths"]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert headers["azureml-model-deployment"] == "blue"
    assert harness.call("GET", "/endpoints/main-ep/openapi.json")[0] == 200
    assert harness.call("GET", "/endpoints/main-ep/swagger.json", key=None)[0] == 401


def test_failed_deployment_reports_error_and_log(harness: Harness) -> None:
    broken = harness.deployment("main-ep", "broken", script="broken.py")
    harness.state = ServingState(endpoints=harness.state.endpoints,
                                 deployments=(*harness.state.deployments, broken))
    status = harness.reload()
    entry = status["endpoints"]["main-ep"]["deployments"]["broken"]
    assert entry["state"] == "Failed"
    assert "model file is missing" in entry["error"]
    assert "RuntimeError" in entry["log_tail"]  # the worker's traceback, from its log
    status_code, _, body = harness.score("main-ep", {}, headers={"azureml-model-deployment":
                                                                 "broken"})
    assert status_code == 503
    assert "Failed" in json.loads(body)["error"]
    harness.state = ServingState(endpoints=harness.state.endpoints,
                                 deployments=harness.state.deployments[:-1])
    harness.reload()
    assert "broken" not in harness.admin("GET", "/-/status")["endpoints"]["main-ep"][
        "deployments"]


def test_no_failure_while_traffic_changes_and_deployment_updates(harness: Harness) -> None:
    endpoints = tuple(e for e in harness.state.endpoints if e.name != "live-ep")
    base = harness.state.deployments
    blue = harness.deployment("live-ep", "blue")
    green = harness.deployment("live-ep", "green")

    def publish(traffic: dict[str, int], *deployments: DeploymentRuntime) -> None:
        harness.state = ServingState(endpoints=(*endpoints, _endpoint("live-ep", traffic)),
                                     deployments=(*base, *deployments))
        harness.reload()

    publish({"blue": 100}, blue)
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    tags: set[str] = set()

    def client() -> None:
        while not stop.is_set():
            status, headers, body = harness.score("live-ep", {"x": 1})
            results.append((status, headers.get("azureml-model-deployment", "")))
            if status == 200:
                tags.add(json.loads(body)["tag"])

    threads = [threading.Thread(target=client) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        _poll(lambda: len(results) > 20, "the client loop")
        publish({"blue": 100}, blue, green)
        publish({"blue": 90, "green": 10}, blue, green)
        # a new version of blue (its environment changed): replaced without downtime
        blue2 = blue.model_copy(update={"environment_variables": {"TAG": "blue-v2"}})
        publish({"blue": 50, "green": 50}, blue2, green)
        # traffic given in the same change that creates a deployment: while it starts, the
        # others with traffic answer its share
        teal = harness.deployment("live-ep", "teal")
        publish({"blue": 40, "green": 40, "teal": 20}, blue2, green, teal)
        _poll(lambda: "teal" in tags, "teal's share once it is ready")
        publish({"blue": 50, "green": 50}, blue2, green.model_copy(update={"instance_count": 2}))
        count = len(results)
        _poll(lambda: len(results) > count + 20, "more calls")
        publish({"green": 100}, blue2, green.model_copy(update={"instance_count": 2}))
        publish({"green": 100}, green)
        count = len(results)
        _poll(lambda: len(results) > count + 20, "more calls")
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    failures = [r for r in results if r[0] != 200]
    assert not failures, f"{len(failures)} of {len(results)} requests failed: {failures[:5]}"
    assert {"blue", "green"} <= {d for _, d in results}
    assert tags == {"blue", "blue-v2", "green", "teal"}  # the new blue served after the swap
    status = harness.admin("GET", "/-/status")["endpoints"]["live-ep"]["deployments"]
    assert set(status) == {"green"}
    assert status["green"]["instances_ready"] == 1


def test_onnx_deployment_protocols(harness: Harness) -> None:
    row = [0.1, -1.2, 0.3, 2.0]
    status, _headers, body = harness.score("onnx-ep", {"input_data": [row, row]})
    assert status == 200, body
    predictions = json.loads(body)
    assert len(predictions) == 2 and predictions[0] in (0, 1)
    status, _, body = harness.call("POST", "/endpoints/onnx-ep/invocations", {"inputs": [row]})
    assert status == 200, body
    assert len(json.loads(body)["predictions"]) == 1
    status, _, body = harness.call("POST", "/endpoints/onnx-ep/invocations", {"nothing": 1})
    assert status == 400
    assert json.loads(body)["error_code"] == "BAD_REQUEST"
    status, _, body = harness.score("onnx-ep", {"input_data": [[1, 2]]})
    assert 400 <= status < 500  # a client's mistake answered by the worker, not a 424
    status, _, body = harness.call("GET", "/endpoints/onnx-ep/v2/models/clf")
    metadata = json.loads(body)
    assert (status, metadata["platform"], metadata["versions"]) == (200, "onnxruntime", ["3"])
    tensor = metadata["inputs"][0]
    request = {"inputs": [{"name": tensor["name"], "shape": [1, 4], "datatype": "FP32",
                           "data": row}]}
    for model in ("clf", "onnx-ep"):
        status, _, body = harness.call("POST", f"/endpoints/onnx-ep/v2/models/{model}/infer",
                                       request)
        assert status == 200, body
        assert json.loads(body)["outputs"]
    status, _, body = harness.call("GET", "/endpoints/onnx-ep/swagger.json")
    document = json.loads(body)
    infer = document["paths"]["/v2/models/clf/infer"]["post"]
    names = infer["requestBody"]["content"]["application/json"]["schema"]["properties"][
        "inputs"]["items"]["properties"]["name"]["enum"]
    assert tensor["name"] in names
    score = document["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]
    array_form = score["schema"]["properties"]["input_data"]["oneOf"][1]
    assert array_form["items"]["minItems"] == array_form["items"]["maxItems"] == 4
    text = harness.metrics()
    assert _metric(text, "lakeworks_serving_batch_rows_count", endpoint="onnx-ep") >= 1
    assert _metric(text, "lakeworks_serving_requests_total", endpoint="onnx-ep",
                   protocol="v2", code="200") >= 2


def test_command_line_serves_a_workspace_and_stops_on_sigterm(tmp_path: Path) -> None:
    from lakeworks.services.workspace import create_workspace

    ws = create_workspace(tmp_path / "ws")
    ws.close()
    info_path = ws.path / ".lakeworks" / "serving" / "server.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "lakeworks.serving", "--workspace", str(ws.path), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _poll(lambda: info_path.exists() or process.poll() is not None, "server.json", 60)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        info = json.loads(info_path.read_text())
        assert info["pid"] == process.pid and info["port"] > 0
        conn = http.client.HTTPConnection("127.0.0.1", info["port"], timeout=10)
        conn.request("GET", "/-/status", headers={"Authorization": f"Bearer {info['admin_token']}"})
        response = conn.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["endpoints"] == {}
        conn.close()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert not info_path.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_openapi_from_an_mlflow_signature() -> None:
    columns = [{"type": "double", "name": "age", "required": True},
               {"type": "long", "name": "visits", "required": True},
               {"type": "string", "name": "city", "required": True}]
    info = {"name": "credit", "version": "2", "platform": "mlflow", "inputs": [],
            "outputs": [], "columns": ["age", "visits", "city"],
            "signature": {"inputs": json.dumps(columns),
                          "outputs": json.dumps([{"type": "long", "required": True}])}}
    document = build_document("credit-ep", "blue", "mlflow", info)
    assert document["info"]["version"] == "2"
    invocations = document["paths"]["/invocations"]["post"]["requestBody"]["content"]
    records = invocations["application/json"]["schema"]["oneOf"][1]["properties"][
        "dataframe_records"]["items"]["properties"]
    assert records == {"age": {"type": "number", "format": "double"},
                       "visits": {"type": "integer", "format": "int64"},
                       "city": {"type": "string"}}
    assert "text/csv" in invocations
    split = document["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]["input_data"]["oneOf"][0]
    assert split["properties"]["columns"]["items"]["enum"] == ["age", "visits", "city"]
    answer = document["paths"]["/score"]["post"]["responses"]["200"]["content"][
        "application/json"]["schema"]
    assert answer == {"type": "array", "items": {"type": "integer", "format": "int64"}}
    assert document["security"] == [{"bearerAuth": []}]
