"""expand: indexes for image lists at scale (issue 19): every sort and visibility branch walks an index in order

Revision ID: 0014_expand_image_list_indexes
Revises: 0013_expand_catalog_installs
Create Date: 2026-12-06 06:35:00.000000

``ix_images_deleted_created_at`` is left in place (expand only); ``ix_images_list_created`` covers it and a
later contract migration may drop it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_expand_image_list_indexes"
down_revision = "0013_expand_catalog_installs"
branch_labels = None
depends_on = None

NAME_SORT = sa.text("coalesce(name, '')")


def upgrade() -> None:
    newest = [sa.text("created_at DESC"), sa.text("id DESC")]
    op.create_index("ix_images_list_created", "images", ["deleted", "created_at", "id"])
    op.create_index("ix_images_list_name", "images", [sa.text("deleted"), NAME_SORT, *newest])
    op.create_index("ix_images_visibility_list_created", "images", ["visibility", "deleted", "created_at", "id"])
    op.create_index(
        "ix_images_visibility_list_name", "images", [sa.text("visibility"), sa.text("deleted"), NAME_SORT, *newest]
    )
    op.create_index("ix_images_owner_list_created", "images", ["owner", "deleted", "created_at", "id"])


def downgrade() -> None:
    for name in (
        "ix_images_owner_list_created",
        "ix_images_visibility_list_name",
        "ix_images_visibility_list_created",
        "ix_images_list_name",
        "ix_images_list_created",
    ):
        op.drop_index(name, table_name="images")
