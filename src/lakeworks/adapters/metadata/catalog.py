"""The lake catalog and datastores in SQL: ``SqlAlchemyCatalogRepo`` and ``SqlAlchemyDatastoreRepo``.

Owns storing lake databases, tables, saved procedures and datastores as whole records (JSON
``details`` plus key columns), their not-found and conflict errors, and the rule that a table
belongs to an existing database and a database with tables cannot be dropped. Deciding
locations, schemas and credentials is the services' business.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc

from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.tables import (
    lw_datastore,
    lw_lake_database,
    lw_lake_table,
    lw_sql_procedure,
)
from lakeworks.core.lake import DatabaseRecord, DatastoreRecord, ProcedureRecord, TableRecord
from lakeworks.errors import ConflictError, NotFoundError, StateError

R = TypeVar("R", bound=BaseModel)


def _names(items: builtins.list[str]) -> str:
    return ", ".join(items) if items else "none"


class _Records:
    """Whole-record storage in one table keyed by ``keys``."""

    def __init__(self, db: Database, table: sa.Table, model: type[BaseModel], what: str) -> None:
        self._db = db
        self._t = table
        self._model = model
        self._what = what

    def _where(self, **key: str) -> Any:
        return sa.and_(*(self._t.c[k] == v for k, v in key.items()))

    def insert_or_replace(
        self,
        record: BaseModel,
        key: dict[str, str],
        columns: dict[str, Any],
        *,
        replace: bool,
        conflict: Callable[[], ConflictError],
    ) -> None:
        values = {**key, **columns, "details": record.model_dump(mode="json")}
        with self._db.errors(f"save {self._what} {'.'.join(key.values())}"):
            try:
                with self._db.transaction(write=True) as conn:
                    exists = conn.execute(
                        sa.select(sa.literal(1)).select_from(self._t).where(self._where(**key))
                    ).first()
                    if exists and not replace:
                        raise conflict()
                    if exists:
                        conn.execute(
                            sa.update(self._t).where(self._where(**key)).values(**values)
                        )
                    else:
                        conn.execute(sa.insert(self._t).values(**values))
            except sa_exc.IntegrityError as exc:
                raise conflict() from exc

    def get(self, model: type[R], **key: str) -> R | None:
        with self._db.read(f"read {self._what}") as conn:
            row = conn.execute(sa.select(self._t.c.details).where(self._where(**key))).first()
        return model.model_validate(row.details) if row else None

    def all(self, model: type[R], order: builtins.list[str], **key: str) -> builtins.list[R]:
        query = sa.select(self._t.c.details)
        if key:
            query = query.where(self._where(**key))
        query = query.order_by(*(self._t.c[c] for c in order))
        with self._db.read(f"list {self._what}s") as conn:
            rows = conn.execute(query).all()
        return [model.model_validate(r.details) for r in rows]

    def delete(self, **key: str) -> int:
        with self._db.write(f"delete {self._what}") as conn:
            return int(conn.execute(sa.delete(self._t).where(self._where(**key))).rowcount or 0)


class SqlAlchemyCatalogRepo:
    """The ``CatalogRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._dbs = _Records(db, lw_lake_database, DatabaseRecord, "lake database")
        self._tables = _Records(db, lw_lake_table, TableRecord, "lake table")
        self._procs = _Records(db, lw_sql_procedure, ProcedureRecord, "SQL procedure")

    # -- databases -------------------------------------------------------------------------

    def put_database(self, record: DatabaseRecord) -> None:
        self._dbs.insert_or_replace(
            record,
            {"name": record.name},
            {"created_at": record.created_at},
            replace=False,
            conflict=lambda: ConflictError(f"lake database '{record.name}' already exists"),
        )

    def get_database(self, name: str) -> DatabaseRecord:
        found = self._dbs.get(DatabaseRecord, name=name)
        if found is None:
            known = [d.name for d in self.list_databases()]
            raise NotFoundError(
                f"lake database '{name}' does not exist (databases: {_names(known)}); create it "
                "with `lakeworks table create-database`"
            )
        return found

    def list_databases(self) -> builtins.list[DatabaseRecord]:
        return self._dbs.all(DatabaseRecord, ["name"])

    def drop_database(self, name: str) -> None:
        self.get_database(name)
        tables = [t.name for t in self.list_tables(name)]
        if tables:
            raise StateError(
                f"lake database '{name}' still has tables ({_names(tables)}); drop them first"
            )
        self._dbs.delete(name=name)

    # -- tables ----------------------------------------------------------------------------

    def put_table(self, record: TableRecord, *, replace: bool = False) -> None:
        self.get_database(record.database)
        self._tables.insert_or_replace(
            record,
            {"database": record.database, "name": record.name},
            {"created_at": record.created_at, "updated_at": record.updated_at},
            replace=replace,
            conflict=lambda: ConflictError(
                f"lake table '{record.database}.{record.name}' already exists; append to it, "
                "overwrite it, or drop it first"
            ),
        )

    def get_table(self, database: str, name: str) -> TableRecord:
        found = self._tables.get(TableRecord, database=database, name=name)
        if found is None:
            known = [t.name for t in self.list_tables(database)]
            raise NotFoundError(
                f"lake table '{database}.{name}' does not exist (tables in '{database}': "
                f"{_names(known)}); `lakeworks table list` shows every table"
            )
        return found

    def list_tables(self, database: str | None = None) -> builtins.list[TableRecord]:
        key = {"database": database} if database is not None else {}
        return self._tables.all(TableRecord, ["database", "name"], **key)

    def drop_table(self, database: str, name: str) -> None:
        if not self._tables.delete(database=database, name=name):
            self.get_table(database, name)  # raises the helpful NotFoundError

    # -- procedures ------------------------------------------------------------------------

    def put_procedure(self, record: ProcedureRecord, *, replace: bool = False) -> None:
        self._procs.insert_or_replace(
            record,
            {"name": record.name},
            {"updated_at": record.updated_at},
            replace=replace,
            conflict=lambda: ConflictError(
                f"procedure '{record.name}' already exists; replace it or pick another name"
            ),
        )

    def get_procedure(self, name: str) -> ProcedureRecord:
        found = self._procs.get(ProcedureRecord, name=name)
        if found is None:
            known = [p.name for p in self.list_procedures()]
            raise NotFoundError(
                f"procedure '{name}' does not exist (procedures: {_names(known)})"
            )
        return found

    def list_procedures(self) -> builtins.list[ProcedureRecord]:
        return self._procs.all(ProcedureRecord, ["name"])

    def drop_procedure(self, name: str) -> None:
        if not self._procs.delete(name=name):
            self.get_procedure(name)


class SqlAlchemyDatastoreRepo:
    """The ``DatastoreRepo`` port over a SQLite or PostgreSQL database."""

    def __init__(self, db: Database) -> None:
        self._records = _Records(db, lw_datastore, DatastoreRecord, "datastore")

    def put(self, record: DatastoreRecord, *, replace: bool = False) -> None:
        self._records.insert_or_replace(
            record,
            {"name": record.name},
            {"created_at": record.created_at},
            replace=replace,
            conflict=lambda: ConflictError(
                f"datastore '{record.name}' already exists; update it or pick another name"
            ),
        )

    def get(self, name: str) -> DatastoreRecord:
        found = self._records.get(DatastoreRecord, name=name)
        if found is None:
            known = [d.name for d in self.list()]
            raise NotFoundError(
                f"datastore '{name}' does not exist (datastores: "
                f"{_names(['workspaceblobstore', *known])})"
            )
        return found

    def list(self) -> builtins.list[DatastoreRecord]:
        return self._records.all(DatastoreRecord, ["name"])

    def delete(self, name: str) -> None:
        if not self._records.delete(name=name):
            self.get(name)


__all__ = ["SqlAlchemyCatalogRepo", "SqlAlchemyDatastoreRepo"]
