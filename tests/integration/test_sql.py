"""The SQL engine over real lake tables: names, catalog writes, procedures, errors, S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from lakeworks import MLClient
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.sample_data import dataset_path
from lakeworks.services.lake import LakeService
from lakeworks.services.sql import SqlService
from lakeworks.services.workspace import Workspace, create_workspace
from lakeworks.testing.s3 import S3Server
from lakeworks.testing.workspace import stop_workspace_processes

BIKES = dataset_path("bike-rentals-daily")


def load_bikes(ws: Workspace) -> LakeService:
    lake = LakeService(ws)
    assert lake.load("bike_data", str(BIKES)).rows_written == 731
    return lake


@pytest.fixture(scope="module")
def lake_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A workspace with ``bike_data`` and ``sales.orders`` (shared by read-only tests)."""
    ws = create_workspace(tmp_path_factory.mktemp("sql") / "ws")
    lake = load_bikes(ws)
    lake.create_database("sales")
    lake.write("sales.orders", pa.table({"id": [1, 2, 3], "amount": [9.5, 20.0, 3.25]}))
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture
def sql(lake_ws: Workspace) -> Iterator[SqlService]:
    service = SqlService(lake_ws)
    try:
        yield service
    finally:
        service.close()


def scalar(table: pa.Table) -> object:
    return table.column(0)[0].as_py()


@pytest.mark.parametrize("name", ["bike_data", "default.bike_data", '"default".bike_data',
                                  "DEFAULT.Bike_Data", '"default"."bike_data"'])
def test_default_tables_by_bare_and_qualified_names(sql: SqlService, name: str) -> None:
    assert scalar(sql.execute(f"SELECT count(*) FROM {name}")) == 731


def test_columns_keep_the_lake_types(sql: SqlService) -> None:
    schema = sql.execute("SELECT * FROM bike_data LIMIT 1").schema
    assert schema.field("dteday").type == pa.date32()
    assert schema.field("rentals").type == pa.int64()
    assert schema.field("temp").type == pa.float64()
    assert schema.field("season").type == pa.string()


def test_default_in_strings_and_comments_is_left_alone(sql: SqlService) -> None:
    result = sql.execute("SELECT 'default.bike_data' AS s -- default.x\n"
                         "FROM default.bike_data /* default. */ LIMIT 1")
    assert result.to_pylist() == [{"s": "default.bike_data"}]


def test_a_second_database(sql: SqlService) -> None:
    result = sql.execute("SELECT sum(amount) AS total FROM sales.orders")
    assert result.to_pylist() == [{"total": 32.75}]
    with pytest.raises(InvalidInputError, match="orders does not exist"):
        sql.execute("SELECT * FROM orders")  # only default's tables have bare names


def test_parameters_are_bound_in_every_spelling(sql: SqlService) -> None:
    for marker in ("$n", "@n", ":n"):
        query = f"SELECT count(*) FROM bike_data WHERE rentals > {marker}"
        assert scalar(sql.execute(query, {"n": 8000})) == 12
    with pytest.raises(InvalidInputError, match=r"uses parameter \$n, which was not given"):
        sql.execute("SELECT $n")
    with pytest.raises(InvalidInputError, match=r"parameter\(s\) m are not used"):
        sql.execute("SELECT $n AS n", {"n": 1, "m": 2})


def test_an_injection_through_a_parameter_is_only_a_value(sql: SqlService) -> None:
    attack = "'; DROP TABLE bike_data; --"
    result = sql.execute("SELECT * FROM bike_data WHERE season = $s", {"s": attack})
    assert result.num_rows == 0
    assert scalar(sql.execute("SELECT count(*) FROM bike_data")) == 731


def test_sql_errors_carry_the_engine_message_and_position(sql: SqlService) -> None:
    with pytest.raises(InvalidInputError) as caught:
        sql.execute("SELECT 1;\nSELECT dteday,\n       nope FROM bike_data")
    message = str(caught.value)
    assert "Referenced column \"nope\" not found" in message
    assert message.startswith("statement 2: Binder Error")
    assert "(line 3, column 8)" in message
    assert message.endswith("LINE 3: nope FROM bike_data\n        ^^^^")
    assert caught.value.line == 3
    with pytest.raises(InvalidInputError, match=r"syntax error at or near .* \(line 1, column"):
        sql.execute("SELEC 1")


