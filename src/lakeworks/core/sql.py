"""SQL statements as plain values, and the typing of procedure parameters.

Owns what a SQL script is made of once split (a query, ``CREATE TABLE ... AS``, ``INSERT
INTO``, ``CREATE PROCEDURE``, ``EXEC``, ``DROP PROCEDURE``), the parameter types a saved
procedure may declare (T-SQL names such as ``NVARCHAR(20)`` or ``BIT`` are mapped to DuckDB's),
and binding given values to declared parameters: missing and unknown names are errors, values
are converted to the declared type in Python, and the result is bound by the engine, never
pasted into SQL text. No I/O and no SQL parsing here: the statement parser is an adapter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from lakeworks.core.lake import ParameterSpec, TableName, WriteMode, validate_identifier
from lakeworks.core.predict import PredictUse
from lakeworks.errors import InvalidInputError

#: a table named in a statement: (database or None, name), as written (not validated)
TableRef = tuple[str | None, str]


@dataclass(frozen=True, kw_only=True)
class Located:
    """Where a statement starts in its script (1-based) and what it runs in the engine.

    ``sql`` keeps the script's layout before the statement (blank lines and spaces), so that
    positions in engine errors are positions in the script. ``predictions`` are the
    ``PREDICT`` uses in ``sql`` (offsets into it), rewritten once their models are resolved.
    """

    index: int
    line: int
    sql: str
    parameters: frozenset[str] = frozenset()
    tables: tuple[TableRef, ...] | None = ()
    predictions: tuple[PredictUse, ...] = ()

    @property
    def text(self) -> str:
        """The statement's own text, without the layout padding."""
        return self.sql.strip()


@dataclass(frozen=True, kw_only=True)
class Query(Located):
    """A statement run as is by the engine (queries, session-local DDL, ``EXPLAIN``...).

    ``writes`` names the table an ``UPDATE``/``DELETE``/``DROP``/``ALTER``/``TRUNCATE`` (or an
    ``INSERT OR REPLACE``) changes, so that changes to catalog tables can be refused.
    ``variables`` are ``@name`` words that are not parameters (T-SQL variables).
    """

    writes: TableRef | None = None
    verb: str = ""
    variables: frozenset[str] = frozenset()
    positional: bool = False


@dataclass(frozen=True, kw_only=True)
class CreateTableAs(Located):
    """``CREATE [OR REPLACE] TABLE [IF NOT EXISTS] t AS <query>`` on a catalog table.

    ``sql`` is the query part; ``mode`` is ``ERROR``, ``OVERWRITE`` (``OR REPLACE``) or
    ``IGNORE`` (``IF NOT EXISTS``).
    """

    target: TableName
    mode: WriteMode = WriteMode.ERROR


@dataclass(frozen=True, kw_only=True)
class InsertInto(Located):
    """``INSERT INTO t [(c, ...)] [BY NAME] <query | VALUES ...>`` on a catalog table.

    ``sql`` is the query part. Without ``columns`` and ``by_name`` values match the table's
    columns by position, as in SQL.
    """

    target: TableName
    columns: tuple[str, ...] = ()
    by_name: bool = False
    original: str = ""  # the whole statement, run as is when the target is not a catalog table


@dataclass(frozen=True, kw_only=True)
class CreateProcedure(Located):
    """``CREATE [OR ALTER] PROCEDURE name [(@p TYPE [= default], ...)] AS <body>``."""

    name: str
    declared: tuple[ParameterSpec, ...] = ()
    body: str = ""
    replace: bool = False


@dataclass(frozen=True)
class ParamRef:
    """An ``EXEC`` argument naming a parameter of the script (``@p = $day``)."""

    name: str


