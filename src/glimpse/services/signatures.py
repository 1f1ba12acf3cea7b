"""Image signature verification, the use case: which data streams are verified, and with which certificate.

The verification itself is a stage of the data pipeline (``data/signature.py``); this module prepares it:
the properties are checked before any byte is read, the certificate is fetched from the key manager with
the caller's credentials while the data streams, and its key must fit the key type. A failure is a 400
(``SignatureVerificationFailed``) and leaves the image as it was; a key manager that cannot be reached is a
503 (``KeyManagerUnavailable``).

Certificate validation (Glimpse's, with Nova's semantics): the image's ``img_signature_trusted_certificate_ids``,
or else the operator's ``default_trusted_certificate_ids``, name the certificates the signing certificate must
chain to; they are fetched along with it, with the same credentials, and a trusted certificate the key manager
does not give is skipped (as cursive skips it).

Artifact blobs are verified the same way, in the same pipeline stage: the signature properties are in the
artifact's ``metadata`` (``blob_properties``), and a failure leaves the blob as it was.

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

import asyncio
import base64
import binascii
import logging
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from glimpse.context import RequestContext
from glimpse.data import signature
from glimpse.data.certificates import Trusted
from glimpse.data.signature import Certificates, Deferred, SignatureVerificationFailed, Verification
from glimpse.domain.images import Image, Status
from glimpse.errors import KeyManagerRefused
from glimpse.keys import Credentials, KeyManager, NoKeyManager, credentials_of

log = logging.getLogger(__name__)

# in an import task's input: {"uuid": ..., "der": base64, "trusted_ids": [...], "trusted": [{"uuid", "der"}],
# "unreadable": [...]} (the last three when the certificate is validated)
TASK_KEY = "signature_certificate"


class Signatures:
    def __init__(
        self,
        keys: KeyManager | None = None,
        *,
        required_for: Collection[str] = (),
        default_trusted: Sequence[str] = (),
    ) -> None:
        self.keys: KeyManager = keys if keys is not None else NoKeyManager()
        self.required_for = frozenset(required_for)  # project ids, or "*": unsigned data is refused
        self.default_trusted = tuple(default_trusted)  # certificate UUIDs: validate against these by default

    def requested(self, image: Image) -> signature.Requested | None:
        """What the image's properties ask for; SignatureVerificationFailed when its project requires a
        signature and they ask for none."""
        return self.requested_by(image.properties, image.owner)

    def requested_by(self, properties: Mapping[str, str], owner: str | None) -> signature.Requested | None:
        """What ``properties`` ask for (an image's, or an artifact blob's); SignatureVerificationFailed when
        ``owner``'s project requires a signature and they ask for none."""
        req = signature.requested(properties, self.default_trusted)
        if req is None and ("*" in self.required_for or owner in self.required_for):
            missing = [name for name in signature.PROPERTIES if name not in properties]
            raise SignatureVerificationFailed(
                f"project {owner} accepts signed image data only; missing: {', '.join(missing)}"
            )
        return req

    async def prepare(self, ctx: RequestContext, image: Image) -> Deferred | None:
        """The pipeline's check for the image's data (None: nothing to verify). The properties are checked
        now; the certificate is fetched while the data streams."""
        return self._deferred(ctx, self.requested(image))

    async def prepare_blob(self, ctx: RequestContext, metadata: Mapping[str, Any], path: str) -> Deferred | None:
        """The pipeline's check for an artifact blob's upload (None: nothing to verify): the signature
        properties its artifact's metadata holds for it (``blob_properties``), verified as an image's are."""
        return self._deferred(ctx, signature.requested(blob_properties(metadata, path), self.default_trusted))

    def _deferred(self, ctx: RequestContext, req: signature.Requested | None) -> Deferred | None:
        return None if req is None else Deferred(req, self._certificates(ctx, req))

    def already_verified(self, image: Image) -> bool:
        """A copy of this image's data needs no verification: its data passed the verification its signature
        properties ask for (with its certificate validated, when validation is asked for now), and the
        recorded multihash identifies those bytes."""
        if not (image.status == Status.ACTIVE and image.os_hash_value and signature.verified(image.properties)):
            return False
        validated = signature.VERIFIED_TRUST_CHAIN in image.properties
        return validated or not (signature.TRUSTED_CERTIFICATE_IDS in image.properties or self.default_trusted)

    async def task_input(self, ctx: RequestContext, image: Image, *, copy: bool = False) -> dict[str, Any]:
        """What an import task needs to verify later: the certificate, fetched (and checked) now."""
        if copy and self.already_verified(image):
            return {}
        req = self.requested(image)
        if req is None:
            return {}
        certificates = await self._certificates(ctx, req)
        signature.verification(req, certificates)  # a certificate that cannot serve is refused now, not later
        carried: dict[str, Any] = {"uuid": req.certificate_uuid, "der": _b64(certificates.signing)}
        if req.trusted_ids:
            carried["trusted_ids"] = list(req.trusted_ids)
            carried["trusted"] = [{"uuid": item.uuid, "der": _b64(item.der)} for item in certificates.trusted]
            carried["unreadable"] = list(certificates.unreadable)
        return {TASK_KEY: carried}

    def for_task(self, task_input: Mapping[str, Any], image: Image, *, copy: bool = False) -> Verification | None:
        """The check an import task runs, with the certificate its request fetched."""
        if copy and TASK_KEY not in task_input and self.already_verified(image):
            return None
        req = self.requested(image)
        if req is None:
            return None
        carried = task_input.get(TASK_KEY)
        if (
            not isinstance(carried, Mapping)
            or carried.get("uuid") != req.certificate_uuid
            or list(carried.get("trusted_ids", [])) != list(req.trusted_ids)
        ):
            raise SignatureVerificationFailed(
                "the image's signature properties changed after the import was requested; import it again"
            )
        try:
            certificates = Certificates(
                _unb64(carried.get("der")),
                tuple(Trusted(str(item["uuid"]), _unb64(item["der"])) for item in carried.get("trusted", [])),
                tuple(str(uuid) for uuid in carried.get("unreadable", [])),
            )
        except (binascii.Error, ValueError, TypeError, KeyError):
            raise SignatureVerificationFailed("the import task carries no readable certificate") from None
        return signature.verification(req, certificates)

    async def _certificates(self, ctx: RequestContext, req: signature.Requested) -> Certificates:
        """The signing certificate and, when ``req`` asks for validation, the trusted ones, fetched at once
        with the caller's credentials. A trusted certificate the key manager refuses is skipped (cursive
        skips it); the signing certificate's refusal is a 400, an unreachable key manager a 503."""
        try:
            credentials = credentials_of(ctx)
        except KeyManagerRefused as exc:
            raise SignatureVerificationFailed(
                f"Unable to retrieve certificate with ID {req.certificate_uuid}: {exc.message}"
            ) from None
        signing, *trusted = await asyncio.gather(
            self._certificate(credentials, req.certificate_uuid),
            *(self._trusted(credentials, uuid) for uuid in req.trusted_ids),
        )
        assert isinstance(signing, bytes)
        found = tuple(item for item in trusted if isinstance(item, Trusted))
        unreadable = tuple(uuid for uuid, item in zip(req.trusted_ids, trusted, strict=True) if item is None)
        return Certificates(signing, found, unreadable)

    async def _certificate(self, credentials: Credentials, uuid: str) -> bytes:
        try:
            return await self.keys.certificate(credentials, uuid)
        except KeyManagerRefused as exc:
            raise SignatureVerificationFailed(f"Unable to retrieve certificate with ID {uuid}: {exc.message}") from None

    async def _trusted(self, credentials: Credentials, uuid: str) -> Trusted | None:
        try:
            return Trusted(uuid, await self.keys.certificate(credentials, uuid))
        except KeyManagerRefused as exc:
            log.warning("skipping trusted certificate %s: %s", uuid, exc.message)
            return None


def blob_properties(metadata: Mapping[str, Any], path: str) -> dict[str, str]:
    """The signature properties of the blob at ``path`` (``field`` or ``field/key``, as in its URL) from its
    artifact's ``metadata``: the image properties' names suffixed with ``:<path>`` when any of those is
    there (an artifact with several signed blobs), else the plain names."""
    own = {name: metadata[f"{name}:{path}"] for name in signature.WATCHED if f"{name}:{path}" in metadata}
    chosen = own or {name: metadata[name] for name in signature.WATCHED if name in metadata}
    return {name: str(value) for name, value in chosen.items() if value is not None}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(value: object) -> bytes:
    return base64.b64decode(str(value if value is not None else ""), validate=True)
