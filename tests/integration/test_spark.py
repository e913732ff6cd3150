"""Spark on the lake: the ``deltars`` data source and sessions wired to the lake catalog.

Real Spark in local mode, one session for the whole module (a start costs seconds), real
delta-rs tables in a real workspace. Skipped without Java.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lakeworks.core.lake import WriteMode
from lakeworks.errors import ConflictError
from lakeworks.sample_data import dataset_path
from lakeworks.services.workspace import Workspace

pytestmark = pytest.mark.spark

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)", allow_module_level=True)
pyspark = pytest.importorskip("pyspark", reason="PySpark is the 'spark' extra")

from pyspark.errors import PySparkException  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql import types as T  # noqa: E402

import lakeworks.spark as lwspark  # noqa: E402
from lakeworks.adapters.spark.storage import storage_options  # noqa: E402
from lakeworks.services.lake import LakeService  # noqa: E402

BIKE_CSV = dataset_path("bike-rentals-daily")
LAB_COLUMNS = ["season", "mnth", "holiday", "weekday", "workingday", "weathersit", "temp",
               "atemp", "hum", "windspeed", "rentals"]


@pytest.fixture(scope="module")
def spark(module_ws: Workspace) -> Iterator[SparkSession]:
    session = lwspark.session(module_ws)
    try:
        yield session
    finally:
        session.stop()


def sample_table() -> pa.Table:
    return pa.table({
        "id": pa.array([1, 2, 3], pa.int64()),
        "small": pa.array([1, None, 3], pa.int32()),
        "score": [1.5, None, -2.25],
        "name": ["a", "b", None],
        "day": [date(2020, 1, 1), None, date(2021, 12, 31)],
        "at": pa.array([datetime(2020, 1, 1, 12, tzinfo=UTC), None,
                        datetime(2021, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)],
                       pa.timestamp("us", "UTC")),
        "amount": pa.array([Decimal("1.23"), None, Decimal("-4.50")], pa.decimal128(10, 2)),
        "flag": [True, False, None],
        "part": ["x", "y", "x"],
    })


def as_utc(table: pa.Table) -> pa.Table:
    """Spark's Arrow timestamps carry the session's zone: the same instants, in UTC."""
    columns = [c.cast(pa.timestamp("us", "UTC")) if pa.types.is_timestamp(c.type) else c
               for c in table.columns]
    return pa.table(columns, names=table.column_names)


def parquet_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*.parquet")}


# --- the data source on plain Delta folders ---------------------------------------------------


def test_reads_a_table_written_by_delta_rs_with_its_types(spark: SparkSession,
                                                         tmp_path: Path) -> None:
    expected = sample_table()
    write_deltalake(tmp_path / "t", expected, partition_by=["part"])
    df = spark.read.format("deltars").load(str(tmp_path / "t"))
    types = {f.name: f.dataType for f in df.schema.fields}
    assert types == {
        "id": T.LongType(), "small": T.IntegerType(), "score": T.DoubleType(),
        "name": T.StringType(), "day": T.DateType(), "at": T.TimestampType(),
        "amount": T.DecimalType(10, 2), "flag": T.BooleanType(), "part": T.StringType(),
    }
    got = as_utc(df.orderBy("id").toArrow())
    assert got.select(expected.column_names).to_pylist() == expected.to_pylist()
    # one Spark partition per live file (two partition values: two files)
    assert df.rdd.getNumPartitions() == 2


def test_writes_append_and_overwrite_in_one_transaction_each(spark: SparkSession,
                                                            tmp_path: Path) -> None:
    path = str(tmp_path / "w")
    df = spark.createDataFrame(
        [tuple(r.values()) for r in sample_table().drop_columns(["part"]).to_pylist()],
        "id long, small int, score double, name string, day date, at timestamp, "
        "amount decimal(10,2), flag boolean",
    ).repartition(3)
    df.write.format("deltars").mode("append").save(path)
    df.write.format("deltars").mode("append").save(path)
    dt = DeltaTable(path)
    assert dt.version() == 1  # two writes of three tasks each: two commits
    assert len(dt.file_uris()) >= 2
    back = dt.to_pyarrow_table().sort_by("id")
    assert back.num_rows == 6
    assert back.schema.field("at").type == pa.timestamp("us", "UTC")
    assert back.schema.field("day").type == pa.date32()
    assert back.schema.field("amount").type == pa.decimal128(10, 2)
    assert back.column("amount").to_pylist()[:2] == [Decimal("1.23"), Decimal("1.23")]
    assert back.column("at").to_pylist()[-1] == datetime(2021, 6, 1, 8, 30, 15, 123456,
                                                         tzinfo=UTC)

    spark.range(4).selectExpr("id", "cast(id * 2 as double) as score").write.format(
        "deltars").mode("overwrite").option("overwriteSchema", "true").save(path)
    dt = DeltaTable(path)
    assert dt.version() == 2
    assert [h["operation"] for h in dt.history()][:1] == ["WRITE"]
    assert dt.to_pyarrow_table().sort_by("id").to_pydict() == {
        "id": [0, 1, 2, 3], "score": [0.0, 2.0, 4.0, 6.0]}
    # time travel
    assert spark.read.format("deltars").option("versionAsOf", 0).load(path).count() == 3
    assert spark.read.format("deltars").option("versionAsOf", 1).load(path).count() == 6
    assert spark.read.format("deltars").load(path).count() == 4


def test_partitioned_write_is_read_back_by_delta_rs(spark: SparkSession, tmp_path: Path) -> None:
    path = str(tmp_path / "p")
    df = spark.createDataFrame([(1, "a b/c", date(2020, 1, 1)), (2, "x", None), (3, "x", None)],
                               "id long, tag string, day date")
    df.write.format("deltars").option("partitionBy", "tag,day").mode("append").save(path)
    dt = DeltaTable(path)
    assert dt.metadata().partition_columns == ["tag", "day"]
    assert sorted(dt.to_pyarrow_table().to_pylist(), key=lambda r: r["id"]) == [
        {"id": 1, "tag": "a b/c", "day": date(2020, 1, 1)},
        {"id": 2, "tag": "x", "day": None}, {"id": 3, "tag": "x", "day": None}]
    back = spark.read.format("deltars").load(path).orderBy("id").collect()
    assert [(r.id, r.tag, r.day) for r in back] == [(1, "a b/c", date(2020, 1, 1)),
                                                    (2, "x", None), (3, "x", None)]


def test_append_with_other_types_is_refused_and_changes_nothing(spark: SparkSession,
                                                               tmp_path: Path) -> None:
    path = str(tmp_path / "m")
    write_deltalake(path, pa.table({"id": pa.array([1], pa.int64()), "name": ["a"]}))
    bad = spark.createDataFrame([("x", "b")], "id string, name string")
    with pytest.raises(PySparkException, match="column 'id' is string, the table has int64"):
        bad.write.format("deltars").mode("append").save(path)
    # a narrower integer widens into the table's type
    spark.createDataFrame([(2, "b")], "id int, name string").write.format("deltars").mode(
        "append").save(path)
    dt = DeltaTable(path)
    assert dt.version() == 1
    assert dt.schema().to_arrow().field("id").type == pa.int64()


def test_a_failed_write_commits_nothing_and_leaves_no_files(spark: SparkSession,
                                                           tmp_path: Path) -> None:
    path = tmp_path / "f"
    write_deltalake(path, pa.table({"id": pa.array([1], pa.int64())}))
    before = parquet_files(path)
    # the second task fails after a pause, once the first has written its file
    failing = spark.range(0, 10, numPartitions=2).selectExpr(
        "if(id = 7, raise_error(concat('boom', "
        "coalesce(reflect('java.lang.Thread', 'sleep', 3000L), ''))), id) as id")
    with pytest.raises(PySparkException, match="boom"):
        failing.write.format("deltars").mode("append").save(str(path))
    assert DeltaTable(path).version() == 0
    assert parquet_files(path) == before


def test_missing_table_and_missing_path_say_what_to_do(spark: SparkSession,
                                                      tmp_path: Path) -> None:
    with pytest.raises(PySparkException, match="no Delta table at"):
        spark.read.format("deltars").load(str(tmp_path / "nothing")).count()
    with pytest.raises(PySparkException, match="needs a 'path' option"):
        spark.read.format("deltars").load().count()


def test_storage_options_are_translated_for_delta_rs() -> None:
    assert storage_options({
        "path": "s3://b/t", "endpoint_url": "http://127.0.0.1:9000", "key": "k",
        "secret": "s", "versionAsOf": "1", "storage.aws_region": "eu-west-1",
    }) == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_ACCESS_KEY_ID": "k",
           "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "eu-west-1", "AWS_ALLOW_HTTP": "true"}


# --- sessions wired to a workspace's lake catalog ----------------------------------------------


def bike_df(spark: SparkSession):  # type: ignore[no-untyped-def]
    """The lab's code: the daily bike CSV, the 11 columns it keeps."""
    df = spark.read.load(str(BIKE_CSV), format="csv", header=True, inferSchema=True)
    return df.select(*LAB_COLUMNS)


