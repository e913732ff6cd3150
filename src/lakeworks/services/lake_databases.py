"""Lake databases: the implicit ``default``, creating, listing and dropping, and their locations.

Owns where a database's managed tables live, in Spark's warehouse layout: the warehouse is
``azureml://datastores/workspaceblobstore/paths/lake/warehouse``; ``default`` is the warehouse
itself (tables at ``<warehouse>/<table>``) and database ``db`` is ``<warehouse>/db.db``. The
records live in the workspace catalog (``ws.metadata.catalog``); tables are ``lake.py``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lakeworks.core.lake import DEFAULT_DATABASE, DatabaseRecord, validate_identifier
from lakeworks.core.refs import datastore_uri
from lakeworks.errors import ConflictError, InvalidInputError, NotFoundError
from lakeworks.ports.catalog import CatalogRepo

WAREHOUSE_PATH = "lake/warehouse"


def warehouse_datastore_uri() -> str:
    """The warehouse root as a datastore URI."""
    return datastore_uri(WAREHOUSE_PATH)


def database_location(name: str) -> str:
    """The datastore URI of a database's folder (``default``: the warehouse root)."""
    if name == DEFAULT_DATABASE:
        return warehouse_datastore_uri()
    return datastore_uri(f"{WAREHOUSE_PATH}/{name}.db")


class LakeDatabases:
    """The lake databases of one workspace catalog."""

    def __init__(self, catalog: CatalogRepo) -> None:
        self.catalog = catalog

    def ensure_default(self) -> None:
        """Create the ``default`` database on first use (another process may race us)."""
        try:
            self.catalog.get_database(DEFAULT_DATABASE)
        except NotFoundError:
            record = DatabaseRecord(
                name=DEFAULT_DATABASE, description="The default lake database",
                location=database_location(DEFAULT_DATABASE), created_at=datetime.now(UTC))
            try:
                self.catalog.put_database(record)
            except ConflictError:
                pass  # created by another process meanwhile

    def get(self, name: str) -> DatabaseRecord:
        """A database's record (``NotFoundError`` names the existing ones)."""
        if name == DEFAULT_DATABASE:
            self.ensure_default()
        return self.catalog.get_database(name)

    def create(self, name: str, description: str | None = None) -> DatabaseRecord:
        """Create a database (Spark's ``CREATE DATABASE``).

        Raises:
            InvalidInputError: not a legal identifier.
            ConflictError: it exists.
        """
        db = validate_identifier(name, what="database name")
        self.ensure_default()
        record = DatabaseRecord(name=db, description=description,
                                location=database_location(db), created_at=datetime.now(UTC))
        self.catalog.put_database(record)
        return record

    def list(self) -> list[DatabaseRecord]:
        """Databases sorted by name, ``default`` included."""
        self.ensure_default()
        return self.catalog.list_databases()

    def drop(self, name: str) -> None:
        """Remove an empty database.

        Raises:
            InvalidInputError: ``default``, which cannot be dropped.
            StateError: it still has tables.
        """
        db = validate_identifier(name, what="database name")
        if db == DEFAULT_DATABASE:
            raise InvalidInputError("the 'default' lake database cannot be dropped")
        self.catalog.drop_database(db)
