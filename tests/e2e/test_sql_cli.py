"""``lakeworks sql``: queries in every output format, files, parameters, procedures, the shell."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner, Result

from lakeworks.cli.app import app
from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import open_workspace

RunCli = Callable[..., Result]


@pytest.fixture
def lake(workspace: Path) -> Path:
    """A CLI-made workspace holding ``bike_data`` (731 rows)."""
    ws = open_workspace(workspace)
    try:
        LakeService(ws).load("bike_data", str(dataset_path("bike-rentals-daily")))
    finally:
        ws.close()
    return workspace


def test_help_explains_the_query_shorthand_and_the_subcommands(run_cli: RunCli) -> None:
    text = run_cli("sql", "--help").stdout
    words = " ".join(text.split())
    assert "short for 'lakeworks sql query" in words and "alone opens the shell" in words
    for verb in ("query", "exec", "shell", "procedure"):
        assert f"  {verb} " in text
    for verb in ("query", "exec", "shell"):
        assert "Examples:" in run_cli("sql", verb, "--help").stdout
    for verb in ("create", "list", "show", "drop"):
        sub = run_cli("sql", "procedure", verb, "--help").stdout
        assert "Examples:" in sub and f"lakeworks sql procedure {verb}" in sub


def test_a_query_as_a_table(run_cli: RunCli, lake: Path) -> None:
    out = run_cli("-w", lake, "sql", "SELECT season, count(*) AS days FROM bike_data "
                  "GROUP BY season ORDER BY season").stdout
    assert "season" in out and "days" in out and "fall" in out and "188" in out
    assert "4 rows" in out
    capped = run_cli("-w", lake, "sql", "SELECT * FROM default.bike_data", "--max-rows", "2")
    assert "731 rows (2 shown" in capped.stdout


def test_csv_json_and_parquet(run_cli: RunCli, lake: Path, tmp_path: Path) -> None:
    query = "SELECT dteday, rentals FROM bike_data ORDER BY dteday LIMIT 3"
    rows = list(csv.DictReader(io.StringIO(run_cli("-w", lake, "sql", query, "-o", "csv").stdout)))
    assert rows[0] == {"dteday": "2011-01-01", "rentals": "985"} and len(rows) == 3
    data = json.loads(run_cli("-w", lake, "sql", "query", query, "-o", "json").stdout)
    assert data[0] == {"dteday": "2011-01-01", "rentals": 985}
    target = tmp_path / "out.parquet"
    run_cli("-w", lake, "sql", "SELECT * FROM bike_data", "-o", "parquet", "--out", target)
    assert pq.read_table(target).num_rows == 731
    csv_file = tmp_path / "out.csv"
    run_cli("-w", lake, "sql", query, "-o", "csv", "--out", csv_file)
    assert csv_file.read_text().startswith('"dteday","rentals"\n2011-01-01,985\n')
    missing = run_cli("-w", lake, "sql", query, "-o", "parquet", expect=2)
    assert "--out" in missing.stderr


def test_a_file_with_parameters(run_cli: RunCli, lake: Path, tmp_path: Path) -> None:
    script = tmp_path / "busy.sql"
    script.write_text("-- busiest days\nSELECT count(*) AS n\nFROM bike_data\n"
                      "WHERE rentals > $n AND season = @season;\n")
    out = run_cli("-w", lake, "sql", "-f", script, "--param", "n=8000", "-p", "season=fall",
                  "-o", "json").stdout
    assert json.loads(out) == [{"n": 6}]


def test_sql_errors_exit_2_with_the_position(run_cli: RunCli, lake: Path) -> None:
    result = run_cli("-w", lake, "sql", "SELECT dteday, nope FROM bike_data", expect=2)
    assert result.stderr.startswith("Error: Binder Error: Referenced column \"nope\"")
    assert "(line 1, column 16)" in result.stderr and "Traceback" not in result.stderr


def test_ctas_from_the_command_line(run_cli: RunCli, lake: Path) -> None:
    run_cli("-w", lake, "sql", "CREATE TABLE fall AS SELECT * FROM bike_data "
            "WHERE season = 'fall'")
    out = run_cli("-w", lake, "sql", "SELECT count(*) AS n FROM default.fall", "-o", "json")
    assert json.loads(out.stdout) == [{"n": 188}]


def test_procedures(run_cli: RunCli, lake: Path, tmp_path: Path) -> None:
    proc = tmp_path / "busy_days.sql"
    proc.write_text("CREATE PROCEDURE busy_days @min INT = 8000, @season VARCHAR(10) = NULL AS\n"
                    "BEGIN\n  SELECT count(*) AS days FROM bike_data\n"
                    "  WHERE rentals > @min AND (@season IS NULL OR season = @season);\nEND\n")
    run_cli("-w", lake, "sql", "procedure", "create", "busy_days", "-f", proc)
    listed = json.loads(run_cli("-w", lake, "sql", "procedure", "list", "-o", "json").stdout)
    assert [p["name"] for p in listed] == ["busy_days"]
    assert listed[0]["parameters"] == ["@min INTEGER = 8000", "@season VARCHAR = NULL"]
    shown = run_cli("-w", lake, "sql", "procedure", "show", "busy_days").stdout
    assert "SELECT count(*) AS days" in shown
    out = run_cli("-w", lake, "sql", "exec", "busy_days", "-o", "json").stdout
    assert json.loads(out) == [{"days": 12}]
    out = run_cli("-w", lake, "sql", "exec", "busy_days", "--param", "min=7000",
                  "--param", "season=fall", "-o", "json").stdout
    assert json.loads(out) == [{"days": 45}]
    bad = run_cli("-w", lake, "sql", "exec", "busy_days", "--param", "nope=1", expect=2)
    assert "has no parameter(s) nope" in bad.stderr
    run_cli("-w", lake, "sql", "procedure", "create", "busy_days", "--replace", "--sql",
            "SELECT @n AS n", "--parameter", "n INT = 3")
    assert json.loads(run_cli("-w", lake, "sql", "exec", "busy_days", "-o", "json").stdout) \
        == [{"n": 3}]
    run_cli("-w", lake, "sql", "procedure", "drop", "busy_days")
    gone = run_cli("-w", lake, "sql", "exec", "busy_days", expect=2)
    assert "does not exist" in gone.stderr


def test_the_shell_reads_statements_from_stdin(lake: Path) -> None:
    script = (
        "SELECT 1 AS one;\n"
        ".tables\n"
        "SELECT count(*) AS n\n  FROM bike_data;\n"
        "SELECT nope;\n"
        "CREATE PROCEDURE twice @x INT AS\nBEGIN\n  SELECT @x * 2 AS y;\nEND;\n"
        "EXEC twice @x = 21;\n"
        "\\df\n"
        ".quit\n"
        "SELECT 'not reached';\n"
    )
    result = CliRunner().invoke(app, ["-w", str(lake), "sql"], input=script)
    out = result.stdout
    assert "one" in out and "default.bike_data" in out and "731" in out
    assert "42" in out and "twice(@x INTEGER)" in out and "not reached" not in out
    assert "Referenced column \"nope\"" in result.stderr
    assert result.exit_code == 1  # a statement failed (input was not a terminal)


def test_a_real_process(lakeworks_script: Path, lake: Path) -> None:
    done = subprocess.run(
        [str(lakeworks_script), "-w", str(lake), "sql", "SELECT count(*) AS n FROM bike_data",
         "-o", "json"], capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"n": 731}]
    assert "leaked" not in done.stderr  # the DuckDB connection was closed
    shell = subprocess.run(
        [str(lakeworks_script), "-w", str(lake), "sql"], input="SELECT 40 + 2 AS answer;\n",
        capture_output=True, text=True, timeout=120,
    )
    assert shell.returncode == 0, shell.stderr
    assert "answer" in shell.stdout and "42" in shell.stdout
