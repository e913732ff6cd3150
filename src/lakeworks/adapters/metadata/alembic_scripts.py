"""The Alembic side of migrations: the script directory, revisions, and running an upgrade.

Imported only when a database is not at the newest revision (see ``migrate``), because Alembic
takes ~0.4 s to import.
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from lakeworks.adapters.metadata.database import Database
from lakeworks.adapters.metadata.migrate import MIGRATIONS_DIR, VERSION_TABLE
from lakeworks.errors import BackendError


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


def check_known(db: Database, revision: str | None) -> None:
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


def upgrade(conn: Connection) -> None:
    """Run ``alembic upgrade head`` on ``conn`` (the caller holds the migration lock)."""
    command.upgrade(alembic_config(conn), "head")


__all__ = ["alembic_config", "check_known", "current_revision", "head_revision", "upgrade"]
