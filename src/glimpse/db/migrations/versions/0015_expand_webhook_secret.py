"""expand: webhooks.secret holds the sealed secret (a Fernet token, longer than the 128 characters of a plain one)

Revision ID: 0015_expand_webhook_secret
Revises: 0014_expand_image_list_indexes
Create Date: 2026-12-06 14:30:00.000000

Widening a column is compatible both ways: code of the previous release reads and writes it as before. The
secrets already stored stay plain until the worker's sweep seals them (services/webhooks.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_expand_webhook_secret"
down_revision = "0014_expand_image_list_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", type_=sa.String(512), existing_type=sa.String(128), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.alter_column("secret", type_=sa.String(128), existing_type=sa.String(512), existing_nullable=False)
