"""PREDICT overhead: scoring 1,000,000 rows with a registered ONNX model, SQL and Spark against
ONNX Runtime called directly.

Model: a 100-tree ``GradientBoostingRegressor`` (depth 3) trained on 20,000 rows of 10 float
features, exported with skl2onnx (one graph input per column, ``f0`` .. ``f9``, so SQL binds
them by name) and registered in a workspace. Data: the same 10 features for ``--rows`` rows,
as a lake table (Delta, written in ``--files`` files) and as numpy arrays. Measured in one
run, medians of ``--repeats`` (the first call of each path, a warm-up, is not counted):

* (a) ONNX Runtime directly, one session with as many intra-op threads as the SQL engine has
  threads (the cores), 65,536-row batches;
* (a_par) the same work split the SQL engine makes, without it: one-thread sessions on
  2,048-row batches from N Python threads (N = cores);
* (b) ``PREDICT`` in Lakeworks' SQL engine (DuckDB) over the lake table, through
  ``ml_client.sql`` (see ``sql_predict``);
* (c) scikit-learn's ``predict`` on the whole array;
* (d) Spark SQL ``PREDICT('bench-model', struct(*))`` in a ``lakeworks.spark`` session
  (``local[N]``) over the table held in Spark's memory (a local checkpoint, in 2N
  partitions), and (d_df) ``lakeworks.spark.predict`` on the same DataFrame. Each run writes
  the predictions to Spark's ``noop`` sink, so everything is computed and nothing collected.

Every path's predictions are checked against (a) to 1e-5. Ratios are of times (lower is
better for the numerator): goal b/a <= 1.15.

Run:  python benches/predict_bench.py [--rows 1000000] [--repeats 5] [--files 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pandas as pd
import pyarrow as pa
import sklearn
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.pipeline import Pipeline, make_pipeline

from lakeworks import MLClient
from lakeworks.core.lake import WriteMode
from lakeworks.entities import Model
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import create_workspace

FEATURES = [f"f{i}" for i in range(10)]
TABLE = "bench_features"
MODEL = "bench-model"
TOLERANCE = 1e-5


def make_data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, ``rows`` x 10) and a non-linear target with noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES))).astype(np.float32)
    y = (np.sin(x[:, 0]) * 3 + x[:, 1] * x[:, 2] + np.abs(x[:, 3]) - x[:, 4] ** 2
         + 0.5 * x[:, 5:].sum(axis=1) + rng.normal(scale=0.1, size=rows))
    return x, y


def train(x: np.ndarray, y: np.ndarray, trees: int) -> tuple[Pipeline, bytes]:
    """The fitted model and its ONNX export (one float input per feature column)."""
    columns = ColumnTransformer([("features", "passthrough", list(range(len(FEATURES))))])
    model = make_pipeline(columns, GradientBoostingRegressor(n_estimators=trees, max_depth=3,
                                                             random_state=0))
    model.fit(x, y)
    # column positions index the graph's inputs, concatenated in order
    types = [(name, FloatTensorType([None, 1])) for name in FEATURES]
    onnx = convert_sklearn(model, initial_types=types, target_opset=17)
    return model, onnx.SerializeToString()


def build_workspace(folder: Path, x: np.ndarray, content: bytes, files: int) -> None:
    """A workspace with the model registered and the features as a lake table."""
    ws = create_workspace(folder / "ws")
    lake = LakeService(ws)
    ids = np.arange(len(x), dtype=np.int64)
    for number, part in enumerate(np.array_split(np.arange(len(x)), files)):
        table = pa.table({"id": ids[part], **{f: x[part, i] for i, f in enumerate(FEATURES)}})
        lake.write(TABLE, table, mode=WriteMode.ERROR if number == 0 else WriteMode.APPEND,
                   created_by="bench")
    (folder / "model.onnx").write_bytes(content)
    MLClient(workspace=ws.path).models.create_or_update(
        Model(name=MODEL, path=str(folder / "model.onnx"), type="custom_model"))
    ws.close()


def session(content: bytes, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])


def feeds(x: np.ndarray, start: int, stop: int) -> dict[str, np.ndarray]:
    return {f: x[start:stop, i:i + 1] for i, f in enumerate(FEATURES)}


def direct(content: bytes, x: np.ndarray, threads: int, batch: int = 65_536) -> np.ndarray:
    """(a) one session, ``threads`` intra-op threads, large batches."""
    sess = session(content, threads)
    parts = [sess.run(None, feeds(x, s, s + batch))[0] for s in range(0, len(x), batch)]
    return np.concatenate(parts).ravel()


def direct_parallel(content: bytes, x: np.ndarray, workers: int,
                    batch: int = 2_048) -> np.ndarray:
    """(a_par) one-thread sessions, small batches, ``workers`` Python threads."""
    sessions = [session(content, 1) for _ in range(workers)]
    starts = list(range(0, len(x), batch))

    def run(index: int) -> list[tuple[int, np.ndarray]]:
        sess = sessions[index]
        return [(s, sess.run(None, feeds(x, s, s + batch))[0])
                for s in starts[index::workers]]

    out = np.empty(len(x), dtype=np.float32)
    with ThreadPoolExecutor(workers) as pool:
        for part in pool.map(run, range(workers)):
            for s, values in part:
                out[s:s + len(values)] = values.ravel()
    return out


def sql_predict(client: MLClient) -> np.ndarray:
    """(b) PREDICT in Lakeworks' SQL engine over the lake table, ordered by row id.

    The T-SQL form (Synapse's ``PREDICT(MODEL = ..., DATA = ...) WITH (...)``); the model
    expression follows the SQL engine's PREDICT (a registered model's name here).
    """
    query = (f"SELECT d.id, p.variable FROM PREDICT(MODEL = '{MODEL}', DATA = {TABLE} AS d, "
             "RUNTIME = ONNX) WITH (variable FLOAT) AS p ORDER BY d.id")
    result: pa.Table = client.sql(query)
    return np.asarray(result.column("variable").to_numpy(), dtype=np.float64)


class SparkPaths:
    """(d) and (d_df): a Lakeworks Spark session over the same table, held in memory."""

    def __init__(self, workspace: Path, cores: int) -> None:
        import lakeworks.spark as lwspark

        self.lwspark = lwspark
        self.spark = lwspark.session(workspace)  # local[cores]: one thread per usable CPU
        # Materialised in Spark's block manager (a checkpoint, not .cache(): a cached plan
        # over a Python data source is not matched again through a temporary view), so each
        # run times scoring, not re-reading the Delta table.
        df = self.spark.table(TABLE).repartition(2 * cores).localCheckpoint(eager=True)
        df.createOrReplaceTempView("bench_cached")
        self.df = df

    def sql(self) -> None:
        self.spark.sql(f"SELECT PREDICT('{MODEL}', struct(*)) AS p FROM bench_cached") \
            .write.format("noop").mode("overwrite").save()

    def dataframe(self) -> None:
        self.lwspark.predict(self.df, MODEL).write.format("noop").mode("overwrite").save()

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        sql = self.spark.sql(f"SELECT id, PREDICT('{MODEL}', struct(*)) AS p FROM bench_cached")
        by_sql = pd.DataFrame(sql.toPandas()).sort_values("id")["p"].to_numpy()
        scored = self.lwspark.predict(self.df, MODEL).select("id", "prediction")
        frame = pd.DataFrame(scored.toPandas()).sort_values("id")
        return by_sql, frame["prediction"].to_numpy()

    def stop(self) -> None:
        self.spark.stop()


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def check(name: str, got: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference from (a); fails beyond the tolerance."""
    diff = float(np.max(np.abs(np.asarray(got, dtype=np.float64) - expected)))
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert diff <= TOLERANCE * scale, f"{name} differs from ONNX Runtime by {diff}"
    return diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--train-rows", type=int, default=20_000)
    parser.add_argument("--trees", type=int, default=100)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-spark", action="store_true", help="skip the Spark paths")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1

    x_train, y_train = make_data(args.train_rows, seed=1)
    started = time.perf_counter()
    model, content = train(x_train, y_train, args.trees)
    fit_s = time.perf_counter() - started
    x, _ = make_data(args.rows, seed=2)

    with tempfile.TemporaryDirectory(prefix="lakeworks-predict-bench-") as tmp:
        build_workspace(Path(tmp), x, content, args.files)
        client = MLClient(workspace=Path(tmp) / "ws")
        paths: dict[str, Callable[[], Any]] = {
            "a": lambda: direct(content, x, cores),
            "a_par": lambda: direct_parallel(content, x, cores),
            "b": lambda: sql_predict(client),
            "c": lambda: model.predict(x),
        }
        expected = np.asarray(direct(content, x, cores), dtype=np.float64)
        differences = {}
        for name in ("a_par", "b", "c"):
            try:
                differences[name] = check(name, paths[name](), expected)  # also the warm-up
            except Exception as exc:  # the SQL PREDICT path may not be there yet
                if name != "b":
                    raise
                print(f"(b) SQL PREDICT not measured: {type(exc).__name__}: {exc}")
                del paths["b"]
        spark = None if args.no_spark else SparkPaths(Path(tmp) / "ws", cores)
        if spark is not None:
            by_sql, by_frame = spark.values()  # also the warm-up
            differences["d"] = check("d", by_sql, expected)
            differences["d_df"] = check("d_df", by_frame, expected)
            paths["d"] = spark.sql
            paths["d_df"] = spark.dataframe
        times: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths)
        for repeat in range(args.repeats):  # rotate which path goes first
            for name in order[repeat % len(order):] + order[:repeat % len(order)]:
                times[name].append(timed(paths[name]))
        if spark is not None:
            spark.stop()
        client.close()

    report(args, cores, fit_s, times, differences)


