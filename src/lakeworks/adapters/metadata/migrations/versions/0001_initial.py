"""Revision 0001: the initial Lakeworks metadata schema (assets, versions, jobs, step cache).

Owns creating the ``lw_*`` tables as they were first released. A revision is frozen once
released: later changes go in new revisions. Tables and indexes are created only if missing, so
a database half-created by an interrupted run still upgrades.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
#: Stored as timestamptz / naive-UTC text; ``tables.UtcDateTime`` converts on the Python side.
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lw_asset",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("kind", "name", name="pk_lw_asset"),
        if_not_exists=True,
    )
    op.create_table(
        "lw_asset_version",
        sa.Column("id", _ID, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("id", name="pk_lw_asset_version"),
        sa.UniqueConstraint(
            "kind", "name", "version", name="uq_lw_asset_version_kind_name_version"
        ),
        sa.ForeignKeyConstraint(
            ["kind", "name"],
            ["lw_asset.kind", "lw_asset.name"],
            name="fk_lw_asset_version_asset",
        ),
        sqlite_autoincrement=True,
        if_not_exists=True,
    )
    op.create_index(
        "ix_lw_asset_version_kind_id", "lw_asset_version", ["kind", "id"], if_not_exists=True
    )
    op.create_table(
        "lw_job",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("step", sa.String(), nullable=True),
        sa.Column("experiment_name", sa.String(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("started_at", _TIMESTAMP, nullable=True),
        sa.Column("ended_at", _TIMESTAMP, nullable=True),
        sa.Column("mlflow_run_id", sa.String(), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lw_job"),
        if_not_exists=True,
    )
    for column in ("parent", "experiment_name", "created_at", "mlflow_run_id"):
        op.create_index(f"ix_lw_job_{column}", "lw_job", [column], if_not_exists=True)
    op.create_table(
        "lw_step_cache",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("job_name", sa.String(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("output_hashes", sa.JSON(), nullable=False),
        sa.Column("mlflow_run_id", sa.String(), nullable=True),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_lw_step_cache"),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("lw_step_cache")
    op.drop_table("lw_job")
    op.drop_table("lw_asset_version")
    op.drop_table("lw_asset")
