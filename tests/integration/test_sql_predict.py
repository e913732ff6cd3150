"""PREDICT in the embedded SQL engine: both forms, models in the database, the wizard's procedure.

Real DuckDB, real ONNX models trained here (scikit-learn + skl2onnx) and registered in a real
workspace; expected values come from ONNX Runtime run directly on the same bytes.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from lakeworks.cli.app import app
from lakeworks.core.assets import ModelType
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.services.assets import AssetService
from lakeworks.services.lake import LakeService
from lakeworks.services.sql import SqlService
from lakeworks.services.workspace import Workspace

pytestmark = pytest.mark.automl  # trains models; needs onnxruntime and skl2onnx

ort = pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

FEATURES = ["temp", "hum", "windspeed"]
REGRESSOR = "rental-prediction-model"
ROWS = 240
ATTACK = "'; DROP TABLE bikes; --"
README = Path(__file__).resolve().parents[2] / "README.md"


@dataclass
class Models:
    """The module's workspace, its table and the models registered in it."""

    ws: Workspace
    frame: Any  # pandas DataFrame of the ``bikes`` table
    regressor: bytes
    classifier: bytes
    pyfunc_expected: np.ndarray


def _onnx(model: Any) -> bytes:
    from skl2onnx.common.data_types import FloatTensorType

    types = [(name, FloatTensorType([None, 1])) for name in FEATURES]
    onx = skl2onnx.to_onnx(model, initial_types=types, options={"zipmap": True}
                           if hasattr(model, "predict_proba") else None)
    return bytes(onx.SerializeToString())


def _pipeline(estimator: Any) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(ColumnTransformer([("n", "passthrough", FEATURES)]), estimator)


def _frame() -> Any:
    import pandas as pd

    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "id": np.arange(ROWS, dtype=np.int64),
        "day": [date(2012, 1, 1) + timedelta(days=i) for i in range(ROWS)],
        "season": rng.choice(["spring", "summer", "fall", "winter"], ROWS),
        "temp": rng.random(ROWS), "hum": rng.random(ROWS), "windspeed": rng.random(ROWS) / 2,
    })


def _register(ws: Workspace, name: str, path: Path, kind: ModelType) -> None:
    AssetService(ws).register_model_files(name, path, type=kind,
                                          description=f"{name} for the SQL tests")


@pytest.fixture(scope="module")
def models(module_ws: Workspace, tmp_path_factory: pytest.TempPathFactory) -> Models:
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    folder = tmp_path_factory.mktemp("models")
    frame = _frame()
    rentals = 4000 * frame["temp"] - 1500 * frame["hum"] - 800 * frame["windspeed"] + 2000
    regressor = _onnx(_pipeline(GradientBoostingRegressor(n_estimators=20, random_state=0))
                      .fit(frame[FEATURES], rentals))
    (folder / "model.onnx").write_bytes(regressor)
    _register(module_ws, REGRESSOR, folder / "model.onnx", ModelType.CUSTOM)
    labels = np.where(rentals > 3000, "busy", "quiet")
    classifier = _onnx(_pipeline(LogisticRegression()).fit(frame[FEATURES], labels))
    (folder / "busy.onnx").write_bytes(classifier)
    _register(module_ws, "busy-day", folder / "busy.onnx", ModelType.CUSTOM)

    import mlflow.sklearn
    from mlflow.models import infer_signature

    ridge = _pipeline(Ridge()).fit(frame[FEATURES], rentals)
    expected = ridge.predict(frame[FEATURES])
    mlflow.sklearn.save_model(ridge, str(folder / "ridge"),
                              signature=infer_signature(frame[FEATURES], expected))
    _register(module_ws, "pyfunc-model", folder / "ridge", ModelType.MLFLOW)
    (folder / "model.pkl").write_bytes(b"not a model SQL can run")
    _register(module_ws, "pickled", folder / "model.pkl", ModelType.CUSTOM)

    lake = LakeService(module_ws)
    lake.write("bikes", pa.Table.from_pandas(frame, preserve_index=False))
    return Models(module_ws, frame, regressor, classifier, expected)


@pytest.fixture
def sql(models: Models) -> Iterator[SqlService]:
    service = SqlService(models.ws)
    try:
        yield service
    finally:
        service.close()


