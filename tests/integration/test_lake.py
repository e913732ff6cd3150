"""The lake database end to end: ``LakeService`` and ``ml_client.lake`` in a fresh workspace.

Real Delta tables in the workspace's default datastore, the real catalog (SQLite), the shipped
bike-rentals CSV, and real processes for concurrent writers. The bad-input cases of issue 3
each have a test: malformed CSV rows, an append whose schema does not match, two processes
appending at once, a table whose files vanished.
"""

from __future__ import annotations

import multiprocessing
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from lakeworks import MLClient
from lakeworks.core.lake import WriteMode
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError, StateError
from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.workspace import Workspace, create_workspace, open_workspace
from lakeworks.testing.s3 import S3Server

BIKES = dataset_path("bike-rentals-daily")


@pytest.fixture
def bikes_csv() -> Path:
    return BIKES


@pytest.fixture
def lake(workspace: Workspace) -> LakeService:
    return LakeService(workspace)


@pytest.fixture
def ml(workspace: Workspace) -> MLClient:
    return MLClient(workspace=workspace.path)


def test_load_bike_data_infers_types(lake: LakeService, ml: MLClient, bikes_csv: Path) -> None:
    result = lake.load("bike_data", str(bikes_csv))
    assert result.rows_written == 731 and result.rejects == []
    types = {c.name: c.type for c in result.record.columns}
    assert types["dteday"] == "date32[day]"
    assert types["mnth"] == "int64" and types["rentals"] == "int64"
    assert types["temp"] == "double" and types["season"] == "string"
    assert result.record.location == (
        "azureml://datastores/workspaceblobstore/paths/lake/warehouse/bike_data")
    info = ml.lake.get("bike_data")
    assert (info.database, info.version, len(info.columns)) == ("default", 0, 12)
    frame = ml.lake.read("bike_data").to_pandas()
    assert frame.shape == (731, 12)
    assert int(frame["rentals"].sum()) == int(pd.read_csv(bikes_csv)["rentals"].sum())
    assert [t.name for t in ml.lake.list()] == ["bike_data"]
    warehouse = Path(lake.warehouse_uri())
    assert (warehouse / "bike_data" / "_delta_log").is_dir()


def test_load_from_a_datastore_uri_with_progress(lake: LakeService, workspace: Workspace,
                                                 bikes_csv: Path) -> None:
    raw = workspace.path / "artifacts" / "raw"
    raw.mkdir(parents=True)
    shutil.copy(bikes_csv, raw / "bikes.csv")
    seen: list[tuple[int, int | None, int]] = []
    with pytest.raises(NotFoundError, match="lake database 'sales' does not exist"):
        lake.load("sales.bikes", "azureml://datastores/workspaceblobstore/paths/raw")
    lake.create_database("sales", description="bikes sold")
    result = lake.load("sales.bikes", "azureml://datastores/workspaceblobstore/paths/raw",
                       on_progress=lambda *p: seen.append(p))
    size = bikes_csv.stat().st_size
    assert result.rows_written == 731 and seen[-1] == (size, size, 731)
    assert result.record.location.endswith("/lake/warehouse/sales.db/bikes")
    assert [d.name for d in lake.list_databases()] == ["default", "sales"]
    assert [t.name for t in lake.list_tables("sales")] == ["bikes"]
    with pytest.raises(StateError, match="still has tables"):
        lake.drop_database("sales")


