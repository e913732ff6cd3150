"""Bringing a metadata database's Lakeworks schema to the newest Alembic revision.

Owns running ``upgrade head`` with the scripts in ``migrations/`` (configured in code, no
``alembic.ini``), the version table ``lw_alembic_version`` (MLflow keeps its own
``alembic_version`` in the same database), and making that safe when several processes open a
fresh database at once: the upgrade runs in one transaction that holds a database-wide lock
(``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite). It must not define
tables; the revisions do.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
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


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration for the Lakeworks scripts, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this version of Lakeworks knows."""
    head = _scripts().get_current_head()
    assert head is not None, f"no Alembic revisions in {MIGRATIONS_DIR}"
    return head


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at, or None for a database without Lakeworks tables."""
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _check_known(db: Database, revision: str | None) -> None:
    if revision is None:
        return
    try:
        _scripts().get_revision(revision)
    except (RevisionError, CommandError) as exc:
        raise BackendError(
            f"the metadata database {db.masked_url} is at schema revision '{revision}', which "
            f"this Lakeworks does not know (newest known: '{head_revision()}'); a newer "
            "Lakeworks upgraded it: upgrade Lakeworks, or point LAKEWORKS_DATABASE_URL at "
            "another database"
        ) from exc


def upgrade_to_head(db: Database) -> None:
    """Create or upgrade the Lakeworks tables; a no-op when already at head.

    Safe to call from many processes at once: one migrates while the others wait on the lock
    and then find the schema at head.

    Raises:
        BackendError: the database is unreachable, newer than this Lakeworks, or the upgrade
            failed.
    """
    head = head_revision()
    with db.read("read the schema revision") as conn:
        current = current_revision(conn)
    if current == head:
        return
    _check_known(db, current)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with db.errors("upgrade the schema"), db.transaction(write=True) as conn:
                _migrate_locked(db, conn, head)
            return
        except BackendError as exc:
            cause = exc.__cause__
            racing = isinstance(cause, sa_exc.DBAPIError) and "already exists" in str(cause)
            if not racing or attempt == _ATTEMPTS:
                raise
            log.debug("schema upgrade raced another process (attempt %d); retrying", attempt)


def _migrate_locked(db: Database, conn: Connection, head: str) -> None:
    if not db.is_sqlite:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
    current = current_revision(conn)
    if current == head:
        return
    _check_known(db, current)
    log.info("upgrading metadata schema of %s from %s to %s", db.masked_url, current, head)
    command.upgrade(alembic_config(conn), "head")


__all__ = [
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "alembic_config",
    "current_revision",
    "head_revision",
    "upgrade_to_head",
]
