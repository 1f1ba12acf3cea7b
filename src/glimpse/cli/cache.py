"""`glimpse cache list|queue|delete|clear|clean|prune|nodes`: this node's image cache, as its operator.

The commands run the cache API's use cases locally with the node's configuration (its cache directory and
database) as an administrator, so they work with no server running; a queued image is cached by this
node's worker (``glimpse serve`` or ``glimpse worker`` with the same configuration).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from glimpse.cli.options import config_option, run_services

T = TypeVar("T")

def _run(config_file: Path | None, call: Callable[[Any, Any], Coroutine[Any, Any, T]]) -> T:
    return run_services(config_file, lambda services, operator: call(services.cache, operator))


@click.group("cache")
def cache_group() -> None:
    """This node's image cache (image_cache_dir)."""


@cache_group.command("list")
@config_option
def cache_list(config_file: Path | None) -> None:
    """Print the cached images (size, hits, last access) and the queued ids as JSON."""
    click.echo(json.dumps(_run(config_file, lambda cache, ctx: cache.state(ctx)), indent=2))


@cache_group.command("queue")
@click.argument("image_ids", nargs=-1, required=True)
@config_option
def cache_queue(image_ids: tuple[str, ...], config_file: Path | None) -> None:
    """Queue active images for caching on this node."""

    async def queue(cache: Any, ctx: Any) -> None:
        for image_id in image_ids:
            await cache.queue_image(ctx, image_id)

    _run(config_file, queue)
    click.echo(f"queued {len(image_ids)} image(s)")


@cache_group.command("delete")
@click.argument("image_ids", nargs=-1, required=True)
@config_option
def cache_delete(image_ids: tuple[str, ...], config_file: Path | None) -> None:
    """Remove images from this node's cache and queue."""

    async def delete(cache: Any, ctx: Any) -> None:
        for image_id in image_ids:
            await cache.delete_entry(ctx, image_id)

    _run(config_file, delete)
    click.echo(f"deleted {len(image_ids)} image(s)")


@cache_group.command("clear")
@click.option("--target", type=click.Choice(["cache", "queue", "both"]), default="both", help="What to empty.")
@config_option
def cache_clear(target: str, config_file: Path | None) -> None:
    """Empty the cache, the queue, or both."""
    wanted = "" if target == "both" else target
    click.echo(json.dumps(_run(config_file, lambda cache, ctx: cache.clear(ctx, wanted))))


@cache_group.command("clean")
@config_option
def cache_clean(config_file: Path | None) -> None:
    """Remove stale partial files, invalid entries and entries of images no longer active."""
    _run(config_file, lambda cache, ctx: cache.clean(ctx))
    click.echo("cleaned")


@cache_group.command("prune")
@config_option
def cache_prune(config_file: Path | None) -> None:
    """Evict least recently used images until the cache is within image_cache_max_size."""
    click.echo(json.dumps(_run(config_file, lambda cache, ctx: cache.prune(ctx))))


@cache_group.command("nodes")
@click.argument("image_id")
@config_option
def cache_nodes(image_id: str, config_file: Path | None) -> None:
    """Print the nodes whose cache holds the image."""
    click.echo(json.dumps(_run(config_file, lambda cache, ctx: cache.nodes(ctx, image_id))))
