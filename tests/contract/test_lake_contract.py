"""Contract suite of the lake ports: ``TableStore`` (Delta) and ``FileReader`` (CSV, Parquet, JSON).

Parametrised over a local folder and moto's S3 server on 127.0.0.1 (no mocks): tables and
source files live in one or the other, reached through ``StorageLocation`` with the generic
option names (``endpoint_url``, ``key``, ``secret``, ``region``) the datastore service gives.
"""

from __future__ import annotations

import gzip
import importlib.util
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeworks.adapters.lake import ArrowFileReader, DeltaTableStore
from lakeworks.core.lake import WriteMode
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.ports.lake import FileReader, StorageLocation, TableStore
from lakeworks.testing.s3 import S3Server, missing_service

Place = Callable[[str], StorageLocation]  # a location for a relative name
Put = Callable[[str, bytes], StorageLocation]  # writes a file, returns its location


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.s3)])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A fresh storage root and its options: a tmp folder, or a bucket on moto."""
    if request.param == "local":
        return str(tmp_path / "lake"), {}
    if importlib.util.find_spec("s3fs") is None:
        missing_service("s3fs is not installed; install it with: pip install 'lakeworks[s3]'")
    server: S3Server = request.getfixturevalue("s3_server")
    url: str = request.getfixturevalue("s3_bucket_url")
    return url, {"endpoint_url": server.endpoint_url, "key": "lakeworks-test",
                 "secret": "lakeworks-test-secret", "region": "us-east-1"}


@pytest.fixture
def place(root: tuple[str, dict[str, str]]) -> Place:
    url, options = root
    return lambda name: StorageLocation(f"{url.rstrip('/')}/{name}", options)


@pytest.fixture
def put(root: tuple[str, dict[str, str]], place: Place) -> Put:
    url, options = root

    def _put(name: str, data: bytes) -> StorageLocation:
        location = place(name)
        if "://" not in url:
            path = Path(location.url)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return location
        import fsspec

        fs = fsspec.filesystem("s3", key=options["key"], secret=options["secret"],
                               endpoint_url=options["endpoint_url"], skip_instance_cache=True)
        with fs.open(location.url, "wb") as handle:
            handle.write(data)
        return location

    return _put


@pytest.fixture
def store() -> TableStore:
    return DeltaTableStore()


@pytest.fixture
def reader() -> FileReader:
    return ArrowFileReader()


def _rows(n: int, start: int = 0) -> pa.Table:
    return pa.table({
        "id": pa.array(range(start, start + n), pa.int64()),
        "name": [f"n{i}" for i in range(start, start + n)],
        "score": pa.array([i / 2 for i in range(start, start + n)], pa.float64()),
    })


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


# -- TableStore ------------------------------------------------------------------------------


def test_create_read_schema_files(store: TableStore, place: Place) -> None:
    loc = place("t")
    assert not store.exists(loc)
    assert store.write(loc, _rows(3), WriteMode.ERROR) == 0
    assert store.exists(loc)
    assert _sorted(store.read(loc)).equals(_rows(3))
    assert store.schema(loc).names == ["id", "name", "score"]
    assert store.version(loc) == 0
    files = store.files(loc)
    assert len(files) == 1 and files[0].endswith(".parquet")
    assert files[0].startswith("s3://") if "://" in loc.url else Path(files[0]).is_file()
    assert store.read(loc, columns=["name"]).column_names == ["name"]
    assert store.dataset(loc).to_table().num_rows == 3


def test_error_mode_on_existing_table_conflicts(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(2), WriteMode.ERROR)
    with pytest.raises(ConflictError, match="append"):
        store.write(loc, _rows(2), WriteMode.ERROR)
    assert store.version(loc) == 0


def test_append_overwrite_ignore(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(2), WriteMode.ERROR)
    narrow = _rows(2, start=2).cast(pa.schema([("id", pa.int32()), ("name", pa.string()),
                                                ("score", pa.float64())]))
    assert store.write(loc, narrow, WriteMode.APPEND) == 1  # int32 widens into int64
    assert _sorted(store.read(loc)).equals(_rows(4))
    assert store.write(loc, _rows(1, start=9), WriteMode.IGNORE) == 1
    assert store.write(loc, pa.table({"other": ["x"]}), WriteMode.OVERWRITE) == 2
    assert store.read(loc).to_pylist() == [{"other": "x"}]
    assert store.read(loc, version=1).num_rows == 4


def test_append_with_other_types_is_refused_and_changes_nothing(
    store: TableStore, place: Place
) -> None:
    loc = place("t")
    store.write(loc, _rows(3), WriteMode.ERROR)
    bad = pa.table({"id": ["a"], "name": ["x"], "score": [1.0], "extra": [1]})
    with pytest.raises(InvalidInputError) as caught:
        store.write(loc, bad, WriteMode.APPEND)
    message = str(caught.value)
    assert "column 'id' is string, the table has int64" in message
    assert "column 'extra' is not in the table" in message
    assert store.version(loc) == 0 and store.read(loc).num_rows == 3


def test_stream_write_is_one_transaction(store: TableStore, place: Place) -> None:
    loc = place("t")
    batches = _rows(30).to_batches(max_chunksize=10)
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, iter(batches))
    assert store.write(loc, reader, WriteMode.ERROR) == 0
    assert [h.version for h in store.history(loc)] == [0]
    assert store.read(loc).num_rows == 30


def test_failing_stream_leaves_the_table_unchanged(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(3), WriteMode.ERROR)

    def batches() -> Iterator[pa.RecordBatch]:
        yield _rows(5, start=10).to_batches()[0]
        raise InvalidInputError("the source broke at line 7", file="input.csv")

    reader = pa.RecordBatchReader.from_batches(_rows(1).schema, batches())
    with pytest.raises(InvalidInputError, match="the source broke at line 7"):
        store.write(loc, reader, WriteMode.APPEND)
    assert store.version(loc) == 0 and store.read(loc).num_rows == 3


def test_merge_upserts_on_keys(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(3), WriteMode.ERROR)
    changes = pa.table({"id": [1, 7], "name": ["changed", "new"], "score": [0.0, 7.0]})
    result = store.merge(loc, changes, ["id"])
    assert (result.version, result.inserted, result.updated) == (1, 1, 1)
    rows = {r["id"]: r["name"] for r in store.read(loc).to_pylist()}
    assert rows == {0: "n0", 1: "changed", 2: "n2", 7: "new"}
    with pytest.raises(InvalidInputError, match="merge key 'nope'"):
        store.merge(loc, changes, ["nope"])
    duplicated = pa.table({"id": [1, 1], "name": ["a", "b"], "score": [0.0, 1.0]})
    with pytest.raises(InvalidInputError, match="deduplicate"):
        store.merge(loc, duplicated, ["id"])
    assert store.version(loc) == 1


def test_time_travel_and_history(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(1), WriteMode.ERROR)
    time.sleep(0.05)
    between = datetime.now(UTC)
    time.sleep(0.05)
    store.write(loc, _rows(1, start=1), WriteMode.APPEND)
    history = store.history(loc)
    assert [h.version for h in history] == [1, 0]
    assert [h.operation for h in history] == ["WRITE", "WRITE"]
    assert history[0].timestamp >= history[1].timestamp
    assert store.read(loc, version=0).num_rows == 1
    assert store.read(loc, as_of=between).num_rows == 1
    assert store.read(loc, as_of=between.astimezone().replace(tzinfo=None)).num_rows == 1
    assert store.read(loc, as_of=datetime.now(UTC)).num_rows == 2
    with pytest.raises(NotFoundError, match="did not exist yet"):
        store.read(loc, as_of=history[1].timestamp - timedelta(days=1))
    with pytest.raises(NotFoundError, match="versions are 0 to 1"):
        store.read(loc, version=5)


def test_timestamps_are_stored_in_utc(store: TableStore, place: Place) -> None:
    loc = place("t")
    plus2 = timezone(timedelta(hours=2))
    data = pa.table({
        "naive": pa.array([datetime(2024, 5, 1, 12, 0)], pa.timestamp("ns")),
        "zoned": pa.array([datetime(2024, 5, 1, 12, 0, tzinfo=plus2)],
                          pa.timestamp("s", tz="+02:00")),
        "small": pa.array([7], pa.uint32()),
    })
    store.write(loc, data, WriteMode.ERROR)
    schema = store.schema(loc)
    assert schema.field("naive").type == pa.timestamp("us", tz="UTC")
    assert schema.field("small").type == pa.int64()
    row = store.read(loc).to_pylist()[0]
    assert row["naive"] == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)  # naive is taken as UTC
    assert row["zoned"] == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)  # same instant


def test_partitioned_table(store: TableStore, place: Place) -> None:
    loc = place("t")
    data = pa.table({"day": ["a", "b", "a"], "n": [1, 2, 3]})
    store.write(loc, data, WriteMode.ERROR, partition_by=["day"])
    assert store.schema(loc).metadata[b"delta.partition_columns"] == b'["day"]'
    assert len(store.files(loc)) == 2
    assert sorted(store.dataset(loc).to_table().column("n").to_pylist()) == [1, 2, 3]
    store.write(loc, pa.table({"day": ["c"], "n": [4]}), WriteMode.APPEND)
    assert len(store.files(loc)) == 3
    with pytest.raises(InvalidInputError, match="not in the data"):
        store.write(place("u"), data, WriteMode.ERROR, partition_by=["month"])


def test_concurrent_appends_all_land(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(1, start=-1), WriteMode.ERROR)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            for i in range(3):
                DeltaTableStore().write(loc, _rows(1, start=worker * 10 + i), WriteMode.APPEND)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert store.version(loc) == 12
    expected = sorted([-1, *(w * 10 + i for w in range(4) for i in range(3))])
    assert sorted(store.read(loc).column("id").to_pylist()) == expected


def test_vanished_files_give_clear_errors(store: TableStore, place: Place) -> None:
    loc = place("t")
    store.write(loc, _rows(3), WriteMode.ERROR)
    for file in store.files(loc):
        _remove(file, loc)
    with pytest.raises(NotFoundError, match=r"data file of the Delta table at .* is missing"):
        store.read(loc)
    store.delete(loc)
    assert not store.exists(loc)
    with pytest.raises(NotFoundError, match=r"no Delta table at .*_delta_log"):
        store.read(loc)
    store.delete(loc)  # deleting a missing table is fine


def _remove(file: str, loc: StorageLocation) -> None:
    if "://" not in file:
        Path(file).unlink()
        return
    import fsspec

    fs = fsspec.filesystem("s3", key=loc.options["key"], secret=loc.options["secret"],
                           endpoint_url=loc.options["endpoint_url"], skip_instance_cache=True)
    fs.rm(file)


# -- FileReader ------------------------------------------------------------------------------

CSV = (b"day,count,temp,flag,label,empty\n"
       b"2024-01-01,1,0.5,true,a,\n"
       b"2024-01-02,2,1.5,false,,\n"
       b"2024-01-03,3,,true,c,\n")


def test_csv_types_are_inferred(reader: FileReader, put: Put) -> None:
    table = reader.read(put("in/data.csv", CSV)).data.read_all()
    assert dict(zip(table.schema.names, map(str, table.schema.types), strict=True)) == {
        "day": "date32[day]", "count": "int64", "temp": "double", "flag": "bool",
        "label": "string", "empty": "string",
    }
    assert table.column("label").to_pylist() == ["a", None, "c"]
    assert table.column("temp").to_pylist() == [0.5, 1.5, None]


def test_csv_options_and_tsv(reader: FileReader, put: Put) -> None:
    semicolons = put("a.csv", b"a;b\n1;x\n")
    assert reader.read(semicolons, options={"delimiter": ";"}).data.read_all().to_pylist() == [
        {"a": 1, "b": "x"}]
    typed = reader.read(semicolons, options={"delimiter": ";", "column_types": {"a": "double"}})
    assert typed.data.schema.field("a").type == pa.float64()
    assert reader.read(put("b.tsv", b"a\tb\n1\tx\n")).data.read_all().num_rows == 1
    with pytest.raises(InvalidInputError, match="bogus"):
        reader.read(semicolons, options={"bogus": 1})


def test_parquet_json_and_gzip(reader: FileReader, put: Put, tmp_path: Path) -> None:
    local = tmp_path / "p.parquet"
    pq.write_table(_rows(5), local)
    assert _sorted(reader.read(put("x/p.parquet", local.read_bytes())).data.read_all()).equals(
        _rows(5))
    lines = b'{"a": 1, "b": "x"}\n{"a": 2, "b": null}\n'
    table = reader.read(put("x/j.jsonl", lines)).data.read_all()
    assert table.to_pylist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    zipped = reader.read(put("x/z.csv.gz", gzip.compress(CSV))).data.read_all()
    assert zipped.num_rows == 3


def test_folder_of_files(reader: FileReader, put: Put, place: Place) -> None:
    put("folder/part-1.csv", b"a,b\n1,x\n2,y\n")
    put("folder/part-2.csv", b"a,b\n3,z\n")
    put("folder/_SUCCESS", b"")
    table = reader.read(place("folder")).data.read_all()
    assert table.column("a").to_pylist() == [1, 2, 3]
    put("other/part-1.csv", b"a,b\n1,x\n")
    put("other/part-2.csv", b"a,c\n1,x\n")
    with pytest.raises(InvalidInputError, match="differ from those of the first file"):
        reader.read(place("other")).data.read_all()


def test_malformed_csv_rows_name_their_lines(reader: FileReader, put: Put) -> None:
    body = b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n"
    location = put("bad.csv", body)
    with pytest.raises(InvalidInputError) as caught:
        reader.read(location).data.read_all()
    message = str(caught.value)
    assert "bad.csv" in message and "2 malformed rows at lines 3, 5" in message
    assert "skip_bad_rows=True" in message
    result = reader.read(location, skip_bad_rows=True)
    assert result.data.read_all().column("a").to_pylist() == [1, 6, 13]
    assert [(r.line, r.text) for r in result.rejects] == [(3, "4,5"), (5, "9,10,11,12")]
    assert "expected 3 fields, found 2" in result.rejects[0].reason


def test_many_malformed_rows_are_counted(reader: FileReader, put: Put) -> None:
    body = b"a,b\n" + b"".join(b"1\n" if i % 2 else b"1,2\n" for i in range(40))
    with pytest.raises(InvalidInputError, match=r"20 malformed rows at lines 3, 5, .*\(and 10 "
                                                r"more\)"):
        reader.read(put("many.csv", body)).data.read_all()


def test_value_that_does_not_fit_names_line_and_column(put: Put) -> None:
    # Streamed files infer types from the first block, so a late value may not fit.
    body = b"id,v\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(2000)) + b"7,x\n"
    location = put("late.csv", body)
    streaming = ArrowFileReader(block_size=4096, whole_file_bytes=0)
    with pytest.raises(InvalidInputError, match=r"late.csv:2002: column 'v' holds 'x'.*"
                                                r"--column-type v=double"):
        streaming.read(location).data.read_all()
    fixed = streaming.read(location, options={"column_types": {"v": "string"}})
    assert fixed.data.read_all().num_rows == 2001


def test_small_local_file_infers_types_from_every_row(put: Put) -> None:
    body = b"id,v\n" + b"".join(b"%d,%d\n" % (i, i) for i in range(2000)) + b"7,x\n"
    location = put("late.csv", body)
    reader = ArrowFileReader(block_size=4096)
    if location.url.startswith("s3://"):  # remote files stream: the late value does not fit
        with pytest.raises(InvalidInputError, match="column 'v' holds 'x'"):
            reader.read(location).data.read_all()
        return
    table = reader.read(location).data.read_all()
    assert table.schema.field("v").type == pa.string() and table.num_rows == 2001


def test_reading_streams_with_progress(put: Put) -> None:
    body = b"id,v\n" + b"".join(b"%d,%d\n" % (i, i * 3) for i in range(5000))
    location = put("big.csv", body)
    seen: list[tuple[int, int | None, int]] = []
    reader = ArrowFileReader(block_size=8192, on_progress=lambda *p: seen.append(p))
    result = reader.read(location)
    assert isinstance(result.data, pa.RecordBatchReader)
    batches = list(result.data)
    assert len(batches) > 5 and sum(b.num_rows for b in batches) == 5000
    assert seen[-1] == (len(body), len(body), 5000)
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)


def test_bad_json_lines(reader: FileReader, put: Put) -> None:
    location = put("j.jsonl", b'{"a": 1}\n{"a": 2\n{"a": 3}\n[4]\n')
    with pytest.raises(InvalidInputError, match="2 malformed rows at lines 2, 4"):
        reader.read(location).data.read_all()
    result = reader.read(location, skip_bad_rows=True)
    assert result.data.read_all().column("a").to_pylist() == [1, 3]
    assert [r.line for r in result.rejects] == [2, 4]


def test_missing_source(reader: FileReader, place: Place) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        reader.read(place("nothing/here.csv"))
