"""The first half of the Synapse lab, as a user drives it from the CLI.

Load the bike-rentals CSV into the lake (a data asset), run the lab's Spark job that saves
``bike_data`` (the lab's 11 columns) and ``weather_forecast`` (10 future days), then query
``bike_data`` in the SQL engine: 731 rows with the right types.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes
from lakeworks.tutorials import tutorial_path

pytestmark = [pytest.mark.spark, pytest.mark.slow]

LAB_COLUMNS = {
    "season": "VARCHAR", "mnth": "INTEGER", "holiday": "VARCHAR", "weekday": "VARCHAR",
    "workingday": "VARCHAR", "weathersit": "VARCHAR", "temp": "DOUBLE", "atemp": "DOUBLE",
    "hum": "DOUBLE", "windspeed": "DOUBLE", "rentals": "INTEGER",
}


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[Workspace, Path]]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java (a JRE 17 on PATH)")
    ws = create_workspace(tmp_path / "ws")
    folder = tmp_path / "lab"
    shutil.copytree(tutorial_path("synapse_lab"), folder,
                    ignore=shutil.ignore_patterns("__pycache__"))
    try:
        yield ws, folder
    finally:
        stop_workspace_processes(ws)
        ws.close()


def cli(ws: Workspace, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "lakeworks", "-w", str(ws.path), *args],
        cwd=cwd, capture_output=True, text=True, timeout=900,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_lab_first_half(lab: tuple[Workspace, Path]) -> None:
    ws, folder = lab
    cli(ws, "data", "create", "--name", "bike-rentals", "--version", "1", "--type", "uri_file",
        "--path", str(dataset_path("bike-rentals-daily")), cwd=folder)
    job = cli(ws, "job", "create", "--file", "prepare.yml", "--stream", cwd=folder)
    assert "bike_data: 731 rows; weather_forecast: 10 rows" in job.stdout

    rows = json.loads(cli(ws, "sql", "SELECT * FROM bike_data", "-o", "json", cwd=folder).stdout)
    assert len(rows) == 731
    assert set(rows[0]) == set(LAB_COLUMNS)
    types = json.loads(cli(
        ws, "sql", "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'bike_data' ORDER BY ordinal_position", "-o", "json",
        cwd=folder).stdout)
    found = {r["column_name"]: r["data_type"] for r in types}
    for column, expected in LAB_COLUMNS.items():
        assert found[column] in (expected, "BIGINT" if expected == "INTEGER" else expected), (
            column, found[column])
    assert sum(r["rentals"] for r in rows) == 3292679  # UCI's total over 2011-2012

    forecast = json.loads(cli(
        ws, "sql", "SELECT * FROM default.weather_forecast ORDER BY day", "-o", "json",
        cwd=folder).stdout)
    assert len(forecast) == 10
    assert forecast[0]["day"].startswith("2013-01-01") and forecast[0]["holiday"] == "Yes"
    assert {r["weekday"] for r in forecast} == {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
