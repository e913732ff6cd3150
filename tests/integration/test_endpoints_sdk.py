"""Online endpoints through the SDK, against the workspace's real serving process.

One workspace per module; its serving process is started by the first endpoint created (as
users see it) and stopped at teardown. Models are a small scikit-learn classifier converted to
ONNX in a fixture, and scoring scripts written into the test's folder.
"""

from __future__ import annotations

import json
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lakeworks import MLClient, load_online_deployment, load_online_endpoint
from lakeworks.entities import (
    CodeConfiguration,
    EndpointAuthKeys,
    EndpointAuthToken,
    ManagedOnlineDeployment,
    ManagedOnlineEndpoint,
    Model,
    OnlineRequestSettings,
)
from lakeworks.errors import BackendError, InvalidInputError, NotFoundError, StateError
from lakeworks.services import serving_process
from lakeworks.services.endpoints import register_collected_tables, serving_state
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes

SCORE = '''
import json, os, sys

def init():
    global MODEL_FILES
    MODEL_FILES = sorted(os.listdir(os.environ["AZUREML_MODEL_DIR"]))

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("python"):
        return {"python": sys.executable}
    return {"files": MODEL_FILES, "rows": len(data["input_data"]), "tag": os.environ["TAG"]}
'''

BROKEN = '''
def init():
    raise RuntimeError("cannot load the model: weights.bin is missing")

def run(raw_data):
    return None
'''


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    workspace = create_workspace(tmp_path_factory.mktemp("endpoints") / "ws")
    try:
        yield workspace
    finally:
        serving_process.stop_server(workspace)
        stop_workspace_processes(workspace)
        workspace.close()


