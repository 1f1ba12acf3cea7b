"""expand: the application catalog: catalog_remotes (subscriptions' state), catalog_assets (their index)

Revision ID: 0011_expand_catalog
Revises: 0010_expand_webhooks
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_expand_catalog"
down_revision = "0010_expand_webhooks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_remotes",
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("root_version", sa.Integer(), nullable=True),
        sa.Column("targets_version", sa.Integer(), nullable=True),
        sa.Column("timestamp_version", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("signers", sa.JSON(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("attempted_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_catalog_remotes")),
    )
    op.create_table(
        "catalog_assets",
        sa.Column("remote", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("depends", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("remote", "name", "version", name=op.f("pk_catalog_assets")),
    )
    with op.batch_alter_table("catalog_assets", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_assets_sha256", ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_assets", schema=None) as batch_op:
        batch_op.drop_index("ix_catalog_assets_sha256")
    op.drop_table("catalog_assets")
    op.drop_table("catalog_remotes")
