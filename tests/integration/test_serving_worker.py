"""Worker processes of online deployments, spoken to over a real socket pair.

Each test starts ``python -m lakeworks.serving.worker`` as the serving front does, with a
``DeploymentRuntime`` file: an ONNX classifier trained here (scikit-learn + skl2onnx), MLflow
model folders (one with a column signature, one fitted on a bare array as the production
tutorial's model is), and a scoring script. Expected answers come from scikit-learn.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from lakeworks.core.endpoints import BatchingSettings, DeploymentRuntime
from lakeworks.serving import wire

pytestmark = pytest.mark.automl  # trains models; needs onnxruntime and skl2onnx

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

FEATURES = 20
JSON = "application/json"
COLUMNS = ["temp", "hum", "season"]


@dataclass
class Models:
    folder: Path
    onnx: Path
    classifier: Any  # the sklearn model behind the ONNX graph
    rows: np.ndarray  # [n, 20] test rows
    mlflow_columns: Path
    columns_frame: Any  # pandas rows for the column model
    columns_expected: np.ndarray
    mlflow_array: Path
    array_rows: np.ndarray  # [n, 23]
    array_expected: np.ndarray
    script: Path


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    import mlflow.sklearn
    import pandas as pd
    from mlflow.models import infer_signature
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, Ridge

    folder = tmp_path_factory.mktemp("models")
    x, y = make_classification(n_samples=400, n_features=FEATURES, n_informative=8,
                               random_state=0)
    x = x.astype(np.float32)
    classifier = GradientBoostingClassifier(n_estimators=15, max_depth=2, random_state=0)
    classifier.fit(x, y)
    onx = skl2onnx.to_onnx(classifier, initial_types=[("input", FloatTensorType([None, FEATURES]))],
                           options={id(classifier): {"zipmap": False}},
                           target_opset={"": 17, "ai.onnx.ml": 3})
    onnx_path = folder / "model.onnx"
    onnx_path.write_bytes(onx.SerializeToString())

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"temp": rng.random(60), "hum": rng.random(60),
                          "season": rng.integers(1, 5, 60).astype(np.int64)})
    target = 3 * frame["temp"] - frame["hum"] + 0.1 * frame["season"]
    ridge = Ridge().fit(frame, target)
    fmt = mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE
    columns_path = folder / "ridge"
    with warnings.catch_warnings():  # the hint about integer columns
        warnings.simplefilter("ignore", UserWarning)
        signature = infer_signature(frame, ridge.predict(frame))
    mlflow.sklearn.save_model(ridge, str(columns_path), serialization_format=fmt,
                              signature=signature)

    credit_x = rng.random((80, 23))
    credit_y = (credit_x[:, 0] + credit_x[:, 5] > 1).astype(np.int64)
    credit = LogisticRegression().fit(credit_x, credit_y)  # fitted on .values: no names
    array_path = folder / "credit" / "trained_model"
    mlflow.sklearn.save_model(credit, str(array_path), serialization_format=fmt)

    code = folder / "code"
    code.mkdir()
    (code / "helper.py").write_text("PREFIX = 'scored'\n")
    (code / "score.py").write_text(
        "import json, os\n"
        "from helper import PREFIX\n"
        "model_dir = None\n"
        "def init():\n"
        "    global model_dir\n"
        "    model_dir = os.environ['AZUREML_MODEL_DIR']\n"
        "    if os.environ.get('FAIL_INIT'):\n"
        "        raise RuntimeError('init could not find the weights')\n"
        "def run(raw_data):\n"
        "    data = json.loads(raw_data)\n"
        "    if data.get('boom'):\n"
        "        raise ValueError('boom asked for')\n"
        "    return {'model_dir': model_dir, 'prefix': PREFIX, 'echo': data}\n")
    return Models(folder, onnx_path, classifier, x[:64], columns_path, frame,
                  ridge.predict(frame), array_path, credit_x, credit.predict(credit_x),
                  code)


class WorkerProcess:
    """One worker process and the front's end of its socket pair."""

    def __init__(self, runtime: DeploymentRuntime, folder: Path,
                 env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        runtime_file = folder / f"{runtime.name}-runtime.json"
        runtime_file.write_text(runtime.model_dump_json())
        self.log_path = folder / f"{runtime.name}.log"
        self.sock, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        environment = {**os.environ, **(env or {})}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "lakeworks.serving.worker", "--fd", str(child.fileno()),
                 "--runtime", str(runtime_file)], pass_fds=(child.fileno(),),
                stdout=log, stderr=subprocess.STDOUT, env=environment)
        child.close()
        self.reader = wire.FrameReader()
        self.number = 0
        self.received: dict[int, wire.Response] = {}
        self.order: list[int] = []

    def frame(self, body: bytes | dict[str, Any] | list[Any], *,
              protocol: wire.Protocol = wire.Protocol.AZURE, content_type: str = JSON,
              request_id: str = "", kind: wire.Kind = wire.Kind.SCORE) -> tuple[int, bytes]:
        self.number += 1
        raw = body if isinstance(body, bytes) else orjson.dumps(body)
        return self.number, wire.encode_request(self.number, kind, protocol, content_type,
                                                request_id or f"req-{self.number}", raw)

    def send(self, *frames: tuple[int, bytes]) -> list[int]:
        """Send frames in one write (the worker finds them queued together)."""
        self.sock.sendall(b"".join(f for _, f in frames))
        return [n for n, _ in frames]

    def ask(self, body: bytes | dict[str, Any] | list[Any], **options: Any) -> wire.Response:
        (number,) = self.send(self.frame(body, **options))
        return self.wait([number])[number]

    def wait(self, numbers: list[int], timeout: float = 30.0) -> dict[int, wire.Response]:
        deadline = time.monotonic() + timeout
        while not all(n in self.received for n in numbers):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no answer to {numbers} within {timeout} s; log:\n"
                                     + self.log_path.read_text())
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            if not data:
                raise AssertionError("the worker closed the socket; log:\n"
                                     + self.log_path.read_text())
            for frame in self.reader.feed(data):
                response = wire.decode_response(frame)
                self.received[response.number] = response
                self.order.append(response.number)
        return {n: self.received[n] for n in numbers}

    def lifecycle(self, timeout: float = 60.0) -> wire.Response:
        return self.wait([wire.READY_NUMBER], timeout)[wire.READY_NUMBER]

    def stop(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            _, frame = self.frame(b"", kind=wire.Kind.STOP, protocol=wire.Protocol.NONE)
            try:
                self.sock.sendall(frame)
            except OSError:
                pass
        try:
            return self.process.wait(timeout)
        finally:
            self.sock.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.sock.close()


def runtime(folder: Path, name: str, kind: str, **fields: Any) -> DeploymentRuntime:
    return DeploymentRuntime(endpoint="credit-ep", name=name, kind=kind, python=sys.executable,
                             log_dir=str(folder), model_name=f"{name}-model", model_version="3",
                             **fields)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    started: list[WorkerProcess] = []

    def launch(deployment: DeploymentRuntime, env: dict[str, str] | None = None,
               ready: bool = True) -> WorkerProcess:
        worker = WorkerProcess(deployment, tmp_path / "workers", env)
        started.append(worker)
        if ready:
            answer = worker.lifecycle()
            assert answer.status == 200, answer.body.decode()
        return worker

    yield launch
    for worker in started:
        worker.kill()


def split(rows: np.ndarray, columns: list[Any] | None = None) -> dict[str, Any]:
    cols = columns if columns is not None else list(range(rows.shape[1]))
    return {"input_data": {"columns": cols, "index": list(range(len(rows))),
                           "data": rows.tolist()}}


# -- ONNX ---------------------------------------------------------------------------------------


def test_onnx_worker_reports_its_model_and_scores_every_protocol(models: Models, start: Any,
                                                                 tmp_path: Path) -> None:
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx)), ready=False)
    ready = worker.lifecycle()
    info = orjson.loads(ready.body)
    assert ready.status == 200 and info["platform"] == "onnxruntime"
    assert info["name"] == "blue-model" and info["version"] == "3"
    assert info["inputs"] == [{"name": "input", "datatype": "FP32", "shape": [-1, FEATURES]}]
    assert [o["name"] for o in info["outputs"]] == ["label", "probabilities"]
    assert info["outputs"][0]["datatype"] == "INT64"

    rows = models.rows[:2]
    expected = models.classifier.predict(rows).tolist()
    azure = worker.ask(split(rows))
    assert azure.status == 200 and orjson.loads(azure.body) == expected
    mlflow = worker.ask({"dataframe_split": {"columns": [str(i) for i in range(FEATURES)],
                                             "data": rows.tolist()}},
                        protocol=wire.Protocol.MLFLOW)
    assert orjson.loads(mlflow.body) == {"predictions": expected}
    v2 = orjson.loads(worker.ask({"id": "x-1", "inputs": [{
        "name": "input", "shape": [2, FEATURES], "datatype": "FP32",
        "data": rows.ravel().tolist()}]}, protocol=wire.Protocol.V2).body)
    assert v2["id"] == "x-1" and v2["model_name"] == "blue-model"
    label, probabilities = v2["outputs"]
    assert label["data"] == expected and probabilities["shape"] == [2, 2]
    np.testing.assert_allclose(np.asarray(probabilities["data"]).reshape(2, 2),
                               models.classifier.predict_proba(rows), atol=1e-5)
    ping = worker.ask(b"", kind=wire.Kind.PING, protocol=wire.Protocol.NONE)
    assert ping.status == 200