def test_errors_in_a_file_name_the_file_and_line(sql: SqlService, tmp_path: Path) -> None:
    script = tmp_path / "report.sql"
    script.write_text("SELECT count(*) FROM bike_data;\n\nSELECT missing FROM bike_data;\n")
    with pytest.raises(InvalidInputError) as caught:
        sql.execute_file(script)
    assert str(caught.value).startswith(f"{script}:3: statement 2: Binder Error")


def test_changes_to_lake_tables_other_than_writes_are_refused(sql: SqlService) -> None:
    for statement in ("UPDATE bike_data SET rentals = 0", "DELETE FROM default.bike_data",
                      "DROP VIEW bike_data", "ALTER TABLE sales.orders RENAME TO o"):
        with pytest.raises(InvalidInputError, match=r"on lake table .* is not supported"):
            sql.execute(statement)
    assert scalar(sql.execute("SELECT count(*) FROM bike_data")) == 731


def test_session_temp_tables_stay_in_the_session(sql: SqlService, lake_ws: Workspace) -> None:
    sql.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS a; INSERT INTO scratch VALUES (2)")
    assert scalar(sql.execute("SELECT sum(a) FROM scratch")) == 3
    assert "scratch" not in {t.name for t in LakeService(lake_ws).list_tables()}


# -- writes to the lake ------------------------------------------------------------------


def test_ctas_insert_and_replace_write_delta_tables(workspace: Workspace) -> None:
    lake = load_bikes(workspace)
    sql = SqlService(workspace)
    created = sql.execute("CREATE TABLE summer AS SELECT * FROM bike_data WHERE season = $s",
                          {"s": "summer"})
    assert created.to_pylist() == [{"table": "default.summer", "operation": "created",
                                    "rows": 184}]
    assert lake.read("summer").num_rows == 184
    assert lake.table("summer").created_by == "sql"
    assert [c.name for c in lake.table("summer").columns][:2] == ["dteday", "season"]

    sql.execute("INSERT INTO summer SELECT * FROM bike_data WHERE season = 'summer'")
    assert scalar(sql.execute("SELECT count(*) FROM summer")) == 368
    assert lake.read("summer").num_rows == 368
    assert len(lake.history("summer")) == 2

    other = SqlService(workspace)  # a new engine sees the new table too
    assert scalar(other.execute("SELECT count(*) FROM default.summer")) == 368
    other.close()

    sql.execute("CREATE OR REPLACE TABLE summer AS SELECT * FROM bike_data LIMIT 5")
    assert lake.read("summer").num_rows == 5
    assert scalar(sql.execute("SELECT count(*) FROM summer")) == 5
    with pytest.raises(InvalidInputError, match="summer already exists; use CREATE OR REPLACE"):
        sql.execute("CREATE TABLE summer AS SELECT 1 AS a")
    kept = sql.execute("CREATE TABLE IF NOT EXISTS summer AS SELECT 1 AS a")
    assert kept.column("operation").to_pylist() == ["exists"]
    assert lake.read("summer").num_rows == 5
    sql.close()


def test_insert_values_by_position_by_column_list_and_by_name(workspace: Workspace) -> None:
    lake = LakeService(workspace)
    lake.create_database("sales")
    sql = SqlService(workspace)
    sql.execute("CREATE TABLE sales.t (id BIGINT, name VARCHAR, amount DOUBLE)")
    assert lake.read("sales.t").num_rows == 0
    sql.execute("INSERT INTO sales.t VALUES (1, 'a', 1.5), (2, 'b', 2)")
    sql.execute("INSERT INTO sales.t (name, id) VALUES ('c', 3)")
    sql.execute("INSERT INTO sales.t BY NAME SELECT 4 AS id, 0.5 AS amount")
    rows = sql.execute("SELECT * FROM sales.t ORDER BY id").to_pylist()
    assert rows == [
        {"id": 1, "name": "a", "amount": 1.5}, {"id": 2, "name": "b", "amount": 2.0},
        {"id": 3, "name": "c", "amount": None}, {"id": 4, "name": None, "amount": 0.5},
    ]
    with pytest.raises(InvalidInputError, match=r"sales.t has 3 columns \(id, name, amount\)"):
        sql.execute("INSERT INTO sales.t VALUES (5, 'e')")
    with pytest.raises(InvalidInputError, match=r"column 'id' of table sales\.t is int64"):
        sql.execute("INSERT INTO sales.t (id) VALUES ('not a number')")
    assert lake.read("sales.t").num_rows == 4
    sql.close()


