"""Revision 0002: the lake catalog (databases, tables), saved SQL procedures and datastores.

Owns creating ``lw_lake_database``, ``lw_lake_table``, ``lw_sql_procedure`` and
``lw_datastore``. Frozen once released. Tables are created only if missing.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lw_lake_database",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lw_lake_database"),
        if_not_exists=True,
    )
    op.create_table(
        "lw_lake_table",
        sa.Column("database", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("database", "name", name="pk_lw_lake_table"),
        sa.ForeignKeyConstraint(
            ["database"], ["lw_lake_database.name"], name="fk_lw_lake_table_database"
        ),
        if_not_exists=True,
    )
    op.create_table(
        "lw_sql_procedure",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lw_sql_procedure"),
        if_not_exists=True,
    )
    op.create_table(
        "lw_datastore",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lw_datastore"),
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in ("lw_datastore", "lw_sql_procedure", "lw_lake_table", "lw_lake_database"):
        op.drop_table(table)
