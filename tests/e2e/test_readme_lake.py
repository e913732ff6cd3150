"""The README's lake examples run as written: its shell block and its Python block.

The blocks are read from README.md, so the documentation cannot drift from what works. The
files they name (``day.csv``, ``more.csv``, ``dirty.csv``, ``report.sql``) are made from the
shipped daily bike data.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.workspace import stop_workspace_processes

README = Path(__file__).resolve().parents[2] / "README.md"


def lake_blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The lake", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def make_files(folder: Path) -> None:
    source = dataset_path("bike-rentals-daily")
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]

    def write(name: str, lines: list[list[str]]) -> None:
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(lines)

    write("day.csv", [header, *body])
    write("more.csv", [header, *body[:5]])
    write("dirty.csv", [header, *body[:20], ["only", "three", "fields"], *body[20:40]])
    (folder / "report.sql").write_text(
        "SELECT weathersit, COUNT(*) AS days FROM bike_data GROUP BY weathersit;\n")


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = create_workspace(tmp_path / "ws")
    make_files(ws.path)
    yield ws
    stop_workspace_processes(ws)
    ws.close()


def run_in(ws: Workspace, args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(args, cwd=ws.path, input=stdin, capture_output=True, text=True,
                          env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_readme_shell_examples(workspace: Workspace) -> None:
    tables_block, procedure_block = lake_blocks("bash")[:2]
    run_in(workspace, ["bash", "-euo", "pipefail", "-c", tables_block + procedure_block],
           stdin=".quit\n")
    summer = run_in(workspace, ["lakeworks", "sql", "SELECT COUNT(*) AS n FROM summer", "-o",
                                "csv"]).stdout
    assert summer.split()[-1] == "184"  # summer days in 2011-2012 as the data labels them
    bikes = pq.read_table(workspace.path / "bikes.parquet")
    assert bikes.num_rows == 731 + 5  # the load, then the append of more.csv
    raw = run_in(workspace, ["lakeworks", "sql", "SELECT COUNT(*) AS n FROM raw", "-o", "csv"])
    assert raw.stdout.split()[-1] == "40"  # the malformed row was skipped


def test_readme_python_example(workspace: Workspace) -> None:
    (python_block,) = lake_blocks("python")[:1]
    script = python_block + (
        "\nassert len(df) == (ml_client.sql('SELECT COUNT(*) AS n FROM bike_data WHERE temp > 25')"
        ".column('n')[0].as_py())\n"
        "assert old.num_rows == 731\n"
        "assert ml_client.lake.read('corrections').num_rows == 1\n"
    )
    run_in(workspace, [sys.executable, "-c", script])


@pytest.mark.spark
@pytest.mark.slow
def test_readme_spark_example(workspace: Workspace) -> None:
    import shutil

    pytest.importorskip("pyspark", reason="PySpark is the 'spark' extra")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)")
    (spark_block,) = [b for b in lake_blocks("python") if "lakeworks.spark.session()" in b]
    run_in(workspace, ["lakeworks", "table", "load", "day.csv", "--name", "bike_data"])
    run_in(workspace, [sys.executable, "-c", spark_block + "\nspark.stop()\n"])
    counts = run_in(workspace, [
        "lakeworks", "sql", "SELECT (SELECT COUNT(*) FROM dry_days) AS saved, "
        "(SELECT COUNT(*) FROM bike_data WHERE hum < 50) AS expected", "-o", "json"])
    (row,) = json.loads(counts.stdout)
    assert row["saved"] == row["expected"] > 0
