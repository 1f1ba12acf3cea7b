"""The `glimpse` command: serve, artifacts serve/scrub, worker, fsck, db upgrade/check, quota set/show,
metadefs load/unload/export,
settings show, token create, policy sample."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from glimpse.cli.options import config_option
from glimpse.settings import Settings, load_settings

if TYPE_CHECKING:
    from glimpse.db import Database
    from glimpse.services.fsck import Fsck

log = logging.getLogger(__name__)

def _settings(config_file: Path | None, **overrides: object) -> Settings:
    """The settings; from here on the configured secrets are masked in whatever the command logs."""
    from glimpse.logs import mask_secrets

    try:
        settings = load_settings(config_file, None, **overrides)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    mask_secrets(settings.secrets())
    return settings


@click.group()
def main() -> None:
    """Glimpse: an image registry that speaks the Glance Images API v2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 9292).")
@config_option
def serve(host: str | None, port: int | None, config_file: Path | None) -> None:
    """Run the API server."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file, host=host, port=port)
    # before the imports below log anything
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from glimpse.app import create_app
    from glimpse.auth.tokens import ensure_admin_token
    from glimpse.db.migrate import upgrade
    from glimpse.services.fsck import DataDirLock, claim_data_dir

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    if settings.auth == "tokens":
        assert settings.token_file is not None
        token = ensure_admin_token(settings.token_file)
        if token is not None:
            click.echo(f"Created an admin token (shown once; only its digest is kept in {settings.token_file}):")
            click.echo(f"  export OS_AUTH_TOKEN={token}")
            click.echo(f"  export OS_IMAGE_URL=http://{settings.host}:{settings.port}")
    # held shared while this process serves; a crash leaves no lock behind
    data_dir_lock = DataDirLock(settings.data_dir)
    claim_data_dir(data_dir_lock, lambda: _recover(settings))
    # several worker processes: each builds its own app from the same file and environment
    app: Any = create_app(settings) if settings.workers <= 1 else "glimpse.app:app_from_environment"
    if settings.workers > 1 and config_file is not None:
        os.environ["GLIMPSE_CONFIG"] = str(config_file)
    # JSON logs: uvicorn's own loggers get no handlers of their own and reach ours through the root logger
    log_config = None if settings.log_format == "json" else _masked(LOGGING_CONFIG, settings.secrets())
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=log_config,
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=30,
    )


@main.group("artifacts")
def artifacts_group() -> None:
    """The artifacts API (Glare's v1) as its own endpoint."""


@artifacts_group.command("serve")
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 9494).")
@config_option
def artifacts_serve(host: str | None, port: int | None, config_file: Path | None) -> None:
    """Run the artifacts API server (same database, stores, auth and policy as `glimpse serve`)."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file, artifacts_host=host, artifacts_port=port)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from glimpse.app import create_artifacts_app
    from glimpse.db.migrate import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    app: Any = create_artifacts_app(settings) if settings.workers <= 1 else "glimpse.app:artifacts_app_from_environment"
    if settings.workers > 1 and config_file is not None:
        os.environ["GLIMPSE_CONFIG"] = str(config_file)
    uvicorn.run(
        app,
        factory=settings.workers > 1,
        workers=settings.workers,
        host=settings.artifacts_host,
        port=settings.artifacts_port,
        log_level=settings.log_level.lower(),
        log_config=None if settings.log_format == "json" else _masked(LOGGING_CONFIG, settings.secrets()),
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_keep_alive=30,
    )


@artifacts_group.command("scrub")
@config_option
def artifacts_scrub(config_file: Path | None) -> None:
    """Remove every artifact deleted with delayed_delete now (Glare's scrubber run once; a worker scrubs each
    deleted artifact by itself)."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    import asyncio

    from glimpse.container import build_services

    async def run() -> int:
        services = build_services(settings)
        try:
            return await services.artifact_scrubber.scrub()
        finally:
            services.close()

    click.echo(f"scrubbed {asyncio.run(run())} deleted artifact(s)")