def test_a_long_lived_engine_follows_the_catalog(workspace: Workspace) -> None:
    lake = load_bikes(workspace)
    sql = SqlService(workspace)
    assert scalar(sql.execute("SELECT count(*) FROM bike_data")) == 731
    lake.write("extra", pa.table({"x": [1, 2]}))  # another writer, as Spark would
    lake.write("bike_data", lake.read("bike_data").slice(0, 9), mode="append")
    assert scalar(sql.execute("SELECT count(*) FROM extra")) == 2
    assert scalar(sql.execute("SELECT count(*) FROM bike_data")) == 740
    lake.drop("extra")
    with pytest.raises(InvalidInputError, match="extra does not exist"):
        sql.execute("SELECT * FROM extra")
    sql.close()


def test_a_partitioned_table_is_read_through_its_dataset(workspace: Workspace) -> None:
    lake = LakeService(workspace)
    lake.write("parts", pa.table({"a": [1, 2, 3], "k": ["x", "y", "x"]}), partition_by=["k"])
    sql = SqlService(workspace)
    query = "SELECT k, sum(a)::BIGINT AS s FROM parts GROUP BY k ORDER BY k"
    assert sql.execute(query).to_pylist() == [{"k": "x", "s": 4}, {"k": "y", "s": 2}]
    sql.execute("INSERT INTO parts VALUES (10, 'z')")
    assert sql.execute(query).to_pylist()[-1] == {"k": "z", "s": 10}
    sql.close()


def test_a_table_whose_files_vanished_is_named(workspace: Workspace) -> None:
    lake = load_bikes(workspace)
    warm = SqlService(workspace)
    assert scalar(warm.execute("SELECT count(*) FROM bike_data")) == 731
    for file in Path(lake.location("bike_data").url).glob("*.parquet"):
        file.unlink()
    for sql in (warm, SqlService(workspace)):  # a view made before, and one made now
        with pytest.raises(NotFoundError) as caught:
            sql.execute("SELECT count(*) FROM bike_data")
        message = str(caught.value)
        assert message.startswith("table default.bike_data: its data files cannot be read")
        assert "drop and reload the table" in message and "LINE" not in message
        sql.close()


# -- procedures ----------------------------------------------------------------------------

BUSY_DAYS = """
CREATE PROCEDURE dbo.busy_days
    @min_rentals INT = 7000,
    @season NVARCHAR(10) = NULL,
    @since DATE
AS
BEGIN
    SELECT count(*) AS days
    FROM bike_data
    WHERE rentals > @min_rentals AND (@season IS NULL OR season = @season)
      AND dteday >= @since;
END
"""


def test_procedures_with_typed_parameters_and_defaults(sql: SqlService) -> None:
    sql.execute(BUSY_DAYS)
    try:
        assert [p.name for p in sql.list_procedures()] == ["busy_days"]
        assert scalar(sql.exec_procedure("busy_days", {"since": "2011-01-01"})) == 94
        assert scalar(sql.exec_procedure("busy_days", {"since": "2012-06-01",
                                                       "min_rentals": "8000",
                                                       "season": "fall"})) == 6
        assert scalar(sql.execute(
            "EXEC dbo.busy_days @since = '2011-01-01', @min_rentals = 8000")) == 12
        assert scalar(sql.execute("EXEC busy_days 8000, NULL, $d", {"d": "2011-01-01"})) == 12
        with pytest.raises(InvalidInputError, match=r"needs parameter\(s\) since"):
            sql.exec_procedure("busy_days", {})
        with pytest.raises(InvalidInputError, match=r"has no parameter\(s\) sinse"):
            sql.exec_procedure("busy_days", {"sinse": "2011-01-01"})
        with pytest.raises(InvalidInputError, match="'since' of procedure 'busy_days' "
                                                    "expects DATE, got 'soon'"):
            sql.exec_procedure("busy_days", {"since": "soon"})
        attack = "'; DROP TABLE bike_data; --"
        assert scalar(sql.exec_procedure("busy_days", {"since": "2011-01-01",
                                                       "season": attack})) == 0
        assert scalar(sql.execute("SELECT count(*) FROM bike_data")) == 731
        with pytest.raises(ConflictError):
            sql.execute(BUSY_DAYS)
        sql.execute(BUSY_DAYS.replace("CREATE PROCEDURE", "CREATE OR ALTER PROCEDURE")
                    .replace("count(*) AS days", "count(*) AS n"))
        assert sql.exec_procedure("busy_days", {"since": "2011-01-01"}).column_names == ["n"]
    finally:
        sql.execute("DROP PROCEDURE IF EXISTS busy_days")
    with pytest.raises(NotFoundError, match="procedure 'busy_days' does not exist"):
        sql.exec_procedure("busy_days", {})


