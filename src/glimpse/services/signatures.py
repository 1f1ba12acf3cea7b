"""Image signature verification, the use case: which data streams are verified, and with which certificate.

The verification itself is a stage of the data pipeline (``data/signature.py``); this module prepares it:
the properties are checked before any byte is read, the certificate is fetched from the key manager with
the caller's credentials while the data streams, and its key must fit the key type. A failure is a 400
(``SignatureVerificationFailed``) and leaves the image as it was; a key manager that cannot be reached is a
503 (``KeyManagerUnavailable``).

An import runs later, in a worker, without the caller's token: the import request fetches the certificate
and the task carries it (``task_input``: the certificate is public data), so the worker verifies with the
certificate the caller was allowed to read. An image whose signature properties changed since is refused.

copy-image of an image whose data was verified (the read-only ``img_signature_verified_*`` record matches
its current signature properties) verifies nothing again and asks the key manager nothing: the copy is
checked against the image's recorded multihash, which was computed over the very bytes the signature was
verified against, so it is those bytes. That is what lets an admin copy another project's signed image:
Barbican lets a project's own members read its certificate, not another project's admin (Glance re-runs
the verifier with the admin's token and its copy task fails there). An image with signature properties but
no record (they were set after its data) is verified on copy as on upload, with the caller's credentials.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import signature
from glimpse.data.signature import Deferred, SignatureVerificationFailed, Verification
from glimpse.domain.images import Image, Status
from glimpse.errors import KeyManagerRefused
from glimpse.keys import KeyManager, NoKeyManager, credentials_of

TASK_KEY = "signature_certificate"  # in an import task's input: {"uuid": ..., "der": base64}


class Signatures:
    def __init__(self, keys: KeyManager | None = None, *, required_for: Collection[str] = ()) -> None:
        self.keys: KeyManager = keys if keys is not None else NoKeyManager()
        self.required_for = frozenset(required_for)  # project ids, or "*": unsigned data is refused

    def requested(self, image: Image) -> signature.Requested | None:
        """What the image's properties ask for; SignatureVerificationFailed when its project requires a
        signature and they ask for none."""
        req = signature.requested(image.properties)
        if req is None and ("*" in self.required_for or image.owner in self.required_for):
            missing = [name for name in signature.PROPERTIES if name not in image.properties]
            raise SignatureVerificationFailed(
                f"project {image.owner} accepts signed image data only; missing: {', '.join(missing)}"
            )
        return req

    async def prepare(self, ctx: RequestContext, image: Image) -> Deferred | None:
        """The pipeline's check for the image's data (None: nothing to verify). The properties are checked
        now; the certificate is fetched while the data streams."""
        req = self.requested(image)
        if req is None:
            return None
        return Deferred(req, self._certificate(ctx, req.certificate_uuid))

    @staticmethod
    def already_verified(image: Image) -> bool:
        """A copy of this image's data needs no verification: its data passed the verification its signature
        properties ask for, and the recorded multihash identifies those bytes."""
        return image.status == Status.ACTIVE and bool(image.os_hash_value) and signature.verified(image.properties)

    async def task_input(self, ctx: RequestContext, image: Image, *, copy: bool = False) -> dict[str, Any]:
        """What an import task needs to verify later: the certificate, fetched (and checked) now."""
        if copy and self.already_verified(image):
            return {}
        req = self.requested(image)
        if req is None:
            return {}
        der = await self._certificate(ctx, req.certificate_uuid)
        signature.verification(req, der)  # a certificate that cannot serve is refused now, not in the worker
        return {TASK_KEY: {"uuid": req.certificate_uuid, "der": base64.b64encode(der).decode()}}

    def for_task(self, task_input: Mapping[str, Any], image: Image, *, copy: bool = False) -> Verification | None:
        """The check an import task runs, with the certificate its request fetched."""
        if copy and TASK_KEY not in task_input and self.already_verified(image):
            return None
        req = self.requested(image)
        if req is None:
            return None
        carried = task_input.get(TASK_KEY)
        if not isinstance(carried, Mapping) or carried.get("uuid") != req.certificate_uuid:
            raise SignatureVerificationFailed(
                "the image's signature properties changed after the import was requested; import it again"
            )
        try:
            der = base64.b64decode(str(carried.get("der", "")), validate=True)
        except (binascii.Error, ValueError):
            raise SignatureVerificationFailed("the import task carries no readable certificate") from None
        return signature.verification(req, der)

    async def _certificate(self, ctx: RequestContext, uuid: str) -> bytes:
        try:
            return await self.keys.certificate(credentials_of(ctx), uuid)
        except KeyManagerRefused as exc:
            raise SignatureVerificationFailed(f"Unable to retrieve certificate with ID {uuid}: {exc.message}") from None
