"""Encryption at rest: the sealed object format, written and read in a stream (``cryptography``'s AESGCM).

A sealed object is one header block followed by chunks::

    header (HEADER_SIZE = 4096 bytes, zero-padded)
        0   8  magic b"GLMPSEAL"
        8   1  format version (1)
        9   1  cipher (1: AES-256-GCM, the chunk nonces below)
       10   2  header size, big-endian (4096)
       12   4  sealed chunk size C, big-endian (65536: 65520 bytes of data and a 16-byte tag)
       16   7  nonce prefix (random, one per object)
       23   1  key id length L
       24   L  the key-encryption key's id (the Barbican secret's UUID), UTF-8
     24+L  12  wrap nonce (random)
     36+L   1  wrapped key length W (48)
     37+L   W  the data key (32 random bytes, one per object) sealed with AES-GCM under the key-encryption key,
               the header's bytes before the wrap nonce as associated data
    chunk i (i = 0, 1, ...): AESGCM(data key).encrypt(nonce_i, the i-th C-16 bytes of data, SHA-256(header))
        nonce_i = nonce prefix (7) || i (4, big-endian) || 1 for the last chunk, else 0 (1)

That is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, 2015): every chunk's position and
whether it is the last are in its nonce, so a chunk moved, dropped, repeated or cut off fails its tag, and so
does a stream cut at a chunk boundary (its new last chunk was not sealed as the last one). Every header byte
(the padding included) is in every chunk's associated data, and its fields in the data key's. A stream has
at least one chunk: empty data is one empty last chunk (the tag alone). The data key never leaves memory
unwrapped; the key-encryption key stays in the key manager and in the process's key cache.

Sealed chunks are 64 KiB, so after the 4 KiB header every block a sealer writes is a multiple of 4 KiB (the
filesystem store writes those with O_DIRECT); a range of the data is read as the chunks that cover it.
"""

from __future__ import annotations

import asyncio
import hashlib
import mmap
import os
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from glimpse.errors import StoreError
from glimpse.stores.base import Block

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"GLMPSEAL"
VERSION = 1
CIPHER_AES256_GCM = 1
HEADER_SIZE = 4096
CHUNK_SIZE = 64 * 1024  # sealed: data and tag
TAG = 16
PLAIN_CHUNK = CHUNK_SIZE - TAG
PREFIX = 7
DATA_KEY = 32
MAX_CHUNKS = 1 << 32
_FIXED = struct.Struct(">8sBBHI7sB")  # magic, version, cipher, header size, chunk size, nonce prefix, key id length

# the key-encryption key of an id (from the key manager, through the process's cache)
KeySource = Callable[[str], Awaitable[bytes]]


def _aesgcm(key: bytes) -> AESGCM:
    """AES-GCM under ``key`` (cryptography is imported when a store first seals or reads a sealed object: a
    server that never does has no use for its megabytes)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _invalid_tag() -> type[Exception]:
    from cryptography.exceptions import InvalidTag

    return InvalidTag


class SealBroken(StoreError):
    """A sealed object failed authentication: altered, truncated or reordered in its store, or sealed with a key
    that is not the one it names. Its bytes are never served."""


@dataclass(frozen=True, slots=True)
class Header:
    key_id: str
    nonce_prefix: bytes
    wrap_nonce: bytes
    wrapped_key: bytes
    chunk_size: int = CHUNK_SIZE
    raw: bytes = field(default=b"", repr=False)  # the whole header block as stored

    @property
    def plain_chunk(self) -> int:
        return self.chunk_size - TAG

    @property
    def aad(self) -> bytes:
        """Every chunk's associated data: the digest of the whole header block."""
        return hashlib.sha256(self.raw).digest()


def _fields(key_id: bytes, nonce_prefix: bytes, chunk_size: int) -> bytes:
    """The header's bytes the data key is wrapped under (everything before the wrap nonce)."""
    fixed = _FIXED.pack(MAGIC, VERSION, CIPHER_AES256_GCM, HEADER_SIZE, chunk_size, nonce_prefix, len(key_id))
    return fixed + key_id


def new_header(key_id: str, kek: bytes, *, chunk_size: int = CHUNK_SIZE) -> tuple[Header, bytes]:
    """A fresh object's header and its data key: random data key, nonce prefix and wrap nonce."""
    encoded = key_id.encode()
    if not 0 < len(encoded) < 256:
        raise ValueError("a key id is 1 to 255 bytes")
    data_key, prefix, wrap_nonce = os.urandom(DATA_KEY), os.urandom(PREFIX), os.urandom(12)
    fields = _fields(encoded, prefix, chunk_size)
    wrapped = _aesgcm(kek).encrypt(wrap_nonce, data_key, fields)
    body = fields + wrap_nonce + bytes([len(wrapped)]) + wrapped
    raw = body.ljust(HEADER_SIZE, b"\0")
    return Header(key_id, prefix, wrap_nonce, wrapped, chunk_size, raw), data_key


