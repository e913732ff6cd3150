"""Contract suite of the metadata ports (assets, jobs, step cache), run on every adapter.

Every test runs on SQLite (a file under ``tmp_path``) and on PostgreSQL (a fresh database on
the server of ``LAKEWORKS_TEST_POSTGRES_URL``, marker ``postgres``). The port tests use only
the ``MetadataStore`` protocol; the tests at the end check the SQL adapter's own promises
(schema beside MLflow's, migrations, URLs, SQLite settings, error messages).
"""

from __future__ import annotations

import math
import multiprocessing
import queue
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from lakeworks.adapters.metadata import SqlAlchemyMetadataStore, open_metadata_store
from lakeworks.adapters.metadata.alembic_scripts import head_revision
from lakeworks.adapters.metadata.migrate import HEAD_REVISION, VERSION_TABLE
from lakeworks.adapters.metadata.tables import metadata
from lakeworks.core.jobs import JobRecord, JobStatus
from lakeworks.core.lake import DatabaseRecord
from lakeworks.core.refs import AssetKind
from lakeworks.errors import BackendError, ConflictError, InvalidInputError, NotFoundError
from lakeworks.ports.metadata import CacheEntry, MetadataStore

DATA = AssetKind.DATA
MODEL = AssetKind.MODEL
T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a database no store has opened yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'metadata.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[MetadataStore]:
    opened = open_metadata_store(db_url)
    yield opened
    opened.close()


def _job(name: str, minutes: int = 0, **fields: Any) -> JobRecord:
    return JobRecord(
        name=name, type="command", created_at=T0 + timedelta(minutes=minutes), **fields
    )


# -- assets --------------------------------------------------------------------------------


def test_add_version_round_trips_spec_and_metadata(store: MetadataStore) -> None:
    spec = {"path": "azureml://datastores/x/paths/a.csv", "tags": {"é": "ü"}, "n": [1, 2.5]}
    before = datetime.now(UTC)
    added, created = store.assets.add_version(DATA, "iris", "1", spec, "h1")
    got = store.assets.get_version(DATA, "iris", "1")
    assert created is True
    assert got == added
    assert (got.kind, got.name, got.version, got.spec) == (DATA, "iris", "1", spec)
    assert got.content_hash == "h1" and got.archived is False
    assert got.created_at.tzinfo is not None and got.created_at.utcoffset() == timedelta(0)
    assert (
        before - timedelta(seconds=5) <= got.created_at <= datetime.now(UTC) + timedelta(seconds=5)
    )


def test_same_version_same_hash_returns_existing(store: MetadataStore) -> None:
    first, _ = store.assets.add_version(DATA, "iris", "1", {"a": 1}, "h1")
    again, created = store.assets.add_version(DATA, "iris", "1", {"a": 2}, "h1")
    assert created is False
    assert again == first  # the stored spec is kept, not replaced
    assert [v.version for v in store.assets.list_versions(DATA, "iris")] == ["1"]


def test_same_version_other_hash_is_a_conflict(store: MetadataStore) -> None:
    store.assets.add_version(MODEL, "clf", "initial", {"a": 1}, "h1")
    with pytest.raises(ConflictError) as info:
        store.assets.add_version(MODEL, "clf", "initial", {"a": 2}, "h2")
    message = str(info.value)
    for part in ("model", "'clf'", "'initial'", "immutable", "new version", "auto-increment"):
        assert part in message
    assert store.assets.get_version(MODEL, "clf", "initial").content_hash == "h1"


def test_auto_increment_counts_past_the_largest_numeric_version(store: MetadataStore) -> None:
    assert store.assets.add_version(DATA, "d", None, {}, "a")[0].version == "1"
    assert store.assets.add_version(DATA, "d", None, {}, "b")[0].version == "2"
    store.assets.add_version(DATA, "d", "initial", {}, "c")
    store.assets.add_version(DATA, "d", "10", {}, "d")
    store.assets.add_version(DATA, "d", "2024.1", {}, "e")
    assert store.assets.add_version(DATA, "d", None, {}, "f")[0].version == "11"
    # Each (kind, name) counts on its own.
    assert store.assets.add_version(MODEL, "d", None, {}, "a")[0].version == "1"
    assert store.assets.add_version(DATA, "other", None, {}, "a")[0].version == "1"


