"""SQL ports: splitting a script into classified statements, and writing ``PREDICT`` as SQL.

The engine itself is in ``lake.py``.

A parser turns SQL text into ``core.sql`` statements without running anything: it finds
statement ends outside strings, comments and procedure bodies, recognises the statements that
write catalog tables or manage procedures, rewrites ``@p``/``:p`` parameter markers of known
names to the engine's ``$p`` (same length, so positions stay true) and lists the tables a
statement reads when it can, and the ``PREDICT`` uses of each statement. A ``PredictSql``
turns those uses, once their models are resolved and registered as functions, into the
engine's SQL.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from lakeworks.core.predict import BoundPredict, PredictClause, ScoringProcedure
from lakeworks.core.sql import Statement


class StatementParser(Protocol):
    """Splits and classifies SQL scripts (DuckDB's dialect plus T-SQL procedure headers)."""

    def split(self, script: str, parameters: Collection[str] = ()) -> list[Statement]:
        """The statements of ``script``, in order; ``parameters`` are the names that ``@name``
        and ``:name`` may refer to (``$name`` always does).

        Raises:
            InvalidInputError: unterminated strings or comments, or a malformed ``CREATE
                PROCEDURE``/``EXEC``/``CREATE TABLE``/``INSERT``, naming the line.
        """
        ...

    def is_complete(self, text: str) -> bool:
        """True when ``text`` ends with a finished statement (an interactive shell runs it)."""
        ...


class PredictSql(Protocol):
    """Writes resolved ``PREDICT`` uses as the engine's SQL."""

    def render(self, sql: str, bound: Sequence[BoundPredict]) -> str:
        """``sql`` with each use replaced by a call of its registered function; the text
        outside the uses and the line numbers after them are kept."""
        ...

    def probe(self, clause: PredictClause) -> str:
        """A query giving no rows with the columns of the clause's DATA."""
        ...

    def parameters(self, sql: str) -> frozenset[str]:
        """The parameters (``$name``) ``sql`` uses."""
        ...

    def scoring_procedure(self, spec: ScoringProcedure) -> str:
        """The body of a scoring procedure, as Synapse's "Predict with a model" writes it."""
        ...