def test_onnx_client_mistakes_are_4xx_with_reasons(models: Models, start: Any,
                                                   tmp_path: Path) -> None:
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx)))
    narrow = worker.ask({"input_data": [[1.0, 2.0]]})
    assert narrow.status == 400 and "takes 20" in orjson.loads(narrow.body)["error"]
    broken = worker.ask(b'{"input_data": [[1.0,')
    assert broken.status == 400 and "not valid JSON" in orjson.loads(broken.body)["error"]
    xml = worker.ask(b"<rows/>", protocol=wire.Protocol.MLFLOW, content_type="application/xml")
    assert xml.status == 415 and "text/csv" in orjson.loads(xml.body)["message"]
    empty = worker.ask({"input_data": []})
    assert empty.status == 400 and "0 rows" in orjson.loads(empty.body)["error"]
    worker.ask(b"", kind=wire.Kind.PING, protocol=wire.Protocol.NONE)  # still serving


def test_queued_requests_share_one_model_call_and_answer_in_order(models: Models, start: Any,
                                                                  tmp_path: Path) -> None:
    batching = BatchingSettings(enabled=True, max_batch_size=64, max_wait_ms=200)
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx),
                           batching=batching))
    frames = []
    for i in range(24):
        if i == 7:
            frames.append(worker.frame(b'{"input_data": [[1, 2'))  # a bad frame among good ones
        elif i == 11:
            frames.append(worker.frame({"dataframe_split": {"data": [models.rows[i].tolist()]}},
                                       protocol=wire.Protocol.MLFLOW))
        else:
            frames.append(worker.frame(split(models.rows[i:i + 1])))
    numbers = worker.send(*frames)
    answers = worker.wait(numbers)
    expected = models.classifier.predict(models.rows[:24]).tolist()
    for i, number in enumerate(numbers):
        answer = answers[number]
        if i == 7:
            assert answer.status == 400 and "not valid JSON" in answer.body.decode()
            continue
        assert answer.status == 200, answer.body
        value = orjson.loads(answer.body)
        got = value["predictions"] if i == 11 else value
        assert got == [expected[i]], i
    assert max(answers[n].rows for n in numbers) > 1  # one model call served several requests
    good = [n for i, n in enumerate(numbers) if i != 7]
    assert [n for n in worker.order if n in good] == good  # answered in order


