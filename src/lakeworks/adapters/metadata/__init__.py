"""The metadata store adapter: SQLAlchemy over SQLite (default) or PostgreSQL, Alembic schema.

Owns the public entry point ``open_metadata_store(url)``; the adapter registry names it
(``lakeworks.adapters.metadata:open_metadata_store``). Modules: ``sqlalchemy_store`` (the
store), ``assets``/``jobs``/``cache`` (one repo per aggregate), ``catalog`` (lake catalog,
datastores) and ``endpoints`` (online endpoints and deployments), ``database`` (engine, URL and
error rules), ``migrate`` and ``migrations/`` (schema), ``tables`` (table definitions).
"""

from __future__ import annotations

from lakeworks.adapters.metadata.sqlalchemy_store import (
    SqlAlchemyMetadataStore,
    open_metadata_store,
)

__all__ = ["SqlAlchemyMetadataStore", "open_metadata_store"]
