"""Spark start and a first query on ``bike_data``, through ``lakeworks.spark.session()``.

Measures, each run in a fresh Python process (a JVM starts every time, as in a Spark job):

* ``import lakeworks.spark`` + ``import pyspark``;
* ``lakeworks.spark.session(ws)``: JVM launch, SparkContext, the ``deltars`` data source
  registered and every lake table bound in Spark's catalog;
* the first query, ``spark.table("bike_data").count()`` (Python planner workers start here);
* a group-by, ``SELECT season, COUNT(*), AVG(rentals) FROM bike_data GROUP BY season``;
* the same start and count with plain PySpark (``local[N]``, UI off, reading the table's
  folder with ``spark.read.format("deltars")``): the cost Lakeworks adds to a start.

The workspace is made once: ``bike_data`` is the lab's 11 columns of the 731-row daily bike
CSV, loaded through the lake service. Medians of the runs are printed as a Markdown table.

Run:  python benches/spark_bench.py [--repeats 3] [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LAB_COLUMNS = ["season", "mnth", "holiday", "weekday", "workingday", "weathersit", "temp",
               "atemp", "hum", "windspeed", "rentals"]

def default_csv() -> Path:
    """The daily bike data shipped with Lakeworks."""
    from lakeworks.sample_data import dataset_path

    return dataset_path("bike-rentals-daily")

GROUP_BY = ("SELECT season, COUNT(*) AS days, AVG(rentals) AS mean_rentals "
            "FROM bike_data GROUP BY season ORDER BY season")


def child_lakeworks(workspace: str) -> dict[str, float]:
    t0 = time.perf_counter()
    import pyspark  # noqa: F401

    import lakeworks.spark

    t1 = time.perf_counter()
    spark = lakeworks.spark.session(workspace)
    t2 = time.perf_counter()
    rows = spark.table("bike_data").count()
    t3 = time.perf_counter()
    groups = spark.sql(GROUP_BY).collect()
    t4 = time.perf_counter()
    assert rows == 731 and len(groups) == 4, (rows, groups)
    spark.stop()
    return {"import": t1 - t0, "session": t2 - t1, "count": t3 - t2, "group_by": t4 - t3}


def child_plain(table_path: str) -> dict[str, float]:
    t0 = time.perf_counter()
    from pyspark.sql import SparkSession

    from lakeworks.adapters.spark import DeltaRsDataSource

    t1 = time.perf_counter()
    cores = len(os.sched_getaffinity(0))
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", str(2 * cores)).getOrCreate())
    spark.dataSource.register(DeltaRsDataSource)
    t2 = time.perf_counter()
    rows = spark.read.format("deltars").load(table_path).count()
    t3 = time.perf_counter()
    assert rows == 731
    spark.stop()
    return {"import": t1 - t0, "session": t2 - t1, "count": t3 - t2}


def run_child(*args: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr[-4000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def make_workspace(root: Path, csv: Path) -> tuple[Path, str]:
    import pyarrow.csv as pacsv

    from lakeworks.core.lake import WriteMode
    from lakeworks.services.lake import LakeService
    from lakeworks.services.workspace import create_workspace

    ws = create_workspace(root / "ws")
    data = pacsv.read_csv(csv).select(LAB_COLUMNS)
    lake = LakeService(ws)
    lake.write("bike_data", data, mode=WriteMode.ERROR, created_by="bench")
    location = lake.location(lake.table("bike_data").location).url
    ws.close()
    return ws.path, location


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--child", choices=["lakeworks", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("target", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "lakeworks":
        print(json.dumps(child_lakeworks(args.target)))
        return
    if args.child == "plain":
        print(json.dumps(child_plain(args.target)))
        return

    with tempfile.TemporaryDirectory(prefix="lakeworks-spark-bench-") as tmp:
        ws_path, table_path = make_workspace(Path(tmp), args.csv or default_csv())
        lakeworks_runs, plain_runs = [], []
        for _ in range(args.repeats):  # alternate, so that load drifts hit both alike
            lakeworks_runs.append(run_child("--child", "lakeworks", str(ws_path)))
            plain_runs.append(run_child("--child", "plain", table_path))

    def median(runs: list[dict[str, float]], key: str) -> str:
        return f"{statistics.median(r[key] for r in runs):.2f} s"

    def total(runs: list[dict[str, float]], keys: tuple[str, ...]) -> str:
        return f"{statistics.median(sum(r[k] for k in keys) for r in runs):.2f} s"

    load = os.getloadavg()[0]
    print(f"Spark start and first query on bike_data (731 rows); medians of {args.repeats} "
          f"runs, each a fresh process. {platform.python_version()}, "
          f"{len(os.sched_getaffinity(0))} CPUs, load {load:.1f} at the end.\n")
    print("| step | lakeworks.spark.session() | plain PySpark + deltars |")
    print("|---|---:|---:|")
    print(f"| import | {median(lakeworks_runs, 'import')} | {median(plain_runs, 'import')} |")
    print(f"| session start | {median(lakeworks_runs, 'session')} | "
          f"{median(plain_runs, 'session')} |")
    print(f"| first query: count | {median(lakeworks_runs, 'count')} | "
          f"{median(plain_runs, 'count')} |")
    print(f"| group-by (4 seasons) | {median(lakeworks_runs, 'group_by')} | - |")
    print(f"| import to first count | {total(lakeworks_runs, ('import', 'session', 'count'))} | "
          f"{total(plain_runs, ('import', 'session', 'count'))} |")


if __name__ == "__main__":
    main()
