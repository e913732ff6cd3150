"""``lakeworks table``: load the shipped bike data, list, show, history, drop, databases, and
the bad-input cases (malformed rows, a mismatched append, vanished files) as the user sees them:
one error line naming the file, lines or columns, no traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from lakeworks.sample_data import dataset_path

RunCli = Callable[..., Result]

BIKES = dataset_path("bike-rentals-daily")
VERBS = ("load", "list", "show", "history", "drop", "create-database", "list-databases",
         "drop-database")


@pytest.fixture
def bikes_csv() -> Path:
    return BIKES


def test_every_table_verb_has_help_with_examples(run_cli: RunCli) -> None:
    group = run_cli("table", "--help").stdout
    for verb in VERBS:
        assert verb in group
        assert "Examples:" in run_cli("table", verb, "--help").stdout


def test_load_show_list_history_drop(run_cli: RunCli, workspace: Path, bikes_csv: Path) -> None:
    ws = ("--workspace", workspace)
    out = run_cli(*ws, "table", "load", bikes_csv, "--name", "bike_data").stdout
    assert "Loaded 731 rows into default.bike_data (version 0)" in out
    assert "date32[day]" in out and "rentals" in out and "int64" in out
    shown = json.loads(run_cli(*ws, "table", "show", "bike_data", "-o", "json").stdout)
    types = {c["name"]: c["type"] for c in shown["columns"]}
    assert types == {
        "dteday": "date32[day]", "season": "string", "mnth": "int64", "holiday": "string",
        "weekday": "string", "workingday": "string", "weathersit": "string", "temp": "double",
        "atemp": "double", "hum": "double", "windspeed": "double", "rentals": "int64",
    }
    assert shown["version"] == 0 and shown["location"].endswith("/lake/warehouse/bike_data")
    appended = json.loads(run_cli(*ws, "table", "load", bikes_csv, "-n", "bike_data",
                                  "--mode", "append", "-o", "json").stdout)
    assert (appended["rows_written"], appended["version"]) == (731, 1)
    history = json.loads(run_cli(*ws, "table", "history", "bike_data", "-o", "json").stdout)
    assert [h["version"] for h in history] == [1, 0]
    assert [h["rows"] for h in history] == [731, 731]
    listed = run_cli(*ws, "table", "list").stdout
    assert "bike_data" in listed and "default" in listed
    run_cli(*ws, "table", "drop", "bike_data", expect=1)  # asks, and no answer aborts
    assert "Dropped lake table default.bike_data" in run_cli(
        *ws, "table", "drop", "bike_data", "--yes").stdout
    assert "No lake tables." in run_cli(*ws, "table", "list").stdout


def test_databases(run_cli: RunCli, workspace: Path, tmp_path: Path) -> None:
    ws = ("--workspace", workspace)
    run_cli(*ws, "table", "create-database", "sales", "--description", "orders")
    source = tmp_path / "orders.json"
    source.write_text('{"id": 1, "amount": 2.5}\n{"id": 2, "amount": 4.0}\n')
    out = run_cli(*ws, "table", "load", source, "--name", "orders", "--database", "sales").stdout
    assert "Loaded 2 rows into sales.orders" in out
    names = [d["name"] for d in json.loads(
        run_cli(*ws, "table", "list-databases", "-o", "json").stdout)]
    assert names == ["default", "sales"]
    assert "still has tables" in run_cli(*ws, "table", "drop-database", "sales",
                                         expect=1).stderr
    assert [t["name"] for t in json.loads(
        run_cli(*ws, "table", "list", "-d", "sales", "-o", "json").stdout)] == ["orders"]


def test_malformed_rows_error_names_lines_or_are_skipped(run_cli: RunCli, workspace: Path,
                                                         tmp_path: Path) -> None:
    ws = ("--workspace", workspace)
    source = tmp_path / "broken.csv"
    source.write_text("id,name\n1,a\n2\n3,c\n4,d,extra\n")
    failed = run_cli(*ws, "table", "load", source, "--name", "broken", expect=2)
    assert "broken.csv" in failed.stderr and "lines 3, 5" in failed.stderr
    assert "--skip-bad-rows" in failed.stderr and "Traceback" not in failed.stderr
    out = run_cli(*ws, "table", "load", source, "--name", "broken", "--skip-bad-rows").stdout
    assert "Loaded 2 rows" in out and "2 malformed row(s) left out" in out
    assert "expected 2 fields, found 1" in out


def test_mismatched_append_names_columns_and_changes_nothing(
    run_cli: RunCli, workspace: Path, tmp_path: Path
) -> None:
    ws = ("--workspace", workspace)
    first, other = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("id,amount\n1,1.5\n")
    other.write_text("id,amount\nx,oops\n")
    run_cli(*ws, "table", "load", first, "--name", "t")
    failed = run_cli(*ws, "table", "load", other, "--name", "t", "--mode", "append", expect=2)
    assert "column 'amount' is string, the table has double" in failed.stderr
    assert "column 'id' is string, the table has int64" in failed.stderr
    shown = json.loads(run_cli(*ws, "table", "show", "t", "-o", "json").stdout)
    assert shown["version"] == 0


def test_vanished_files_are_a_clear_error(run_cli: RunCli, workspace: Path,
                                          tmp_path: Path) -> None:
    ws = ("--workspace", workspace)
    source = tmp_path / "a.csv"
    source.write_text("id\n1\n")
    run_cli(*ws, "table", "load", source, "--name", "gone")
    shutil.rmtree(workspace / "artifacts" / "lake" / "warehouse" / "gone")
    failed = run_cli(*ws, "table", "history", "gone", expect=2)
    assert "lake table default.gone" in failed.stderr and "_delta_log" in failed.stderr
    assert "Traceback" not in failed.stderr
    run_cli(*ws, "table", "drop", "gone", "--yes")
