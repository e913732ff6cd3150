"""The catalog and datastore ports over every metadata backend (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lakeworks.adapters.metadata import open_metadata_store
from lakeworks.core.lake import (
    ColumnSpec,
    CredentialKind,
    Credentials,
    DatabaseRecord,
    DatastoreRecord,
    DatastoreType,
    ParameterSpec,
    ProcedureRecord,
    TableRecord,
)
from lakeworks.errors import ConflictError, NotFoundError, StateError
from lakeworks.ports.metadata import MetadataStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'metadata.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    opened = open_metadata_store(url)
    yield opened
    opened.close()


def db(name: str) -> DatabaseRecord:
    return DatabaseRecord(name=name, location=f"azureml://datastores/x/paths/{name}",
                          created_at=T0)


def table(database: str, name: str, **fields: object) -> TableRecord:
    return TableRecord(
        database=database, name=name, location=f"azureml://datastores/x/paths/{name}",
        columns=(ColumnSpec(name="a", type="int64"),), created_at=T0, updated_at=T0,
        **fields,  # type: ignore[arg-type]
    )


def test_databases(store: MetadataStore) -> None:
    cat = store.catalog
    cat.put_database(db("default"))
    cat.put_database(db("sales"))
    assert [d.name for d in cat.list_databases()] == ["default", "sales"]
    with pytest.raises(ConflictError, match="already exists"):
        cat.put_database(db("sales"))
    with pytest.raises(NotFoundError, match="default, sales"):
        cat.get_database("nope")
    cat.drop_database("sales")
    assert [d.name for d in cat.list_databases()] == ["default"]


def test_tables_round_trip_replace_and_drop(store: MetadataStore) -> None:
    cat = store.catalog
    cat.put_database(db("default"))
    t = table("default", "bike_data", partition_by=("season",), properties={"k": "v"})
    cat.put_table(t)
    assert cat.get_table("default", "bike_data") == t
    with pytest.raises(ConflictError, match="append to it, overwrite it"):
        cat.put_table(t)
    widened = t.model_copy(update={"columns": (ColumnSpec(name="a", type="int64"),
                                               ColumnSpec(name="b", type="string"))})
    cat.put_table(widened, replace=True)
    assert len(cat.get_table("default", "bike_data").columns) == 2
    with pytest.raises(NotFoundError, match="bike_data"):
        cat.get_table("default", "missing")
    cat.drop_table("default", "bike_data")
    assert cat.list_tables() == []
    with pytest.raises(NotFoundError):
        cat.drop_table("default", "bike_data")


def test_table_needs_its_database_and_database_with_tables_stays(store: MetadataStore) -> None:
    cat = store.catalog
    with pytest.raises(NotFoundError, match="lake database 'ghost'"):
        cat.put_table(table("ghost", "t"))
    cat.put_database(db("sales"))
    cat.put_table(table("sales", "t2"))
    cat.put_table(table("sales", "t1"))
    assert [t.name for t in cat.list_tables("sales")] == ["t1", "t2"]
    with pytest.raises(StateError, match="still has tables"):
        cat.drop_database("sales")


def test_procedures(store: MetadataStore) -> None:
    cat = store.catalog
    proc = ProcedureRecord(
        name="predict_rentals", sql="SELECT * FROM weather_forecast WHERE day > $start",
        parameters=(ParameterSpec(name="start", type="DATE", default="2013-01-01"),),
        created_at=T0, updated_at=T0,
    )
    cat.put_procedure(proc)
    assert cat.get_procedure("predict_rentals") == proc
    with pytest.raises(ConflictError):
        cat.put_procedure(proc)
    cat.put_procedure(proc.model_copy(update={"sql": "SELECT 1"}), replace=True)
    assert cat.get_procedure("predict_rentals").sql == "SELECT 1"
    cat.drop_procedure("predict_rentals")
    with pytest.raises(NotFoundError, match="procedures: none"):
        cat.get_procedure("predict_rentals")


def test_datastores(store: MetadataStore) -> None:
    repo = store.datastores
    rec = DatastoreRecord(
        name="lake", type=DatastoreType.S3, url="s3://bucket/prefix",
        options={"endpoint_url": "http://127.0.0.1:9000"},
        credentials=Credentials(kind=CredentialKind.ENV,
                                values={"key": "AWS_ACCESS_KEY_ID"}),
        created_at=T0,
    )
    repo.put(rec)
    assert repo.get("lake") == rec
    with pytest.raises(ConflictError):
        repo.put(rec)
    repo.put(rec.model_copy(update={"description": "raw files"}), replace=True)
    assert repo.get("lake").description == "raw files"
    assert [d.name for d in repo.list()] == ["lake"]
    repo.delete("lake")
    with pytest.raises(NotFoundError, match="workspaceblobstore"):
        repo.get("lake")
