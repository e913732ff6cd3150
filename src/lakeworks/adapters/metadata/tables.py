"""Table definitions of the metadata store (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Owns the current shape of every ``lw_*`` table and the ``UtcDateTime`` column type. Every table
name starts with ``lw_`` so that MLflow's tables (``experiments``, ``runs``, ``alembic_version``,
...) can live in the same database. This module describes the schema; it must not create it:
``migrations/versions/`` does, and a change here needs a new migration there.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(naming_convention={"pk": "pk_%(table_name)s"})

#: A 64-bit surrogate key on PostgreSQL; SQLite needs exactly INTEGER to alias its rowid.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite keeps naive UTC text. Values read back are always
    aware and in UTC; naive values written are taken to be UTC already.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


#: One row per (kind, name): the lock that serialises version numbering of one asset.
lw_asset = sa.Table(
    "lw_asset",
    metadata,
    sa.Column("kind", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

#: Immutable versions; ``id`` orders them by creation (``latest`` is the highest live id).
lw_asset_version = sa.Table(
    "lw_asset_version",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("version", sa.String(), nullable=False),
    sa.Column("spec", sa.JSON(), nullable=False),
    sa.Column("content_hash", sa.String(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("kind", "name", "version", name="uq_lw_asset_version_kind_name_version"),
    sa.ForeignKeyConstraint(
        ["kind", "name"], ["lw_asset.kind", "lw_asset.name"], name="fk_lw_asset_version_asset"
    ),
    sa.Index("ix_lw_asset_version_kind_id", "kind", "id"),
    sqlite_autoincrement=True,
)

#: Jobs and pipeline steps; queried columns are columns, the rest of a JobRecord is ``details``.
lw_job = sa.Table(
    "lw_job",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("type", sa.String(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("parent", sa.String(), nullable=True),
    sa.Column("step", sa.String(), nullable=True),
    sa.Column("experiment_name", sa.String(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("ended_at", UtcDateTime(), nullable=True),
    sa.Column("mlflow_run_id", sa.String(), nullable=True),
    sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Index("ix_lw_job_parent", "parent"),
    sa.Index("ix_lw_job_experiment_name", "experiment_name"),
    sa.Index("ix_lw_job_created_at", "created_at"),
    sa.Index("ix_lw_job_mlflow_run_id", "mlflow_run_id"),
)

#: The step-reuse index: reuse key -> outputs of the step that produced them.
lw_step_cache = sa.Table(
    "lw_step_cache",
    metadata,
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("job_name", sa.String(), nullable=False),
    sa.Column("outputs", sa.JSON(), nullable=False),
    sa.Column("output_hashes", sa.JSON(), nullable=False),
    sa.Column("mlflow_run_id", sa.String(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

#: Lake databases (revision 0002). Records are kept whole in ``details``.
lw_lake_database = sa.Table(
    "lw_lake_database",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

#: Lake tables, keyed by (database, name); a table's database must exist.
lw_lake_table = sa.Table(
    "lw_lake_table",
    metadata,
    sa.Column("database", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(
        ["database"], ["lw_lake_database.name"], name="fk_lw_lake_table_database"
    ),
)

#: Saved SQL procedures.
lw_sql_procedure = sa.Table(
    "lw_sql_procedure",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

#: Named datastores; secrets are never stored here in plain text (see core.lake.Credentials).
lw_datastore = sa.Table(
    "lw_datastore",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
)

#: Online endpoints (revision 0003). Records are kept whole in ``details`` (keys encrypted).
lw_online_endpoint = sa.Table(
    "lw_online_endpoint",
    metadata,
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

#: Online deployments, keyed by (endpoint, name); a deployment's endpoint must exist.
lw_online_deployment = sa.Table(
    "lw_online_deployment",
    metadata,
    sa.Column("endpoint", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), primary_key=True),
    sa.Column("details", sa.JSON(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(
        ["endpoint"], ["lw_online_endpoint.name"], name="fk_lw_online_deployment_endpoint"
    ),
)

__all__ = [
    "UtcDateTime",
    "lw_asset",
    "lw_asset_version",
    "lw_datastore",
    "lw_job",
    "lw_lake_database",
    "lw_lake_table",
    "lw_online_deployment",
    "lw_online_endpoint",
    "lw_sql_procedure",
    "lw_step_cache",
    "metadata",
]