def direct(content: bytes, frame: Any) -> list[Any]:
    """ONNX Runtime run directly on ``content`` over ``frame``'s features."""
    session = ort.InferenceSession(content, providers=["CPUExecutionProvider"])
    feeds = {n: frame[n].to_numpy(np.float32).reshape(-1, 1) for n in FEATURES}
    return list(session.run(None, feeds))


def column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_pylist(), dtype=np.float64)


# -- the clause ----------------------------------------------------------------------------


def test_the_clause_with_a_literal_model_keeps_every_data_column(
    sql: SqlService, models: Models
) -> None:
    result = sql.execute(
        f"SELECT d.*, p.variable FROM PREDICT(MODEL = '{REGRESSOR}:1', DATA = bikes AS d, "
        "RUNTIME = ONNX) WITH (variable FLOAT) AS p ORDER BY d.id")
    assert result.column_names == [*models.frame.columns, "variable"]
    assert result.schema.field("variable").type == pa.float64()  # T-SQL's FLOAT is 8 bytes
    expected = direct(models.regressor, models.frame)[0].ravel()
    np.testing.assert_allclose(column(result, "variable"), expected, rtol=1e-6)


def test_the_clause_with_a_variable_the_latest_version_and_a_subquery(
    sql: SqlService, models: Models
) -> None:
    result = sql.execute(
        "SELECT * FROM PREDICT(MODEL = @m,\n"
        "                      DATA = (SELECT id, temp, hum, windspeed FROM bikes\n"
        "                              WHERE season = $s) AS d)\n"
        "WITH ([variable] [real]) AS p ORDER BY id", {"m": REGRESSOR, "s": "summer"})
    summer = models.frame[models.frame["season"] == "summer"]
    assert result.column_names == ["id", *FEATURES, "variable"]
    assert result.schema.field("variable").type == pa.float32()  # REAL
    assert result.column("id").to_pylist() == summer["id"].tolist()
    expected = direct(models.regressor, summer)[0].ravel()
    np.testing.assert_allclose(column(result, "variable"), expected, rtol=1e-6)


def test_the_clause_reads_the_model_from_a_subquery_and_data_from_a_cte(
    sql: SqlService, models: Models
) -> None:
    sql.deploy_model(f"{REGRESSOR}:1")
    result = sql.execute(
        "WITH hot AS (SELECT * FROM bikes WHERE temp > 0.5)\n"
        "SELECT hot.id, p.variable\n"
        "FROM PREDICT(MODEL = (SELECT model FROM models WHERE id = 'rental-prediction-model:1'),"
        "\n             DATA = hot, RUNTIME = ONNX) WITH (variable FLOAT) AS p ORDER BY hot.id")
    hot = models.frame[models.frame["temp"] > 0.5]
    assert result.column("id").to_pylist() == hot["id"].tolist()
    np.testing.assert_allclose(column(result, "variable"),
                               direct(models.regressor, hot)[0].ravel(), rtol=1e-6)


def test_the_model_bytes_as_a_parameter(sql: SqlService, models: Models) -> None:
    result = sql.execute("SELECT p.variable FROM PREDICT(MODEL = $m, DATA = bikes AS d) "
                         "WITH (variable DOUBLE) AS p ORDER BY d.id", {"m": models.regressor})
    np.testing.assert_allclose(column(result, "variable"),
                               direct(models.regressor, models.frame)[0].ravel(), rtol=1e-6)


# -- the function form ---------------------------------------------------------------------


def test_the_function_binds_columns_by_name_named_arguments_and_rows(
    sql: SqlService, models: Models
) -> None:
    result = sql.execute(
        f"SELECT PREDICT('{REGRESSOR}', windspeed, temp, hum) AS by_name,\n"
        f"       PREDICT('{REGRESSOR}:1', hum := b.hum, windspeed => windspeed, "
        "temp := temp * 1) AS named,\n"
        f"       PREDICT('{REGRESSOR}', b) AS whole_row,\n"
        f"       PREDICT($m, struct_pack(temp := temp, hum := hum, windspeed := windspeed)) "
        "AS packed\nFROM bikes AS b ORDER BY id", {"m": REGRESSOR})
    expected = direct(models.regressor, models.frame)[0].ravel()
    assert result.schema.field("by_name").type == pa.float64()
    for name in result.column_names:
        np.testing.assert_allclose(column(result, name), expected, rtol=1e-6)


