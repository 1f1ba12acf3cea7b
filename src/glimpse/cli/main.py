"""The `glimpse` command: serve, worker, fsck, artifacts serve/scrub, db upgrade/check, quota set/show,
metadefs load/unload/export, settings show, token create, policy sample, cache ..., catalog ....

Each command (or group of commands) lives in its own module of this package; this one only puts them
under `glimpse`.
"""

from __future__ import annotations

import logging

import click

# what the commands share, importable from here as before
from glimpse.cli.options import _settings as _settings
from glimpse.cli.options import config_option as config_option


@click.group()
def main() -> None:
    """Glimpse: an image registry that speaks the Glance Images API v2."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def _add_commands() -> None:
    from glimpse.cli.artifacts import artifacts_group
    from glimpse.cli.cache import cache_group
    from glimpse.cli.catalog import catalog_group
    from glimpse.cli.config import policy_group, settings_group, token
    from glimpse.cli.db import db
    from glimpse.cli.fsck import fsck
    from glimpse.cli.metadefs import metadefs
    from glimpse.cli.quota import quota
    from glimpse.cli.server import serve, worker

    for command in (serve, artifacts_group, fsck, worker, db, quota, metadefs, settings_group, token, policy_group):
        main.add_command(command)
    main.add_command(cache_group)
    main.add_command(catalog_group)


_add_commands()

if __name__ == "__main__":
    main()