LABELS = {
    "a": "(a) onnxruntime direct, {cores} intra-op threads, 65,536-row batches",
    "a_par": "(a_par) onnxruntime, 1-thread sessions, 2,048-row batches, {cores} threads",
    "b": "(b) SQL `PREDICT` (DuckDB, `ml_client.sql`)",
    "c": "(c) scikit-learn `predict`",
    "d": "(d) Spark SQL `PREDICT('m', struct(*))`, local[{cores}], table in memory",
    "d_df": "(d_df) `lakeworks.spark.predict(df, 'm')`, local[{cores}], table in memory",
}


def report(args: argparse.Namespace, cores: int, fit_s: float,
           times: dict[str, list[float]], differences: dict[str, float]) -> None:
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"PREDICT bench: {args.rows:,} rows x {len(FEATURES)} float features, "
          f"GradientBoostingRegressor({args.trees} trees, depth 3) fitted on "
          f"{args.train_rows:,} rows in {fit_s:.1f} s; medians of {args.repeats} repeats; "
          f"onnxruntime {ort.__version__}, scikit-learn {sklearn.__version__}, Python "
          f"{platform.python_version()}, {cores} cores")
    print()
    print("| path | median (s) | min (s) | rows/s | max abs diff vs (a) |")
    print("|---|---:|---:|---:|---:|")
    for name, median in medians.items():
        diff = f"{differences[name]:.1e}" if name in differences else "-"
        print(f"| {LABELS[name].format(cores=cores)} | {median:.3f} | {min(times[name]):.3f} "
              f"| {args.rows / median:,.0f} | {diff} |")
    print()
    for numerator, denominator in (("b", "a"), ("b", "a_par"), ("d", "a"), ("d", "a_par"),
                                   ("c", "a")):
        if numerator in medians and denominator in medians:
            ratio = medians[numerator] / medians[denominator]
            print(f"{numerator}/{denominator} (time ratio): {ratio:.2f}")
    load = os.getloadavg()
    print(f"\nLoad average (1, 5, 15 min) after the run: {load[0]:.1f}, {load[1]:.1f}, "
          f"{load[2]:.1f}")


if __name__ == "__main__":
    main()
