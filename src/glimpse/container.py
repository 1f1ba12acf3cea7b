"""build_services(settings): the one place objects are wired together. No globals, no DI framework."""

from __future__ import annotations

from dataclasses import dataclass

from glimpse.auth import Authenticator, build_authenticator
from glimpse.auth.limits import KeystoneLimits, build_limit_session
from glimpse.data.atrest import AtRest
from glimpse.db import Database
from glimpse.domain.quotas import Resource
from glimpse.events import Events
from glimpse.events.notifier import sinks_for
from glimpse.keys import KeyManager, build_key_manager, service_credentials
from glimpse.keys.kek import KeyEncryptionKeys
from glimpse.metrics import Metrics
from glimpse.policy import Policy, PropertyProtections
from glimpse.services import fetch
from glimpse.services.artifacts import ArtifactService, ArtifactTypes, BlobService
from glimpse.services.artifacts.scrubber import Scrubber
from glimpse.services.audit import AuditLog
from glimpse.services.cache import CacheService, NodeCache
from glimpse.services.catalog.install import InstallService
from glimpse.services.catalog.legacy import LegacyImportService
from glimpse.services.catalog.subscribe import CatalogService
from glimpse.services.health import HealthService
from glimpse.services.image_data import ImageDataService
from glimpse.services.image_import import ImportService
from glimpse.services.image_keys import ImageKeys
from glimpse.services.images import ImageService
from glimpse.services.location_patch import LocationPatch
from glimpse.services.locations import LocationService
from glimpse.services.members import MemberService
from glimpse.services.metadefs import Metadefs
from glimpse.services.outbox import LoggingSink, Outbox
from glimpse.services.quotas import IMAGES, DatabaseLimits, LimitSource, QuotaService
from glimpse.services.remote_glance import RegionCatalog
from glimpse.services.schemas import Schemas
from glimpse.services.servers import ServerService
from glimpse.services.signatures import Signatures
from glimpse.services.stacks import StackService
from glimpse.services.stores import StoreService
from glimpse.services.tags import TagService
from glimpse.services.task_queue import TaskQueue
from glimpse.services.tasks import TaskService
from glimpse.services.webhooks import WebhookService
from glimpse.settings import Settings
from glimpse.stores.filesystem import FilesystemStore
from glimpse.stores.http import HttpStore
from glimpse.stores.registry import StoreRegistry, build_registry


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    db: Database
    stores: StoreRegistry
    policy: Policy
    schemas: Schemas
    auth: Authenticator
    images: ImageService
    image_data: ImageDataService
    members: MemberService
    tags: TagService
    store_info: StoreService
    metrics: Metrics
    health: HealthService
    imports: ImportService
    tasks: TaskService
    quotas: QuotaService[Resource]
    locations: LocationService
    metadefs: Metadefs
    queue: TaskQueue
    outbox: Outbox
    artifacts: ArtifactService
    artifact_blobs: BlobService
    artifact_scrubber: Scrubber
    cache: CacheService
    events: Events
    webhooks: WebhookService
    catalog: CatalogService
    audit: AuditLog
    catalog_installs: InstallService
    catalog_legacy: LegacyImportService
    stacks: StackService
    servers: ServerService

    def close(self) -> None:
        for sink in self.outbox.sinks:
            close = getattr(sink, "close", None)
            if close is not None:
                close()
        self.db.dispose()