def _masked(config: dict[str, Any], secrets: list[str]) -> dict[str, Any]:
    """uvicorn's logging configuration with a SecretMask on each of its handlers (they do not reach ours);
    picklable, for the worker processes of ``workers > 1``."""
    handlers = {name: {**handler, "filters": [*handler.get("filters", []), "secrets"]}
                for name, handler in config.get("handlers", {}).items()}  # fmt: skip
    mask = {"()": "glimpse.logs.SecretMask", "secrets": secrets}
    return {**config, "filters": {**config.get("filters", {}), "secrets": mask}, "handlers": handlers}


def _fsck(settings: Settings) -> tuple[Fsck, Database]:
    from glimpse.db import Database
    from glimpse.services.fsck import Fsck
    from glimpse.stores.registry import build_registry

    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return Fsck(db, build_registry(settings)), db


def _recover(settings: Settings) -> None:
    """The start-up recovery; a failure is logged and the server starts all the same."""
    import asyncio

    if not settings.recover_on_start:
        log.info("start-up recovery is off (recover_on_start = false)")
        return
    checker, db = _fsck(settings)
    try:
        asyncio.run(checker.recover())
    except Exception:
        log.exception("start-up recovery failed; run `glimpse fsck` to see what needs repair")
    finally:
        db.dispose()


class FsckFailed(click.ClickException):
    exit_code = 2


@main.command()
@click.option("--repair", is_flag=True, help="Delete orphan data; put uploads interrupted by a crash back to queued.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@config_option
def fsck(repair: bool, as_json: bool, config_file: Path | None) -> None:
    """Check that the stores and the database agree. Exits 1 when problems remain, 2 when it cannot check."""
    import asyncio

    from glimpse.services.fsck import DataDirLock

    settings = _settings(config_file)
    lock = DataDirLock(settings.data_dir)
    try:
        alone = lock.try_exclusive()  # False: a glimpse serve uses this data directory right now
        checker, db = _fsck(settings)
        try:
            report = asyncio.run(checker.check(repair=repair, uploads_may_run=not alone))
        except Exception as exc:
            cause = f" ({str(exc.__cause__).strip().splitlines()[0]})" if str(exc.__cause__ or "").strip() else ""
            raise FsckFailed(f"fsck could not run: {getattr(exc, 'message', None) or exc}{cause}") from exc
        finally:
            db.dispose()
    finally:
        lock.release()
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else report.render())
    sys.exit(0 if report.clean else 1)