def test_write_append_merge_overwrite_history_and_time_travel(ml: MLClient) -> None:
    first = pd.DataFrame({"day": [1, 2], "rentals": [10, 20]})
    info = ml.lake.write(first, "daily")
    assert info.version == 0
    with pytest.raises(ConflictError, match="mode 'append'"):
        ml.lake.write(first, "daily")
    time.sleep(0.02)
    before_append = datetime.now(UTC)
    time.sleep(0.02)
    assert ml.lake.write(pd.DataFrame({"day": [3], "rentals": [30]}), "daily",
                         mode="append").version == 1
    merged = ml.lake.merge(pd.DataFrame({"day": [2, 4], "rentals": [21, 40]}), "daily", on="day")
    assert (merged.inserted, merged.updated, merged.version) == (1, 1, 2)
    now = ml.lake.read("daily").to_pandas().sort_values("day")
    assert now.to_dict("list") == {"day": [1, 2, 3, 4], "rentals": [10, 21, 30, 40]}
    ml.lake.write(pd.DataFrame({"day": [9], "rentals": [90]}), "daily", mode="overwrite")
    history = ml.lake.history("daily")
    assert [h.version for h in history] == [3, 2, 1, 0]
    assert [h.operation for h in history] == ["WRITE", "MERGE", "WRITE", "WRITE"]
    assert ml.lake.read("daily", version=0).num_rows == 2
    assert ml.lake.read("daily", as_of=before_append).num_rows == 2
    assert ml.lake.read("daily", as_of=before_append.isoformat()).num_rows == 2
    assert ml.lake.read("daily").to_pylist() == [{"day": 9, "rentals": 90}]


def test_malformed_csv_rows_fail_with_line_numbers(lake: LakeService, tmp_path: Path) -> None:
    source = tmp_path / "broken.csv"
    source.write_text("id,name,amount\n1,a,1.5\n2,b\n3,c,2.5\n4,d,4.5,extra\n5,e,5.5\n")
    with pytest.raises(InvalidInputError) as caught:
        lake.load("broken", str(source))
    assert "broken.csv" in str(caught.value) and "lines 3, 5" in str(caught.value)
    with pytest.raises(NotFoundError):
        lake.table("broken")  # nothing was written
    assert not Path(lake.location(lake.managed_location("broken")).url).exists()
    result = lake.load("broken", str(source), skip_bad_rows=True)
    assert result.rows_written == 3 and len(result.rejects) == 2
    assert [r.line for r in result.rejects] == [3, 5]


def test_append_with_another_schema_is_refused_and_leaves_the_table(
    lake: LakeService,
) -> None:
    lake.write("orders", pa.table({"id": [1, 2], "amount": [1.5, 2.5]}))
    before = lake.read("orders")
    wrong = pa.table({"id": ["three"], "amount": [3.5], "note": ["x"]})
    with pytest.raises(InvalidInputError) as caught:
        lake.write("orders", wrong, WriteMode.APPEND)
    message = str(caught.value)
    assert "column 'id' is string, the table has int64" in message
    assert "column 'note' is not in the table" in message
    assert lake.version("orders") == 0
    assert lake.read("orders").equals(before)


def _append_rows(workspace: str, worker: int, batches: int, start_at: float) -> None:
    ws = open_workspace(Path(workspace))
    try:
        lake = LakeService(ws)
        time.sleep(max(0.0, start_at - time.time()))
        for i in range(batches):
            ids = [worker * 1000 + i * 10 + k for k in range(10)]
            lake.write("events", pa.table({"id": ids, "worker": [worker] * 10}),
                       WriteMode.APPEND)
    finally:
        ws.close()


def test_two_processes_appending_at_once_both_land(lake: LakeService,
                                                   workspace: Workspace) -> None:
    lake.write("events", pa.table({"id": pa.array([], pa.int64()),
                                   "worker": pa.array([], pa.int64())}))
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 3.0  # both begin together, after interpreter start-up
    procs = [ctx.Process(target=_append_rows, args=(str(workspace.path), w, 8, start_at))
             for w in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=300)
        assert proc.exitcode == 0
    table = lake.read("events")
    expected = sorted(w * 1000 + i * 10 + k for w in (1, 2) for i in range(8) for k in range(10))
    assert sorted(table.column("id").to_pylist()) == expected
    assert lake.version("events") == 16
    assert [c.name for c in lake.table("events").columns] == ["id", "worker"]


