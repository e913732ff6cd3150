"""Loading a CSV into a lake table: Lakeworks against ``deltalake.write_deltalake`` directly.

Measures, in one run and on the same machine, on one generated CSV file (default 1,000,000
rows, 10 columns: integers, doubles, strings, a date and a boolean):

* Lakeworks: ``LakeService.load(name, csv, mode="overwrite")``: the file streamed through
  pyarrow's CSV reader (type inference, malformed-row checks, progress counting), written to
  a Delta table in the workspace in one transaction, and the catalog record updated.
* delta-rs: ``write_deltalake(folder, pyarrow.csv.read_csv(csv), mode="overwrite")``.

Repeats alternate between the two paths; medians are compared (goal: at most 1.2x).

Run:  python benches/lake_load_bench.py [--rows 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
from deltalake import DeltaTable, write_deltalake

from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import create_workspace

TABLE = "bench_load"
SEASONS = np.array(["spring", "summer", "fall", "winter"])
CITIES = np.array(["Lisbon", "Oslo", "Quito", "Perth", "Accra", "Hanoi"])


def write_csv(path: Path, rows: int, seed: int = 11) -> None:
    """A CSV of ``rows`` rows and ten columns, written in chunks."""
    rng = np.random.default_rng(seed)
    chunk = 200_000
    with pacsv.CSVWriter(path, schema=_schema()) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            writer.write_table(pa.table({
                "id": np.arange(start, start + n, dtype=np.int64),
                "day": (np.datetime64("2011-01-01") + rng.integers(0, 3650, n)).astype(
                    "datetime64[D]"),
                "season": SEASONS[rng.integers(0, len(SEASONS), n)],
                "city": CITIES[rng.integers(0, len(CITIES), n)],
                "temp": rng.normal(15.0, 8.0, n).round(3),
                "hum": rng.random(n).round(4),
                "wind": (rng.random(n) * 30).round(2),
                "rentals": rng.integers(0, 9000, n, dtype=np.int64),
                "holiday": rng.random(n) < 0.05,
                "score": rng.normal(size=n),
            }, schema=_schema()))


def _schema() -> pa.Schema:
    return pa.schema([
        ("id", pa.int64()), ("day", pa.date32()), ("season", pa.string()),
        ("city", pa.string()), ("temp", pa.float64()), ("hum", pa.float64()),
        ("wind", pa.float64()), ("rentals", pa.int64()), ("holiday", pa.bool_()),
        ("score", pa.float64()),
    ])


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="lakeworks-load-bench-") as tmp:
        root = Path(tmp)
        csv = root / "input.csv"
        write_csv(csv, args.rows)
        lake = LakeService(create_workspace(root / "ws"))
        direct = root / "direct"

        def lakeworks() -> None:
            result = lake.load(TABLE, str(csv), mode="overwrite")
            assert result.rows_written == args.rows

        def delta_rs() -> None:
            write_deltalake(str(direct), pacsv.read_csv(csv), mode="overwrite")

        lakeworks()  # warm-up: imports, first table creation, file cache
        delta_rs()
        ours: list[float] = []
        theirs: list[float] = []
        for _ in range(args.repeats):
            ours.append(timed(lakeworks))
            theirs.append(timed(delta_rs))
        assert lake.read(TABLE).num_rows == DeltaTable(str(direct)).to_pyarrow_table().num_rows
        size = csv.stat().st_size
        shutil.rmtree(direct, ignore_errors=True)

    mine, base = statistics.median(ours), statistics.median(theirs)
    print(f"Load a {args.rows:,}-row CSV ({size / 2**20:.1f} MiB, 10 columns) into a Delta "
          f"table; median of {args.repeats} alternating repeats; {platform.processor() or ''}"
          f" {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"pyarrow {pa.__version__}; load average {load_before:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after\n")
    print("| path | median (s) | min (s) | ratio |")
    print("|---|---|---|---|")
    print(f"| `deltalake.write_deltalake(read_csv(...))` | {base:.3f} | {min(theirs):.3f} "
          "| 1.00x |")
    print(f"| `LakeService.load` (lakeworks) | {mine:.3f} | {min(ours):.3f} "
          f"| {mine / base:.2f}x |")
    print(f"\nGoal: at most 1.2x. {'Met' if mine / base <= 1.2 else 'Not met'}.")


if __name__ == "__main__":
    main()
