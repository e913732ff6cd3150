"""Revision 0003: online endpoints and their deployments.

Owns creating ``lw_online_endpoint`` and ``lw_online_deployment``. Frozen once released. Tables
are created only if missing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lw_online_endpoint",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_lw_online_endpoint"),
        if_not_exists=True,
    )
    op.create_table(
        "lw_online_deployment",
        sa.Column("endpoint", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_at", _TIMESTAMP, nullable=False),
        sa.Column("updated_at", _TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("endpoint", "name", name="pk_lw_online_deployment"),
        sa.ForeignKeyConstraint(
            ["endpoint"], ["lw_online_endpoint.name"], name="fk_lw_online_deployment_endpoint"
        ),
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in ("lw_online_deployment", "lw_online_endpoint"):
        op.drop_table(table)
