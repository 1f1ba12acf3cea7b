"""THE data pipeline: every byte uploaded, staged, imported or read from a location goes through ``run``.

    source chunks -> reblock (blocks.py: large page-aligned pooled blocks, one copy)
                  -> size cap and declared size (limits.py)
                  -> quota hook (the project's claim covers the bytes before they go on)
                  -> format inspection (inspect.py: a bounded prefix and the last bytes)
                  -> hashes, each algorithm in its own thread (hashing.py)
                  -> checks of the whole stream's digest (signature.py: signature verification), before
                     the stores are told the data is complete
                  -> fan-out to the stores, each through its own bounded queue (fanout.py)
                  -> for each store that encrypts at rest, its own copy of the stream sealed (sealing.py,
                     atrest.py: a data key per stored object; the last chunk sealed once the checks passed)

Each stage is chosen by the ``Plan``: staging hashes nothing and inspects nothing (the import does both),
an upload hashes md5 and the multihash and inspects a ``bare`` container's data, a location import writes
to no store. The result says what the stream was: its size, its digests, its inspection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from glimpse.data import fanout
from glimpse.data.atrest import AtRest
from glimpse.data.blocks import BlockPool, Lease, reblock
from glimpse.data.hashing import Hashes
from glimpse.data.inspect import Inspect
from glimpse.data.limits import SizeLimits
from glimpse.data.sealing import Sealer
from glimpse.domain.formats import Inspection
from glimpse.domain.images import Digests
from glimpse.stores.base import Store, StoredObject


class Check(Protocol):
    """A verdict on the whole stream from its digest (``signature.Verification``): the pipeline hashes the
    data with ``algorithm`` along with its own hashes and calls ``check`` with the digest once the last byte
    has passed, before any store is told the data is complete; raising there leaves nothing stored."""

    @property
    def algorithm(self) -> str: ...

    async def check(self, digest: bytes) -> None: ...

    def recorded(self) -> dict[str, str]:
        """The (read-only) image properties that say the check passed, and how."""
        ...


@dataclass(frozen=True, slots=True)
class Plan:
    block_size: int
    cap: int
    expected: int | None = None  # the size the client declared: the data must have exactly this many bytes
    algorithms: tuple[str, ...] = ()  # e.g. ("md5", "sha512"); none for staging
    inspect: bool = False
    quota: Callable[[int], Awaitable[None]] | None = None  # awaited with the size so far before each block
    progress: Callable[[int], None] | None = None  # told the size so far after each block
    sealing: AtRest | None = None  # encryption at rest: the stores that seal their copy, and their keys
    checks: tuple[Check, ...] = ()  # signature verification: each digest checked at the end of the stream


@dataclass(slots=True)
class Outcome:
    size: int = 0  # bytes that passed the limits, a whole block at a time
    received: int = 0  # bytes read from the source, chunk by chunk (what a metric of bytes in counts)
    hexdigests: dict[str, str] = field(default_factory=dict)
    inspection: Inspection | None = None
    stored: dict[str, StoredObject] = field(default_factory=dict)
    failures: dict[str, BaseException] = field(default_factory=dict)
    verified: dict[str, str] = field(default_factory=dict)  # what the checks that passed record

    def digests(self, algorithm: str, *, virtual_size: int | None = None) -> Digests:
        """What an image records: the size, md5 as ``checksum`` and ``algorithm`` as the multihash."""
        return Digests(
            size=self.size,
            checksum=self.hexdigests.get("md5"),
            hash_algo=algorithm,
            hash_value=self.hexdigests.get(algorithm),
            virtual_size=virtual_size,
            verified=tuple(sorted(self.verified.items())),
        )


async def _counted(source: AsyncIterator[bytes], out: Outcome) -> AsyncIterator[bytes]:
    async for chunk in source:
        out.received += len(chunk)
        yield chunk


async def _stages(source: AsyncIterator[bytes], plan: Plan, pool: BlockPool, out: Outcome) -> AsyncIterator[Lease]:
    limits = SizeLimits(plan.cap, plan.expected)
    inspect = Inspect() if plan.inspect else None
    async with Hashes(plan.algorithms + tuple(check.algorithm for check in plan.checks)) as hashes:
        async for lease in reblock(_counted(source, out), pool):
            try:
                limits.add(len(lease.view))
                out.size = limits.size
                if plan.quota is not None:
                    await plan.quota(limits.size)
                if inspect is not None:
                    inspect.feed(lease.view)
                await hashes.feed(lease)
            except BaseException:
                lease.release()
                raise
            if plan.progress is not None:
                plan.progress(limits.size)
            yield lease
        limits.finish()
    out.size = limits.size
    hexdigests = hashes.hexdigests()
    for check in plan.checks:  # one digest per algorithm however many stores the blocks go to
        await check.check(bytes.fromhex(hexdigests[check.algorithm]))
        out.verified.update(check.recorded())
    out.hexdigests = {algorithm: hexdigests[algorithm] for algorithm in plan.algorithms}
    out.inspection = inspect.result() if inspect is not None else None


async def run(
    source: AsyncIterator[bytes],
    plan: Plan,
    stores: list[Store],
    key: str,
    *,
    size_hint: int | None = None,
    all_must_succeed: bool = True,
    out: Outcome | None = None,
) -> Outcome:
    """Stream ``source`` through the stages of ``plan`` into ``stores`` (none: read and check only).

    Raises what a stage or a store raised; with ``all_must_succeed`` a failed store stops the stream and
    what the others wrote is removed, else the failed stores are listed in ``Outcome.failures``. ``out`` (a
    fresh one when not given) counts the bytes as they pass, so a caller sees the size even after a failure.
    """
    out = out if out is not None else Outcome()
    sealers: dict[str, Sealer] = {}
    refused: dict[str, BaseException] = {}
    if plan.sealing is not None:  # before the first byte: a store whose key cannot be read gets nothing
        sealers, refused = await plan.sealing.sealers(
            stores, block_size=plan.block_size, all_must_succeed=all_must_succeed
        )
        if refused and len(refused) == len(stores):
            raise next(iter(refused.values()))
        stores = [store for store in stores if store.id not in refused]
    pool = BlockPool(plan.block_size, recycle=fanout.can_recycle(stores))
    try:
        out.stored, failures = await fanout.write(
            stores,
            key,
            _stages(source, plan, pool, out),
            size_hint=size_hint,
            all_must_succeed=all_must_succeed,
            sealers=sealers,
        )
        out.failures = {**refused, **failures}
    finally:
        pool.close()
    return out