def test_a_classifier_gives_its_label_and_probabilities(sql: SqlService, models: Models) -> None:
    result = sql.execute("SELECT PREDICT('busy-day', temp, hum, windspeed) AS c FROM bikes "
                         "ORDER BY id")
    rows = result.column("c").to_pylist()
    labels, probabilities = direct(models.classifier, models.frame)
    assert [r["label"] for r in rows] == list(labels)
    for row, expected in zip(rows, probabilities, strict=True):
        got = dict(row["probabilities"])
        assert sorted(got) == ["busy", "quiet"]
        assert got == pytest.approx(expected, abs=1e-6)
    clause = sql.execute(
        "SELECT p.output_label, p.output_probability['busy'] AS busy FROM PREDICT("
        "MODEL = 'busy-day', DATA = bikes AS d) WITH (output_label VARCHAR, "
        "output_probability MAP(VARCHAR, DOUBLE)) AS p ORDER BY d.id")
    assert clause.column("output_label").to_pylist() == list(labels)
    np.testing.assert_allclose(column(clause, "busy"), [p["busy"] for p in probabilities],
                               atol=1e-6)


def test_an_mlflow_model_without_onnx_scores_through_pyfunc(
    sql: SqlService, models: Models
) -> None:
    result = sql.execute("SELECT PREDICT('pyfunc-model', temp, hum, windspeed) AS y FROM bikes "
                         "ORDER BY id")
    np.testing.assert_allclose(column(result, "y"), models.pyfunc_expected, rtol=1e-9)


def test_a_model_with_neither_onnx_nor_pyfunc_cannot_be_used(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError, match=r"model 'pickled:1' cannot be used in SQL: "
                       r"it has no ONNX graph and is no MLflow model \(file model.pkl\)"):
        sql.execute("SELECT PREDICT('pickled', temp, hum, windspeed) FROM bikes")


# -- models in the database ----------------------------------------------------------------


def test_deploy_model_writes_the_row_once(sql: SqlService, models: Models) -> None:
    sql.deploy_model("busy-day:1", models_table="sales_models")
    lake = LakeService(models.ws)
    version = lake.version("sales_models")
    again = sql.deploy_model("busy-day", models_table="sales_models")
    assert not again.deployed and lake.version("sales_models") == version
    rows = lake.read("sales_models").to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert (row["id"], row["name"], row["version"]) == ("busy-day:1", "busy-day", "1")
    assert row["model"] == models.classifier
    assert row["description"] == "busy-day for the SQL tests"
    assert row["sha256"] == again.sha256 and row["created_at"].tzinfo is not None
    result = sql.execute(
        "SELECT count(*) AS n FROM PREDICT(MODEL = (SELECT model FROM sales_models "
        "WHERE id = 'busy-day:1'), DATA = bikes AS d) WITH (output_label VARCHAR) AS p")
    assert result.to_pylist() == [{"n": ROWS}]


def test_deploy_model_needs_onnx(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError, match="'pyfunc-model:1' has no ONNX graph.*"
                       r"PREDICT\('pyfunc-model:1', col"):
        sql.deploy_model("pyfunc-model")


def test_the_wizard_procedure_runs_and_materializes(sql: SqlService, models: Models) -> None:
    done = sql.deploy_model(REGRESSOR, table="bikes", procedure="predict_rentals",
                            output_column="predicted_rentals", materialize="rental_predictions")
    assert done.procedure == "predict_rentals"
    body = sql.get_procedure("predict_rentals").sql
    assert 'CAST("temp" AS FLOAT)' in body and "WHERE id = @model" in body
    result = sql.execute("EXEC predict_rentals").sort_by("id")
    assert result.column_names == [*models.frame.columns, "predicted_rentals"]
    expected = direct(models.regressor, models.frame)[0].ravel()
    np.testing.assert_allclose(column(result, "predicted_rentals"), expected, rtol=1e-6)
    stored = LakeService(models.ws).read("rental_predictions").sort_by("id")
    assert stored.column_names == result.column_names and stored.num_rows == ROWS
    again = sql.exec_procedure("predict_rentals", {"model": f"{REGRESSOR}:1"})
    assert again.num_rows == ROWS


# -- errors --------------------------------------------------------------------------------


