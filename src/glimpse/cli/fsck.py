"""`glimpse fsck` and the start-up recovery that `serve` and `worker` run."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from glimpse.cli.options import _settings, config_option
from glimpse.settings import Settings

if TYPE_CHECKING:
    from glimpse.db import Database
    from glimpse.services.fsck import Fsck

log = logging.getLogger("glimpse.cli.main")  # the logger name the command has always used


def _fsck(settings: Settings) -> tuple[Fsck, Database]:
    from glimpse.container import build_at_rest
    from glimpse.db import Database
    from glimpse.keys import build_key_manager
    from glimpse.services.fsck import Fsck
    from glimpse.stores.registry import build_registry

    db = Database(settings.database_url.get_secret_value(), busy_timeout=settings.database_busy_timeout)
    return Fsck(db, build_registry(settings), build_at_rest(settings, build_key_manager(settings))), db


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


@click.command()
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
