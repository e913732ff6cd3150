"""Spark on a lake in object storage: a workspace whose datastore is S3 (moto on 127.0.0.1).

The tables' Delta logs and Parquet files live in the bucket; Spark reads them and
``saveAsTable`` writes new ones there through the ``deltars`` data source, and the lake
service (delta-rs) reads back what Spark wrote.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import create_workspace
from lakeworks.testing.s3 import S3Server

pytestmark = [pytest.mark.spark, pytest.mark.s3]

if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java 17+ (java on PATH or JAVA_HOME)", allow_module_level=True)
pytest.importorskip("pyspark", reason="PySpark is the 'spark' extra")


def test_spark_reads_and_writes_lake_tables_in_s3(tmp_path: Path, s3_bucket_url: str,
                                                 s3_server: S3Server) -> None:
    import lakeworks.spark as lwspark

    ws = create_workspace(tmp_path / "ws", settings={"artifact_url": s3_bucket_url,
                                                     "s3_endpoint_url": s3_server.endpoint_url})
    try:
        lake = LakeService(ws)
        lake.load("bike_data", str(dataset_path("bike-rentals-daily")))
        spark = lwspark.session(ws)
        try:
            assert spark.table("bike_data").count() == 731
            spark.table("bike_data").where("hum < 50").write.saveAsTable("dry_days")
            spark.sql("SELECT * FROM bike_data").write.mode("append").saveAsTable("bike_data")
            dry = spark.table("dry_days").count()
        finally:
            spark.stop()
        assert lake.read("bike_data").num_rows == 1462
        assert [v.version for v in lake.history("bike_data")][:2] == [1, 0]
        assert lake.read("dry_days").num_rows == dry > 0
        (dry_table,) = [t for t in lake.sql_tables() if t.name == "dry_days"]
        assert dry_table.files
        assert all(f.startswith(f"{s3_bucket_url}/lake/warehouse/dry_days/")
                   for f in dry_table.files)
    finally:
        ws.close()
