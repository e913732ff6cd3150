"""Catalog ports: lake databases, tables, saved procedures and datastores in the metadata store.

Implementations must pass ``tests/contract/test_catalog_contract.py`` (SQLite and PostgreSQL).
Names are stored lower-case; records are replaced whole.
"""

from __future__ import annotations

from typing import Protocol

from lakeworks.core.lake import DatabaseRecord, DatastoreRecord, ProcedureRecord, TableRecord


class CatalogRepo(Protocol):
    """Lake databases, their tables, and saved SQL procedures."""

    def put_database(self, record: DatabaseRecord) -> None:
        """Create a database; ``ConflictError`` if it exists."""
        ...

    def get_database(self, name: str) -> DatabaseRecord:
        """``NotFoundError`` naming the existing databases when absent."""
        ...

    def list_databases(self) -> list[DatabaseRecord]:
        """Databases sorted by name."""
        ...

    def drop_database(self, name: str) -> None:
        """Remove an empty database; ``StateError`` if it still has tables."""
        ...

    def put_table(self, record: TableRecord, *, replace: bool = False) -> None:
        """Add a table (``ConflictError`` if it exists) or, with ``replace``, update it.

        The table's database must exist (``NotFoundError``).
        """
        ...

    def get_table(self, database: str, name: str) -> TableRecord:
        """``NotFoundError`` naming the database's tables when absent."""
        ...

    def list_tables(self, database: str | None = None) -> list[TableRecord]:
        """Tables of one database (or all), sorted by database then name."""
        ...

    def drop_table(self, database: str, name: str) -> None:
        """Remove a table's record; ``NotFoundError`` if absent."""
        ...

    def put_procedure(self, record: ProcedureRecord, *, replace: bool = False) -> None:
        """Save a procedure; ``ConflictError`` if it exists unless ``replace``."""
        ...

    def get_procedure(self, name: str) -> ProcedureRecord:
        ...

    def list_procedures(self) -> list[ProcedureRecord]:
        ...

    def drop_procedure(self, name: str) -> None:
        ...


class DatastoreRepo(Protocol):
    """Named datastores (the workspace default ``workspaceblobstore`` is implicit)."""

    def put(self, record: DatastoreRecord, *, replace: bool = False) -> None:
        """Save a datastore; ``ConflictError`` if it exists unless ``replace``."""
        ...

    def get(self, name: str) -> DatastoreRecord:
        """``NotFoundError`` naming the existing datastores when absent."""
        ...

    def list(self) -> list[DatastoreRecord]:
        """Datastores sorted by name."""
        ...

    def delete(self, name: str) -> None:
        """Remove a datastore's record (its data is untouched); ``NotFoundError`` if absent."""
        ...
