"""Spark Connect: a workspace whose ``spark_remote`` names a real Spark Connect server.

The server is PySpark's own (``SparkConnectServer`` through ``spark-submit``) on 127.0.0.1;
the client is ``lakeworks.spark.session()`` reading the setting from ``lakeworks.toml``. The
lake's tables are read and written through the ``deltars`` data source, whose Python workers
run on the server's side. Skipped without Java or PySpark's ``connect`` extra.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes

pytestmark = [pytest.mark.spark, pytest.mark.slow]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)", allow_module_level=True)
pytest.importorskip("pyspark", reason="PySpark is the 'spark' extra")
pytest.importorskip("grpc", reason="Spark Connect's client is the 'spark-connect' extra")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from pyspark.find_spark_home import _find_spark_home

    port = free_port()
    logs = tmp_path_factory.mktemp("connect")
    submit = Path(_find_spark_home()) / "bin" / "spark-submit"
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "SPARK_LOG_DIR": str(logs)}
    with (logs / "server.log").open("wb") as log:
        server = subprocess.Popen(
            ["bash", str(submit), "--class",
             "org.apache.spark.sql.connect.service.SparkConnectServer",
             "--master", "local[2]", "--driver-memory", "1g",
             "--conf", f"spark.connect.grpc.binding.port={port}",
             "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
             "--conf", "spark.ui.enabled=false",
             "--conf", "spark.sql.shuffle.partitions=4"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 180
        while not answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Spark Connect server did not start:\n"
                            + (logs / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def remote_ws(tmp_path: Path, connect_url: str) -> Iterator[Workspace]:
    ws = create_workspace(tmp_path / "ws", settings={"spark_remote": connect_url})
    LakeService(ws).load("bike_data", str(dataset_path("bike-rentals-daily")))
    try:
        yield ws
    finally:
        stop_workspace_processes(ws)
        ws.close()


def test_a_spark_connect_session_reads_and_writes_the_lake(remote_ws: Workspace) -> None:
    import lakeworks.spark as lwspark
    from lakeworks import MLClient

    assert 'spark_remote = "sc://127.0.0.1:' in (remote_ws.path / "lakeworks.toml").read_text()
    spark = lwspark.session(remote_ws.path)
    try:
        assert type(spark).__module__.startswith("pyspark.sql.connect")
        assert spark.table("bike_data").count() == 731
        seasons = {r["season"]: r["days"] for r in spark.sql(
            "SELECT season, COUNT(*) AS days FROM bike_data GROUP BY season").collect()}
        assert sum(seasons.values()) == 731 and len(seasons) == 4

        spark.table("bike_data").where("hum < 50").write.mode("overwrite") \
            .saveAsTable("dry_days")
    finally:
        spark.stop()

    ml = MLClient(workspace=remote_ws.path)
    expected = ml.sql("SELECT COUNT(*) AS n FROM bike_data WHERE hum < 50").column("n")[0]
    assert ml.sql("SELECT COUNT(*) AS n FROM dry_days").column("n")[0] == expected
    assert expected.as_py() > 0
    assert ml.lake.get("dry_days").name == "dry_days"


def test_an_unreachable_connect_server_is_reported_at_once(tmp_path: Path) -> None:
    import lakeworks.spark as lwspark
    from lakeworks.errors import BackendError, InvalidInputError

    port = free_port()  # nothing listens there
    ws = create_workspace(tmp_path / "ws", settings={"spark_remote": f"sc://127.0.0.1:{port}"})
    try:
        with pytest.raises(BackendError, match=rf"nothing answers at 127\.0\.0\.1:{port}.*spark_remote"):
            lwspark.session(ws)
    finally:
        ws.close()
    bad = create_workspace(tmp_path / "bad", settings={"spark_remote": "http://127.0.0.1:15002"})
    try:
        with pytest.raises(InvalidInputError, match="sc://host:15002"):
            lwspark.session(bad)
    finally:
        bad.close()


def test_predict_scores_through_spark_connect(remote_ws: Workspace, tmp_path: Path) -> None:
    """SQL PREDICT (the model read in the server's workers) and ``predict(df)`` (the bytes in
    the query) on a Spark Connect session."""
    np = pytest.importorskip("numpy")
    ort = pytest.importorskip("onnxruntime")
    pd = pytest.importorskip("pandas")
    skl2onnx = pytest.importorskip("skl2onnx")
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline

    import lakeworks.spark as lwspark
    from lakeworks import MLClient
    from lakeworks.entities import Model

    frame = pd.read_csv(dataset_path("bike-rentals-daily"))
    columns = ["temp", "hum", "windspeed"]
    model = make_pipeline(ColumnTransformer([("n", "passthrough", columns)]), Ridge())
    model.fit(frame[columns], frame["rentals"])
    content = skl2onnx.convert_sklearn(
        model, initial_types=[(c, FloatTensorType([None, 1])) for c in columns],
        target_opset=17).SerializeToString()
    (tmp_path / "model.onnx").write_bytes(content)
    MLClient(workspace=remote_ws.path).models.create_or_update(
        Model(name="remote-model", path=str(tmp_path / "model.onnx")))
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    feeds = {c: frame[c].to_numpy(np.float32).reshape(-1, 1) for c in columns}
    expected = np.sort(session.run(None, feeds)[0].ravel())

    # a table of its own: one server's catalog outlives the sessions of earlier tests, and
    # keeps their bike_data bound to a data source only those sessions registered
    LakeService(remote_ws).load("predict_rows", str(dataset_path("bike-rentals-daily")))
    spark = lwspark.session(remote_ws.path)
    try:
        by_sql = [r["p"] for r in spark.sql(
            "SELECT PREDICT('remote-model', struct(*)) AS p FROM predict_rows").collect()]
        scored = lwspark.predict(spark.table("predict_rows"), "remote-model")
        by_frame = [r["prediction"] for r in scored.select("prediction").collect()]
    finally:
        spark.stop()
    np.testing.assert_allclose(np.sort(by_sql), expected, rtol=1e-5)
    np.testing.assert_allclose(np.sort(by_frame), expected, rtol=1e-5)
