"""Alembic environment of the Lakeworks metadata schema (run by ``migrate.upgrade_to_head``).

Owns binding Alembic to the connection it is handed (``config.attributes["connection"]``),
inside the caller's transaction and lock, and the version table ``lw_alembic_version``. For
developers, ``-x url=...`` connects on its own (e.g. to autogenerate a revision). Only ``lw_*``
tables are compared, so MLflow's tables in the same database are never touched.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection

from lakeworks.adapters.metadata.tables import metadata

VERSION_TABLE = "lw_alembic_version"


def _include_name(name: str | None, type_: str, _parent_names: Any) -> bool:
    return type_ != "table" or (name or "").startswith("lw_")


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table=VERSION_TABLE,
        include_name=_include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise SystemExit("Lakeworks migrations run online only (against a connection)")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=sqlite:////path/metadata.db ...")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
