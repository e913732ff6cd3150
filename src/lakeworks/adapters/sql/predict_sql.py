"""``PREDICT`` uses rewritten into DuckDB SQL once their models are resolved.

Owns the SQL a resolved use becomes. The clause keeps T-SQL's meaning of its aliases: ``d.*``
is the DATA columns only and ``p.<out>`` the outputs, because it becomes ``(<DATA> AS d CROSS
JOIN LATERAL (SELECT CAST(s.o0 AS TYPE) AS out FROM (SELECT fn(CAST(d.in AS T), ...) AS s))
AS p)`` (the function returns a struct whose fields ``o0, o1, ...`` are the WITH outputs), which DuckDB flattens into one projection (the function runs once per 2,048-row
vector on DuckDB's threads, measured in BENCHMARKS.md). The function form becomes
``fn(CAST(arg AS T), ...)`` with the arguments in the model's input order (a struct
argument's fields read by name). Also: the query that lists a DATA relation's columns, the
parameters a rewritten statement still uses, and the body of the scoring procedure that
``deploy-model`` saves. Names are quoted identifiers; values never appear in the text.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from sqlglot import TokenType

from lakeworks.adapters.sql.predict import quote
from lakeworks.adapters.sql.tokens import WORD, tokenize
from lakeworks.core.lake import TableName
from lakeworks.core.predict import (
    BoundInput,
    BoundPredict,
    PredictCall,
    PredictClause,
    ScoringProcedure,
)

_STRUCT = "__lw_s"


def _table(name: TableName) -> str:
    return f"{quote(name.database)}.{quote(name.name)}"


class DuckDbPredictSql:
    """The ``PredictSql`` port for DuckDB (role ``sql_predict``).

    Example:
        >>> DuckDbPredictSql().parameters("SELECT $a + $b AS c")
        frozenset({'a', 'b'})
    """

    def render(self, sql: str, bound: Sequence[BoundPredict]) -> str:
        """``sql`` with every bound use replaced by the SQL calling its function.

        Lines after a use keep their numbers (missing newlines are added after it), so
        positions in engine errors stay positions in the script.
        """
        out, last = [], 0
        for item in sorted(bound, key=lambda b: b.use.start):
            use = item.use
            out.append(sql[last:use.start])
            piece = self._clause(item, use) if isinstance(use, PredictClause) \
                else self._call(item, use)
            missing = sql.count("\n", use.start, use.end) - piece.count("\n")
            out.append(piece + "\n" * max(missing, 0))
            last = use.end
        out.append(sql[last:])
        return "".join(out)

    def _clause(self, item: BoundPredict, use: PredictClause) -> str:
        data = quote(use.data_alias)
        args = ", ".join(f"CAST({data}.{quote(str(i.source))} AS {i.sql_type})"
                         for i in item.inputs)
        outs = ", ".join(f"CAST({_STRUCT}.o{k} AS {o.type}) AS {quote(o.name)}"
                         for k, o in enumerate(use.outputs))
        return (f"({use.data} AS {data} CROSS JOIN LATERAL (SELECT {outs} FROM (SELECT "
                f"{quote(item.function)}({args}) AS {_STRUCT}) AS __lw_q) AS {quote(use.alias)})")

    def _call(self, item: BoundPredict, use: PredictCall) -> str:
        return f"{quote(item.function)}({', '.join(self._input(use, i) for i in item.inputs)})"

    def _input(self, use: PredictCall, bound: BoundInput) -> str:
        arg = use.arguments[int(bound.source)].sql
        if bound.field is not None:
            arg = f"({' '.join(arg.splitlines())}).{quote(bound.field)}"
        return f"CAST(({arg}) AS {bound.sql_type})"

    def probe(self, clause: PredictClause) -> str:
        """A query giving no rows with the columns (and types) of the clause's DATA."""
        prefix = f"{clause.ctes} " if clause.ctes else ""
        return f"{prefix}SELECT * FROM {clause.data} AS {quote(clause.data_alias)} LIMIT 0"

    def parameters(self, sql: str) -> frozenset[str]:
        """The ``$name`` parameters ``sql`` uses (lower-case)."""
        tokens = tokenize(sql)
        found: set[str] = set()
        for tok, nxt in itertools.pairwise(tokens):
            if tok.token_type == TokenType.PARAMETER and tok.text == "$" \
                    and nxt.start == tok.end + 1 and WORD.match(nxt.text):
                found.add(nxt.text.lower())
        return frozenset(found)

    def scoring_procedure(self, spec: ScoringProcedure) -> str:
        """The body of the wizard's scoring procedure (see ``ScoringProcedure``).

        Example:
            >>> from lakeworks.core.predict import PredictOutput
            >>> body = DuckDbPredictSql().scoring_procedure(ScoringProcedure(
            ...     TableName("default", "models"), TableName("default", "weather"), "model",
            ...     (("temp", "FLOAT"),), PredictOutput("variable", "FLOAT"), "rentals"))
            >>> print(body)
            SELECT d.*, p."variable" AS "rentals"
            FROM PREDICT(MODEL = (SELECT model FROM "default"."models" WHERE id = @model),
                         DATA = (SELECT * REPLACE (CAST("temp" AS FLOAT) AS "temp")
                                 FROM "default"."weather") AS d,
                         RUNTIME = ONNX) WITH ("variable" FLOAT) AS p
        """
        casts = ", ".join(f"CAST({quote(c)} AS {t}) AS {quote(c)}" for c, t in spec.inputs)
        select = (
            f"SELECT d.*, p.{quote(spec.output.name)} AS {quote(spec.output_column)}\n"
            f"FROM PREDICT(MODEL = (SELECT model FROM {_table(spec.models_table)} "
            f"WHERE id = @{spec.model_parameter}),\n"
            f"             DATA = (SELECT * REPLACE ({casts})\n"
            f"                     FROM {_table(spec.data_table)}) AS d,\n"
            f"             RUNTIME = ONNX) WITH ({quote(spec.output.name)} {spec.output.type}) AS p"
        )
        if spec.materialize is None:
            return select
        target = _table(spec.materialize)
        return f"CREATE OR REPLACE TABLE {target} AS\n{select};\nSELECT * FROM {target}"
