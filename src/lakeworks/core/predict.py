"""``PREDICT`` in SQL as plain values: the uses found in a statement and how each is bound.

Owns what a statement's ``PREDICT`` uses are once parsed, in both forms: the T-SQL rowset
clause ``PREDICT(MODEL = ..., DATA = ... AS d, RUNTIME = ONNX) WITH (out TYPE, ...) AS p``
(``PredictClause``) and the scalar function ``PREDICT('name:version', col, name := expr,
...)`` (``PredictCall``); where the model comes from (a literal, a bound parameter, a scalar
subquery); how a resolved model's inputs are bound to SQL values (``BoundPredict``); and the
SQL type of each ONNX element type. No SQL text is produced here (the dialect is an adapter's)
and nothing is run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lakeworks.core.lake import TableName

#: where a PREDICT's model comes from
ModelKind = Literal["literal", "parameter", "subquery"]

#: SQL types of ONNX tensor element types (what a model input is cast to)
ONNX_SQL_TYPES: dict[str, str] = {
    "tensor(float)": "FLOAT", "tensor(double)": "DOUBLE", "tensor(int64)": "BIGINT",
    "tensor(int32)": "INTEGER", "tensor(int16)": "SMALLINT", "tensor(int8)": "TINYINT",
    "tensor(uint8)": "UTINYINT", "tensor(bool)": "BOOLEAN", "tensor(string)": "VARCHAR",
}

#: SQL types of MLflow signature column types (a pyfunc model's inputs and output)
MLFLOW_SQL_TYPES: dict[str, str] = {
    "double": "DOUBLE", "float": "FLOAT", "long": "BIGINT", "integer": "INTEGER",
    "string": "VARCHAR", "boolean": "BOOLEAN", "datetime": "TIMESTAMP", "binary": "BLOB",
}


@dataclass(frozen=True)
class ModelSource:
    """The MODEL of a PREDICT: a ``'name[:version]'`` literal, a parameter, or a subquery.

    ``value`` is the literal's text, the parameter's name, or the subquery's SQL (bound
    parameter markers already written ``$name``).
    """

    kind: ModelKind
    value: str

    def describe(self) -> str:
        """How messages name it: ``'m:1'``, ``@m`` or ``(SELECT ...)``."""
        if self.kind == "literal":
            return repr(self.value)
        if self.kind == "parameter":
            return f"@{self.value}"
        text = " ".join(self.value.split())
        return f"({text[:60]}{'...' if len(text) > 60 else ''})"


@dataclass(frozen=True, kw_only=True)
class Span:
    """Where a PREDICT use is in its statement: offsets of its text and its position."""

    start: int  # offset of ``PREDICT`` in the statement's ``sql``
    end: int  # offset just past the use
    line: int
    column: int


@dataclass(frozen=True)
class PredictOutput:
    """One ``WITH`` column: a model output's name and the SQL type it is returned as."""

    name: str
    type: str


@dataclass(frozen=True, kw_only=True)
class PredictClause(Span):
    """``PREDICT(MODEL = m, DATA = t [AS d], RUNTIME = ONNX) WITH (out TYPE, ...) [AS] p``.

    ``data`` is the DATA relation as the rewriter writes it (a quoted table name or a
    parenthesised query); ``ctes`` is the statement's ``WITH`` clause when DATA names one of
    its common table expressions (the columns are looked up through it).
    """

    model: ModelSource
    data: str
    data_alias: str
    outputs: tuple[PredictOutput, ...]
    alias: str
    ctes: str = ""


@dataclass(frozen=True)
class PredictArgument:
    """One data argument of ``PREDICT('m', ...)``: its SQL and the name it is bound by.

    ``name`` is the named argument's name (``temp := t2``) or, for a column reference
    (``d.temp``), the column's name; None for other expressions.
    """

    sql: str
    name: str | None
    named: bool = False


@dataclass(frozen=True, kw_only=True)
class PredictCall(Span):
    """``PREDICT('name[:version]' | $m, arg, name := expr, ...)``: a scalar per row."""

    model: ModelSource
    arguments: tuple[PredictArgument, ...]


PredictUse = PredictClause | PredictCall


@dataclass(frozen=True)
class BoundInput:
    """What feeds one model input: a DATA column (clause) or an argument (call), optionally
    a field of a struct argument, cast to ``sql_type``."""

    source: str | int  # the DATA column's name, or the argument's index
    sql_type: str
    field: str | None = None


@dataclass(frozen=True)
class BoundPredict:
    """A PREDICT use with its model resolved: the SQL function registered for it and its
    inputs in the function's parameter order."""

    use: PredictUse
    function: str
    inputs: tuple[BoundInput, ...]


@dataclass(frozen=True)
class ScoringProcedure:
    """The body of the procedure ``deploy-model --procedure`` saves, as the Synapse wizard
    writes it: the table's rows with each model input cast to its type, scored by the model
    read from the models table (its id bound from ``model_parameter``), returning the
    table's columns and the prediction; written to ``materialize`` too when set."""

    models_table: TableName
    data_table: TableName
    model_parameter: str
    inputs: tuple[tuple[str, str], ...]  # (data column, SQL type of the model input)
    output: PredictOutput  # the model output read, and its SQL type
    output_column: str
    materialize: TableName | None = None
