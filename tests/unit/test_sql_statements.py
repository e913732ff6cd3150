"""Splitting and classifying SQL scripts, T-SQL procedure headers, and parameter typing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from lakeworks.adapters.sql.statements import SqlglotStatementParser
from lakeworks.adapters.sql.tables import referenced_tables
from lakeworks.core.lake import ParameterSpec, TableName, WriteMode
from lakeworks.core.sql import (
    CreateProcedure,
    CreateTableAs,
    DropProcedure,
    ExecProcedure,
    InsertInto,
    ParamRef,
    Query,
    bind_arguments,
    coerce_value,
    declare_parameter,
    normalize_type,
)
from lakeworks.errors import InvalidInputError

parser = SqlglotStatementParser()


def test_semicolons_in_strings_comments_and_dollar_quotes_do_not_split() -> None:
    script = "SELECT 'a;b' AS x; -- c;d\nSELECT $$e;f$$ /* g;h */; SELECT 3"
    statements = parser.split(script)
    assert [s.text for s in statements] == ["SELECT 'a;b' AS x", "SELECT $$e;f$$", "SELECT 3"]
    assert [s.line for s in statements] == [1, 2, 2]


def test_statement_text_keeps_the_script_layout_before_it() -> None:
    second = parser.split("SELECT 1;\n\n  SELECT 2")[1]
    assert second.sql == "\n\n  SELECT 2"


def test_markers_of_known_names_become_dollar_markers_of_the_same_length() -> None:
    (st,) = parser.split("SELECT * FROM t WHERE a = @N AND b = :n AND c = $n AND d::int = 1 "
                         "AND e = 'x @n :n' AND f = {'k': 1}", ["n"])
    assert isinstance(st, Query)
    assert st.text == ("SELECT * FROM t WHERE a = $n AND b = $n AND c = $n AND d::int = 1 "
                       "AND e = 'x @n :n' AND f = {'k': 1}")
    assert st.parameters == {"n"}


def test_unknown_at_names_and_positional_markers_are_reported() -> None:
    (st,) = parser.split("SELECT @x, $1")
    assert isinstance(st, Query)
    assert st.variables == {"x"} and st.positional


def test_ctas_insert_and_their_targets() -> None:
    ctas, replace, ignore, insert, insert_cols, by_name, values = parser.split(
        "CREATE TABLE sales.t AS SELECT 1 AS a;"
        "CREATE OR REPLACE TABLE t2 AS SELECT * FROM default.bike_data;"
        "CREATE TABLE IF NOT EXISTS t3 AS SELECT 1;"
        "INSERT INTO sales.t SELECT 2;"
        "INSERT INTO sales.t (a) SELECT 3;"
        "INSERT INTO sales.t BY NAME SELECT 4 AS a;"
        "INSERT INTO \"default\".t2 VALUES (1, 'x')"
    )
    assert isinstance(ctas, CreateTableAs) and ctas.target == TableName("sales", "t")
    assert ctas.mode is WriteMode.ERROR and ctas.text == "SELECT 1 AS a"
    assert isinstance(replace, CreateTableAs) and replace.mode is WriteMode.OVERWRITE
    assert replace.tables == (("default", "bike_data"),)
    assert isinstance(ignore, CreateTableAs) and ignore.mode is WriteMode.IGNORE
    assert isinstance(insert, InsertInto) and insert.text == "SELECT 2"
    assert isinstance(insert_cols, InsertInto) and insert_cols.columns == ("a",)
    assert isinstance(by_name, InsertInto) and by_name.by_name
    assert isinstance(values, InsertInto) and values.target == TableName("default", "t2")
    assert values.text == "VALUES (1, 'x')"


def test_session_local_tables_and_synapse_table_options() -> None:
    temp, local, synapse = parser.split(
        "CREATE TEMP TABLE x AS SELECT 1; CREATE TABLE main.y AS SELECT 1;"
        "CREATE TABLE z WITH (DISTRIBUTION = ROUND_ROBIN) AS SELECT 1 AS a"
    )
    assert isinstance(temp, Query) and isinstance(local, Query)
    assert isinstance(synapse, CreateTableAs) and synapse.text == "SELECT 1 AS a"


def test_create_table_with_columns_becomes_an_empty_typed_query() -> None:
    (st,) = parser.split("CREATE TABLE t (a INTEGER, b VARCHAR(10), c DECIMAL(10, 2))")
    assert isinstance(st, CreateTableAs)
    assert "WHERE false" in st.sql and '"c"' in st.sql


def test_writes_to_named_tables_are_marked() -> None:
    update, delete, drop = parser.split(
        "UPDATE bike_data SET cnt = 0; DELETE FROM sales.t; DROP VIEW IF EXISTS t")
    assert isinstance(update, Query) and update.writes == (None, "bike_data")
    assert isinstance(delete, Query) and delete.writes == ("sales", "t")
    assert isinstance(drop, Query) and drop.writes == (None, "t") and drop.verb == "DROP VIEW"


def test_tsql_procedure_with_begin_end_case_and_defaults() -> None:
    script = """CREATE OR ALTER PROCEDURE [dbo].[Top_Days]
        @n INT = 5, @season NVARCHAR(10) = NULL, @since DATE = '2011-01-01', @ratio DECIMAL(5,2)
    AS
    BEGIN
        SELECT CASE WHEN cnt > 1 THEN 'busy' END AS kind FROM bike_data LIMIT @n;
        SELECT 2;
    END;
    EXEC dbo.top_days @n = 3, @season = $s, @ratio = -1.5;
    EXECUTE top_days 7;
    DROP PROC top_days"""
    create, call, positional, drop = parser.split(script, ["s"])
    assert isinstance(create, CreateProcedure)
    assert create.name == "top_days" and create.replace
    assert create.body.startswith("SELECT CASE") and create.body.endswith("SELECT 2")
    assert create.declared == (
        ParameterSpec(name="n", type="INTEGER", default=5, optional=True),
        ParameterSpec(name="season", type="VARCHAR", default=None, optional=True),
        ParameterSpec(name="since", type="DATE", default="2011-01-01", optional=True),
        ParameterSpec(name="ratio", type="DECIMAL(5,2)"),
    )
    assert isinstance(call, ExecProcedure)
    assert call.named == {"n": 3, "season": ParamRef("s"), "ratio": -1.5}
    assert call.parameters == {"s"}
    assert isinstance(positional, ExecProcedure) and positional.positional_args == (7,)
    assert isinstance(drop, DropProcedure) and drop.name == "top_days"


def test_procedure_without_begin_runs_to_the_end_of_the_batch() -> None:
    create, after = parser.split("CREATE PROCEDURE p (@a INT) AS SELECT @a; SELECT 1\nGO\n"
                                 "SELECT 2")
    assert isinstance(create, CreateProcedure) and create.body == "SELECT @a; SELECT 1"
    assert after.text == "SELECT 2"


@pytest.mark.parametrize(("script", "message"), [
    ("CREATE PROCEDURE p @a INT OUTPUT AS SELECT 1", "OUTPUT parameters"),
    ("CREATE PROCEDURE p @a GEOGRAPHY AS SELECT 1", "not supported"),
    ("CREATE PROCEDURE p @a INT = 'x' AS SELECT 1", "expects INTEGER"),
    ("CREATE PROCEDURE p @a INT, @a INT AS SELECT 1", "declared twice"),
    ("CREATE PROCEDURE p @a INT SELECT 1", "is AS missing"),
    ("CREATE PROCEDURE p @a INT, b INT AS SELECT 1", "expected a parameter"),
    ("CREATE PROCEDURE p AS BEGIN SELECT 1;", "BEGIN without its END"),
    ("EXEC ('SELECT 1')", "needs a procedure name"),
    ("EXEC p @a = 1, 2", "positional values must come before"),
    ("EXEC p @a = @undeclared", "not a parameter of this script"),
    ("SELECT 'unterminated", "line 1, column 8: an unterminated string"),
])
def test_malformed_statements_are_named(script: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parser.split(script)


def test_is_complete_waits_for_semicolons_and_procedure_ends() -> None:
    assert not parser.is_complete("SELECT 1")
    assert parser.is_complete("SELECT 1;")
    assert not parser.is_complete("SELECT ';")
    assert not parser.is_complete("CREATE PROCEDURE p AS BEGIN SELECT 1;")
    assert parser.is_complete("CREATE PROCEDURE p AS BEGIN SELECT 1; END;")


def test_referenced_tables_leave_out_ctes_and_unparseable_sql() -> None:
    assert referenced_tables("WITH c AS (SELECT 1) SELECT * FROM c JOIN default.b ON true") \
        == (("default", "b"),)
    assert referenced_tables("SELECT * FROM ((") is None


def test_parameter_types_and_values() -> None:
    assert normalize_type("nvarchar(max)") == "VARCHAR"
    assert normalize_type("numeric(10, 2)") == "DECIMAL(10,2)"
    assert coerce_value("2012-01-02", "DATE", what="p") == date(2012, 1, 2)
    assert coerce_value("1.25", "DECIMAL(10,2)", what="p") == Decimal("1.25")
    assert coerce_value("yes", "BOOLEAN", what="p") is True
    with pytest.raises(InvalidInputError, match="parameter 'd' expects DATE, got 'soon'"):
        coerce_value("soon", "DATE", what="parameter 'd'")


def test_binding_names_missing_unknown_and_optional_parameters() -> None:
    specs = [declare_parameter("n", "INT"), declare_parameter("s", "VARCHAR", optional=True),
             declare_parameter("d", "DATE", "2012-01-01")]
    assert bind_arguments("p", specs, {"N": "4"}) == {"n": 4, "s": None, "d": date(2012, 1, 1)}
    with pytest.raises(InvalidInputError, match=r"procedure 'p' needs parameter\(s\) n"):
        bind_arguments("p", specs, {})
    with pytest.raises(InvalidInputError, match=r"has no parameter\(s\) zz"):
        bind_arguments("p", specs, {"n": 1, "zz": 2})
