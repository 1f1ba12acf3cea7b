"""SQLAlchemy 2 typed models, one module per feature. Every change here needs an Alembic revision (CI checks
for drift). Importing this package registers every table on ``Base.metadata``."""

from glimpse.db.models.artifacts import (
    ArtifactBlobObjectRow,
    ArtifactBlobRow,
    ArtifactLockRow,
    ArtifactPropertyRow,
    ArtifactRow,
    ArtifactTagRow,
)
from glimpse.db.models.base import NAMING, Base
from glimpse.db.models.cache import CachedImageRow
from glimpse.db.models.catalog import CatalogAssetRow, CatalogInstallRow, CatalogRemoteRow
from glimpse.db.models.events import AuditRow, OutboxRow, WebhookDeliveryRow, WebhookRow
from glimpse.db.models.images import ImageLocationRow, ImageMemberRow, ImagePropertyRow, ImageRow, ImageTagRow
from glimpse.db.models.metadefs import (
    MetadefAssociationRow,
    MetadefNamespaceRow,
    MetadefObjectRow,
    MetadefPropertyRow,
    MetadefResourceTypeRow,
    MetadefTagRow,
)
from glimpse.db.models.quotas import QuotaLimitRow, QuotaProjectRow, QuotaReservationRow
from glimpse.db.models.tasks import TaskRow

__all__ = [
    "NAMING",
    "ArtifactBlobObjectRow",
    "ArtifactBlobRow",
    "ArtifactLockRow",
    "ArtifactPropertyRow",
    "ArtifactRow",
    "ArtifactTagRow",
    "AuditRow",
    "Base",
    "CachedImageRow",
    "CatalogAssetRow",
    "CatalogInstallRow",
    "CatalogRemoteRow",
    "ImageLocationRow",
    "ImageMemberRow",
    "ImagePropertyRow",
    "ImageRow",
    "ImageTagRow",
    "MetadefAssociationRow",
    "MetadefNamespaceRow",
    "MetadefObjectRow",
    "MetadefPropertyRow",
    "MetadefResourceTypeRow",
    "MetadefTagRow",
    "OutboxRow",
    "QuotaLimitRow",
    "QuotaProjectRow",
    "QuotaReservationRow",
    "TaskRow",
    "WebhookDeliveryRow",
    "WebhookRow",
]
