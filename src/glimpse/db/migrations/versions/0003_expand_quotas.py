"""expand: quotas

Revision ID: 0003_expand_quotas
Revises: 0002_expand_tasks
Create Date: 2026-11-22 15:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_expand_quotas"
down_revision = "0002_expand_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "quota_limits",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "resource", name=op.f("pk_quota_limits")),
    )
    op.create_table(
        "quota_projects",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("claims", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_quota_projects")),
    )
    op.create_table(
        "quota_reservations",
        sa.Column("holder", sa.String(length=80), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("holder", "resource", name=op.f("pk_quota_reservations")),
    )
    op.create_index("ix_quota_reservations_project_id", "quota_reservations", ["project_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_quota_reservations_project_id", table_name="quota_reservations")
    op.drop_table("quota_reservations")
    op.drop_table("quota_projects")
    op.drop_table("quota_limits")
