"""The demo's Synapse lab without Spark: the same two lake tables, made by the lake and SQL.

``lakeworks quickstart`` runs the lab's Spark job where Java and PySpark are installed (the
e2e tests cover that, AutoML and PREDICT); elsewhere it loads the CSV and makes ``bike_data``
and ``weather_forecast`` in SQL, says so, and reuses them on the next run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks import MLClient
from lakeworks.errors import MissingDependencyError
from lakeworks.services.workspace import create_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials import synapse_lab_demo as lab


@pytest.fixture
def lab_client(tmp_path: Path) -> Iterator[MLClient]:
    ws = create_workspace(tmp_path / "ws")
    try:
        yield MLClient(workspace=ws.path)
    finally:
        stop_workspace_processes(ws)
        ws.close()


def test_without_spark_sql_makes_the_lab_tables_and_says_so(
        lab_client: MLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab, "spark_available", lambda: False)
    notes: list[str] = []
    assert lab.ensure_tables(lab_client, lab_client.workspace_path, lambda _: None,
                             notes) == "SQL (no Spark)"
    assert len(notes) == 1 and "Java or PySpark is missing" in notes[0]
    assert lab_client.data.get("bike-rentals", version="1").type == "uri_file"

    total = lab_client.sql("SELECT count(*) AS n, sum(rentals) AS s FROM bike_data").to_pylist()
    assert total == [{"n": 731, "s": 3292679}]
    forecast = lab_client.sql("SELECT * FROM weather_forecast ORDER BY day").to_pylist()
    assert [str(r["day"]) for r in forecast] == [f"2013-01-{d:02d}" for d in range(1, 11)]
    assert [r["weekday"] for r in forecast[:7]] == ["Tue", "Wed", "Thu", "Fri", "Sat", "Sun",
                                                    "Mon"]
    assert [r["holiday"] for r in forecast].count("Yes") == 1 and forecast[0]["holiday"] == "Yes"
    assert [r["workingday"] for r in forecast] == ["No", "Yes", "Yes", "Yes", "No", "No", "Yes",
                                                   "Yes", "Yes", "Yes"]
    observed = lab_client.sql(
        "SELECT temp, hum, windspeed FROM bike_rentals_raw WHERE CAST(dteday AS DATE) "
        "BETWEEN DATE '2012-01-01' AND DATE '2012-01-10' ORDER BY dteday").to_pylist()
    assert [{k: r[k] for k in ("temp", "hum", "windspeed")} for r in forecast] == observed

    again: list[str] = []
    assert lab.ensure_tables(lab_client, lab_client.workspace_path, lambda _: None,
                             again) == "reused"
    assert again == []


def test_without_the_automl_extra_training_names_what_to_install(
        lab_client: MLClient, monkeypatch: pytest.MonkeyPatch) -> None:
    assert lab.registered_model(lab_client) is None
    monkeypatch.setattr(lab, "missing_automl_package", lambda: "lightgbm")
    with pytest.raises(MissingDependencyError, match=r"lakeworks\[automl\]"):
        lab.train_model(lab_client, 10.0, lambda _: None)
