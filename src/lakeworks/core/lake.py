"""The lake: datastores, lake databases, tables and saved SQL procedures, as plain specs.

Owns what a datastore is (a named storage root: local folder, ``s3://``, Azure Blob or ADLS
Gen2) and how its credentials are referenced (never stored in plain text), table names
(``db.table``, case-insensitive, kept lower-case, ``default`` when no database is given),
the catalog records of databases and Delta tables (location, columns, partitioning), saved
procedures with typed parameters, write modes, and schema comparison for appends. No I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from lakeworks.errors import InvalidInputError

DEFAULT_DATABASE = "default"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def validate_identifier(name: str, *, what: str) -> str:
    """Return ``name`` lower-cased if it is a legal SQL identifier, else raise.

    Example:
        >>> validate_identifier("Bike_Data", what="table name")
        'bike_data'
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise InvalidInputError(
            f"{what} {name!r} is not valid: use letters, digits and '_', starting with a "
            "letter or '_' (at most 128 characters)"
        )
    return name.lower()


@dataclass(frozen=True, order=True)
class TableName:
    """A lake table's qualified name."""

    database: str
    name: str

    def __str__(self) -> str:
        return f"{self.database}.{self.name}"


def parse_table_name(text: str, *, database: str | None = None) -> TableName:
    """Parse ``table`` or ``db.table`` (``database`` overrides the default database).

    Example:
        >>> parse_table_name("bike_data")
        TableName(database='default', name='bike_data')
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("a table name is needed")
    parts = [p.strip().strip('"`') for p in text.strip().split(".")]
    if len(parts) == 1:
        db = database or DEFAULT_DATABASE
        return TableName(validate_identifier(db, what="database name"),
                         validate_identifier(parts[0], what="table name"))
    if len(parts) == 2:
        if database is not None and parts[0].lower() != database.lower():
            raise InvalidInputError(
                f"table {text!r} names database '{parts[0]}' but '{database}' was given"
            )
        return TableName(validate_identifier(parts[0], what="database name"),
                         validate_identifier(parts[1], what="table name"))
    raise InvalidInputError(f"table name {text!r} must be 'table' or 'database.table'")


class WriteMode(StrEnum):
    """How a write meets an existing table."""

    ERROR = "error"          # create; fail if the table exists
    APPEND = "append"
    OVERWRITE = "overwrite"
    IGNORE = "ignore"        # create if missing, else do nothing


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ColumnSpec(_Frozen):
    """One column: its name and Arrow type (``int64``, ``double``, ``string``, ``date32[day]``)."""

    name: str
    type: str
    nullable: bool = True


class DatabaseRecord(_Frozen):
    """A lake database (Synapse's lake database; Spark's database)."""

    name: str
    description: str | None = None
    location: str
    created_at: datetime


class TableRecord(_Frozen):
    """A lake table in the catalog: a Delta table at ``location`` (a datastore URI)."""

    database: str
    name: str
    format: str = "delta"
    location: str
    columns: tuple[ColumnSpec, ...] = ()
    partition_by: tuple[str, ...] = ()
    description: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None

    @property
    def qualified(self) -> TableName:
        return TableName(self.database, self.name)


class ParameterSpec(_Frozen):
    """A parameter of a saved procedure (bound, never pasted into SQL text)."""

    name: str
    type: str = "VARCHAR"
    default: str | int | float | bool | None = None
    optional: bool = False  # may be left out even without a default (``@p INT = NULL``)


class ProcedureRecord(_Frozen):
    """A saved, named, parameterised SQL procedure (``CREATE PROCEDURE`` of a SQL pool)."""

    name: str
    sql: str
    parameters: tuple[ParameterSpec, ...] = ()
    description: str | None = None
    created_at: datetime
    updated_at: datetime


class DatastoreType(StrEnum):
    """Kinds of datastores, named as in Azure ML's YAML (plus ``local`` and ``s3``)."""

    LOCAL = "local"
    S3 = "s3"
    AZURE_BLOB = "azure_blob"
    AZURE_DATA_LAKE_GEN2 = "azure_data_lake_gen2"


class CredentialKind(StrEnum):
    """How a datastore's secret is held: never in plain text in the metadata."""

    NONE = "none"
    ENV = "env"              # names environment variables holding the values
    ENCRYPTED = "encrypted"  # values encrypted with the user's Lakeworks secret key


class Credentials(_Frozen):
    """A datastore's credentials: environment variable names or encrypted values, by field."""

    kind: CredentialKind = CredentialKind.NONE
    values: dict[str, str] = Field(default_factory=dict)


class DatastoreRecord(_Frozen):
    """A named storage root.

    ``url`` is the fsspec root (``file:///...``, ``s3://bucket/prefix``,
    ``abfs://container@account.dfs.core.windows.net/prefix``); ``options`` are the non-secret
    storage options (endpoint, account name, region).
    """

    name: str
    type: DatastoreType
    url: str
    options: dict[str, Any] = Field(default_factory=dict)
    credentials: Credentials = Field(default_factory=Credentials)
    description: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    is_default: bool = False
    created_at: datetime


def append_mismatch(expected: tuple[ColumnSpec, ...], given: tuple[ColumnSpec, ...]) -> list[str]:
    """Why ``given`` columns cannot be appended to a table with ``expected`` columns ([] if ok).

    Columns match by name (case-insensitive); types must be equal or safely widened
    (``int32`` into ``int64``, integers into ``double``); extra or missing columns are named.

    Example:
        >>> append_mismatch((ColumnSpec(name="a", type="int64"),),
        ...                 (ColumnSpec(name="a", type="string"),))
        ["column 'a' is string, the table has int64"]
    """
    problems: list[str] = []
    want = {c.name.lower(): c for c in expected}
    have = {c.name.lower(): c for c in given}
    for name in have.keys() - want.keys():
        problems.append(f"column '{have[name].name}' is not in the table")
    for name in want.keys() - have.keys():
        if not want[name].nullable:
            problems.append(f"column '{want[name].name}' is missing and not nullable")
    for name in want.keys() & have.keys():
        if not _widens(have[name].type, want[name].type):
            problems.append(
                f"column '{want[name].name}' is {have[name].type}, the table has {want[name].type}"
            )
    return sorted(problems)


_INTS = ("int8", "int16", "int32", "int64")


def _widens(src: str, dst: str) -> bool:
    if src == dst or src == "null":
        return True
    if src in _INTS and dst in _INTS:
        return _INTS.index(src) <= _INTS.index(dst)
    if src in _INTS and dst in ("float", "double"):
        return True
    if src == "float" and dst == "double":
        return True
    return src in ("string", "large_string") and dst in ("string", "large_string")