def test_batches_stop_at_max_batch_size_rows(models: Models, start: Any, tmp_path: Path) -> None:
    batching = BatchingSettings(enabled=True, max_batch_size=8, max_wait_ms=200)
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx),
                           batching=batching))
    numbers = worker.send(*(worker.frame(split(models.rows[i:i + 3])) for i in range(0, 30, 3)))
    answers = worker.wait(numbers)
    rows = [answers[n].rows for n in numbers]
    assert max(rows) <= 8 and max(rows) >= 6  # up to two 3-row requests per call
    expected = models.classifier.predict(models.rows[:30]).tolist()
    got = [v for n in numbers for v in orjson.loads(answers[n].body)]
    assert got == expected
    big = worker.ask(split(models.rows[:20]))  # larger than a batch: scored alone, whole
    assert big.status == 200 and big.rows == 20 and len(orjson.loads(big.body)) == 20


def test_stop_finishes_queued_requests_then_exits(models: Models, start: Any,
                                                  tmp_path: Path) -> None:
    batching = BatchingSettings(enabled=False)
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx),
                           batching=batching))
    numbers = worker.send(*(worker.frame(split(models.rows[i:i + 1])) for i in range(5)),
                          worker.frame(b"", kind=wire.Kind.STOP, protocol=wire.Protocol.NONE))
    answers = worker.wait(numbers[:5])
    assert all(a.status == 200 and a.rows == 1 for a in answers.values())
    assert worker.process.wait(30) == 0


