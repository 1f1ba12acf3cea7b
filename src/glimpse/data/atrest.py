"""Encryption at rest, per store: which stores seal what they write, and the reading of what they hold.

Writing: the data pipeline asks ``sealers`` for a ``Sealer`` per target store that encrypts (a fresh data key,
wrapped by the store's key-encryption key) before the first byte, so a key manager that cannot be reached
fails the write before anything is stored; the fan-out then seals that store's copy of the stream (after the
hashes and the checks saw the data the client sent). Reading: ``open`` reads a sealed object's header, unwraps
its data key with the key it names (one of the store's keys) and decrypts only the chunks covering the range;
an object without a header (written before the store encrypted) is read as it is.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Collection, Mapping, Sequence

from glimpse.data import fanout
from glimpse.data.sealing import (
    CHUNK_SIZE,
    HEADER_SIZE,
    KeySource,
    SealBroken,
    Sealer,
    Unsealer,
    chunks_of,
    is_sealed,
    new_header,
    parse_header,
    sealed_size,
    span,
    unwrap,
)
from glimpse.stores.base import Store

log = logging.getLogger(__name__)


async def _nothing(_key_id: str) -> bytes:
    raise SealBroken("no key-encryption key is configured")


async def _read_all(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([bytes(piece) async for piece in stream])


class AtRest:
    def __init__(
        self,
        keys: KeySource = _nothing,
        *,
        sealing: Mapping[str, str] | None = None,
        readable: Mapping[str, Collection[str]] | None = None,
    ) -> None:
        """``sealing``: store id -> the key new objects are sealed under; ``readable``: store id -> every key its
        sealed objects may name (the current one and the old ones)."""
        self.keys = keys
        self.sealing = dict(sealing or {})
        self.readable = {store: frozenset(ids) for store, ids in (readable or {}).items()}
        for store, key_id in self.sealing.items():
            self.readable[store] = self.readable.get(store, frozenset()) | {key_id}

    def seals(self, store_id: str) -> bool:
        return store_id in self.sealing

    def keyed(self, store_id: str) -> bool:
        """Whether the store may hold sealed objects (it has at-rest keys, sealing new writes or not)."""
        return store_id in self.readable

    def stored_sizes(self, store_id: str, size: int) -> set[int]:
        """The sizes an object of ``size`` bytes of data may have in the store (plain, or sealed)."""
        return {size, sealed_size(size)} if self.keyed(store_id) else {size}

    async def sealers(
        self, stores: Sequence[Store], *, block_size: int, all_must_succeed: bool = True
    ) -> tuple[dict[str, Sealer], dict[str, BaseException]]:
        """A sealer (a new data key, wrapped) for each of ``stores`` that encrypts, and why a store got none:
        its key could not be read (KeyManagerUnavailable; raised at once when ``all_must_succeed``)."""
        made: dict[str, Sealer] = {}
        refused: dict[str, BaseException] = {}
        for store in stores:
            key_id = self.sealing.get(store.id)
            if key_id is None:
                continue
            try:
                kek = await self.keys(key_id)
            except Exception as exc:
                if all_must_succeed:
                    raise
                log.warning("store %s cannot seal (its key %s): %s", store.id, key_id, exc)
                refused[store.id] = exc
                continue
            header, data_key = new_header(key_id, kek, chunk_size=CHUNK_SIZE)
            made[store.id] = Sealer(header, data_key, block_size=block_size, held=fanout.held_blocks(store))
        return made, refused

    async def open(
        self, store: Store, url: str, start: int = 0, length: int | None = None, *, size: int | None = None
    ) -> AsyncIterator[bytes]:
        """The data of ``url`` from ``start`` (``length`` bytes, all when None), decrypted when it is sealed.

        ``size`` is the data's size when known (an image's, a blob's): the number of chunks follows, so a chunk
        cut off at the end is found even in a range. The header is read and the data key unwrapped here, before
        anything streams: NotFound, SealBroken (a StoreError) or KeyManagerUnavailable are raised by this call.
        """
        if not self.keyed(store.id):
            return aiter(store.open(url, start, length))
        head = await _read_all(store.open(url, 0, HEADER_SIZE))
        if not is_sealed(head):
            return aiter(store.open(url, start, length))
        header = parse_header(head)
        if header.key_id not in self.readable[store.id]:
            raise SealBroken(
                f"{url} is sealed under key {header.key_id}, which is not one of store {store.id}'s "
                f"(encrypt_at_rest_key, encrypt_at_rest_old_keys)"
            )
        unsealer = Unsealer(header, unwrap(header, await self.keys(header.key_id)))
        plain, chunk = header.plain_chunk, header.chunk_size
        total = chunks_of(size, plain) if size is not None else None
        if length is None and size is not None:
            length = max(0, size - start)
        if length is None:
            first, count = start // plain, None
        else:
            first, end = span(start, length, plain)
            if total is None:
                end += 1  # one chunk more: a chunk is known not to be the last by the bytes after it
            count = None if total is not None and end >= total else end - first
        stored = store.open(url, HEADER_SIZE + first * chunk, None if count is None else count * chunk)
        return unsealer.unseal(aiter(stored), first, total=total, skip=start - first * plain, length=length)

    async def stream(self, store: Store, url: str, *, size: int | None = None) -> AsyncIterator[bytes]:
        """All the data of ``url`` (as ``open``), opened when first read: what a reader that streams it into the
        data pipeline wants (its failures are the pipeline's)."""
        async for piece in await self.open(store, url, size=size):
            yield piece