@dataclass(frozen=True, kw_only=True)
class ExecProcedure(Located):
    """``EXEC[UTE] name [@p = value | value, ...]``; values are literals or ``ParamRef``."""

    name: str
    named: Mapping[str, Any] = field(default_factory=dict)
    positional_args: tuple[Any, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DropProcedure(Located):
    """``DROP PROC[EDURE] [IF EXISTS] name``."""

    name: str
    if_exists: bool = False


Statement = Query | CreateTableAs | InsertInto | CreateProcedure | ExecProcedure | DropProcedure


def procedure_name(text: str) -> str:
    """A procedure's stored name: lower-case; T-SQL's schema ``dbo.`` and brackets dropped.

    Example:
        >>> procedure_name("[dbo].[Score_Rentals]")
        'score_rentals'
    """
    parts = [p.strip().strip('[]"`') for p in text.strip().split(".")]
    if len(parts) == 2 and parts[0].lower() == "dbo":
        parts = parts[1:]
    if len(parts) != 1:
        raise InvalidInputError(
            f"procedure name {text!r} must be one name (or dbo.name, as in T-SQL)"
        )
    return validate_identifier(parts[0], what="procedure name")


_POSITION = re.compile(r" \(line (\d+), column (\d+)\)\n\nLINE \d+: [^\n]*\n *(\^+)$")


def excerpt(text: str, line: int, col: int, width: int = 1) -> str:
    """Line ``line`` of ``text`` with a caret under column ``col`` (long lines cut around it).

    Example:
        >>> print(excerpt("SELECT 1\nSELECT nope", 2, 8, 4))
        LINE 2: SELECT nope
                       ^^^^
    """
    lines = text.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    indent = len(source) - len(source.lstrip())
    start = indent if col - 1 - indent <= 70 else col - 1 - 40
    shown = source[start:start + 120].rstrip()
    prefix = f"LINE {line}: " + ("..." if start > indent else "")
    caret = " " * (len(prefix) + col - 1 - start) + "^" * max(width, 1)
    return f"{prefix}{shown}\n{caret}"


def reexcerpt(message: str, script: str) -> str:
    """``message`` (ending in ``(line L, column C)`` and an excerpt) with the excerpt taken
    from ``script``, the text the positions refer to."""
    match = _POSITION.search(message)
    if match is None:
        return message
    line, col, width = int(match.group(1)), int(match.group(2)), len(match.group(3))
    head = message[:match.start()]
    return f"{head} (line {line}, column {col})\n\n{excerpt(script, line, col, width)}"


# -- parameter types ------------------------------------------------------------------------

_TYPE_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9_ ]*?)\s*(\(\s*(\w+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("VARCHAR", "NVARCHAR", "CHAR", "NCHAR", "TEXT", "NTEXT", "STRING", "SYSNAME",
         "CHARACTER VARYING", "UNIQUEIDENTIFIER", "UUID"),
        "VARCHAR",
    ),
    **dict.fromkeys(("INT", "INTEGER", "INT4"), "INTEGER"),
    **dict.fromkeys(("BIGINT", "INT8", "LONG"), "BIGINT"),
    **dict.fromkeys(("SMALLINT", "INT2", "SHORT"), "SMALLINT"),
    "TINYINT": "TINYINT",
    **dict.fromkeys(("FLOAT", "DOUBLE", "FLOAT8", "DOUBLE PRECISION"), "DOUBLE"),
    **dict.fromkeys(("REAL", "FLOAT4"), "FLOAT"),
    **dict.fromkeys(("DECIMAL", "NUMERIC", "MONEY", "SMALLMONEY"), "DECIMAL"),
    **dict.fromkeys(("BIT", "BOOL", "BOOLEAN", "LOGICAL"), "BOOLEAN"),
    "DATE": "DATE",
    **dict.fromkeys(
        ("DATETIME", "DATETIME2", "SMALLDATETIME", "TIMESTAMP", "DATETIMEOFFSET"), "TIMESTAMP"
    ),
    "TIME": "TIME",
}
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT"}


def normalize_type(text: str) -> str:
    """The DuckDB type of a declared parameter type (T-SQL and DuckDB names accepted).

    Example:
        >>> normalize_type("nvarchar(50)"), normalize_type("money"), normalize_type("bit")
        ('VARCHAR', 'DECIMAL(19,4)', 'BOOLEAN')
    """
    match = _TYPE_RE.match(text or "")
    base = " ".join(match.group(1).upper().split()) if match else ""
    if base not in _ALIASES:
        raise InvalidInputError(
            f"parameter type {text!r} is not supported", allowed=sorted(set(_ALIASES))
        )
    kind = _ALIASES[base]
    if kind != "DECIMAL":
        return kind
    if base in ("MONEY", "SMALLMONEY"):
        return "DECIMAL(19,4)"
    assert match is not None
    precision, scale = match.group(3), match.group(4)
    if precision is None:
        return "DECIMAL(18,3)"
    if not precision.isdigit():
        raise InvalidInputError(f"parameter type {text!r}: the precision must be a number")
    return f"DECIMAL({precision},{scale or 0})"


def coerce_value(value: Any, type_: str, *, what: str) -> Any:
    """``value`` converted to the Python value of ``type_`` (a normalised type); None stays None.

    Raises:
        InvalidInputError: the value cannot be read as that type; the message names ``what``.

    Example:
        >>> coerce_value("7", "INTEGER", what="parameter 'n'")
        7
    """
    if value is None:
        return None
    kind = type_.split("(")[0]
    try:
        return _coerce(value, kind, type_)
    except (ValueError, TypeError, ArithmeticError) as exc:
        hint = _HINTS.get(kind, "")
        raise InvalidInputError(
            f"{what} expects {type_}, got {value!r}{': ' + hint if hint else ''} ({exc})"
        ) from None


_HINTS = {
    "DATE": "write it as YYYY-MM-DD",
    "TIMESTAMP": "write it as YYYY-MM-DD HH:MM:SS",
    "TIME": "write it as HH:MM:SS",
    "BOOLEAN": "use true/false, 1/0 or yes/no",
}


def _coerce(value: Any, kind: str, type_: str) -> Any:
    if kind == "VARCHAR":
        return value if isinstance(value, str) else str(value)
    if kind in _INTEGERS:
        if isinstance(value, bool):
            raise TypeError("a boolean is not an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("it has a fraction")
            return int(value)
        return int(str(value).strip()) if not isinstance(value, int) else value
    if kind in ("DOUBLE", "FLOAT"):
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return float(value)
    if kind == "DECIMAL":
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        number = Decimal(str(value).strip())
        if not number.is_finite():
            raise InvalidOperation("not a finite number")
        return number
    if kind == "BOOLEAN":
        return _boolean(value)
    if kind == "DATE":
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    if kind == "TIMESTAMP":
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        return datetime.fromisoformat(str(value).strip())
    if kind == "TIME":
        return value if isinstance(value, time) else time.fromisoformat(str(value).strip())
    raise ValueError(f"unknown type {type_}")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "t", "1", "yes", "y", "on"):
        return True
    if text in ("false", "f", "0", "no", "n", "off"):
        return False
    raise ValueError("not a boolean")


def declare_parameter(
    name: str, type_: str = "VARCHAR", default: Any = None, *, optional: bool | None = None
) -> ParameterSpec:
    """A checked ``ParameterSpec``: a legal name (lower-cased, ``@``/``$``/``:`` dropped), a
    supported type (normalised) and a default that converts to it.

    A parameter is optional when it has a default; ``optional=True`` with no default means
    "default NULL" (T-SQL's ``@p INT = NULL``).

    Example:
        >>> declare_parameter("@Day", "date", "2012-01-01").type
        'DATE'
    """
    clean = validate_identifier(name.lstrip("@$:"), what="parameter name")
    kind = normalize_type(type_)
    if default is not None:
        coerce_value(default, kind, what=f"the default of parameter '{clean}'")
    if isinstance(default, Decimal | date | datetime | time):
        default = str(default)
    return ParameterSpec(
        name=clean, type=kind, default=default,
        optional=bool(optional) or default is not None,
    )


def bind_arguments(
    procedure: str, declared: Sequence[ParameterSpec], given: Mapping[str, Any]
) -> dict[str, Any]:
    """Values for every declared parameter: given ones converted, defaults for the rest.

    Raises:
        InvalidInputError: an unknown parameter, a required one missing, or a value that does
            not convert; the message names the procedure and the parameters.

    Example:
        >>> spec = declare_parameter("n", "INT", 3)
        >>> bind_arguments("top", [spec], {})
        {'n': 3}
    """
    by_name = {p.name: p for p in declared}
    lowered: dict[str, Any] = {}
    for key, value in given.items():
        name = key.lstrip("@$:").lower()
        if name in lowered:
            raise InvalidInputError(f"procedure '{procedure}': parameter '{name}' given twice")
        lowered[name] = value
    unknown = sorted(set(lowered) - set(by_name))
    if unknown:
        known = ", ".join(f"@{p.name} {p.type}" for p in declared) or "none"
        raise InvalidInputError(
            f"procedure '{procedure}' has no parameter(s) {', '.join(unknown)} "
            f"(its parameters: {known})"
        )
    missing = [p.name for p in declared if p.name not in lowered and not _optional(p)]
    if missing:
        raise InvalidInputError(
            f"procedure '{procedure}' needs parameter(s) {', '.join(missing)}: pass them "
            f"(EXEC {procedure} @{missing[0]} = ..., or --param {missing[0]}=...)"
        )
    bound: dict[str, Any] = {}
    for spec in declared:
        value = lowered.get(spec.name, spec.default)
        bound[spec.name] = coerce_value(
            value, spec.type, what=f"parameter '{spec.name}' of procedure '{procedure}'"
        )
    return bound


def _optional(spec: ParameterSpec) -> bool:
    return spec.default is not None or spec.optional