def test_auto_increment_ignores_non_numeric_only_versions(store: MetadataStore) -> None:
    store.assets.add_version(DATA, "d", "initial", {}, "a")
    assert store.assets.add_version(DATA, "d", None, {}, "b")[0].version == "1"


def test_latest_is_the_newest_live_version_by_creation(store: MetadataStore) -> None:
    for version in ("2", "10", "1", "b", "a"):
        store.assets.add_version(DATA, "d", version, {"v": version}, version)
    assert store.assets.get_latest(DATA, "d").version == "a"
    store.assets.set_archived(DATA, "d", "a", True)
    assert store.assets.get_latest(DATA, "d").version == "b"
    store.assets.set_archived(DATA, "d", None, True)
    with pytest.raises(NotFoundError, match=r"every version of data 'd' is archived"):
        store.assets.get_latest(DATA, "d")
    store.assets.set_archived(DATA, "d", "10", False)
    assert store.assets.get_latest(DATA, "d").version == "10"


def test_missing_asset_or_version_is_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match=r"model 'nope' does not exist"):
        store.assets.get_latest(MODEL, "nope")
    with pytest.raises(NotFoundError, match=r"model 'nope' does not exist"):
        store.assets.get_version(MODEL, "nope", "1")
    store.assets.add_version(MODEL, "m", "1", {}, "a")
    store.assets.add_version(MODEL, "m", "2", {}, "b")
    with pytest.raises(NotFoundError) as info:
        store.assets.get_version(MODEL, "m", "3")
    assert "model 'm' has no version '3'" in str(info.value)
    assert "2, 1" in str(info.value)
    with pytest.raises(NotFoundError):
        store.assets.get_version(DATA, "m", "1")  # kinds are separate namespaces


def test_archived_version_is_still_readable(store: MetadataStore) -> None:
    store.assets.add_version(DATA, "d", "1", {}, "a")
    store.assets.set_archived(DATA, "d", "1", True)
    assert store.assets.get_version(DATA, "d", "1").archived is True


def test_list_versions_newest_first_with_filters(store: MetadataStore) -> None:
    store.assets.add_version(DATA, "a", "1", {}, "x")
    store.assets.add_version(DATA, "b", "1", {}, "x")
    store.assets.add_version(DATA, "a", "2", {}, "y")
    store.assets.add_version(MODEL, "a", "1", {}, "x")
    store.assets.set_archived(DATA, "b", "1", True)

    def listed(name: str | None = None, **kw: bool) -> list[tuple[str, str]]:
        return [(v.name, v.version) for v in store.assets.list_versions(DATA, name, **kw)]

    assert listed() == [("a", "2"), ("a", "1")]
    assert listed(include_archived=True) == [("a", "2"), ("b", "1"), ("a", "1")]
    assert listed("a") == [("a", "2"), ("a", "1")]
    assert listed("b") == []
    assert listed("missing") == []


def test_set_archived_restores_and_reports_missing(store: MetadataStore) -> None:
    store.assets.add_version(DATA, "d", "1", {}, "a")
    store.assets.add_version(DATA, "d", "2", {}, "b")
    store.assets.set_archived(DATA, "d", None, True)
    assert store.assets.list_versions(DATA, "d") == []
    store.assets.set_archived(DATA, "d", None, False)
    assert [v.version for v in store.assets.list_versions(DATA, "d")] == ["2", "1"]
    with pytest.raises(NotFoundError, match=r"data 'd' has no version '9'"):
        store.assets.set_archived(DATA, "d", "9", True)
    with pytest.raises(NotFoundError, match=r"data 'ghost' does not exist"):
        store.assets.set_archived(DATA, "ghost", None, True)


def test_update_spec_replaces_the_spec_only(store: MetadataStore) -> None:
    added, _ = store.assets.add_version(MODEL, "m", "1", {"description": "old", "p": 1}, "h")
    updated = store.assets.update_spec(MODEL, "m", "1", {"description": "new", "p": 1})
    assert updated.spec == {"description": "new", "p": 1}
    assert (updated.content_hash, updated.created_at) == (added.content_hash, added.created_at)
    assert store.assets.get_version(MODEL, "m", "1") == updated
    with pytest.raises(NotFoundError):
        store.assets.update_spec(MODEL, "m", "2", {})