def test_missing_input_columns_list_the_inputs_and_the_columns(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError) as caught:
        sql.execute(f"SELECT * FROM PREDICT(MODEL = '{REGRESSOR}', DATA = (SELECT id, temp "
                    "FROM bikes) AS d) WITH (variable FLOAT) AS p")
    message = str(caught.value)
    assert "needs input column(s) hum, windspeed that DATA lacks" in message
    assert "the model takes temp (FLOAT), hum (FLOAT), windspeed (FLOAT)" in message
    assert "DATA has id, temp" in message
    with pytest.raises(InvalidInputError, match=r"needs input.s. windspeed that the arguments "
                       r"lack; the model takes temp .FLOAT., hum .FLOAT., windspeed .FLOAT. and "
                       r"the arguments are temp, hum"):
        sql.execute(f"SELECT PREDICT('{REGRESSOR}', temp, hum) FROM bikes")
    with pytest.raises(InvalidInputError, match=r"the row has no field 'windspeed', an input "
                       r"of the model; the model takes temp \(FLOAT\), hum"):
        sql.execute(f"SELECT PREDICT('{REGRESSOR}', struct_pack(temp := temp, hum := hum)) "
                    "FROM bikes")


def test_columns_that_cannot_be_cast_are_named(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError, match=r"column 'temp' of DATA is date32\[day\], "
                       r"which cannot be cast to FLOAT for input 'temp'"):
        sql.execute(f"SELECT * FROM PREDICT(MODEL = '{REGRESSOR}', DATA = (SELECT day AS temp, "
                    "hum, windspeed FROM bikes) AS d) WITH (variable FLOAT) AS p")
    with pytest.raises(InvalidInputError, match=r"cannot be cast to the model's input type: "
                       r".*DATE -> FLOAT.*source column day"):
        sql.execute(f"SELECT PREDICT('{REGRESSOR}', temp := day, hum, windspeed) FROM bikes")


def test_a_failure_while_scoring_names_the_model(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError, match=r"PREDICT with model 'pyfunc-model:1': the "
                       r"MLflow model could not score the rows \(.*NaN"):
        sql.execute("SELECT PREDICT('pyfunc-model', temp := CAST(NULL AS DOUBLE), hum, "
                    "windspeed) FROM bikes")


def test_unknown_models_and_versions(sql: SqlService) -> None:
    with pytest.raises(NotFoundError, match="cannot score with model 'no-such-model'"):
        sql.execute("SELECT PREDICT('no-such-model', temp) FROM bikes")
    with pytest.raises(NotFoundError, match=f"'{REGRESSOR}:9'"):
        sql.execute(f"SELECT * FROM PREDICT(MODEL = '{REGRESSOR}:9', DATA = bikes AS d) "
                    "WITH (variable FLOAT) AS p")
    sql.deploy_model(REGRESSOR)  # the models table exists; the row does not
    with pytest.raises(NotFoundError, match=r"found no model .no row matched."):
        sql.execute("SELECT * FROM PREDICT(MODEL = (SELECT model FROM models WHERE id = "
                    "'nope:1'), DATA = bikes AS d) WITH (variable FLOAT) AS p")


def test_a_corrupt_model_blob_is_reported(sql: SqlService, models: Models) -> None:
    LakeService(models.ws).write("broken_models", pa.table({
        "id": ["bad:1"], "model": pa.array([b"\x08\x01garbage"], pa.binary())}))
    with pytest.raises(InvalidInputError, match=r"MODEL = \(SELECT model FROM broken_models "
                       r"WHERE id = 'bad:1'\): the model's bytes are not a usable ONNX model"):
        sql.execute("SELECT * FROM PREDICT(MODEL = (SELECT model FROM broken_models WHERE "
                    "id = 'bad:1'), DATA = bikes AS d) WITH (variable FLOAT) AS p")


def test_an_unknown_output_lists_the_real_ones(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError, match="no output 'score'; its outputs are variable"):
        sql.execute(f"SELECT * FROM PREDICT(MODEL = '{REGRESSOR}', DATA = bikes AS d) "
                    "WITH (score FLOAT) AS p")