def is_sealed(raw: bytes) -> bool:
    return raw[: len(MAGIC)] == MAGIC


def parse_header(raw: bytes) -> Header:
    """The header of a sealed object (``raw``: its first HEADER_SIZE bytes); SealBroken when it is not one."""
    if len(raw) < HEADER_SIZE:
        raise SealBroken(f"the sealed object's header is cut short ({len(raw)} of {HEADER_SIZE} bytes)")
    raw = bytes(raw[:HEADER_SIZE])
    magic, version, cipher, size, chunk_size, prefix, key_length = _FIXED.unpack_from(raw)
    if magic != MAGIC:
        raise SealBroken("the object is not sealed (no header)")
    if (version, cipher, size) != (VERSION, CIPHER_AES256_GCM, HEADER_SIZE):
        raise SealBroken(f"unknown sealed format (version {version}, cipher {cipher}, header {size} bytes)")
    if not TAG < chunk_size <= 16 << 20:
        raise SealBroken(f"the sealed object's header names an impossible chunk size ({chunk_size})")
    at = _FIXED.size
    try:
        key_id = raw[at : at + key_length].decode()
    except UnicodeDecodeError:
        raise SealBroken("the sealed object's header has a malformed key id") from None
    at += key_length
    wrap_nonce, wrapped_length = raw[at : at + 12], raw[at + 12]
    wrapped = raw[at + 13 : at + 13 + wrapped_length]
    if wrapped_length != DATA_KEY + TAG or any(raw[at + 13 + wrapped_length :]):
        raise SealBroken("the sealed object's header was altered")
    return Header(key_id, prefix, wrap_nonce, wrapped, chunk_size, raw)


def unwrap(header: Header, kek: bytes) -> bytes:
    """The object's data key; SealBroken when the header was altered or ``kek`` is not the key it names."""
    fields = _fields(header.key_id.encode(), header.nonce_prefix, header.chunk_size)
    try:
        return _aesgcm(kek).decrypt(header.wrap_nonce, header.wrapped_key, fields)
    except _invalid_tag():
        raise SealBroken(f"the sealed object's data key does not open with key {header.key_id}") from None


