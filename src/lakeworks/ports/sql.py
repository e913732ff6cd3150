"""SQL port: splitting a script into classified statements (the engine itself is in ``lake.py``).

A parser turns SQL text into ``core.sql`` statements without running anything: it finds
statement ends outside strings, comments and procedure bodies, recognises the statements that
write catalog tables or manage procedures, rewrites ``@p``/``:p`` parameter markers of known
names to the engine's ``$p`` (same length, so positions stay true) and lists the tables a
statement reads when it can.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Protocol

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
