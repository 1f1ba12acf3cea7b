"""expand: the image cache: cached_images (per node), tasks.node (a task only one node may run)

Revision ID: 0007_expand_image_cache
Revises: 0006_expand_artifacts
Create Date: 2026-12-06 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_expand_image_cache"
down_revision = "0006_expand_artifacts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cached_images",
        sa.Column("node", sa.String(length=255), nullable=False),
        sa.Column("image_id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("checksum", sa.String(length=32), nullable=True),
        sa.Column("last_accessed", sa.DateTime(), nullable=False),
        sa.Column("last_modified", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("node", "image_id", name=op.f("pk_cached_images")),
    )
    with op.batch_alter_table("cached_images", schema=None) as batch_op:
        batch_op.create_index("ix_cached_images_image_id", ["image_id"], unique=False)
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("node", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("node")
    with op.batch_alter_table("cached_images", schema=None) as batch_op:
        batch_op.drop_index("ix_cached_images_image_id")
    op.drop_table("cached_images")
