"""expand: artifact_blobs.key_name as text (folder keys longer than 255 characters, as Glare took them)

Revision ID: 0008_expand_artifact_blob_keys
Revises: 0007_expand_image_cache
Create Date: 2026-12-06 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_expand_artifact_blob_keys"
down_revision = "0007_expand_image_cache"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.alter_column("key_name", existing_type=sa.String(length=255), type_=sa.Text(), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.alter_column("key_name", existing_type=sa.Text(), type_=sa.String(length=255), existing_nullable=False)