def test_a_broken_model_reports_failed_and_exits(models: Models, start: Any,
                                                 tmp_path: Path) -> None:
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx graph")
    worker = start(runtime(tmp_path, "broken", "onnx", onnx_path=str(broken)), ready=False)
    failed = worker.lifecycle()
    assert failed.status == 500 and "ONNX Runtime cannot load" in failed.body.decode()
    assert str(broken) in failed.body.decode()
    assert worker.process.wait(30) == 1


# -- MLflow -------------------------------------------------------------------------------------


def test_mlflow_model_with_a_column_signature(models: Models, start: Any, tmp_path: Path) -> None:
    worker = start(runtime(tmp_path, "green", "mlflow", model_path=str(models.mlflow_columns)))
    info = orjson.loads(worker.received[wire.READY_NUMBER].body)
    assert info["platform"] == "mlflow" and info["columns"] == COLUMNS
    assert {"name": "season", "datatype": "INT64", "shape": [-1]} in info["inputs"]
    assert info["signature"]["inputs"][0]["name"] == "temp"
    frame = models.columns_frame
    records = frame.iloc[:3][["season", "hum", "temp"]].to_dict(orient="records")
    answer = worker.ask({"dataframe_records": records}, protocol=wire.Protocol.MLFLOW)
    assert answer.status == 200, answer.body
    np.testing.assert_allclose(orjson.loads(answer.body)["predictions"],
                               models.columns_expected[:3])
    missing = worker.ask({"dataframe_split": {"columns": ["temp", "hum"],
                                              "data": [[0.1, 0.2]]}},
                         protocol=wire.Protocol.MLFLOW)
    message = orjson.loads(missing.body)
    assert missing.status == 400 and message["error_code"] == "BAD_REQUEST"
    assert "season" in message["message"] and "temp (FP64)" in message["message"]


def test_mlflow_model_fitted_on_a_bare_array_takes_the_tutorial_request(
        models: Models, start: Any, tmp_path: Path) -> None:
    # registered as a folder around the MLflow model, as the tutorial's train step writes it
    worker = start(runtime(tmp_path, "credit", "mlflow",
                           model_path=str(models.mlflow_array.parent)))
    info = orjson.loads(worker.received[wire.READY_NUMBER].body)
    assert info["inputs"] == [{"name": "input", "datatype": "FP64", "shape": [-1, 23]}]
    answer = worker.ask(split(models.array_rows[:2]))
    assert answer.status == 200 and orjson.loads(answer.body) == models.array_expected[
        :2].tolist()
    narrow = worker.ask(split(models.array_rows[:2, :20]))
    assert narrow.status == 400 and "takes 23" in orjson.loads(narrow.body)["error"]


# -- scoring scripts ----------------------------------------------------------------------------


def test_scoring_script_gets_the_raw_body_and_the_model_dir(models: Models, start: Any,
                                                            tmp_path: Path) -> None:
    worker = start(runtime(tmp_path, "scripted", "script", code_dir=str(models.script),
                           scoring_script="score.py", model_dir=str(models.folder)))
    assert orjson.loads(worker.received[wire.READY_NUMBER].body)["platform"] == "script"
    answer = worker.ask({"data": [1, 2]})
    assert answer.status == 200
    assert orjson.loads(answer.body) == {"model_dir": str(models.folder), "prefix": "scored",
                                         "echo": {"data": [1, 2]}}
    failing = worker.ask({"boom": True})
    assert failing.status == 500 and "boom asked for" in orjson.loads(failing.body)["error"]
    assert worker.ask({"again": 1}).status == 200