@pytest.fixture(scope="module")
def ml_client(ws: Workspace) -> MLClient:
    return MLClient(workspace=ws.path)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, np.ndarray]:
    """A logistic regression on 4 features, as model.onnx, with the sklearn model and rows."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64)
    model = LogisticRegression().fit(x, y)
    onnx = convert_sklearn(model, initial_types=[("input", FloatTensorType([None, 4]))],
                           options={id(model): {"zipmap": False}}, target_opset=17)
    folder = tmp_path_factory.mktemp("model") / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx.SerializeToString())
    return folder, model, x[:5]


@pytest.fixture(scope="module")
def code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("code") / "onlinescoring"
    folder.mkdir()
    (folder / "score.py").write_text(textwrap.dedent(SCORE))
    (folder / "broken.py").write_text(textwrap.dedent(BROKEN))
    return folder


@pytest.fixture(scope="module")
def credit(ml_client: MLClient, classifier: tuple[Path, Any, np.ndarray]) -> str:
    """Endpoint ``credit-ep`` with ONNX deployment ``blue`` taking all traffic."""
    folder, _, _ = classifier
    ml_client.models.create_or_update(Model(name="credit-model", path=folder,
                                            type="custom_model"))
    endpoint = ManagedOnlineEndpoint(name="credit-ep", description="credit scoring")
    created = ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    assert created.provisioning_state == "Succeeded"
    blue = ManagedOnlineDeployment(name="blue", endpoint_name="credit-ep",
                                   model="azureml:credit-model@latest", instance_count=1,
                                   instance_type="Standard_DS3_v2")
    done = ml_client.online_deployments.begin_create_or_update(blue).result()
    assert done.provisioning_state == "Succeeded"
    endpoint = ml_client.online_endpoints.get("credit-ep")
    endpoint.traffic = {"blue": 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    return "credit-ep"


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _post(url: str, key: str, body: Any) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_onnx_deployment_answers_with_the_models_predictions(
        ml_client: MLClient, credit: str, classifier: tuple[Path, Any, np.ndarray],
        tmp_path: Path) -> None:
    _, model, rows = classifier
    request = _write(tmp_path / "request.json", {"input_data": rows.tolist()})
    answer = ml_client.online_endpoints.invoke(endpoint_name=credit, request_file=request)
    assert isinstance(answer, str)
    assert json.loads(answer) == model.predict(rows).tolist()
    endpoint = ml_client.online_endpoints.get(credit)
    assert endpoint.traffic == {"blue": 100}
    assert endpoint.scoring_uri and endpoint.scoring_uri.endswith("/endpoints/credit-ep/score")
    assert endpoint.openapi_uri and endpoint.openapi_uri.endswith("/swagger.json")
    blue = ml_client.online_deployments.get("blue", credit)
    assert blue.model == "azureml:credit-model:1"  # pinned like Azure
    assert blue.provisioning_state == "Succeeded"
    assert [d.name for d in ml_client.online_deployments.list(credit)] == ["blue"]


def test_keys_regenerate_and_the_old_key_is_refused(ml_client: MLClient, credit: str,
                                                    classifier: tuple[Path, Any, np.ndarray]
                                                    ) -> None:
    rows = classifier[2].tolist()
    keys = ml_client.online_endpoints.get_keys(credit)
    assert isinstance(keys, EndpointAuthKeys) and keys.primary_key != keys.secondary_key
    uri = ml_client.online_endpoints.get(credit).scoring_uri
    assert uri is not None
    assert _post(uri, keys.primary_key or "", {"input_data": rows})[0] == 200
    assert _post(uri, "wrong-key", {"input_data": rows})[0] == 401
    ml_client.online_endpoints.begin_regenerate_keys(credit, key_type="primary").result()
    fresh = ml_client.online_endpoints.get_keys(credit)
    assert isinstance(fresh, EndpointAuthKeys)
    assert fresh.primary_key != keys.primary_key and fresh.secondary_key == keys.secondary_key
    assert _post(uri, keys.primary_key or "", {"input_data": rows})[0] == 401
    assert _post(uri, fresh.secondary_key or "", {"input_data": rows})[0] == 200
    assert json.loads(ml_client.online_endpoints.invoke(credit, input_data={"input_data": rows}))
    # keys are kept encrypted in the metadata
    record = ml_client.online_endpoints._service().get_endpoint(credit)
    assert fresh.primary_key and fresh.primary_key not in json.dumps(record.sealed_keys)


def test_traffic_must_add_up_and_name_existing_deployments(ml_client: MLClient,
                                                           credit: str) -> None:
    endpoint = ml_client.online_endpoints.get(credit)
    endpoint.traffic = {"blue": 90, "green": 10}
    with pytest.raises(InvalidInputError, match="deployment 'green' does not exist"):
        ml_client.online_endpoints.begin_create_or_update(endpoint)
    endpoint.traffic = {"blue": 50}
    with pytest.raises(InvalidInputError, match="add up to 100"):
        ml_client.online_endpoints.begin_create_or_update(endpoint)
    assert ml_client.online_endpoints.get(credit).traffic == {"blue": 100}  # unchanged


def test_client_mistakes_are_4xx_errors_with_status_and_body(ml_client: MLClient,
                                                              credit: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        ml_client.online_endpoints.invoke(credit, input_data="{not json")
    assert 400 <= info.value.status < 500  # type: ignore[attr-defined]
    assert info.value.body  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError, match="deployment 'purple' does not exist"):
        ml_client.online_endpoints.invoke(credit, input_data={"input_data": [[0, 0, 0, 0]]},
                                          deployment_name="purple")
    with pytest.raises(NotFoundError, match="online endpoint 'nowhere' does not exist"):
        ml_client.online_endpoints.invoke("nowhere", input_data={"input_data": []})


def test_script_deployment_from_yaml_routing_logs_and_delete_refusal(
        ml_client: MLClient, credit: str, classifier: tuple[Path, Any, np.ndarray],
        code: Path, tmp_path: Path) -> None:
    folder = classifier[0]
    yml = tmp_path / "green.yml"
    yml.write_text(textwrap.dedent(f"""\
        $schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json
        name: green
        endpoint_name: {credit}
        model:
          path: {folder}
        code_configuration:
          code: {code}
          scoring_script: score.py
        environment_variables:
          TAG: green-tag
        instance_type: Standard_DS3_v2
        instance_count: 1
        request_settings:
          request_timeout_ms: 3000
        """))
    green = load_online_deployment(yml)
    assert green.code_configuration == CodeConfiguration(code=str(code), scoring_script="score.py")
    assert green.request_settings == OnlineRequestSettings(request_timeout_ms=3000)
    ml_client.online_deployments.begin_create_or_update(green).result()
    answer = json.loads(ml_client.online_endpoints.invoke(
        credit, input_data={"input_data": [[1, 2, 3, 4], [5, 6, 7, 8]]}, deployment_name="green"))
    assert answer == {"files": ["model"], "rows": 2, "tag": "green-tag"}

    init_log = ml_client.online_deployments.get_logs("green", credit, 50,
                                                     container_type="storage-initializer")
    assert "code: snapshotted" in init_log and "kind script" in init_log
    assert len(ml_client.online_deployments.get_logs("green", credit, 2,
                                                     container_type="storage-initializer")
               .splitlines()) == 2
    assert ml_client.online_deployments.get_logs("green", credit, 100).strip()
    with pytest.raises(InvalidInputError, match="container type 'sidecar'"):
        ml_client.online_deployments.get_logs("green", credit, 10, container_type="sidecar")

    with pytest.raises(StateError, match="move its traffic to other deployments first"):
        ml_client.online_deployments.begin_delete("blue", credit)
    endpoint = ml_client.online_endpoints.get(credit)
    endpoint.traffic = {"blue": 0, "green": 100}
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    via_split = json.loads(ml_client.online_endpoints.invoke(
        credit, input_data={"input_data": [[1, 2, 3, 4]]}))
    assert via_split["tag"] == "green-tag"
    ml_client.online_deployments.begin_delete("blue", credit).result()
    assert [d.name for d in ml_client.online_deployments.list(credit)] == ["green"]
    assert ml_client.online_endpoints.get(credit).traffic == {"green": 100}


def test_a_failing_init_fails_the_deployment_with_its_error(ml_client: MLClient, code: Path,
                                                            classifier: tuple[Path, Any,
                                                                              np.ndarray]
                                                            ) -> None:
    ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="broken-ep")).result()
    broken = ManagedOnlineDeployment(
        name="bad", endpoint_name="broken-ep", model=Model(path=classifier[0]),
        code_configuration=CodeConfiguration(code=code, scoring_script="broken.py"))
    with pytest.raises(BackendError, match=r"weights\.bin is missing"):
        ml_client.online_deployments.begin_create_or_update(broken)
    assert ml_client.online_deployments.get("bad", "broken-ep").provisioning_state == "Failed"
    missing = ManagedOnlineDeployment(name="nomodel", endpoint_name="broken-ep",
                                      model="azureml:no-such-model:3")
    with pytest.raises(NotFoundError, match="no-such-model"):
        ml_client.online_deployments.begin_create_or_update(missing)
    ml_client.online_endpoints.begin_delete("broken-ep").result()
    assert "broken-ep" not in [e.name for e in ml_client.online_endpoints.list()]


def test_token_auth_endpoint_from_yaml(ml_client: MLClient, credit: str, tmp_path: Path,
                                       classifier: tuple[Path, Any, np.ndarray]) -> None:
    yml = tmp_path / "endpoint.yml"
    yml.write_text("$schema: https://azuremlschemas.azureedge.net/latest/"
                   "managedOnlineEndpoint.schema.json\nname: token-ep\nauth_mode: aml_token\n")
    endpoint = load_online_endpoint(yml)
    ml_client.online_endpoints.begin_create_or_update(endpoint).result()
    ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
        name="only", endpoint_name="token-ep", model="credit-model:1"), all_traffic=True).result()
    token = ml_client.online_endpoints.get_keys("token-ep")
    assert isinstance(token, EndpointAuthToken) and token.access_token
    assert token.expiry_time_utc and token.refresh_after_time_utc
    assert token.refresh_after_time_utc < token.expiry_time_utc
    answer = ml_client.online_endpoints.invoke(
        "token-ep", input_data={"input_data": classifier[2].tolist()})
    assert json.loads(answer) == classifier[1].predict(classifier[2]).tolist()
    with pytest.raises(InvalidInputError, match="only for auth_mode 'key'"):
        ml_client.online_endpoints.begin_regenerate_keys("token-ep")
    uri = ml_client.online_endpoints.get("token-ep").scoring_uri
    assert uri is not None
    assert _post(uri, token.access_token or "", {"input_data": classifier[2].tolist()})[0] == 200
    ml_client.online_endpoints.begin_delete("token-ep").result()
    assert _post(uri, token.access_token or "", {"input_data": []})[0] == 404  # not served


def test_collected_inputs_become_a_lake_table(ml_client: MLClient, ws: Workspace,
                                              classifier: tuple[Path, Any, np.ndarray]) -> None:
    from lakeworks.entities import DataCollector, DeploymentCollection

    ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="collect-ep")).result()
    ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
        name="watched", endpoint_name="collect-ep", model="credit-model:1",
        data_collector=DataCollector(collections={
            "model_inputs": DeploymentCollection(enabled="True"),
            "model_outputs": DeploymentCollection(enabled="False")})),
        all_traffic=True).result()
    runtime = next(d for d in serving_state(ws).deployments if d.endpoint == "collect-ep")
    assert runtime.collections == ("model_inputs",)
    assert runtime.collection_root and runtime.collection_root.endswith(
        "modelDataCollector/collect-ep/watched")
    rows = classifier[2].tolist()
    for _ in range(3):
        ml_client.online_endpoints.invoke("collect-ep", input_data={"input_data": rows})
    delta_log = Path(runtime.collection_root) / "model_inputs" / "_delta_log"
    deadline = time.monotonic() + 30
    while not delta_log.is_dir():
        assert time.monotonic() < deadline, "no collected data was written"
        time.sleep(0.2)
    assert register_collected_tables(ws) == ["default.collect_ep_watched_model_inputs"]
    deadline = time.monotonic() + 30
    while True:  # rows are flushed off the request path, about once a second
        count = ml_client.sql("SELECT count(*) AS n FROM collect_ep_watched_model_inputs")
        if count.column("n")[0].as_py() >= 3 * len(rows) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert count.column("n")[0].as_py() == 3 * len(rows)
    ml_client.online_endpoints.begin_delete("collect-ep").result()


def test_yaml_paths_are_read_relative_to_the_file_and_errors_name_the_line(
        tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "src").mkdir()
    yml = tmp_path / "blue.yml"
    yml.write_text("name: blue\nendpoint_name: credit-ep\nmodel:\n  path: ./model\n"
                   "code_configuration:\n  code: ./src\n  scoring_script: score.py\n"
                   "environment: azureml:plain:1\n")
    blue = load_online_deployment(yml)
    assert isinstance(blue.model, Model) and blue.model.path == str(tmp_path / "model")
    assert blue.code_path == str(tmp_path / "src") and blue.scoring_script == "score.py"
    yml.write_text("name: blue\nendpoint_name: credit-ep\nmodel: azureml:m:1\n"
                   "request_settings:\n  request_timeout_ms: 999999\n")
    with pytest.raises(InvalidInputError) as info:
        load_online_deployment(yml)
    assert info.value.line == 5 and info.value.field == "request_settings.request_timeout_ms"
    yml.write_text("name: blue\nendpoint_name: credit-ep\nmodel: azureml:m:1\ninstances: 2\n")
    with pytest.raises(InvalidInputError, match="instances"):
        load_online_deployment(yml)


def test_a_script_runs_in_the_environment_it_names(ml_client: MLClient, code: Path,
                                                   tmp_path: Path) -> None:
    from lakeworks.entities import Environment

    conda = tmp_path / "conda.yml"
    conda.write_text("name: plain\ndependencies:\n  - python=3.11\n  - pip\n  - pip: []\n")
    ml_client.environments.create_or_update(Environment(name="plain-serving",
                                                        conda_file=conda))
    ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="env-ep")).result()
    deployed = ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
        name="scripted", endpoint_name="env-ep", environment="azureml:plain-serving@latest",
        code_configuration=CodeConfiguration(code=code, scoring_script="score.py"),
        model="credit-model:1", environment_variables={"TAG": "env"}), all_traffic=True).result()
    assert deployed.environment == "azureml:plain-serving:1"
    answer = json.loads(ml_client.online_endpoints.invoke(
        "env-ep", input_data={"python": True}))
    assert answer["python"] != sys.executable
    assert "/envs/" in answer["python"]
    ml_client.online_endpoints.begin_delete("env-ep").result()


def test_state_survives_a_server_restart(ml_client: MLClient, ws: Workspace, credit: str) -> None:
    before = serving_process.find_server(ws)
    assert before is not None
    assert serving_process.stop_server(ws)
    assert serving_process.find_server(ws) is None
    state = serving_state(ws)
    assert credit in [e.name for e in state.endpoints]
    # invoking finds no server and starts one; every endpoint is served again
    answer = json.loads(ml_client.online_endpoints.invoke(
        credit, input_data={"input_data": [[0.5, 0.5, 0.5, 0.5]]}))
    assert answer["tag"] == "green-tag"
    after = serving_process.find_server(ws)
    assert after is not None and after.pid != before.pid


def test_every_client_mistake_is_a_4xx_naming_it_and_the_server_keeps_serving(
        ml_client: MLClient, credit: str) -> None:
    import socket
    from urllib.parse import urlsplit

    # an endpoint of its own: other tests move credit-ep's traffic to scoring scripts
    ml_client.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name="mistakes-ep")).result()
    ml_client.online_deployments.begin_create_or_update(ManagedOnlineDeployment(
        name="blue", endpoint_name="mistakes-ep", model="azureml:credit-model@latest"),
        all_traffic=True).result()
    endpoint = ml_client.online_endpoints.get("mistakes-ep")
    uri = str(endpoint.scoring_uri)
    key = ml_client.online_endpoints.get_keys("mistakes-ep").primary_key
    good = {"input_data": [[0.5, 0.5, 0.1, 0.2]]}

    def raw(body: bytes, *, extra: str = "") -> tuple[int, str]:
        parts = urlsplit(uri)
        with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
            head = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                    f"{extra or f'Content-Length: {len(body)}'}\r\nConnection: close\r\n\r\n")
            sock.sendall(head.encode() + body)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1])
        return status, answer.split(b"\r\n\r\n", 1)[1].decode(errors="replace")

    mistakes: list[tuple[str, tuple[int, str], int, str]] = [
        ("malformed JSON", raw(b'{"input_data": [[1, 2'), 400, "JSON"),
        ("no input_data", _post(uri, key, {"data": [[1, 2, 3, 4]]}), 400, "input_data"),
        ("wrong row width", _post(uri, key, {"input_data": [[1, 2, 3]]}), 400, "4"),
        ("wrong type", _post(uri, key, {"input_data": [[1, "abc", 3, 4]]}), 400, "abc"),
        ("empty batch", _post(uri, key, {"input_data": []}), 400, "row"),
        ("huge body", raw(b"", extra="Content-Length: 2000000000"), 413, "MB"),
        ("unknown endpoint", _post(uri.replace("mistakes-ep", "nowhere"), key, good), 404,
         "nowhere"),
    ]
    for what, (status, body), expected, named in mistakes:
        assert status == expected, (what, status, body)
        assert named in body, (what, body)
        assert _post(uri, key, good)[0] == 200, f"the server stopped serving after {what}"
    request = urllib.request.Request(uri, data=json.dumps(good).encode(), method="POST", headers={
        "Authorization": f"Bearer {key}", "Content-Type": "application/json",
        "azureml-model-deployment": "purple"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 404
    assert "purple" in info.value.read().decode()