def chunks_of(size: int, plain_chunk: int = PLAIN_CHUNK) -> int:
    """How many chunks ``size`` bytes of data are sealed in (empty data: one)."""
    return max(1, -(-size // plain_chunk))


def sealed_size(size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """The stored size of ``size`` bytes of data."""
    return HEADER_SIZE + size + TAG * chunks_of(size, chunk_size - TAG)


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + index.to_bytes(4, "big") + (b"\1" if last else b"\0")


class Sealer:
    """Seals one object: ``seal`` turns a stream of data blocks into the stored stream (the header block, then
    output blocks of whole sealed chunks, the last chunk when the data has ended). AES-GCM releases the GIL, so
    a large block is sealed in a worker thread while the event loop receives the next one. The output buffers
    are page-aligned and reused once the store is past them (``held``: how many blocks the store may still read
    after asking for the next, as ``fanout.held_blocks``; None: never reused)."""

    INLINE = 256 * 1024  # smaller blocks are sealed on the event loop (a thread hop would cost more)

    def __init__(self, header: Header, data_key: bytes, *, block_size: int = 4 << 20, held: int | None = None) -> None:
        self.header = header
        self._aead = _aesgcm(data_key)
        self._aad = header.aad
        self._prefix = header.nonce_prefix
        self._plain = header.plain_chunk
        self._per_block = max(1, block_size // header.chunk_size)
        # a block of data fills the buffer being filled and at most one more, while the store reads up to
        # ``held`` of those given out before
        self._ring = (held + 3) if held is not None else None
        self._buffers: list[mmap.mmap] = []
        self._turn = 0
        self._out = self._buffer()
        self._used = 0
        self._ready: list[memoryview] = []
        self._pending = bytearray(self._plain)  # data not sealed yet: possibly the last chunk
        self._waiting = 0
        self._index = 0

    def _buffer(self) -> memoryview:
        size = self._per_block * self.header.chunk_size
        if self._ring is None:
            return memoryview(bytearray(size))
        slot = self._turn % self._ring
        if slot == len(self._buffers):
            self._buffers.append(mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS))
        return memoryview(self._buffers[slot])

    def _put(self, data: memoryview, last: bool) -> None:
        end = self._used + len(data) + TAG
        if end > len(self._out):  # full: given out, and the next buffer of the ring
            self._ready.append(self._out[: self._used])
            self._turn += 1
            self._out, self._used, end = self._buffer(), 0, len(data) + TAG
        if self._index >= MAX_CHUNKS:
            raise StoreError("the data is too large for one sealed object")
        self._aead.encrypt_into(_nonce(self._prefix, self._index, last), data, self._aad, self._out[self._used : end])
        self._index += 1
        self._used = end

    def _feed(self, block: Block) -> list[memoryview]:
        """Seal what of ``block`` is known not to end the data; the buffers filled."""
        plain, view, at = self._plain, memoryview(block).cast("B"), 0
        if self._waiting and view:
            take = min(plain - self._waiting, len(view))
            self._pending[self._waiting : self._waiting + take] = view[:take]
            self._waiting, at = self._waiting + take, take
            if self._waiting == plain and at < len(view):  # more follows: not the last chunk
                self._put(memoryview(self._pending), False)
                self._waiting = 0
        while len(view) - at > plain:  # more follows this chunk: not the last one
            self._put(view[at : at + plain], False)
            at += plain
        if at < len(view):
            self._pending[: len(view) - at] = view[at:]
            self._waiting = len(view) - at
        ready, self._ready = self._ready, []
        return ready

    def _finish(self) -> list[memoryview]:
        self._put(memoryview(self._pending)[: self._waiting], True)
        return [*self._ready, self._out[: self._used]]

    def _header_block(self) -> memoryview:
        block = mmap.mmap(-1, HEADER_SIZE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        block[:] = self.header.raw
        return memoryview(block)

    async def seal(self, blocks: AsyncIterator[Block]) -> AsyncIterator[Block]:
        yield self._header_block()
        async for block in blocks:
            big = memoryview(block).nbytes >= self.INLINE
            for ready in await asyncio.to_thread(self._feed, block) if big else self._feed(block):
                yield ready
        for ready in self._finish():
            yield ready


class Unsealer:
    """Opens the chunks of one sealed object (its header parsed, its data key unwrapped)."""

    def __init__(self, header: Header, data_key: bytes) -> None:
        self.header = header
        self._aead = _aesgcm(data_key)
        self._aad = header.aad
        self._invalid = _invalid_tag()

    def open_chunk(self, index: int, sealed: Block, last: bool) -> bytes:
        """The data of chunk ``index``; SealBroken when it fails authentication."""
        try:
            return self._aead.decrypt(_nonce(self.header.nonce_prefix, index, last), sealed, self._aad)
        except self._invalid:
            where = "the last chunk" if last else f"chunk {index}"
            raise SealBroken(f"{where} of the sealed object failed authentication (altered, moved or cut)") from None

    def _open_chunks(self, source: Block, first: int, count: int) -> bytes:
        """The data of ``count`` whole chunks (none of them the last) at the start of ``source``."""
        chunk = self.header.chunk_size
        with memoryview(source) as view:
            return b"".join(self.open_chunk(first + n, view[n * chunk : (n + 1) * chunk], False) for n in range(count))

    async def unseal(
        self, stored: AsyncIterator[bytes], first: int, *, total: int | None, skip: int = 0, length: int | None = None
    ) -> AsyncIterator[bytes]:
        """The data of the chunks from ``first`` on, read from ``stored`` (the object from that chunk's
        offset), less ``skip`` bytes at the front and cut at ``length`` bytes. ``total`` is how many chunks the
        object has (from the data's size); None: the last chunk is the one the stream ends with. Nothing of a
        chunk is given out before its tag was checked."""
        chunk, plain = self.header.chunk_size, self.header.plain_chunk
        index, buffered, wanted = first, bytearray(), length
        async for piece in stored:
            if buffered:
                buffered += piece
            source: Block = buffered if buffered else piece  # whole chunks are opened where they lie
            size = len(source)
            # chunks before the last, or (their number unknown) a full chunk with more bytes after it
            count = max(0, (size - 1) // chunk) if total is None else max(0, min(size // chunk, total - 1 - index))
            if wanted is not None:
                count = min(count, -(-(skip + wanted) // plain))
            if count * chunk >= Sealer.INLINE:  # AES-GCM releases the GIL: the loop goes on meanwhile
                data = await asyncio.to_thread(self._open_chunks, source, index, count)
            else:
                data = self._open_chunks(source, index, count)
            if source is buffered:
                del buffered[: count * chunk]
            else:
                buffered = bytearray(memoryview(source)[count * chunk :])
            if not count:
                continue
            index += count
            if skip:
                data, skip = data[skip:], max(0, skip - len(data))
            if wanted is not None:
                data = data[:wanted]
                wanted -= len(data)
            if data:
                yield data
            if wanted is not None and wanted <= 0:
                return
        if total is not None and index != total - 1:
            raise SealBroken(f"the sealed object is cut short: chunk {index} of {total} is missing")
        if len(buffered) < TAG:
            raise SealBroken("the sealed object is cut short: its last chunk is missing")
        data = self.open_chunk(index, buffered, True)[skip:]
        if wanted is not None:
            data = data[:wanted]
        if data:
            yield data


def span(start: int, length: int, plain_chunk: int) -> tuple[int, int]:
    """The chunks covering ``length`` bytes of data from ``start``: (first, past the last)."""
    first = start // plain_chunk
    end = -(-(start + length) // plain_chunk) if length else first + 1
    return first, max(end, first + 1)
