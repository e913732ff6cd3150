"""The SQL metadata store: ``SqlAlchemyMetadataStore`` and ``open_metadata_store``.

Owns opening a database (SQLite file or PostgreSQL), bringing its schema to head on open, and
bundling the per-aggregate repos (assets, jobs, step cache, lake catalog, datastores, online
endpoints) over one engine. The repos live in ``assets.py``, ``jobs.py``, ``cache.py``,
``catalog.py`` and ``endpoints.py``; connections and error translation in
``database.py``; schema upgrades in ``migrate.py``.
"""

from __future__ import annotations

from types import TracebackType

from lakeworks.adapters.metadata.assets import SqlAlchemyAssetRepo
from lakeworks.adapters.metadata.cache import SqlAlchemyStepCacheRepo
from lakeworks.adapters.metadata.catalog import SqlAlchemyCatalogRepo, SqlAlchemyDatastoreRepo
from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.endpoints import SqlAlchemyEndpointRepo
from lakeworks.adapters.metadata.jobs import SqlAlchemyJobRepo
from lakeworks.adapters.metadata.migrate import upgrade_to_head
from lakeworks.ports.catalog import CatalogRepo, DatastoreRepo
from lakeworks.ports.metadata import AssetRepo, EndpointRepo, JobRepo, StepCacheRepo


class SqlAlchemyMetadataStore:
    """The ``MetadataStore`` port over one SQLite or PostgreSQL database.

    Build it with ``open_metadata_store``, which also creates or upgrades the schema.

    Attributes:
        url: the SQLAlchemy URL in use (driver normalised, password included).
        assets: versioned assets (a ``SqlAlchemyAssetRepo``).
        jobs: job and step records (a ``SqlAlchemyJobRepo``).
        cache: the step-reuse index (a ``SqlAlchemyStepCacheRepo``).

    The repo attributes are annotated with their port types because the ``MetadataStore``
    protocol declares them as plain (hence invariant) attributes.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self.url: str = db.url
        self.assets: AssetRepo = SqlAlchemyAssetRepo(db)
        self.jobs: JobRepo = SqlAlchemyJobRepo(db)
        self.cache: StepCacheRepo = SqlAlchemyStepCacheRepo(db)
        self.catalog: CatalogRepo = SqlAlchemyCatalogRepo(db)
        self.datastores: DatastoreRepo = SqlAlchemyDatastoreRepo(db)
        self.endpoints: EndpointRepo = SqlAlchemyEndpointRepo(db)

    @property
    def database(self) -> Database:
        """The engine and transaction helpers underneath (for adapter tests and tools)."""
        return self._db

    def close(self) -> None:
        """Close the store's pooled connections; the store must not be used afterwards."""
        self._db.dispose()

    def __enter__(self) -> SqlAlchemyMetadataStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqlAlchemyMetadataStore({self._db.masked_url!r})"


def open_metadata_store(url: str) -> SqlAlchemyMetadataStore:
    """Open the metadata store at ``url``, creating or upgrading its tables first.

    Args:
        url: ``sqlite:////absolute/path/metadata.db`` (folders are created) or
            ``postgresql://user:password@host:5432/db`` (psycopg 3 is used;
            ``postgresql+psycopg://`` works too). The Lakeworks tables are named ``lw_*`` and
            may share a database with MLflow's.

    Returns:
        The open store; call ``close()`` when done.

    Raises:
        InvalidInputError: the URL is not a SQLite file or PostgreSQL URL.
        MissingDependencyError: PostgreSQL without psycopg installed.
        BackendError: the database is unreachable or its schema cannot be upgraded.

    Example:
        >>> store = open_metadata_store(f"sqlite:///{tmp_path}/metadata.db")  # doctest: +SKIP
        >>> store.assets.list_versions(AssetKind.DATA)  # doctest: +SKIP
        []
    """
    db = Database(url)
    try:
        upgrade_to_head(db)
    except BaseException:
        db.dispose()
        raise
    return SqlAlchemyMetadataStore(db)


__all__ = ["SqlAlchemyMetadataStore", "open_metadata_store"]