def build_services(
    settings: Settings,
    *,
    db: Database | None = None,
    stores: StoreRegistry | None = None,
    auth: Authenticator | None = None,
    policy: Policy | None = None,
    metrics: Metrics | None = None,
) -> Services:
    stores = stores or build_registry(settings)
    metrics = metrics or Metrics(store.id for store in stores)
    db = db or Database(
        settings.database_url.get_secret_value(),
        busy_timeout=settings.database_busy_timeout,
        checkpoint_interval=settings.database_checkpoint_interval,
        replica_url=settings.database_slave_url.get_secret_value() or None,
        replica_max_lag=settings.database_replica_max_lag,
        on_replica_read=metrics.db_read,
        # a process stopped inside a transaction (SIGSTOP, a frozen VM) holds that transaction's row locks: a task's
        # and its image's when it stopped mid-heartbeat, which the reaper and the retry then wait on for ever. Once
        # it has been silent for as long as makes a worker count as dead, PostgreSQL ends that transaction
        idle_in_transaction=settings.task_stale_after,
    )
    policy = policy or Policy.from_settings(settings)
    schemas = Schemas(settings)
    protections = PropertyProtections.from_settings(settings, policy)
    quotas = QuotaService(db, build_limit_source(settings, db), IMAGES)
    images = ImageService(settings, db, policy, schemas, stores, protections, quotas)
    key_manager = build_key_manager(settings)
    images.signatures = Signatures(
        key_manager,
        required_for=settings.require_signed_images,
        default_trusted=settings.default_trusted_certificate_ids,
    )
    images.keys = ImageKeys(key_manager, required_for=settings.require_encrypted_images)
    assert settings.staging_dir is not None
    staging = FilesystemStore("os_glance_staging_store", settings.staging_dir)
    web = fetch_policy(settings)

    async def open_url(url: str) -> fetch.RemoteStream:
        return await fetch.open_stream(url, web)

    async def open_location(url: str) -> fetch.RemoteStream:
        return await fetch.open_location(url, web)

    for store in stores:  # http stores read their locations with web-download's filtering
        if isinstance(store, HttpStore):
            store.use_opener(open_location)

    async def check_import_uri(url: str) -> None:
        await fetch.check_import_uri(url, web)

    queue = TaskQueue(db)
    artifacts = ArtifactService(settings, db, policy, ArtifactTypes(settings.enabled_artifact_types), queue)
    # events go through the outbox to the notification sinks; with none configured, nothing is recorded
    notifiers = sinks_for(settings, protections)
    webhooks = WebhookService(settings, db, policy, queue, protections, web)
    fanouts = [webhooks] if settings.webhooks_enabled else []
    outbox = Outbox(queue, notifiers or ([] if fanouts else [LoggingSink()]), fanouts)
    events = Events(outbox if notifiers or fanouts else None, settings.disabled_notifications)
    imports = ImportService(settings, db, policy, images, stores, staging, open_url, check_import_uri, queue)
    if settings.auth == "keystone":  # glance-download finds other regions in the Keystone catalog
        imports.regions = RegionCatalog(settings, lambda: _keystone_session(settings))
    image_data = ImageDataService(settings, db, policy, images, stores, metrics)
    image_data.cache = NodeCache(settings, db, metrics) if settings.image_cache_dir is not None else None
    images.location_patch = LocationPatch(settings, policy, schemas, stores, lambda url: fetch.check_url(url, web))
    members = MemberService(settings, db, policy, images)
    tasks = TaskService(settings, db, policy, images, imports)
    metadefs = Metadefs.build(settings, db, policy)
    for service in (images, imports, image_data, members):
        service.events = events
    for metadef in (metadefs.namespaces, metadefs.objects, metadefs.properties, metadefs.tags, metadefs.resource_types):
        metadef.events = events
    artifact_blobs = BlobService(artifacts, db, stores, queue, lambda url: fetch.check_url(url, web), open_location)
    locations = LocationService(settings, db, policy, images, stores, lambda url: fetch.check_url(url, web), queue)
    at_rest = build_at_rest(settings, key_manager)
    for user in (image_data, imports, artifact_blobs, locations):
        user.at_rest = at_rest
    artifact_blobs.signatures = images.signatures
    catalog = CatalogService(settings, db, policy, queue)
    return Services(
        settings=settings,
        db=db,
        stores=stores,
        policy=policy,
        schemas=schemas,
        auth=auth or build_authenticator(settings, metrics),
        images=images,
        image_data=image_data,
        members=members,
        tags=TagService(settings, db, policy),
        store_info=StoreService(db, policy, stores),
        metrics=metrics,
        health=HealthService(db, stores),
        imports=imports,
        tasks=tasks,
        quotas=quotas,
        locations=locations,
        metadefs=metadefs,
        queue=queue,
        outbox=outbox,
        artifacts=artifacts,
        artifact_blobs=artifact_blobs,
        artifact_scrubber=Scrubber(artifacts),
        cache=CacheService(settings, db, policy, images, image_data, queue, image_data.cache),
        events=events,
        webhooks=webhooks,
        catalog=catalog,
        catalog_installs=InstallService(catalog, images, image_data, artifacts, artifact_blobs),
        catalog_legacy=LegacyImportService(catalog, images, image_data, artifacts, artifact_blobs),
        stacks=StackService(settings, artifacts, artifact_blobs),
        servers=ServerService(settings, images),
        audit=AuditLog(settings, db, policy),
    )


def build_at_rest(settings: Settings, key_manager: KeyManager) -> AtRest:
    """The stores that encrypt at rest and their keys, read from the key manager as the service user."""
    stores = settings.stores.items()
    readable = {name: store.at_rest_keys for name, store in stores if store.at_rest_keys}
    if not readable:
        return AtRest()
    sealing = {name: store.encrypt_at_rest_key for name, store in stores if store.encrypt_at_rest}
    keys = KeyEncryptionKeys(key_manager, service_credentials(settings), cache_time=settings.at_rest_key_cache_time)
    return AtRest(keys, sealing={name: key for name, key in sealing.items() if key}, readable=readable)


def build_limit_source(settings: Settings, db: Database) -> LimitSource:
    """Keystone's unified limits with ``use_keystone_limits``, else Glimpse's own table."""
    if not settings.use_keystone_limits:
        return DatabaseLimits(db)
    keystone, identity_url = build_limit_session(settings.oslo_limit, settings.keystone_authtoken)
    return KeystoneLimits(settings.oslo_limit, keystone, identity_url)


def fetch_policy(settings: Settings) -> fetch.FetchPolicy:
    """web-download's filtering, from Glance's [import_filtering_opts] names."""
    return fetch.FetchPolicy(
        allowed_schemes=tuple(settings.import_allowed_schemes),
        disallowed_schemes=tuple(settings.import_disallowed_schemes),
        allowed_hosts=tuple(settings.import_allowed_hosts),
        disallowed_hosts=tuple(settings.import_disallowed_hosts),
        allowed_ports=tuple(settings.import_allowed_ports),
        disallowed_ports=tuple(settings.import_disallowed_ports),
        max_bytes=settings.image_size_cap,
    )


def _keystone_session(settings: Settings) -> object:
    """The service user's Keystone session (its catalog names the other regions' image endpoints)."""
    from glimpse.auth.keystone import build_session

    return build_session(settings.keystone_authtoken)
