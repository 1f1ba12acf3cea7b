"""expand: metadata definitions (metadefs), with the standard resource types Glance seeds

Revision ID: 0004_expand_metadefs
Revises: 0003_expand_quotas
Create Date: 2026-12-05 16:22:40.094786
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004_expand_metadefs"
down_revision = "0003_expand_quotas"
branch_labels = None
depends_on = None


# The resource types Glance's own migrations put in every database (OS::Nova::Instance was later renamed
# OS::Nova::Server); protected, as ``load_metadefs`` creates them.
STANDARD_RESOURCE_TYPES = (
    "OS::Glance::Image",
    "OS::Cinder::Volume",
    "OS::Nova::Flavor",
    "OS::Nova::Aggregate",
    "OS::Nova::Server",
)


def upgrade() -> None:
    op.create_table(
        "metadef_namespaces",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadef_namespaces")),
        sa.UniqueConstraint("namespace", name=op.f("uq_metadef_namespaces_namespace")),
    )
    with op.batch_alter_table("metadef_namespaces", schema=None) as batch_op:
        batch_op.create_index("ix_metadef_namespaces_owner", ["owner"], unique=False)

    resource_types = op.create_table(
        "metadef_resource_types",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("protected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadef_resource_types")),
        sa.UniqueConstraint("name", name=op.f("uq_metadef_resource_types_name")),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(
        resource_types,
        [{"name": name, "protected": True, "created_at": now, "updated_at": now} for name in STANDARD_RESOURCE_TYPES],
    )
    op.create_table(
        "metadef_namespace_resource_types",
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("resource_type_id", sa.Integer(), nullable=False),
        sa.Column("properties_target", sa.String(length=80), nullable=True),
        sa.Column("prefix", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["metadef_namespaces.id"],
            name=op.f("fk_metadef_namespace_resource_types_namespace_id_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_type_id"],
            ["metadef_resource_types.id"],
            name=op.f("fk_metadef_namespace_resource_types_resource_type_id_metadef_resource_types"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("namespace_id", "resource_type_id", name=op.f("pk_metadef_namespace_resource_types")),
    )
    with op.batch_alter_table("metadef_namespace_resource_types", schema=None) as batch_op:
        batch_op.create_index(
            "ix_metadef_namespace_resource_types_resource_type_id", ["resource_type_id"], unique=False
        )

    op.create_table(
        "metadef_objects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.JSON(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["metadef_namespaces.id"],
            name=op.f("fk_metadef_objects_namespace_id_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadef_objects")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_metadef_objects_namespace_id_name")),
    )
    op.create_table(
        "metadef_properties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("schema", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["metadef_namespaces.id"],
            name=op.f("fk_metadef_properties_namespace_id_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadef_properties")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_metadef_properties_namespace_id_name")),
    )
    op.create_table(
        "metadef_tags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["namespace_id"],
            ["metadef_namespaces.id"],
            name=op.f("fk_metadef_tags_namespace_id_metadef_namespaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metadef_tags")),
        sa.UniqueConstraint("namespace_id", "name", name=op.f("uq_metadef_tags_namespace_id_name")),
    )


def downgrade() -> None:
    op.drop_table("metadef_tags")
    op.drop_table("metadef_properties")
    op.drop_table("metadef_objects")
    with op.batch_alter_table("metadef_namespace_resource_types", schema=None) as batch_op:
        batch_op.drop_index("ix_metadef_namespace_resource_types_resource_type_id")

    op.drop_table("metadef_namespace_resource_types")
    op.drop_table("metadef_resource_types")
    with op.batch_alter_table("metadef_namespaces", schema=None) as batch_op:
        batch_op.drop_index("ix_metadef_namespaces_owner")

    op.drop_table("metadef_namespaces")