def test_lake_tables_are_spark_tables(spark: SparkSession, module_ws: Workspace) -> None:
    lake = LakeService(module_ws)
    lake.write("trips", pa.table({"id": pa.array([1, 2, 3], pa.int64()), "km": [1.5, 2.0, 7.25]}),
               mode=WriteMode.ERROR, created_by="test")
    lake.create_database("sales")
    lake.write("sales.orders", sample_table(), mode=WriteMode.ERROR, created_by="test")
    assert lwspark.refresh(spark)  # tables made after the session started
    assert spark.table("trips").count() == 3
    assert spark.sql("SELECT SUM(km) AS km FROM default.trips").collect()[0].km == 10.75
    got = as_utc(spark.sql("SELECT * FROM sales.orders ORDER BY id").toArrow())
    assert got.select(sample_table().column_names).to_pylist() == sample_table().to_pylist()
    # Spark's INSERT INTO reaches the same Delta table, which the lake reads back; the commit
    # hook (run in a Spark Python worker) refreshed the catalog record
    before = lake.table("trips").updated_at
    spark.sql("INSERT INTO trips VALUES (4, 0.5)")
    assert lake.read("trips").num_rows == 4
    assert lake.table("trips").updated_at > before
    assert lwspark.read_table("trips", version=0, spark=spark).count() == 3