@main.command()
@config_option
def worker(config_file: Path | None) -> None:
    """Run a task worker (imports) without the API; run as many as you like against one database."""
    from glimpse.logs import configure_logging

    settings = _settings(config_file)
    configure_logging(settings.log_format, settings.log_level, settings.secrets())

    import asyncio
    import signal

    from glimpse.container import build_services
    from glimpse.jobs.worker import Worker
    from glimpse.services.fsck import DataDirLock, claim_data_dir

    # a worker writes into the stores like a server: held shared, the lock keeps `glimpse fsck --repair` and
    # a starting server's recovery away from the unfinished writes of imports it is running
    data_dir_lock = DataDirLock(settings.data_dir)
    claim_data_dir(data_dir_lock, lambda: _recover(settings))

    async def run() -> None:
        services = build_services(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            await Worker.from_services(services).run_forever(stop)
        finally:
            services.close()

    asyncio.run(run())


@main.group()
def db() -> None:
    """Database schema management."""


@db.command("upgrade")
@config_option
def db_upgrade(config_file: Path | None) -> None:
    """Migrate the database to the newest schema."""
    from glimpse.db.migrate import current_revision, upgrade

    settings = _settings(config_file)
    upgrade(settings.database_url.get_secret_value())
    click.echo(f"database at revision {current_revision(settings.database_url.get_secret_value())}")


@db.command("check")
@config_option
def db_check(config_file: Path | None) -> None:
    """Fail when the database is not at head or the models drifted from the migrations."""
    from glimpse.db.migrate import current_revision, drift, head_revision

    settings = _settings(config_file)
    current, head = current_revision(settings.database_url.get_secret_value()), head_revision()
    if current != head:
        raise click.ClickException(f"database at {current}, migrations head is {head}: run `glimpse db upgrade`")
    differences = drift(settings.database_url.get_secret_value())
    if differences:
        raise click.ClickException(f"models and migrations differ: {differences}")
    click.echo(f"database at head {head}, no drift")


@main.group()
def quota() -> None:
    """Per-project image quotas (Glimpse's own limits; with use_keystone_limits they live in Keystone)."""


def _quota_service(settings: Settings) -> tuple[Any, Database]:
    from glimpse.container import build_limit_source
    from glimpse.db import Database
    from glimpse.db.migrate import upgrade
    from glimpse.services.quotas import IMAGES, QuotaService

    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return QuotaService(db, build_limit_source(settings, db), IMAGES), db


@quota.command("set")
@click.option("--project", default=None, help="The project whose limits change.")
@click.option("--default", "for_all", is_flag=True, help="Change the default of every project without its own.")
@click.argument("limits", nargs=-1, required=True)
@config_option
def quota_set(project: str | None, for_all: bool, limits: tuple[str, ...], config_file: Path | None) -> None:
    """Set limits: RESOURCE=VALUE ... (sizes in MiB, -1 unlimited, `unset` removes the project's own).

    Resources: image_size_total, image_stage_total, image_count_total, image_count_uploading.
    """
    import asyncio

    from glimpse.domain.quotas import parse_resource
    from glimpse.errors import GlimpseError

    if (project is None) == (not for_all):
        raise click.UsageError("give either --project or --default")
    settings = _settings(config_file)
    if settings.use_keystone_limits:
        raise click.ClickException(
            "use_keystone_limits is on: limits live in Keystone (`openstack registered limit create`, "
            "`openstack limit create`)"
        )
    changes: dict[Any, int | None] = {}
    try:
        for item in limits:
            name, sep, raw = item.partition("=")
            if not sep:
                raise click.UsageError(f"{item!r}: expected RESOURCE=VALUE")
            value = None if raw.strip() == "unset" else int(raw)
            if value is not None and value < -1:
                raise click.UsageError(f"{item!r}: a limit is -1 (unlimited) or more")
            changes[parse_resource(name.strip())] = value
    except ValueError as exc:
        raise click.UsageError(f"not a whole number: {exc}") from exc
    except GlimpseError as exc:
        raise click.UsageError(exc.message) from exc
    service, db = _quota_service(settings)
    try:
        asyncio.run(service.set_limits("*" if for_all else str(project), changes))
    finally:
        db.dispose()
    click.echo(f"limits of {'every project' if for_all else project} updated")


@quota.command("show")
@click.option("--project", required=True, help="The project to report on.")
@config_option
def quota_show(project: str, config_file: Path | None) -> None:
    """Print the project's limit and usage of each resource as JSON (sizes in MiB, -1 unlimited)."""
    import asyncio

    from glimpse.errors import GlimpseError

    settings = _settings(config_file)
    service, db = _quota_service(settings)
    try:
        usage = asyncio.run(service.usage(project))
    except GlimpseError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    click.echo(json.dumps({"project": project, "usage": usage}, indent=2))


@main.group()
def metadefs() -> None:
    """Metadata definitions: load, unload and export the JSON files of `glance-manage db load_metadefs`."""


def _metadef_loader(config_file: Path | None) -> tuple[Any, Database]:
    from glimpse.db import Database
    from glimpse.db.migrate import upgrade
    from glimpse.services.metadefs.loader import MetadefLoader

    settings = _settings(config_file)
    if settings.auto_migrate:
        upgrade(settings.database_url.get_secret_value())
    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return MetadefLoader(db), db


@metadefs.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--merge", is_flag=True, help="Also fill namespaces already in the database with what they lack.")
@click.option("--prefer-new", is_flag=True, help="With --merge: the files' values win over the database's.")
@click.option("--overwrite", is_flag=True, help="With --merge: replace those namespaces by the files' versions.")
@config_option
def metadefs_load(path: Path, merge: bool, prefer_new: bool, overwrite: bool, config_file: Path | None) -> None:
    """Load every *.json file of PATH (a directory or one file); each file is one namespace."""
    if (prefer_new or overwrite) and not merge:
        raise click.UsageError("--prefer-new and --overwrite only go with --merge")
    if prefer_new and overwrite:
        raise click.UsageError("give --prefer-new or --overwrite, not both")
    loader, db = _metadef_loader(config_file)
    try:
        report = loader.load(path, merge=merge, prefer_new=prefer_new, overwrite=overwrite)
    finally:
        db.dispose()
    for label, names in (("loaded", report.loaded), ("merged", report.merged), ("skipped (exists)", report.skipped)):
        for name in names:
            click.echo(f"{label}: {name}")
    for file, why in report.failed:
        click.echo(f"failed: {file}: {why}", err=True)
    click.echo(
        f"{len(report.loaded)} loaded, {len(report.merged)} merged, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed"
    )
    if report.failed:
        sys.exit(1)


@metadefs.command("unload")
@config_option
def metadefs_unload(config_file: Path | None) -> None:
    """Remove every namespace and what it holds (the standard resource types stay)."""
    loader, db = _metadef_loader(config_file)
    try:
        count = loader.unload()
    finally:
        db.dispose()
    click.echo(f"{count} namespaces removed")


@metadefs.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@config_option
def metadefs_export(directory: Path, config_file: Path | None) -> None:
    """Write every namespace to DIRECTORY as <namespace>.json, in the shape `load` reads."""
    loader, db = _metadef_loader(config_file)
    try:
        written = loader.export(directory)
    finally:
        db.dispose()
    click.echo(f"{len(written)} namespaces written to {directory}")


@main.group("settings")
def settings_group() -> None:
    """Inspect the effective settings."""


@settings_group.command("show")
@config_option
def settings_show(config_file: Path | None) -> None:
    """Print the effective settings (secrets masked) as JSON."""
    json.dump(_settings(config_file).masked(), sys.stdout, indent=2, sort_keys=True)
    click.echo()


@main.group()
def token() -> None:
    """Static tokens for the embedded `tokens` auth mode."""


@token.command("create")
@click.option("--user", required=True)
@click.option("--project", required=True)
@click.option("--role", "roles", multiple=True, default=["member", "reader"], show_default=True)
@config_option
def token_create(user: str, project: str, roles: tuple[str, ...], config_file: Path | None) -> None:
    """Add a token to the token file and print it (only its digest is stored)."""
    from glimpse.auth.tokens import add_token

    settings = _settings(config_file)
    assert settings.token_file is not None
    click.echo(add_token(settings.token_file, user, project, list(roles)))


@main.group("policy")
def policy_group() -> None:
    """Authorization policy (oslo.policy, Glance's rule names)."""


@policy_group.command("sample")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write to FILE instead of standard output.",
)
@config_option
def policy_sample(output: Path | None, config_file: Path | None) -> None:
    """Print every policy rule with its default, commented, as YAML: a starting point for policy.yaml."""
    from glimpse.policy.sample import sample_yaml

    text = sample_yaml(_settings(config_file).enable_manager_role)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _add_groups() -> None:
    from glimpse.cli.cache import cache_group
    from glimpse.cli.catalog import catalog_group

    main.add_command(cache_group)
    main.add_command(catalog_group)


_add_groups()

if __name__ == "__main__":
    main()
