"""SQL engine overhead: an aggregate over a 10-million-row Delta table, Lakeworks against DuckDB.

Measures, in one run and on the same machine:

* Lakeworks: ``ml_client.sql(QUERY)`` on a lake table (a Delta table in the catalog, written
  in several files), through the SQL service (statement parsing, catalog check, DuckDB view
  over the live files, Arrow result). The first call (engine start, table registration) is
  reported apart; the timed calls reuse the client's engine, as a notebook or shell does.
* DuckDB: the same query with ``read_parquet('<table folder>/*.parquet')`` on a fresh
  in-memory connection, result fetched as Arrow.

Repeats alternate between the two paths (and which goes first); medians are compared
(goal: at most 1.1x). A point query shows the fixed cost of a call.

Run:  python benches/sql_bench.py [--rows 10000000] [--files 8] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from lakeworks import MLClient
from lakeworks.core.lake import WriteMode
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import create_workspace

TABLE = "bench_sales"
QUERY = (
    "SELECT category, SUM(amount) AS total, AVG(qty) AS avg_qty, COUNT(*) AS n "
    "FROM {source} GROUP BY category ORDER BY category"
)
CATEGORIES = np.array(["books", "games", "garden", "music", "shoes", "sports", "tools", "toys"])
REGIONS = np.array(["east", "north", "south", "west"])


def batches(rows: int, parts: int, seed: int = 7) -> Iterator[pa.Table]:
    """``parts`` tables of about ``rows / parts`` rows: numbers and low-cardinality strings."""
    rng = np.random.default_rng(seed)
    size = -(-rows // parts)
    for start in range(0, rows, size):
        n = min(size, rows - start)
        yield pa.table({
            "id": np.arange(start, start + n, dtype=np.int64),
            "category": pa.array(CATEGORIES[rng.integers(0, len(CATEGORIES), n)]),
            "region": pa.array(REGIONS[rng.integers(0, len(REGIONS), n)]),
            "qty": rng.integers(1, 20, n, dtype=np.int64),
            "amount": rng.gamma(2.0, 30.0, n),
        })


def build(ws_path: Path, rows: int, files: int) -> Path:
    """A workspace with the Delta table ``TABLE`` (one file per write); its folder."""
    ws = create_workspace(ws_path)
    lake = LakeService(ws)
    for number, part in enumerate(batches(rows, files)):
        mode = WriteMode.ERROR if number == 0 else WriteMode.APPEND
        lake.write(TABLE, part, mode=mode, created_by="bench")
    (table,) = lake.sql_tables(names=[TABLE])
    ws.close()
    return Path(table.files[0].removeprefix("file://")).parent


def check(ours: pa.Table, theirs: pa.Table) -> None:
    """The two paths give the same groups and counts, and sums equal to rounding (parallel
    float sums are not bit-identical from run to run)."""
    assert ours.column("category").to_pylist() == theirs.column("category").to_pylist()
    assert ours.column("n").to_pylist() == theirs.column("n").to_pylist()
    for a, b in zip(ours.column("total").to_pylist(), theirs.column("total").to_pylist(),
                    strict=True):
        assert abs(a - b) <= 1e-9 * abs(b), (a, b)


def timed(run: Callable[[], pa.Table]) -> tuple[float, pa.Table]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lakeworks-sql-bench-") as tmp:
        started = time.perf_counter()
        folder = build(Path(tmp) / "ws", args.rows, args.files)
        build_s = time.perf_counter() - started
        parquet = sorted(str(p) for p in folder.glob("*.parquet"))

        client = MLClient(workspace=Path(tmp) / "ws")
        first_s, ours = timed(lambda: client.sql(QUERY.format(source=TABLE)))
        con = duckdb.connect()
        plain_sql = QUERY.format(source=f"read_parquet('{folder}/*.parquet')")
        _, theirs = timed(lambda: con.sql(plain_sql).to_arrow_table())
        check(ours, theirs)

        lakeworks_s: list[float] = []
        duckdb_s: list[float] = []
        for repeat in range(args.repeats):  # alternate which path goes first
            runs = [(lakeworks_s, lambda: client.sql(QUERY.format(source=TABLE))),
                    (duckdb_s, lambda: con.sql(plain_sql).to_arrow_table())]
            for times, run in runs if repeat % 2 == 0 else runs[::-1]:
                times.append(timed(run)[0])
        # The fixed cost of one call (parsing, catalog check, Arrow result) on a tiny query.
        tiny = f"SELECT count(*) FROM {TABLE} WHERE id = 1"
        tiny_plain = f"SELECT count(*) FROM read_parquet('{folder}/*.parquet') WHERE id = 1"
        tiny_ours = [timed(lambda: client.sql(tiny))[0] for _ in range(30)]
        tiny_theirs = [timed(lambda: con.sql(tiny_plain).to_arrow_table())[0] for _ in range(30)]
        con.close()
        client.close()

    ours_median = statistics.median(lakeworks_s)
    theirs_median = statistics.median(duckdb_s)
    print(f"SQL bench: {args.rows:,} rows in {len(parquet)} Parquet files (Delta), "
          f"{args.repeats} repeats, duckdb {duckdb.__version__}, Python "
          f"{platform.python_version()}, {os.cpu_count()} CPUs; table built in {build_s:.1f} s")
    print(f"Query: {QUERY.format(source='<table>')}")
    print()
    print("| path | median (s) | min (s) | vs DuckDB |")
    print("|---|---:|---:|---:|")
    print(f"| DuckDB `read_parquet` glob | {theirs_median:.3f} | {min(duckdb_s):.3f} | 1.00x |")
    print(f"| `ml_client.sql` (warm engine) | {ours_median:.3f} | {min(lakeworks_s):.3f} "
          f"| {ours_median / theirs_median:.2f}x |")
    print(f"| `ml_client.sql`, first call (engine start + registration) | {first_s:.3f} | | |")
    print(f"| point query, DuckDB (30 runs) | {statistics.median(tiny_theirs):.4f} "
          f"| {min(tiny_theirs):.4f} | |")
    print(f"| point query, `ml_client.sql` (30 runs) | {statistics.median(tiny_ours):.4f} "
          f"| {min(tiny_ours):.4f} | |")
    load = os.getloadavg()
    print(f"\nLoad average (1, 5, 15 min) after the run: {load[0]:.1f}, {load[1]:.1f}, "
          f"{load[2]:.1f}")


if __name__ == "__main__":
    main()
