"""Reading PREDICT in statements (both forms) and rewriting resolved uses, without an engine."""

from __future__ import annotations

import pytest

from lakeworks.adapters.sql.predict_sql import DuckDbPredictSql
from lakeworks.adapters.sql.statements import SqlglotStatementParser
from lakeworks.core.predict import (
    BoundInput,
    BoundPredict,
    ModelSource,
    PredictCall,
    PredictClause,
    PredictOutput,
)
from lakeworks.core.sql import CreateTableAs, InsertInto, Query
from lakeworks.errors import InvalidInputError

parser = SqlglotStatementParser()
writer = DuckDbPredictSql()


def test_the_wizard_clause_with_brackets_and_a_subquery_model() -> None:
    text = ("SELECT *\nFROM PREDICT(MODEL = (SELECT [model] FROM models WHERE id = 'm:1'),\n"
            "  DATA = [dbo].[weather] AS d, RUNTIME = ONNX) WITH ([variable_out1] [real]) AS p")
    (statement,) = parser.split(text)
    assert isinstance(statement, Query)
    (clause,) = statement.predictions
    assert isinstance(clause, PredictClause)
    assert clause.model == ModelSource("subquery", "SELECT [model] FROM models WHERE id = 'm:1'")
    assert (clause.data, clause.data_alias, clause.alias) == ('"weather"', "d", "p")
    assert clause.outputs == (PredictOutput("variable_out1", "FLOAT"),)
    assert (clause.line, clause.column) == (2, 6)
    assert statement.sql[clause.start:clause.end].startswith("PREDICT(")
    assert statement.sql[clause.start:clause.end].endswith("AS p")
    assert statement.tables == ((None, "weather"), (None, "models"))


def test_a_parameter_model_a_cte_and_positions_in_later_statements() -> None:
    text = ("SELECT 1;\n\nWITH c AS (SELECT * FROM t) SELECT * FROM PREDICT(MODEL = @m, "
            "DATA = c) WITH (y FLOAT) AS p")
    statement = parser.split(text, ["m"])[1]
    (clause,) = statement.predictions
    assert isinstance(clause, PredictClause)
    assert clause.model == ModelSource("parameter", "m")
    assert clause.ctes == "WITH c AS (SELECT * FROM t)" and clause.data == '"c"'
    assert clause.data_alias == "c" and clause.line == 3
    assert statement.sql[clause.start:clause.start + 7] == "PREDICT"
    assert statement.tables == ((None, "t"),)


def test_the_function_form_names_its_arguments() -> None:
    (statement,) = parser.split("SELECT PREDICT($m, b.temp, hum := h * 2, x => y, "
                                "struct_pack(a := 1), upper(s)) FROM b", ["m"])
    (call,) = statement.predictions
    assert isinstance(call, PredictCall)
    assert call.model == ModelSource("parameter", "m")
    assert [(a.name, a.sql, a.named) for a in call.arguments] == [
        ("temp", "b.temp", False), ("hum", "h * 2", True), ("x", "y", True),
        (None, "struct_pack(a := 1)", False), (None, "upper(s)", False)]


def test_uses_in_create_table_as_and_insert() -> None:
    ctas, insert = parser.split(
        "CREATE TABLE s AS SELECT PREDICT('m', a) AS y FROM t;\n"
        "INSERT INTO s SELECT PREDICT('m', a) FROM t")
    assert isinstance(ctas, CreateTableAs) and isinstance(insert, InsertInto)
    for statement in (ctas, insert):
        (call,) = statement.predictions
        assert statement.sql[call.start:call.end] == "PREDICT('m', a)"


@pytest.mark.parametrize(("text", "wanted"), [
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t AS d, RUNTIME = R) WITH (y FLOAT) AS p",
     "RUNTIME = R is not supported"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t) AS p", "WITH (output TYPE, ...) must follow"),
    ("SELECT * FROM PREDICT(MODEL = 'm', MODEL = 'n', DATA = t) WITH (y FLOAT) AS p",
     "MODEL is given twice"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t) WITH (y FLOAT, Y REAL) AS p",
     "output Y is listed twice"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = t) WITH (y) AS p", "output y needs a type"),
    ("SELECT * FROM PREDICT(MODEL = 'm', DATA = (1)) WITH (y FLOAT) AS p",
     "DATA = ( must hold a query"),
    ("SELECT PREDICT('m', *) FROM t", "pass the columns by name"),
    ("SELECT PREDICT('m', PREDICT('n', a)) FROM t", "inside another PREDICT"),
])
def test_malformed_uses_are_refused_with_their_position(text: str, wanted: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parser.split(text)
    assert wanted in str(caught.value) and "(line 1, column " in str(caught.value)


def test_a_clause_rewritten_keeps_data_columns_apart_from_outputs() -> None:
    text = "SELECT d.*, p.y FROM PREDICT(MODEL = 'm', DATA = t AS d) WITH (y FLOAT) AS p\nLIMIT 1"
    (statement,) = parser.split(text)
    (clause,) = statement.predictions
    bound = BoundPredict(clause, "fn", (BoundInput("Temp", "FLOAT"),))
    sql = writer.render(statement.sql, [bound])
    assert sql == (
        'SELECT d.*, p.y FROM ("t" AS "d" CROSS JOIN LATERAL (SELECT CAST(__lw_s.o0 AS DOUBLE) '
        'AS "y" FROM (SELECT "fn"(CAST("d"."Temp" AS FLOAT)) AS __lw_s) AS __lw_q) AS "p")\n'
        "LIMIT 1")
    assert writer.probe(clause) == 'SELECT * FROM "t" AS "d" LIMIT 0'


def test_a_call_rewritten_in_input_order_with_struct_fields_and_lines_kept() -> None:
    text = "SELECT PREDICT('m',\n  b,\n  c) AS y,\n  z FROM t"
    (statement,) = parser.split(text)
    (call,) = statement.predictions
    bound = BoundPredict(call, "fn", (BoundInput(1, "FLOAT"), BoundInput(0, "BIGINT", "k")))
    sql = writer.render(statement.sql, [bound])
    first, _, third, fourth = sql.split("\n")
    assert first == 'SELECT "fn"(CAST((c) AS FLOAT), CAST(((b)."k") AS BIGINT))'
    assert (third, fourth) == (" AS y,", "  z FROM t")  # later lines keep their numbers
    assert writer.parameters("SELECT $a, '$b', $C") == frozenset({"a", "c"})
