"""SQL over the lake: scripts, catalog writes from SQL, and saved procedures.

Owns running a script statement by statement on one engine per service object (a shell keeps
it), making the tables a statement names visible first (tables added, changed or dropped in
the catalog since are refreshed), binding parameters (never pasting values into SQL text),
sending ``CREATE TABLE ... AS`` and ``INSERT INTO`` on catalog tables through the lake service
(Delta write + catalog update), refusing other changes to catalog tables, and saving,
listing, running and dropping named procedures (``CREATE PROCEDURE``/``EXEC``), and running
statements that use ``PREDICT`` through ``sql_predict.py`` (models in SQL: ``sql_models.py``).
The engine and the statement parser are adapters loaded by role; this module knows no SQL
dialect.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeworks.core.lake import (
    DEFAULT_DATABASE,
    ProcedureRecord,
    TableName,
    WriteMode,
)
from lakeworks.core.sql import (
    CreateProcedure,
    CreateTableAs,
    DropProcedure,
    ExecProcedure,
    InsertInto,
    ParamRef,
    Query,
    Statement,
    TableRef,
    bind_arguments,
    procedure_name,
    reexcerpt,
)
from lakeworks.errors import InvalidInputError, NotFoundError
from lakeworks.ports.lake import SqlEngine
from lakeworks.ports.sql import StatementParser
from lakeworks.services import adapter_registry
from lakeworks.services.lake import LakeService
from lakeworks.services.sql_models import MODELS_TABLE, DeployedModel, deploy_model
from lakeworks.services.sql_predict import SqlPredictions
from lakeworks.services.sql_procedures import ParameterInput, definition, save_procedure
from lakeworks.services.sql_results import align_insert, summary
from lakeworks.services.workspace import Workspace

log = logging.getLogger(__name__)

#: who catalog writes from SQL are recorded as
CREATED_BY = "sql"
_MAX_NESTING = 16


class SqlService:
    """Runs SQL over one workspace's lake catalog.

    Args:
        ws: the workspace.
        lake: the lake service to write tables through (made from ``ws`` when None).

    Example:
        >>> sql = SqlService(ws)  # doctest: +SKIP
        >>> sql.execute("SELECT count(*) AS n FROM bike_data").to_pylist()  # doctest: +SKIP
        [{'n': 731}]
    """

    def __init__(self, ws: Workspace, *, lake: LakeService | None = None) -> None:
        self.ws = ws
        self._lake = lake
        self._engine: SqlEngine | None = None
        self._parser: StatementParser = adapter_registry.load("sql_parser")()
        self._seen: dict[TableName, tuple[Any, ...]] = {}
        self.predictions = SqlPredictions(ws, lambda: self.engine)

    @property
    def parser(self) -> StatementParser:
        """The statement parser (role ``sql_parser``)."""
        return self._parser

    @property
    def lake(self) -> LakeService:
        if self._lake is None:
            self._lake = LakeService(self.ws)
        return self._lake

    @property
    def engine(self) -> SqlEngine:
        if self._engine is None:
            factory = adapter_registry.load("sql_engine")
            self._engine = factory(open_filesystem=adapter_registry.load("filesystem"))
        return self._engine

    # -- scripts -------------------------------------------------------------------------

    def execute(
        self, sql: str, params: Mapping[str, Any] | None = None, *, file: str | None = None
    ) -> pa.Table:
        """Run every statement of ``sql`` (separated by ``;``) and return the last result.

        Args:
            sql: the script; parameters are written ``$name`` (``@name``/``:name`` too).
            params: values of the parameters, bound by the engine.
            file: the file the script came from, named in errors.

        Raises:
            InvalidInputError: a SQL error (with the engine's message, the statement and the
                line), a parameter used but not given or given but not used.
            NotFoundError: a procedure, or a table's files, missing.
        """
        given = _lowered(params)
        statements = self._split(sql, given, file=file)
        used = set().union(*(s.parameters for s in statements))
        missing = sorted(used - set(given))
        if missing:
            first = next(s for s in statements if missing[0] in s.parameters)
            raise InvalidInputError(
                f"statement {first.index} (line {first.line}) uses parameter ${missing[0]}, "
                f"which was not given: pass params={{'{missing[0]}': ...}} "
                f"(CLI: --param {missing[0]}=...)", file=file,
            )
        unused = sorted(set(given) - used)
        if unused:
            raise InvalidInputError(
                f"parameter(s) {', '.join(unused)} are not used by the SQL "
                f"(it uses: {', '.join(sorted(used)) or 'none'}); write them as $name",
                file=file,
            )
        result = pa.table({})
        for statement in statements:
            try:
                result = self._run(statement, given, 0)
            except InvalidInputError as exc:
                where = f"statement {statement.index}: " if len(statements) > 1 else ""
                raise InvalidInputError(
                    where + reexcerpt(exc.detail, sql), file=file,
                    line=exc.line or statement.line, allowed=exc.allowed,
                ) from None
        return result

    def execute_file(self, path: str | Path, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run the script in ``path`` (errors name the file and line)."""
        file = Path(path).expanduser()
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise NotFoundError(f"SQL file '{file}' does not exist") from None
        return self.execute(text, params, file=str(file))

    def is_complete(self, text: str) -> bool:
        """Whether ``text`` ends a statement (``;`` outside strings and BEGIN ... END)."""
        return self._parser.is_complete(text)

    def tables(self) -> list[TableName]:
        """The catalog's tables, as SQL names them (``db.table``)."""
        return [r.qualified for r in self.ws.metadata.catalog.list_tables()]

    def _split(
        self, sql: str, given: Mapping[str, Any], *, file: str | None
    ) -> list[Statement]:
        try:
            statements = self._parser.split(sql, given.keys())
        except InvalidInputError as exc:
            raise InvalidInputError(exc.detail, file=file, allowed=exc.allowed) from None
        if not statements:
            raise InvalidInputError("no SQL statement was given", file=file)
        return statements

    def _run(self, statement: Statement, params: Mapping[str, Any], depth: int) -> pa.Table:
        values = {name: params[name] for name in statement.parameters if name in params}
        log.debug("SQL statement %d (line %d): %s", statement.index, statement.line,
                  type(statement).__name__)
        if isinstance(statement, Query):
            self._check_query(statement)
            self._sync(statement.tables)
            return self._query(statement, statement.sql, values)
        if isinstance(statement, CreateTableAs):
            return self._create_table(statement, values)
        if isinstance(statement, InsertInto):
            return self._insert(statement, values)
        if isinstance(statement, CreateProcedure):
            record = save_procedure(
                self.ws.metadata.catalog, self._parser, statement.name, statement.body,
                statement.declared, replace=statement.replace,
            )
            return summary(procedure=record.name, operation="saved")
        if isinstance(statement, ExecProcedure):
            return self._exec_statement(statement, params, depth)
        if isinstance(statement, DropProcedure):
            try:
                self.drop_procedure(statement.name)
            except NotFoundError:
                if not statement.if_exists:
                    raise
            return summary(procedure=statement.name, operation="dropped")
        raise InvalidInputError(f"statement {statement.index} cannot be run")

    def _check_query(self, statement: Query) -> None:
        if statement.positional:
            raise InvalidInputError(
                "positional parameters ($1, ?) are not supported; name them ($day) and pass "
                "params={'day': ...}"
            )
        if statement.variables:
            name = sorted(statement.variables)[0]
            raise InvalidInputError(
                f"@{name} is not a parameter: pass params={{'{name}': ...}} "
                f"(CLI: --param {name}=...), or declare it in a procedure's header"
            )
        if statement.writes is not None:
            target = _resolve(statement.writes)
            if target in self._catalog_tables():
                raise InvalidInputError(
                    f"{statement.verb} on lake table {target} is not supported in SQL; lake "
                    "tables change through INSERT INTO, CREATE [OR REPLACE] TABLE ... AS, or "
                    "`lakeworks table` (load, drop)"
                )

    def _create_table(self, statement: CreateTableAs, values: Mapping[str, Any]) -> pa.Table:
        target = statement.target
        exists = target in self._catalog_tables()
        if exists and statement.mode is WriteMode.IGNORE:
            return summary(table=str(target), operation="exists", rows=0)
        if exists and statement.mode is WriteMode.ERROR:
            raise InvalidInputError(
                f"table {target} already exists; use CREATE OR REPLACE TABLE to overwrite it, "
                "CREATE TABLE IF NOT EXISTS to keep it, or INSERT INTO to append"
            )
        self._sync(statement.tables)
        data = self._query(statement, statement.sql, values)
        self.lake.write(str(target), data, mode=statement.mode, created_by=CREATED_BY)
        self._forget(target)
        return summary(table=str(target), operation="replaced" if exists else "created",
                       rows=data.num_rows)

    def _insert(self, statement: InsertInto, values: Mapping[str, Any]) -> pa.Table:
        target = statement.target
        if target not in self._catalog_tables():
            self._sync(statement.tables)  # a session-local (TEMP) table: DuckDB's own INSERT
            return self._query(statement, statement.original, values,
                               shift=len(statement.original) - len(statement.sql))
        self._sync(statement.tables)
        data = self._query(statement, statement.sql, values)
        tables = self.lake.sql_tables(names=[str(target)])
        schema = tables[0].schema if tables and tables[0].schema is not None else None
        if schema is None:
            schema = self.lake.read(str(target)).schema
        aligned = align_insert(data, schema, target, statement.columns, statement.by_name)
        self.lake.write(str(target), aligned, mode=WriteMode.APPEND, created_by=CREATED_BY)
        self._forget(target)
        return summary(table=str(target), operation="inserted", rows=aligned.num_rows)

    def _query(
        self, statement: Statement, sql: str, values: Mapping[str, Any], *, shift: int = 0
    ) -> pa.Table:
        """Run ``sql`` on the engine, its PREDICT uses bound first (offsets moved by
        ``shift`` when ``sql`` is another padding of the statement's text)."""
        if not statement.predictions:
            return self.engine.query(sql, values)
        return self.predictions.query(sql, statement.predictions, values, shift=shift)

    # -- catalog tables in the engine ----------------------------------------------------

    def _catalog_tables(self) -> dict[TableName, Any]:
        return {r.qualified: r for r in self.ws.metadata.catalog.list_tables()}

    def _sync(self, refs: Iterable[TableRef] | None) -> None:
        """Make the named tables (every table when None) current in the engine."""
        current = self._catalog_tables()
        for name in [n for n in self._seen if n not in current]:
            self.engine.unregister(name.database, name.name)
            del self._seen[name]
        wanted = set(current) if refs is None else {_resolve(r) for r in refs} & set(current)
        stale = sorted(n for n in wanted if self._seen.get(n) != _fingerprint(current[n]))
        if not stale:
            return
        self.engine.register(self.lake.sql_tables(names=[str(n) for n in stale]))
        for name in stale:
            self._seen[name] = _fingerprint(current[name])

    def _forget(self, name: TableName) -> None:
        """Refresh ``name`` before it is next read (it was just written)."""
        self._seen.pop(name, None)

    # -- procedures ----------------------------------------------------------------------

    def create_procedure(
        self,
        name: str,
        sql: str,
        parameters: Sequence[ParameterInput] | None = None,
        *,
        description: str | None = None,
        replace: bool = False,
    ) -> ProcedureRecord:
        """Save a named procedure.

        ``sql`` is either the body (statements using ``$p``/``@p``/``:p``) with
        ``parameters`` declared here, or a whole T-SQL ``CREATE [OR ALTER] PROCEDURE name
        @p TYPE [= default], ... AS ...`` whose header declares them (its name must be
        ``name``).

        Raises:
            InvalidInputError: a bad name, type or default, a body using undeclared
                parameters, or parameters declared twice.
            ConflictError: the procedure exists and ``replace`` is False.
        """
        clean = procedure_name(name)
        body, declared, replace_it = definition(self._parser, clean, sql, parameters)
        return save_procedure(self.ws.metadata.catalog, self._parser, clean, body, declared,
                              replace=replace or replace_it, description=description)

    def exec_procedure(self, name: str, params: Mapping[str, Any] | None = None) -> pa.Table:
        """Run a saved procedure with ``params`` (converted to the declared types, bound).

        Raises:
            NotFoundError: no such procedure (the message lists the existing ones).
            InvalidInputError: an unknown or missing parameter, a value of the wrong type,
                or a SQL error in the body (naming the procedure and statement).
        """
        return self._exec(procedure_name(name), dict(params or {}), 0)

    def _exec(self, name: str, given: Mapping[str, Any], depth: int) -> pa.Table:
        if depth >= _MAX_NESTING:
            raise InvalidInputError(
                f"procedure '{name}': procedures call each other more than {_MAX_NESTING} "
                "levels deep"
            )
        record = self.ws.metadata.catalog.get_procedure(name)
        bound = bind_arguments(record.name, record.parameters, given)
        statements = self._parser.split(record.sql, bound.keys())
        result = pa.table({})
        for statement in statements:
            try:
                result = self._run(statement, bound, depth + 1)
            except InvalidInputError as exc:
                raise InvalidInputError(
                    f"procedure '{name}', statement {statement.index} (line {statement.line} "
                    f"of its body): {reexcerpt(exc.detail, record.sql)}", allowed=exc.allowed,
                ) from None
        return result

    def _exec_statement(
        self, statement: ExecProcedure, params: Mapping[str, Any], depth: int
    ) -> pa.Table:
        record = self.ws.metadata.catalog.get_procedure(statement.name)
        args: dict[str, Any] = {}
        if len(statement.positional_args) > len(record.parameters):
            raise InvalidInputError(
                f"procedure '{record.name}' takes {len(record.parameters)} parameter(s), "
                f"{len(statement.positional_args)} values were given"
            )
        for spec, value in zip(record.parameters, statement.positional_args, strict=False):
            args[spec.name] = value
        for key, value in statement.named.items():
            if key in args:
                raise InvalidInputError(f"parameter '{key}' is given twice")
            args[key] = value
        resolved = {k: params[v.name] if isinstance(v, ParamRef) else v for k, v in args.items()}
        return self._exec(record.name, resolved, depth)

    def get_procedure(self, name: str) -> ProcedureRecord:
        """A saved procedure; ``NotFoundError`` lists the existing ones."""
        return self.ws.metadata.catalog.get_procedure(procedure_name(name))

    def list_procedures(self) -> list[ProcedureRecord]:
        """Saved procedures, by name."""
        return sorted(self.ws.metadata.catalog.list_procedures(), key=lambda p: p.name)

    def drop_procedure(self, name: str) -> None:
        """Delete a saved procedure; ``NotFoundError`` if absent."""
        self.ws.metadata.catalog.drop_procedure(procedure_name(name))

    # -- models in the database ---------------------------------------------------------

    def deploy_model(
        self,
        model: str,
        *,
        models_table: str = MODELS_TABLE,
        table: str | None = None,
        procedure: str | None = None,
        output_column: str | None = None,
        materialize: str | None = None,
        description: str | None = None,
    ) -> DeployedModel:
        """Copy a registered model's ONNX bytes into a models table (a no-op when that
        version is there) and optionally save the wizard's scoring procedure over ``table``;
        see ``sql_models.deploy_model``.

        Raises:
            NotFoundError: no such model, version or table.
            InvalidInputError: a model without ONNX, or options that need one another.
            ConflictError: that version is in the table with other bytes.
        """
        return deploy_model(
            self, model, models_table=models_table, table=table, procedure=procedure,
            output_column=output_column, materialize=materialize, description=description,
        )

    def close(self) -> None:
        """Close the engine (its tables are views: nothing is lost)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
            self._seen.clear()
            self.predictions.reset()


def _lowered(params: Mapping[str, Any] | None) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in (params or {}).items():
        name = str(key).lstrip("$@:").lower()
        if name in lowered:
            raise InvalidInputError(f"parameter '{name}' is given twice (names ignore case)")
        lowered[name] = value
    return lowered


def _resolve(ref: TableRef) -> TableName:
    database, name = ref
    return TableName((database or DEFAULT_DATABASE).lower(), name.lower())


def _fingerprint(record: Any) -> tuple[Any, ...]:
    return (record.location, record.updated_at, tuple(sorted(record.properties.items())))