def test_procedures_from_a_bare_body_and_body_checks(sql: SqlService) -> None:
    record = sql.create_procedure(
        "orders_over", "SELECT id FROM sales.orders WHERE amount > :limit ORDER BY id",
        [{"name": "limit", "type": "DOUBLE", "default": 5}], description="big orders")
    try:
        assert record.parameters[0].type == "DOUBLE"
        assert sql.exec_procedure("orders_over", {}).column("id").to_pylist() == [1, 2]
        with pytest.raises(InvalidInputError, match="uses @nope, which is not declared"):
            sql.create_procedure("bad", "SELECT @nope")
        with pytest.raises(InvalidInputError, match="creates procedure 'x' but the name"):
            sql.create_procedure("other", "CREATE PROCEDURE x AS SELECT 1")
        with pytest.raises(InvalidInputError, match=r"line 1: procedure 'bad2', parameter @n: parameter type 'POINT' is not"):
            sql.execute("CREATE PROCEDURE bad2 @n POINT AS SELECT 1")
    finally:
        sql.drop_procedure("orders_over")


def test_errors_inside_procedures_name_the_procedure(sql: SqlService) -> None:
    sql.create_procedure("broken", "SELECT 1;\nSELECT nothing FROM bike_data")
    try:
        with pytest.raises(InvalidInputError) as caught:
            sql.exec_procedure("broken")
        assert str(caught.value).startswith(
            "procedure 'broken', statement 2 (line 2 of its body): Binder Error")
        assert "LINE 2: SELECT nothing FROM bike_data" in str(caught.value)
    finally:
        sql.drop_procedure("broken")


# -- the SDK -------------------------------------------------------------------------------


def test_ml_client_sql_returns_arrow(lake_ws: Workspace) -> None:
    ml_client = MLClient(workspace=lake_ws.path)
    try:
        table = ml_client.sql("SELECT season, count(*) AS days FROM bike_data GROUP BY season "
                              "ORDER BY season")
        assert isinstance(table, pa.Table)
        assert table.to_pandas()["days"].sum() == 731
        assert ml_client.sql("SELECT $x * 2 AS y", params={"x": 21}).to_pylist() == [{"y": 42}]
        ml_client.sql.create_procedure("double_it", "SELECT @x * 2 AS y",
                                       parameters=[{"name": "x", "type": "INT"}])
        assert ml_client.sql.exec("double_it", x="4").to_pylist() == [{"y": 8}]
        assert "default.bike_data" in ml_client.sql.tables()
        ml_client.sql.drop_procedure("double_it")
    finally:
        ml_client.close()


# -- S3 ------------------------------------------------------------------------------------


@pytest.mark.s3
def test_a_table_on_s3_is_queryable(tmp_path: Path, s3_bucket_url: str,
                                    s3_server: S3Server) -> None:
    ws = create_workspace(tmp_path / "ws", settings={
        "artifact_url": s3_bucket_url, "s3_endpoint_url": s3_server.endpoint_url})
    try:
        lake = load_bikes(ws)
        assert lake.location("bike_data").url.startswith("s3://")
        sql = SqlService(ws)
        assert scalar(sql.execute("SELECT count(*) FROM default.bike_data")) == 731
        sql.execute("CREATE TABLE fall AS SELECT * FROM bike_data WHERE season = 'fall'")
        assert scalar(sql.execute("SELECT count(*) FROM fall")) == 188
        assert lake.location("fall").url.startswith("s3://")
        sql.close()
    finally:
        stop_workspace_processes(ws)
        ws.close()
