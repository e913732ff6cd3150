"""Bringing a metadata database's Lakeworks schema to the newest Alembic revision.

Owns the check done at every open (one SQL query; Alembic, which costs ~0.4 s to import, is
loaded only when the schema is behind), running ``upgrade head`` with the scripts in
``migrations/`` (configured in code, no ``alembic.ini``), the version table
``lw_alembic_version`` (MLflow keeps its own ``alembic_version`` in the same database), and
making that safe when several processes open a fresh database at once: the upgrade runs in one
transaction that holds a database-wide lock (``pg_advisory_xact_lock`` on PostgreSQL,
``BEGIN IMMEDIATE`` on SQLite). It must not define tables; the revisions do.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from lakeworks.adapters.metadata.database import Database
from lakeworks.errors import BackendError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "lw_alembic_version"
#: Key of the PostgreSQL advisory lock held while migrating ("LWMIGRAT" in ASCII).
ADVISORY_LOCK_KEY = 0x4C574D4947524154
_ATTEMPTS = 3
#: The newest revision in migrations/versions; a test checks it equals Alembic's head.
HEAD_REVISION = "0003"


def _stored_revision(db: Database) -> str | None:
    """The schema revision recorded in the database, read with one plain query."""
    with db.read("read the schema revision") as conn:
        if not sa.inspect(conn).has_table(VERSION_TABLE):
            return None
        row = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).first()
    return str(row[0]) if row else None


def upgrade_to_head(db: Database) -> None:
    """Create or upgrade the Lakeworks tables; a no-op when already at head.

    Safe to call from many processes at once: one migrates while the others wait on the lock
    and then find the schema at head.

    Raises:
        BackendError: the database is unreachable, newer than this Lakeworks, or the upgrade
            failed.
    """
    if _stored_revision(db) == HEAD_REVISION:
        return
    # Alembic is imported only now: at head (every open but the first) it is not needed.
    from lakeworks.adapters.metadata import alembic_scripts

    head = alembic_scripts.head_revision()
    with db.read("read the schema revision") as conn:
        current = alembic_scripts.current_revision(conn)
    if current == head:
        return
    alembic_scripts.check_known(db, current)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.errors("upgrade the schema"), db.transaction(write=True) as conn:
                _migrate_locked(db, conn, head, alembic_scripts)
            return
        except BackendError as exc:
            cause = exc.__cause__
            racing = isinstance(cause, sa_exc.DBAPIError) and "already exists" in str(cause)
            if not racing or attempt == _ATTEMPTS:
                raise
            log.debug("schema upgrade raced another process (attempt %d); retrying", attempt)


def _migrate_locked(db: Database, conn: Connection, head: str, scripts: ModuleType) -> None:
    if not db.is_sqlite:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    current = scripts.current_revision(conn)
    if current == head:
        return
    scripts.check_known(db, current)
    log.info("upgrading metadata schema of %s from %s to %s", db.masked_url, current, head)
    scripts.upgrade(conn)


__all__ = ["HEAD_REVISION", "MIGRATIONS_DIR", "VERSION_TABLE", "upgrade_to_head"]
