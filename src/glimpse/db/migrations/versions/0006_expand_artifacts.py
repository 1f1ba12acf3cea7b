"""expand: artifacts (the Glare API): artifacts, their property rows, tags, blobs, stored blob objects, scope locks

Revision ID: 0006_expand_artifacts
Revises: 0005_expand_outbox
Create Date: 2026-12-05 17:03:42.024389
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_expand_artifacts"
down_revision = "0005_expand_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "artifact_blob_objects",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("store", sa.String(length=255), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_artifact_blob_objects")),
    )
    op.create_table(
        "artifact_locks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("acquired_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_locks")),
    )
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type_name", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=255), nullable=False),
        sa.Column("version_prefix", sa.BigInteger(), nullable=False),
        sa.Column("version_suffix", sa.String(length=255), nullable=False),
        sa.Column("version_meta", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("visibility", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=255), nullable=False),
        sa.Column("display_type_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("activated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.create_index("ix_artifacts_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_artifacts_name_version_prefix", ["name", "version_prefix"], unique=False)
        batch_op.create_index("ix_artifacts_owner", ["owner"], unique=False)
        batch_op.create_index("ix_artifacts_type_name_status", ["type_name", "status"], unique=False)
        batch_op.create_index("ix_artifacts_visibility", ["visibility"], unique=False)

    op.create_table(
        "artifact_blobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("artifact_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("key_name", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("external", sa.Boolean(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha1", sa.String(length=40), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_artifact_blobs_artifact_id_artifacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_blobs")),
        sa.UniqueConstraint(
            "artifact_id", "name", "key_name", name=op.f("uq_artifact_blobs_artifact_id_name_key_name")
        ),
    )
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.create_index("ix_artifact_blobs_sha256", ["sha256"], unique=False)

    op.create_table(
        "artifact_properties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("artifact_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("string_value", sa.Text(), nullable=True),
        sa.Column("int_value", sa.BigInteger(), nullable=True),
        sa.Column("numeric_value", sa.Float(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("key_name", sa.String(length=255), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_artifact_properties_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifact_properties")),
    )
    with op.batch_alter_table("artifact_properties", schema=None) as batch_op:
        batch_op.create_index("ix_artifact_properties_artifact_id", ["artifact_id"], unique=False)
        batch_op.create_index("ix_artifact_properties_name", ["name"], unique=False)

    op.create_table(
        "artifact_tags",
        sa.Column("artifact_id", sa.String(length=36), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_artifact_tags_artifact_id_artifacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("artifact_id", "value", name=op.f("pk_artifact_tags")),
    )
    with op.batch_alter_table("artifact_tags", schema=None) as batch_op:
        batch_op.create_index("ix_artifact_tags_value", ["value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("artifact_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_artifact_tags_value")

    op.drop_table("artifact_tags")
    with op.batch_alter_table("artifact_properties", schema=None) as batch_op:
        batch_op.drop_index("ix_artifact_properties_name")
        batch_op.drop_index("ix_artifact_properties_artifact_id")

    op.drop_table("artifact_properties")
    with op.batch_alter_table("artifact_blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_artifact_blobs_sha256")

    op.drop_table("artifact_blobs")
    with op.batch_alter_table("artifacts", schema=None) as batch_op:
        batch_op.drop_index("ix_artifacts_visibility")
        batch_op.drop_index("ix_artifacts_type_name_status")
        batch_op.drop_index("ix_artifacts_owner")
        batch_op.drop_index("ix_artifacts_name_version_prefix")
        batch_op.drop_index("ix_artifacts_created_at")

    op.drop_table("artifacts")
    op.drop_table("artifact_locks")
    op.drop_table("artifact_blob_objects")
