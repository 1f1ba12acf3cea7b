"""expand: metadefs' updated_at may be empty, as Glance leaves it for what its definition loader wrote

Glance's ``load_metadefs`` writes namespaces, objects, properties, tags, resource types and associations with
a creation time only, and its API then shows no ``updated_at`` for them until they change. The standard
resource types (protected, never changed since 0004 or the server put them there) lose their update time.

Revision ID: 0009_expand_metadef_updated_at
Revises: 0008_expand_artifact_blob_keys
Create Date: 2026-12-06 05:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_expand_metadef_updated_at"
down_revision = "0008_expand_artifact_blob_keys"
branch_labels = None
depends_on = None

TABLES = (
    "metadef_namespaces",
    "metadef_objects",
    "metadef_properties",
    "metadef_tags",
    "metadef_resource_types",
    "metadef_namespace_resource_types",
)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("updated_at", existing_type=sa.DateTime(), nullable=True)
    resource_types = sa.table(
        "metadef_resource_types",
        sa.column("protected", sa.Boolean()),
        sa.column("created_at", sa.DateTime()),
        sa.column("updated_at", sa.DateTime()),
    )
    op.execute(
        resource_types.update()
        .where(
            resource_types.c.protected.is_(True),
            resource_types.c.updated_at == resource_types.c.created_at,
        )
        .values(updated_at=None)
    )


def downgrade() -> None:
    for table in TABLES:
        op.execute(sa.text(f"UPDATE {table} SET updated_at = created_at WHERE updated_at IS NULL"))
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)