def test_a_table_whose_files_vanished_gives_a_clear_error(lake: LakeService,
                                                          ml: MLClient) -> None:
    lake.write("gone", pa.table({"a": [1, 2, 3]}))
    folder = Path(lake.location("gone").url)
    for part in folder.glob("*.parquet"):
        part.unlink()
    with pytest.raises(NotFoundError, match=r"lake table default.gone: a data file .* missing"):
        ml.lake.read("gone")
    shutil.rmtree(folder)
    with pytest.raises(NotFoundError) as caught:
        ml.lake.read("gone")
    assert "lake table default.gone" in str(caught.value)
    assert str(folder) in str(caught.value) and "_delta_log" in str(caught.value)
    assert ml.lake.get("gone").version is None  # the record is still shown
    assert lake.sql_tables() == []  # left out of the SQL engine, with a warning
    ml.lake.drop("gone")
    with pytest.raises(NotFoundError, match="tables in 'default': none"):
        ml.lake.get("gone")


def test_register_external_refresh_drop_and_sql_tables(lake: LakeService,
                                                       tmp_path: Path) -> None:
    outside = tmp_path / "spark-wrote-this"
    lake.store.write(lake.location(str(outside)), pa.table({"k": [1], "v": ["a"]}),
                     WriteMode.ERROR)
    record = lake.register_external("ext", str(outside), created_by="spark")
    assert record.location == str(outside) and not lake.is_managed(record)
    lake.store.write(lake.location(str(outside)), pa.table({"k": [2], "v": ["b"], "w": [1.0]}),
                     WriteMode.OVERWRITE)
    assert [c.name for c in lake.refresh("ext").columns] == ["k", "v", "w"]
    lake.write("parts", pa.table({"p": ["x", "y"], "n": [1, 2]}), partition_by=["p"])
    tables = {t.name: t for t in lake.sql_tables()}
    assert tables["ext"].files and tables["ext"].dataset is None
    assert tables["parts"].dataset is not None and not tables["parts"].files
    assert tables["parts"].dataset.to_table().num_rows == 2
    lake.drop("ext")
    assert outside.is_dir()  # an external table keeps its files
    managed_folder = Path(lake.location("parts").url)
    lake.drop("parts")
    assert not managed_folder.exists()
    managed = lake.managed_location("again")
    lake.store.write(lake.location(managed), pa.table({"a": [1]}), WriteMode.ERROR)
    again = lake.register_external("again", lake.location(managed).url)
    assert again.location == managed and lake.is_managed(again)


@pytest.mark.s3
def test_lake_in_a_workspace_whose_datastore_is_s3(tmp_path: Path, s3_bucket_url: str,
                                                   s3_server: S3Server,
                                                   bikes_csv: Path) -> None:
    ws = create_workspace(tmp_path / "ws", settings={"artifact_url": s3_bucket_url,
                                                     "s3_endpoint_url": s3_server.endpoint_url})
    try:
        lake = LakeService(ws)
        assert lake.warehouse_uri() == f"{s3_bucket_url}/lake/warehouse"
        assert lake.load("bike_data", str(bikes_csv)).rows_written == 731
        lake.load("bike_data", str(bikes_csv), mode=WriteMode.APPEND)
        assert lake.read("bike_data").num_rows == 1462
        assert lake.read("bike_data", version=0).num_rows == 731
        (table,) = lake.sql_tables()
        assert all(f.startswith(f"{s3_bucket_url}/lake/warehouse/bike_data/")
                   for f in table.files)
        assert table.options["endpoint_url"] == s3_server.endpoint_url
        lake.drop("bike_data")
        assert not lake.store.exists(lake.location(lake.managed_location("bike_data")))
    finally:
        ws.close()


def test_a_table_dropped_without_purge_can_be_adopted_again(lake: LakeService) -> None:
    lake.write("kept", pa.table({"a": [1, 2]}))
    lake.drop("kept", purge=False)
    with pytest.raises(ConflictError, match="register_external"):
        lake.write("kept", pa.table({"a": [3]}))
    record = lake.register_external("kept", lake.managed_location("kept"))
    assert lake.is_managed(record) and lake.read("kept").num_rows == 2
