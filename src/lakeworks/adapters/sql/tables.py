"""What sqlglot's parser tells about a statement: the tables it reads, a table's columns.

Owns listing the tables a statement names (so that only those are made visible to the
engine; ``None`` when the parse fails or the statement looks at the catalog itself) and
turning ``CREATE TABLE t (a INT, ...)`` into a query that gives no rows with those columns.
The user's query is never regenerated from a parse tree.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from lakeworks.core.sql import TableRef
from lakeworks.errors import InvalidInputError

_INTROSPECTION = re.compile(
    r"^\s*(SHOW|PRAGMA)\b|\b(information_schema|pg_catalog|duckdb_\w+|pragma_\w+)\b",
    re.IGNORECASE,
)


def referenced_tables(sql: str) -> tuple[TableRef, ...] | None:
    """Tables a statement names, ``(database or None, name)``; None when sqlglot cannot tell.

    Names of CTEs are left out; names with a catalog part (``memory.main.t``) too. A
    statement that looks at the catalog itself (``SHOW``, ``PRAGMA``, ``information_schema``,
    ``duckdb_tables()``...) gives None: it needs every table.

    Example:
        >>> referenced_tables("WITH c AS (SELECT 1) SELECT * FROM c, sales.orders, bikes")
        (('sales', 'orders'), (None, 'bikes'))
    """
    if _INTROSPECTION.search(sql):
        return None
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except (SqlglotError, RecursionError, ValueError):
        return None
    found: list[TableRef] = []
    for tree in trees:
        if tree is None:
            continue
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            name, db = table.name, table.db
            if not name or table.catalog or (not db and name.lower() in ctes):
                continue
            ref: TableRef = (db or None, name)
            if ref not in found:
                found.append(ref)
    return tuple(found)


def empty_select(statement: str, line: int) -> str:
    """A query giving no rows with the columns of ``CREATE TABLE t (a INT, ...)``."""
    try:
        tree = sqlglot.parse_one(statement, read="duckdb")
    except SqlglotError as exc:
        raise InvalidInputError(f"line {line}: the CREATE TABLE cannot be read: {exc}") from None
    schema = tree.this if isinstance(tree, exp.Create) else None
    defs = [c for c in getattr(schema, "expressions", []) if isinstance(c, exp.ColumnDef)]
    if not isinstance(schema, exp.Schema) or not defs:
        raise InvalidInputError(f"line {line}: CREATE TABLE needs column definitions")
    columns = []
    for col in defs:
        kind = col.args.get("kind")
        if kind is None:
            raise InvalidInputError(f"line {line}: column '{col.name}' needs a type")
        quoted = '"' + col.name.replace('"', '""') + '"'
        columns.append(f"CAST(NULL AS {kind.sql(dialect='duckdb')}) AS {quoted}")
    return "SELECT " + ", ".join(columns) + " WHERE false"
