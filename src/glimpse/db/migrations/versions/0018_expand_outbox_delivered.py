"""expand: delivered outbox messages are removed, not kept

Revision ID: 0018_expand_outbox_delivered
Revises: 0017_expand_image_list_name_asc
Create Date: 2026-12-07 13:20:00.000000

The outbox drain now deletes the messages it delivered instead of setting ``delivered_at``: nothing reads a
delivered message again (webhooks keep their own delivery log), and the table kept every event's payload
forever, growing by one row per change. This removes the rows earlier versions marked. No schema change:
``delivered_at`` stays (always NULL from now on) for nodes of the previous version during an upgrade, whose
drains still mark rows; a later contract migration drops it with their leftovers. Downgrading restores
nothing (delivered messages are not needed to run the older version).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_expand_outbox_delivered"
down_revision = "0017_expand_image_list_name_asc"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM outbox WHERE delivered_at IS NOT NULL"))


def downgrade() -> None:
    pass
