"""expand: catalog_installs (assets installed into a project, by digest, with their provenance)

Revision ID: 0013_expand_catalog_installs
Revises: 0012_expand_audit_log
Create Date: 2026-12-06 06:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_expand_catalog_installs"
down_revision = "0012_expand_audit_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_installs",
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("remote", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("local_type", sa.String(length=64), nullable=False),
        sa.Column("local_id", sa.String(length=36), nullable=True),
        sa.Column("signers", sa.JSON(), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("installed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("project", "sha256", name=op.f("pk_catalog_installs")),
    )


def downgrade() -> None:
    op.drop_table("catalog_installs")
