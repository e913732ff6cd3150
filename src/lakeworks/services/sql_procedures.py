"""Saved SQL procedures: their definition from SQL or arguments, checks, and storing them.

Owns reading a procedure's definition (a T-SQL ``CREATE [OR ALTER] PROCEDURE`` header, or a
bare body with parameters declared as arguments), checking the body before it is saved (it
parses, uses only declared parameters, creates no procedures) and writing the catalog record
(``created_at`` kept when a procedure is replaced). Running procedures is ``sql.py``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lakeworks.core.lake import ParameterSpec, ProcedureRecord
from lakeworks.core.sql import (
    CreateProcedure,
    DropProcedure,
    Query,
    Statement,
    declare_parameter,
)
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.catalog import CatalogRepo
from lakeworks.ports.sql import StatementParser

#: a parameter declared as an argument: a ``ParameterSpec`` or ``{"name", "type", "default"}``
ParameterInput = ParameterSpec | Mapping[str, Any]


def definition(
    parser: StatementParser, name: str, sql: str, parameters: Sequence[ParameterInput] | None
) -> tuple[str, tuple[ParameterSpec, ...], bool]:
    """The body, declared parameters and ``OR ALTER`` flag of procedure ``name`` from ``sql``.

    Raises:
        InvalidInputError: the header names another procedure, parameters are declared both
            in the header and as arguments, or a declaration is invalid.
    """
    statements = parser.split(sql) if sql.strip() else []
    if len(statements) == 1 and isinstance(statements[0], CreateProcedure):
        header = statements[0]
        if parameters:
            raise InvalidInputError(
                f"procedure '{name}': the CREATE PROCEDURE header declares the parameters; "
                "do not pass them too"
            )
        if header.name != name:
            raise InvalidInputError(
                f"the SQL creates procedure '{header.name}' but the name given is '{name}'; "
                "make them the same"
            )
        return header.body, header.declared, header.replace
    return sql, tuple(_parameter(p) for p in parameters or ()), False


def save_procedure(
    catalog: CatalogRepo,
    parser: StatementParser,
    name: str,
    body: str,
    declared: Sequence[ParameterSpec],
    *,
    replace: bool,
    description: str | None = None,
) -> ProcedureRecord:
    """Check ``body`` against ``declared`` and store the procedure.

    Raises:
        InvalidInputError: a parameter declared twice, or a body that does not parse, uses
            undeclared parameters or creates procedures.
        ConflictError: it exists and ``replace`` is False.
    """
    names = [p.name for p in declared]
    if len(set(names)) != len(names):
        raise InvalidInputError(f"procedure '{name}': a parameter is declared twice")
    for statement in parser.split(body, names):
        _check_body(name, statement, set(names))
    now = datetime.now(UTC)
    created = now
    if replace:
        try:
            created = catalog.get_procedure(name).created_at
        except NotFoundError:
            created = now  # a new procedure: nothing to keep
    record = ProcedureRecord(
        name=name, sql=body.strip(), parameters=tuple(declared), description=description,
        created_at=created, updated_at=now,
    )
    catalog.put_procedure(record, replace=replace)
    return record


def _parameter(value: ParameterInput) -> ParameterSpec:
    if isinstance(value, ParameterSpec):
        return declare_parameter(value.name, value.type, value.default, optional=value.optional)
    try:
        return declare_parameter(
            str(value["name"]), str(value.get("type", "VARCHAR")), value.get("default"),
            optional=bool(value.get("optional", False)),
        )
    except KeyError:
        raise InvalidInputError(f"parameter {dict(value)!r} needs a 'name'") from None


def _check_body(name: str, statement: Statement, declared: set[str]) -> None:
    where = f"procedure '{name}', statement {statement.index} (line {statement.line} of its body)"
    if isinstance(statement, CreateProcedure | DropProcedure):
        raise InvalidInputError(f"{where}: a procedure cannot create or drop procedures")
    undeclared = sorted(statement.parameters - declared)
    if isinstance(statement, Query):
        undeclared += sorted(statement.variables)
        if statement.positional:
            raise InvalidInputError(f"{where}: use named parameters (@day), not $1 or ?")
    if undeclared:
        raise InvalidInputError(
            f"{where} uses @{undeclared[0]}, which is not declared; declare it in the header "
            f"(CREATE PROCEDURE {name} @{undeclared[0]} VARCHAR AS ...) or in parameters"
        )