def _add_versions_worker(url: str, barrier: Any, count: int, results: Any) -> None:
    """Child process: open a (fresh) store when the sibling does, then add ``count`` versions."""
    try:
        barrier.wait(timeout=60)
        with open_metadata_store(url) as opened:
            versions = [
                opened.assets.add_version(DATA, "shared", None, {"i": i}, f"h{i}")
                for i in range(count)
            ]
        results.put([(v.version, created) for v, created in versions])
    except BaseException:
        results.put(traceback.format_exc())
        raise


def test_concurrent_processes_open_and_auto_increment_without_loss(db_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    workers = [
        ctx.Process(target=_add_versions_worker, args=(db_url, barrier, 50, results))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    try:
        outcomes = [results.get(timeout=120) for _ in workers]
    except queue.Empty:
        pytest.fail("a worker process neither finished nor reported an error in 120 s")
    finally:
        for worker in workers:
            worker.join(timeout=30)
    for outcome in outcomes:
        assert not isinstance(outcome, str), outcome
    assert [w.exitcode for w in workers] == [0, 0]
    claimed = [version for outcome in outcomes for version, created in outcome if created]
    assert len(claimed) == 100
    assert sorted(claimed, key=int) == [str(n) for n in range(1, 101)]
    with open_metadata_store(db_url) as opened:
        stored = [v.version for v in opened.assets.list_versions(DATA, "shared")]
    assert sorted(stored, key=int) == [str(n) for n in range(1, 101)]


# -- jobs ----------------------------------------------------------------------------------


def _full_record() -> JobRecord:
    plus_two = timezone(timedelta(hours=2))
    return JobRecord(
        name="train-1",
        type="pipeline",
        status=JobStatus.RUNNING,
        parent="pipe-0",
        step="train",
        experiment_name="exp",
        display_name="Train",
        description="trains",
        tags={"team": "ml"},
        spec={"steps": {"train": {"command": "python t.py", "inputs": {"lr": 0.1}}}},
        created_at=T0,
        started_at=(T0 + timedelta(seconds=5)).astimezone(plus_two),
        ended_at=T0 + timedelta(minutes=3),
        outputs={"model": "azureml://jobs/train-1/outputs/model"},
        output_hashes={"model": "abc"},
        mlflow_run_id="run123",
        reused_from="train-0",
        error="boom",
        metrics={"acc": 0.93, "loss": 1.0},
        params={"lr": "0.1"},
        runner_pid=4242,
        archived=False,
    )


def test_job_round_trips_every_field(store: MetadataStore) -> None:
    record = _full_record()
    store.jobs.create(record)
    got = store.jobs.get("train-1")
    assert got == record
    assert got.started_at is not None and got.started_at.utcoffset() == timedelta(0)
    assert got.created_at.utcoffset() == timedelta(0)


def test_job_metrics_may_be_nan_or_infinite(store: MetadataStore) -> None:
    store.jobs.create(_job("j", metrics={"loss": math.nan, "best": math.inf, "worst": -math.inf}))
    metrics = store.jobs.get("j").metrics
    assert math.isnan(metrics["loss"]) and metrics["best"] == math.inf
    assert metrics["worst"] == -math.inf


def test_job_name_is_unique_and_missing_job_not_found(store: MetadataStore) -> None:
    store.jobs.create(_job("j"))
    with pytest.raises(ConflictError, match=r"job 'j' already exists"):
        store.jobs.create(_job("j", 5))
    with pytest.raises(NotFoundError, match=r"job 'nope' does not exist"):
        store.jobs.get("nope")


def test_job_list_filters_newest_first(store: MetadataStore) -> None:
    store.jobs.create(_job("pipe", 0))
    store.jobs.create(_job("pipe.a", 1, parent="pipe", step="a"))
    store.jobs.create(_job("pipe.b", 2, parent="pipe", step="b"))
    store.jobs.create(_job("other", 3, experiment_name="exp2"))
    store.jobs.create(_job("old", 4, archived=True))

    def names(**kw: Any) -> list[str]:
        return [j.name for j in store.jobs.list(**kw)]

    assert names() == ["other", "pipe.b", "pipe.a", "pipe"]
    assert names(include_archived=True) == ["old", "other", "pipe.b", "pipe.a", "pipe"]
    assert names(top_level_only=True) == ["other", "pipe"]
    assert names(parent="pipe") == ["pipe.b", "pipe.a"]
    assert names(experiment="exp2") == ["other"]
    assert names(experiment="Default", top_level_only=True) == ["pipe"]
    assert names(limit=2) == ["other", "pipe.b"]
    assert names(parent="nobody") == []


def test_job_update_applies_changes(store: MetadataStore) -> None:
    store.jobs.create(_job("j", status=JobStatus.QUEUED))
    started = T0 + timedelta(hours=1)
    updated = store.jobs.update(
        "j", {"status": JobStatus.RUNNING, "started_at": started, "metrics": {"acc": 0.5}}
    )
    assert updated is not None
    assert (updated.status, updated.started_at, updated.metrics) == (
        JobStatus.RUNNING,
        started,
        {"acc": 0.5},
    )
    assert store.jobs.get("j") == updated
    assert store.jobs.update("j", {"mlflow_run_id": "r1"}) is not None
    assert store.jobs.get("j").mlflow_run_id == "r1"


def test_job_update_compare_and_set(store: MetadataStore) -> None:
    store.jobs.create(_job("j", status=JobStatus.RUNNING))
    unchanged = store.jobs.update(
        "j", {"status": JobStatus.CANCELED}, expect_status=frozenset({JobStatus.QUEUED})
    )
    assert unchanged is None
    assert store.jobs.get("j").status is JobStatus.RUNNING
    done = store.jobs.update(
        "j",
        {"status": JobStatus.COMPLETED, "error": None},
        expect_status=frozenset({JobStatus.RUNNING, JobStatus.FINALIZING}),
    )
    assert done is not None and done.status is JobStatus.COMPLETED
    assert store.jobs.get("j").status is JobStatus.COMPLETED


def test_job_update_compare_and_set_has_one_winner(store: MetadataStore) -> None:
    store.jobs.create(_job("j", status=JobStatus.QUEUED))
    winners: list[str] = []
    errors: list[BaseException] = []

    def claim(runner: str) -> None:
        try:
            result = store.jobs.update(
                "j",
                {"status": JobStatus.RUNNING, "error": runner},
                expect_status=frozenset({JobStatus.QUEUED}),
            )
            if result is not None:
                winners.append(runner)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(f"r{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(winners) == 1
    assert store.jobs.get("j").error == winners[0]


def test_job_update_errors(store: MetadataStore) -> None:
    with pytest.raises(NotFoundError, match=r"job 'ghost' does not exist"):
        store.jobs.update("ghost", {"status": JobStatus.RUNNING})
    with pytest.raises(NotFoundError):
        store.jobs.update("ghost", {}, expect_status=frozenset({JobStatus.QUEUED}))
    store.jobs.create(_job("j"))
    with pytest.raises(InvalidInputError, match=r"unknown field\(s\) colour"):
        store.jobs.update("j", {"colour": "red"})
    with pytest.raises(InvalidInputError, match=r"names never change"):
        store.jobs.update("j", {"name": "k"})
    with pytest.raises(InvalidInputError, match=r"field 'status'"):
        store.jobs.update("j", {"status": "Exploded"})
    assert store.jobs.get("j") == _job("j")


# -- step cache ----------------------------------------------------------------------------


def test_cache_get_put_replace_delete(store: MetadataStore) -> None:
    assert store.cache.get("k") is None
    entry = CacheEntry(
        key="k",
        job_name="p.train",
        outputs={"model": "azureml://jobs/p.train/outputs/model"},
        output_hashes={"model": "abc"},
        mlflow_run_id="r1",
        created_at=T0,
    )
    store.cache.put(entry)
    assert store.cache.get("k") == entry
    newer = CacheEntry(key="k", job_name="q.train", created_at=T0 + timedelta(days=1))
    store.cache.put(newer)
    assert store.cache.get("k") == newer
    store.cache.delete("k")
    assert store.cache.get("k") is None
    store.cache.delete("k")  # deleting what is not there is fine


# -- the SQL adapter's own promises --------------------------------------------------------


def _engine(store: MetadataStore) -> sa.Engine:
    assert isinstance(store, SqlAlchemyMetadataStore)
    return store.database.engine


def test_schema_is_prefixed_and_reopening_keeps_data(db_url: str) -> None:
    with open_metadata_store(db_url) as first:
        first.assets.add_version(DATA, "d", None, {}, "a")
        tables = set(sa.inspect(_engine(first)).get_table_names())
    assert tables == {
        "lw_alembic_version",
        "lw_asset",
        "lw_asset_version",
        "lw_datastore",
        "lw_job",
        "lw_lake_database",
        "lw_lake_table",
        "lw_online_deployment",
        "lw_online_endpoint",
        "lw_sql_procedure",
        "lw_step_cache",
    }
    with open_metadata_store(db_url) as second:
        assert [v.version for v in second.assets.list_versions(DATA, "d")] == ["1"]
        with _engine(second).connect() as conn:
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    assert revision == head_revision()


def test_shares_a_database_with_mlflow_tables(db_url: str) -> None:
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
            conn.execute(sa.text("INSERT INTO alembic_version VALUES ('mlflow-rev')"))
            conn.execute(sa.text("CREATE TABLE experiments (experiment_id INTEGER)"))
        with open_metadata_store(db_url) as opened:
            opened.jobs.create(_job("j"))
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                ("mlflow-rev",)
            ]
            assert "experiments" in sa.inspect(conn).get_table_names()
    finally:
        engine.dispose()


def test_tables_left_without_a_version_table_are_adopted(db_url: str) -> None:
    url = sa.make_url(db_url)
    if url.get_backend_name() == "sqlite":
        Path(str(url.database)).parent.mkdir(parents=True)
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)  # as an interrupted or racing first open might leave it
    finally:
        engine.dispose()
    with open_metadata_store(db_url) as opened:
        assert opened.assets.add_version(DATA, "d", None, {}, "a")[0].version == "1"
        with _engine(opened).connect() as conn:
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    assert revision == head_revision()


def test_database_from_a_newer_lakeworks_is_refused(db_url: str) -> None:
    with open_metadata_store(db_url) as opened, _engine(opened).begin() as conn:
        conn.execute(sa.text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    with pytest.raises(BackendError, match=r"revision '9999'.*upgrade Lakeworks"):
        open_metadata_store(db_url)


@pytest.mark.postgres
def test_plain_postgresql_url_uses_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with open_metadata_store(plain) as opened:
        assert opened.url.startswith("postgresql+psycopg://")
        opened.assets.add_version(DATA, "d", None, {}, "a")
        assert opened.assets.get_latest(DATA, "d").version == "1"


def test_sqlite_settings_and_folders(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "metadata.db"
    with open_metadata_store(f"sqlite:///{path}") as opened, _engine(opened).connect() as conn:
        pragmas = {
            name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
            for name in ("journal_mode", "busy_timeout", "foreign_keys")
        }
    assert path.is_file()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 30000, "foreign_keys": 1}


def test_unreachable_postgres_names_the_url_and_hides_the_password() -> None:
    with pytest.raises(BackendError) as info:
        open_metadata_store("postgresql://lw:s3cret@127.0.0.1:1/lakeworks")
    message = str(info.value)
    assert "s3cret" not in message
    assert "postgresql+psycopg://lw:***@127.0.0.1:1/lakeworks" in message
    assert "LAKEWORKS_DATABASE_URL" in message


def test_unusable_sqlite_folder_is_a_backend_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BackendError, match=r"cannot create the folder"):
        open_metadata_store(f"sqlite:///{blocker / 'sub' / 'metadata.db'}")


@pytest.mark.parametrize(
    "url", ["mysql://u:p@h/db", "sqlite://", "sqlite:///:memory:", "sqlite:///file:x", "not a url"]
)
def test_unsupported_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInputError, match="database_url"):
        open_metadata_store(url)


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    # The open-time check compares against HEAD_REVISION without importing Alembic; a new
    # revision must update it.
    assert head_revision() == HEAD_REVISION


def test_a_database_at_revision_0001_is_upgraded_keeping_its_data(db_url: str) -> None:
    # The first released schema, holding a job, opened by today's code: upgraded, job kept.
    from alembic import command

    from lakeworks.adapters.metadata.alembic_scripts import alembic_config
    from lakeworks.adapters.metadata.database import Database
    from lakeworks.adapters.metadata.jobs import SqlAlchemyJobRepo

    db = Database(db_url)
    with db.transaction(write=True) as conn:
        command.upgrade(alembic_config(conn), "0001")
    SqlAlchemyJobRepo(db).create(_job("old-job"))
    with db.read("inspect") as conn:
        assert "lw_lake_table" not in sa.inspect(conn).get_table_names()
    db.dispose()
    with open_metadata_store(db_url) as store:
        assert store.jobs.get("old-job").name == "old-job"
        store.catalog.put_database(
            DatabaseRecord(name="default", location="azureml://datastores/x/paths/w",
                           created_at=T0)
        )
        assert [d.name for d in store.catalog.list_databases()] == ["default"]