@pytest.mark.parametrize(("text", "wanted", "where"), [
    ("SELECT *\nFROM PREDICT(MODEL = 'm', DATA = bikes AS d,\n"
     "             RUNTIME = PYTHON) WITH (variable FLOAT) AS p",
     "RUNTIME = PYTHON is not supported", "(line 3, column 24)"),
    ("SELECT *\nFROM PREDICT(MODEL = 'm', DATA = bikes d e) WITH (variable FLOAT) AS p",
     "'d e' after DATA is not an alias", "(line 2, column 40)"),
    ("SELECT *\nFROM PREDICT(MODEL = 'm', DATA = bikes AS d)\nWHERE 1 = 1",
     "WITH (output TYPE, ...) must follow PREDICT(...)", "(line 3, column 1)"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = bikes AS d, SCORE = 1) WITH (v FLOAT) AS p",
     "'SCORE = 1' is not an argument of PREDICT", "(line 1, column 55)"),
    ("SELECT * FROM PREDICT(MODEL = 'm') WITH (v FLOAT) AS p",
     "DATA = ... is missing", "(line 1, column 15)"),
    ("SELECT * FROM PREDICT(MODEL = bikes.model, DATA = bikes AS d) WITH (v FLOAT) AS p",
     "the model 'bikes.model' must be a 'name:version' literal", "(line 1, column 31)"),
])
def test_a_malformed_clause_names_the_text_and_its_position(
    sql: SqlService, text: str, wanted: str, where: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        sql.execute(text)
    message = str(caught.value)
    assert wanted in message and where in message
    assert "\nLINE " in message and message.rstrip().endswith("^" * message.count("^"))


def test_injection_through_the_model_name_or_a_parameter_changes_nothing(
    sql: SqlService, models: Models
) -> None:
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("SELECT PREDICT('x''; DROP TABLE bikes; --', temp) FROM bikes", {}),
        ("SELECT PREDICT($m, temp, hum, windspeed) FROM bikes", {"m": ATTACK}),
        ("SELECT * FROM PREDICT(MODEL = @m, DATA = bikes AS d) WITH (variable FLOAT) AS p",
         {"m": ATTACK}),
        ("EXEC predict_attack @model = $m", {"m": ATTACK}),
    ]
    sql.deploy_model(REGRESSOR, table="bikes", procedure="predict_attack")
    for text, params in attempts:
        with pytest.raises((InvalidInputError, NotFoundError)):
            sql.execute(text, params)
    with pytest.raises((InvalidInputError, NotFoundError)):
        sql.deploy_model(ATTACK)
    assert sql.execute("SELECT count(*) AS n FROM bikes").to_pylist() == [{"n": ROWS}]
    assert "default.bikes" in [str(t) for t in sql.tables()]


# -- the command line ----------------------------------------------------------------------


def test_cli_deploy_model_and_exec(models: Models) -> None:
    runner = CliRunner()
    path = str(models.ws.path)
    deployed = runner.invoke(app, [
        "-w", path, "sql", "deploy-model", "--model", f"{REGRESSOR}:1", "--models-table",
        "cli_models", "--table", "bikes", "--procedure", "cli_predict", "--output-column",
        "predicted_rentals", "-o", "json"])
    assert deployed.exit_code == 0, deployed.output
    assert '"id": "rental-prediction-model:1"' in deployed.stdout
    assert '"procedure": "cli_predict"' in deployed.stdout
    again = runner.invoke(app, ["-w", path, "sql", "deploy-model", "--model", REGRESSOR,
                                "--models-table", "cli_models"])
    assert again.exit_code == 0 and "already there" in again.stdout
    ran = runner.invoke(app, ["-w", path, "sql", "exec", "cli_predict", "-o", "csv"])
    assert ran.exit_code == 0, ran.output
    lines = ran.stdout.strip().splitlines()
    assert lines[0].endswith(',"predicted_rentals"') and len(lines) == ROWS + 1
    helped = runner.invoke(app, ["sql", "deploy-model", "--help"])
    assert "Examples:" in helped.stdout and "--materialize" in helped.stdout
    bad = runner.invoke(app, ["-w", path, "sql", "deploy-model", "--model", "pyfunc-model"])
    assert bad.exit_code != 0 and "has no ONNX graph" in bad.output


def readme_blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### PREDICT in SQL", 1)[1].split("\n#", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def test_the_readme_examples_run(sql: SqlService, models: Models) -> None:
    forecast = pa.Table.from_pandas(models.frame.head(10), preserve_index=False)
    LakeService(models.ws).write("weather_forecast", forecast, mode="overwrite")
    (queries,) = readme_blocks("sql")
    result = sql.execute(queries)
    assert result.column_names == ["by_name", "whole_row", "warmer"] and result.num_rows == 10
    (shell,) = readme_blocks("bash")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], cwd=models.ws.path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "predicted_rentals" in done.stdout and "variable" in done.stdout
