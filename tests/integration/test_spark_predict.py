"""Spark's PREDICT: SQL functions and ``lakeworks.spark.predict`` over registered models.

Real models (scikit-learn, exported with skl2onnx) registered in a real workspace, scored by
real Spark in local mode over a lake table, and compared with ONNX Runtime run directly on
the same rows. One Spark session for the module. Skipped without Java.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from lakeworks import MLClient
from lakeworks.entities import Model
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import Workspace

pytestmark = pytest.mark.spark

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)", allow_module_level=True)
pytest.importorskip("pyspark", reason="PySpark is the 'spark' extra")
pytest.importorskip("skl2onnx", reason="the models are exported with skl2onnx")
ort = pytest.importorskip("onnxruntime")

from pyspark.sql import SparkSession  # noqa: E402
from skl2onnx import convert_sklearn  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType, StringTensorType  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import GradientBoostingRegressor  # noqa: E402
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder  # noqa: E402

import lakeworks.spark as lwspark  # noqa: E402

REGRESSOR = "rental-prediction-model"
CLASSIFIER = "busy-day-model"
NUMBERS = ["mnth", "temp", "atemp", "hum", "windspeed"]
CLASS_COLUMNS = ["season", "temp", "hum", "windspeed"]


def bike_frame() -> pd.DataFrame:
    frame = pd.read_csv(dataset_path("bike-rentals-daily"))
    frame.insert(0, "id", np.arange(len(frame), dtype=np.int64))
    return frame


def regressor_onnx(frame: pd.DataFrame, trees: int) -> bytes:
    """Gradient boosting over the number columns, one ONNX input per column."""
    model = make_pipeline(ColumnTransformer([("n", "passthrough", NUMBERS)]),
                          GradientBoostingRegressor(n_estimators=trees, max_depth=3,
                                                    random_state=0))
    model.fit(frame[NUMBERS].astype(np.float32), frame["rentals"])
    types = [(c, FloatTensorType([None, 1])) for c in NUMBERS]
    return bytes(convert_sklearn(model, initial_types=types, target_opset=17).SerializeToString())


def classifier_onnx(frame: pd.DataFrame) -> bytes:
    """Busy or quiet day from the season (text) and the weather; ZipMap probabilities."""
    encode = ColumnTransformer([("s", OneHotEncoder(handle_unknown="ignore"), ["season"])],
                               remainder="passthrough")
    model = make_pipeline(encode, LogisticRegression(max_iter=500))
    busy = np.where(frame["rentals"] > frame["rentals"].median(), "busy", "quiet")
    model.fit(frame[CLASS_COLUMNS], busy)
    types = [("season", StringTensorType([None, 1]))] + [
        (c, FloatTensorType([None, 1])) for c in CLASS_COLUMNS[1:]]
    return bytes(convert_sklearn(model, initial_types=types, target_opset=17).SerializeToString())


def run_onnx(content: bytes, frame: pd.DataFrame) -> list[np.ndarray]:
    """ONNX Runtime on the rows directly: the reference every path is compared with."""
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    feeds = {}
    for i in session.get_inputs():
        column = frame[i.name].to_numpy().reshape(-1, 1)
        feeds[i.name] = column.astype(object if i.type == "tensor(string)" else np.float32)
    return list(session.run(None, feeds))


@pytest.fixture(scope="module")
def models(module_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Two regressor versions (a file each), a classifier as an MLflow-style folder."""
    frame = bike_frame()
    folder = tmp_path_factory.mktemp("models")
    ml = MLClient(workspace=module_ws.path)
    made = {"v1": regressor_onnx(frame, trees=20), "v2": regressor_onnx(frame, trees=5),
            "classifier": classifier_onnx(frame)}
    for version in ("v1", "v2"):
        path = folder / version / "model.onnx"
        path.parent.mkdir()
        path.write_bytes(made[version])
        ml.models.create_or_update(Model(name=REGRESSOR, path=str(path), type="custom_model"))
    mlflow_folder = folder / "busy"
    mlflow_folder.mkdir()
    (mlflow_folder / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    (mlflow_folder / "model.onnx").write_bytes(made["classifier"])
    ml.models.create_or_update(Model(name=CLASSIFIER, path=str(mlflow_folder),
                                     type="mlflow_model"))
    LakeService(module_ws).write("bike_rows", frame, created_by="test")
    return made


@pytest.fixture(scope="module")
def spark(module_ws: Workspace, models: dict[str, bytes]) -> Iterator[SparkSession]:
    session = lwspark.session(module_ws)
    try:
        yield session
    finally:
        session.stop()


def pandas(df: Any) -> pd.DataFrame:
    """A Spark DataFrame's rows, by id."""
    return cast(pd.DataFrame, df.toPandas()).sort_values("id").reset_index(drop=True)


def by_id(spark: SparkSession, sql: str) -> pd.DataFrame:
    return pandas(spark.sql(sql))


def test_sql_predict_equals_onnxruntime_in_every_binding_form(
    spark: SparkSession, models: dict[str, bytes]
) -> None:
    frame = bike_frame()
    (expected,) = run_onnx(models["v1"], frame)
    got = by_id(spark, f"""
        SELECT id,
               PREDICT('{REGRESSOR}:1', struct(*)) AS by_struct,
               PREDICT('{REGRESSOR}:1', named_struct('windspeed', windspeed, 'hum', hum,
                       'atemp', atemp, 'temp', temp, 'mnth', mnth)) AS by_fields,
               PREDICT('{REGRESSOR}:1', hum => hum, temp => temp, mnth => mnth,
                       atemp => atemp, windspeed => windspeed) AS by_name,
               PREDICT('{REGRESSOR}:1', mnth, temp, atemp, hum, windspeed) AS by_position
        FROM bike_rows""")
    assert len(got) == len(frame)
    for column in ("by_struct", "by_fields", "by_name", "by_position"):
        np.testing.assert_allclose(got[column], expected.ravel(), rtol=1e-5, atol=1e-5)
    assert spark.sql(f"SELECT PREDICT('{REGRESSOR}:1', struct(*)) AS p FROM bike_rows") \
        .schema["p"].dataType.simpleString() == "double"


def test_a_bare_name_scores_with_the_latest_version(
    spark: SparkSession, models: dict[str, bytes]
) -> None:
    frame = bike_frame()
    got = by_id(spark, f"SELECT id, PREDICT('{REGRESSOR}', struct(*)) AS p FROM bike_rows")
    np.testing.assert_allclose(got["p"], run_onnx(models["v2"], frame)[0].ravel(), rtol=1e-5)


def test_classifier_label_probabilities_and_the_dataframe_helper(
    spark: SparkSession, models: dict[str, bytes]
) -> None:
    frame = bike_frame()
    labels, probabilities = run_onnx(models["classifier"], frame)
    busy = np.array([row["busy"] for row in probabilities])
    got = by_id(spark, f"""
        SELECT id, PREDICT_LABEL('{CLASSIFIER}', struct(*)) AS label,
               PREDICT_PROBA('{CLASSIFIER}', struct(*)) AS proba,
               PREDICT_PROBA('{CLASSIFIER}', struct(*))['busy'] AS busy
        FROM bike_rows""")
    assert got["label"].tolist() == list(labels)
    np.testing.assert_allclose(got["busy"], busy, atol=1e-6)
    assert sorted(dict(got["proba"][0])) == ["busy", "quiet"]

    scored = lwspark.predict(spark.table("bike_rows"), CLASSIFIER, output_col="busy",
                             probability_col="p")
    assert [f.dataType.simpleString() for f in scored.schema.fields[-2:]] == [
        "string", "map<string,double>"]
    back = pandas(scored)
    assert back["busy"].tolist() == list(labels)
    np.testing.assert_allclose([dict(p)["busy"] for p in back["p"]], busy, atol=1e-6)

    with pytest.raises(Exception, match="PREDICT_LABEL"):  # text labels are not a DOUBLE
        spark.sql(f"SELECT PREDICT('{CLASSIFIER}', struct(*)) FROM bike_rows").collect()


def test_the_dataframe_helper_keeps_every_column(
    spark: SparkSession, models: dict[str, bytes]
) -> None:
    df = spark.table("bike_rows")
    scored = lwspark.predict(df, f"{REGRESSOR}:1")
    assert scored.columns == [*df.columns, "prediction"]
    back = pandas(scored)
    frame = bike_frame()
    pd.testing.assert_frame_equal(back[frame.columns.tolist()], frame, check_dtype=False)
    np.testing.assert_allclose(back["prediction"], run_onnx(models["v1"], frame)[0].ravel(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(InvalidInputError, match="already has a column 'prediction'"):
        lwspark.predict(scored, REGRESSOR)


def test_an_unknown_model_or_version_is_named(spark: SparkSession) -> None:
    with pytest.raises(Exception, match="no-such-model"):
        spark.sql("SELECT PREDICT('no-such-model', struct(*)) FROM bike_rows").collect()
    with pytest.raises(NotFoundError, match=f"'{REGRESSOR}' has no version '9'"):
        lwspark.predict(spark.table("bike_rows"), f"{REGRESSOR}:9")


def test_a_missing_column_lists_the_inputs_and_the_columns(spark: SparkSession) -> None:
    df = spark.table("bike_rows").drop("hum")
    with pytest.raises(InvalidInputError) as raised:
        lwspark.predict(df, REGRESSOR)
    message = str(raised.value)
    assert "needs column(s) hum, not found in the DataFrame" in message
    assert "mnth (float), temp (float), atemp (float), hum (float), windspeed (float)" in message
    assert "rentals" in message and "dteday" in message  # the DataFrame's columns

    with pytest.raises(Exception, match=r"needs column\(s\) atemp, hum, windspeed, not found "
                                        r"in PREDICT's arguments \(given: id, mnth, temp\)"):
        spark.sql(f"SELECT PREDICT('{REGRESSOR}', struct(id, mnth, temp)) FROM bike_rows") \
            .collect()
    with pytest.raises(Exception, match=r"got 2 column\(s\) by position but model"):
        spark.sql(f"SELECT PREDICT('{REGRESSOR}', temp, hum) FROM bike_rows").collect()


def test_an_unusable_model_file_is_explained(
    spark: SparkSession, module_ws: Workspace, tmp_path: Path
) -> None:
    pickle = tmp_path / "model.pkl"
    pickle.write_bytes(b"not onnx")
    MLClient(workspace=module_ws.path).models.create_or_update(
        Model(name="pickled", path=str(pickle)))
    with pytest.raises(InvalidInputError, match="'pickled:1' has no ONNX graph"):
        lwspark.predict(spark.table("bike_rows"), "pickled")


def test_an_mlflow_model_without_onnx_scores_through_pyfunc(
    spark: SparkSession, module_ws: Workspace, tmp_path: Path
) -> None:
    mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
    from mlflow.models import infer_signature

    frame = bike_frame()
    model = make_pipeline(ColumnTransformer([("n", "passthrough", NUMBERS)]), Ridge())
    model.fit(frame[NUMBERS], frame["rentals"])
    expected = model.predict(frame[NUMBERS])
    folder = tmp_path / "pyfunc-model"
    mlflow_sklearn.save_model(model, str(folder),
                              signature=infer_signature(frame[NUMBERS], expected))
    assert not list(folder.glob("*.onnx"))
    MLClient(workspace=module_ws.path).models.create_or_update(
        Model(name="pyfunc-model", path=str(folder), type="mlflow_model"))

    got = by_id(spark, "SELECT id, PREDICT('pyfunc-model', struct(*)) AS p FROM bike_rows")
    np.testing.assert_allclose(got["p"], expected, rtol=1e-9)
    scored = pandas(lwspark.predict(spark.table("bike_rows"), "pyfunc-model"))
    np.testing.assert_allclose(scored["prediction"], expected, rtol=1e-9)