def test_a_failing_init_reports_failed(models: Models, start: Any, tmp_path: Path) -> None:
    worker = start(runtime(tmp_path, "scripted", "script", code_dir=str(models.script),
                           scoring_script="score.py", model_dir=str(models.folder)),
                   env={"FAIL_INIT": "1"}, ready=False)
    failed = worker.lifecycle()
    assert failed.status == 500 and "init could not find the weights" in failed.body.decode()
    assert worker.process.wait(30) == 1
    assert "init could not find the weights" in worker.log_path.read_text()


# -- data collection ----------------------------------------------------------------------------


def test_collected_inputs_and_outputs_are_delta_tables(models: Models, start: Any,
                                                       tmp_path: Path) -> None:
    from deltalake import DeltaTable

    root = tmp_path / "collected"
    deployment = runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx),
                         collections=("model_inputs", "model_outputs"),
                         collection_root=str(root))
    workers = [start(deployment), start(deployment)]  # two instances append to one table
    sent: dict[str, np.ndarray] = {}
    for w, worker in enumerate(workers):
        frames = []
        for i in range(4):
            rows = models.rows[w * 8 + 2 * i:w * 8 + 2 * i + 2]
            rid = f"corr-{w}-{i}"
            sent[rid] = rows
            frames.append(worker.frame(split(rows), request_id=rid))
        answers = worker.wait(worker.send(*frames))
        assert all(a.status == 200 for a in answers.values())
    assert all(worker.stop() == 0 for worker in workers)

    inputs = DeltaTable(str(root / "model_inputs")).to_pyarrow_table().to_pandas()
    outputs = DeltaTable(str(root / "model_outputs")).to_pyarrow_table().to_pandas()
    assert len(inputs) == len(outputs) == 16
    assert set(inputs["correlation_id"]) == set(sent)
    assert {"0", "19", "correlation_id", "timestamp", "date", "hour"} <= set(inputs.columns)
    for rid, rows in sent.items():
        mine = inputs[inputs["correlation_id"] == rid].sort_values("0")
        np.testing.assert_allclose(mine[[str(i) for i in range(FEATURES)]].to_numpy(),
                                   rows[np.argsort(rows[:, 0])], rtol=1e-6)
        predicted = outputs[outputs["correlation_id"] == rid]["prediction"]
        assert sorted(predicted) == sorted(models.classifier.predict(rows))
    assert {"probability_0", "probability_1"} <= set(outputs.columns)
    assert inputs["date"].str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    assert inputs["hour"].between(0, 23).all()


def test_sampling_rate_and_raw_request_collection(models: Models, start: Any,
                                                  tmp_path: Path) -> None:
    from deltalake import DeltaTable

    root = tmp_path / "sampled"
    worker = start(runtime(tmp_path, "blue", "onnx", onnx_path=str(models.onnx),
                           collections=("model_inputs_outputs", "request"), sampling_rate=0.5,
                           collection_root=str(root)))
    bodies = {f"s-{i}": split(models.rows[i:i + 1]) for i in range(40)}
    answers = worker.wait(worker.send(*(worker.frame(body, request_id=rid)
                                        for rid, body in bodies.items())))
    assert all(a.status == 200 for a in answers.values())
    assert worker.stop() == 0
    both = DeltaTable(str(root / "model_inputs_outputs")).to_pyarrow_table().to_pandas()
    requests = DeltaTable(str(root / "request")).to_pyarrow_table().to_pandas()
    assert 0 < len(both) < 40  # about half, never all (one chance in 10^12)
    assert {"0", "19", "prediction", "probability_1"} <= set(both.columns)
    assert set(requests["correlation_id"]) == set(both["correlation_id"])
    for rid, data in zip(requests["correlation_id"], requests["data"], strict=True):
        assert orjson.loads(data) == bodies[rid]