def test_save_as_table_lands_in_the_lake_catalog(spark: SparkSession, module_ws: Workspace) -> None:
    bike_df(spark).write.saveAsTable("bike_data")  # the lab's code, unchanged
    lake = LakeService(module_ws)
    record = lake.table("bike_data")
    assert record.created_by == "spark"
    table = lake.read("bike_data")
    assert table.num_rows == 731
    types = {f.name: f.type for f in table.schema}
    assert list(types) == LAB_COLUMNS
    assert types["season"] == pa.string() and types["mnth"] == pa.int32()
    assert types["temp"] == pa.float64() and types["rentals"] == pa.int32()
    assert sum(table.column("rentals").to_pylist()) == 3292679
    # Spark reads it back by name, and the same call again refuses to replace it
    assert spark.table("bike_data").count() == 731
    with pytest.raises(ConflictError, match="already exists"):
        bike_df(spark).write.saveAsTable("bike_data")
    # append and overwrite are single Delta transactions on the same table
    bike_df(spark).limit(10).write.mode("append").saveAsTable("bike_data")
    assert lake.read("bike_data").num_rows == 741
    bike_df(spark).groupBy("season").count().write.mode("overwrite").saveAsTable("bike_data")
    assert spark.table("bike_data").columns == ["season", "count"]
    assert lake.read("bike_data").num_rows == 4


def test_save_as_table_in_a_database_with_partitions_and_external_path(
    spark: SparkSession, module_ws: Workspace, tmp_path: Path
) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS lab")
    bike_df(spark).write.partitionBy("season").mode("overwrite").saveAsTable("lab.bikes")
    lake = LakeService(module_ws)
    assert lake.table("lab.bikes").partition_by == ("season",)
    assert lake.read("lab.bikes").num_rows == 731
    external = tmp_path / "ext"
    lwspark.save_as_table(bike_df(spark).limit(5), "lab.sample", path=str(external))
    assert DeltaTable(external).to_pyarrow_table().num_rows == 5
    assert lake.read("lab.sample").num_rows == 5
    assert spark.sql("SELECT COUNT(*) AS n FROM lab.sample").collect()[0].n == 5


def test_run_entry_gives_the_script_the_lakeworks_session(
    spark: SparkSession, module_ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "prepare.py"
    script.write_text(
        "import sys\n"
        "from pyspark.sql import SparkSession\n"
        "spark = SparkSession.builder.getOrCreate()\n"
        "df = spark.createDataFrame([(i,) for i in range(int(sys.argv[1]))], 'n long')\n"
        "df.write.saveAsTable(sys.argv[2])\n"
    )
    monkeypatch.setenv(lwspark.WORKSPACE_ENV, str(module_ws.path))
    before = spark.conf.get("spark.sql.shuffle.partitions")
    try:
        lwspark.run_entry(str(script), ["6", "from_script"],
                          {"spark.sql.shuffle.partitions": "3"})
        assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", str(before))
    assert LakeService(module_ws).read("from_script").num_rows == 6
    assert spark.table("from_script").count() == 6  # the session was already active: kept


def test_without_pyspark_the_error_names_the_extra(module_ws: Workspace) -> None:
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pyspark' or name.startswith('pyspark.'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}')\n"
        "sys.meta_path.insert(0, Hide())\n"
        "import lakeworks.spark\n"
        "from lakeworks.errors import MissingDependencyError\n"
        "try:\n"
        f"    lakeworks.spark.session({str(module_ws.path)!r})\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'lakeworks[spark]'" in done.stdout
    assert "pyspark" in done.stdout
