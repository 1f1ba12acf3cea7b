"""Image signature verification, a stage of the data pipeline: the data is verified while it streams.

The four ``img_signature*`` properties mean what they mean to cursive (the library Glance and Nova verify
with), and verification follows it exactly:

- it happens only when all four are set (``requested``); the signature is base64, the hash method one of
  SHA-224/256/384/512, the key type ``RSA-PSS`` (MGF1 with the same hash, the maximum salt length), ``DSA`` or
  ``ECC_<curve>`` for the curves of cursive's list that the installed ``cryptography`` supports;
- the certificate is the X.509 one the key manager holds under ``img_signature_certificate_uuid``, and its
  public key must be of the kind the key type names;
- the signature is over the digest of the whole data (``Prehashed``).

Beyond Glance, Nova's certificate validation: when the image names trusted certificates
(``img_signature_trusted_certificate_ids``, Nova's ``trusted_certificate_ids``) or the operator set
``default_trusted_certificate_ids``, the signing certificate must chain to them (``data/certificates.py``)
before its key is used.

The pipeline hashes the data once per algorithm: when the signature's hash is the image's multihash
(``sha512`` by default) verification costs one public-key operation at the end of the stream and nothing
per byte. The verdict comes before the stores are told the data is complete, so a bad signature leaves
nothing behind. ``cryptography`` does the mathematics; nothing here is hand-made crypto.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime
import functools
import re
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from glimpse.data.certificates import MAX_TRUSTED, Trusted, validate
from glimpse.errors import BadRequest

if TYPE_CHECKING:  # cryptography (and OpenSSL, about 12 MiB of RSS) is loaded by the first signed image
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

SIGNATURE, HASH_METHOD, KEY_TYPE, CERTIFICATE_UUID = (
    "img_signature",
    "img_signature_hash_method",
    "img_signature_key_type",
    "img_signature_certificate_uuid",
)
PROPERTIES = (SIGNATURE, HASH_METHOD, KEY_TYPE, CERTIFICATE_UUID)
# Glimpse's: the key-manager UUIDs of the certificates the signing certificate must chain to (Nova's
# trusted_certificate_ids), comma- or space-separated; it asks for signed data
TRUSTED_CERTIFICATE_IDS = "img_signature_trusted_certificate_ids"
WATCHED = (*PROPERTIES, TRUSTED_CERTIFICATE_IDS)  # a change to any of them drops the verification record
# read-only, set by Glimpse when the data passed: the certificate verified with, its SHA-256 fingerprint, and
# (when certificates were validated) the trusted certificates it chained through, its issuer first
VERIFIED_CERTIFICATE_UUID = "img_signature_verified_certificate_uuid"
VERIFIED_CERTIFICATE_SHA256 = "img_signature_verified_certificate_sha256"
VERIFIED_TRUST_CHAIN = "img_signature_verified_trust_chain"
VERIFIED = (VERIFIED_CERTIFICATE_UUID, VERIFIED_CERTIFICATE_SHA256, VERIFIED_TRUST_CHAIN)
MAX_ID_LENGTH = 255

# the hash method's name -> the pipeline's hashlib name (and cryptography's algorithm class of that name)
HASH_METHODS: dict[str, str] = {"SHA-224": "sha224", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}
RSA_PSS, DSA = "RSA-PSS", "DSA"
_ECC_CURVES = ("SECT571K1", "SECT409K1", "SECT571R1", "SECT409R1", "SECP521R1", "SECP384R1")


def _hash(hash_method: str) -> hashes.HashAlgorithm:
    from cryptography.hazmat.primitives import hashes

    algorithm: hashes.HashAlgorithm = getattr(hashes, hash_method.replace("-", ""))()
    return algorithm


@functools.cache
def ecc_key_types() -> dict[str, type[ec.EllipticCurve]]:
    """The ``ECC_<curve>`` key types of cursive's list that this OpenSSL build really supports (asked once)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import ec

    curves: dict[str, type[ec.EllipticCurve]] = {}
    for name in _ECC_CURVES:
        curve = getattr(ec, name, None)
        if curve is None:
            continue
        try:
            ec.generate_private_key(curve())  # what this OpenSSL build really supports
        except (UnsupportedAlgorithm, ValueError):
            continue
        curves[f"ECC_{name}"] = curve
    return curves


def key_types() -> tuple[str, ...]:
    return (RSA_PSS, DSA, *ecc_key_types())


class SignatureVerificationFailed(BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__(f"Signature verification failed: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Requested:
    """What the properties ask for, checked before any byte is read or the key manager is asked."""

    certificate_uuid: str
    hash_method: str
    key_type: str
    signature: bytes = field(repr=False)
    trusted_ids: tuple[str, ...] = ()  # the certificates to validate against (none: no validation)

    @property
    def algorithm(self) -> str:
        return HASH_METHODS[self.hash_method]


def requested(properties: Mapping[str, str], default_trusted: Sequence[str] = ()) -> Requested | None:
    """The verification the image's properties ask for; None unless all four are set (as cursive). The
    certificate is validated against the image's trusted certificates, or else ``default_trusted``."""
    if not requested_all(properties):
        if TRUSTED_CERTIFICATE_IDS in properties:  # as Nova: trusted certificates ask for a verified signature
            missing = [name for name in PROPERTIES if name not in properties]
            raise SignatureVerificationFailed(
                f"{TRUSTED_CERTIFICATE_IDS} asks for certificate validation, which needs signed image data; "
                f"missing: {', '.join(missing)}"
            )
        return None
    try:
        signature = base64.b64decode(properties[SIGNATURE])
    except (binascii.Error, ValueError):
        raise SignatureVerificationFailed("The signature data was not properly encoded using base64") from None
    hash_method = properties[HASH_METHOD]
    if hash_method not in HASH_METHODS:
        raise SignatureVerificationFailed(f"Invalid signature hash method: {hash_method}")
    key_type = properties[KEY_TYPE]
    if key_type not in key_types():
        raise SignatureVerificationFailed(f"Invalid signature key type: {key_type}")
    if not signature:
        raise SignatureVerificationFailed("The signature is empty")
    if TRUSTED_CERTIFICATE_IDS in properties:
        trusted = trusted_ids(properties[TRUSTED_CERTIFICATE_IDS])
    else:
        trusted = tuple(dict.fromkeys(default_trusted))
    return Requested(properties[CERTIFICATE_UUID], hash_method, key_type, signature, trusted)


def trusted_ids(value: str) -> tuple[str, ...]:
    """The UUIDs a ``img_signature_trusted_certificate_ids`` value names (as Nova's list: 1 to 50 of them)."""
    ids = tuple(dict.fromkeys(item for item in re.split(r"[\s,]+", value) if item))
    if not ids:
        raise SignatureVerificationFailed(f"{TRUSTED_CERTIFICATE_IDS} names no certificate")
    if len(ids) > MAX_TRUSTED:
        raise SignatureVerificationFailed(f"{TRUSTED_CERTIFICATE_IDS} names more than {MAX_TRUSTED} certificates")
    long = [item for item in ids if len(item) > MAX_ID_LENGTH]
    if long:
        raise SignatureVerificationFailed(
            f"{TRUSTED_CERTIFICATE_IDS}: a certificate ID is at most {MAX_ID_LENGTH} characters long"
        )
    return ids


def verified(properties: Mapping[str, str]) -> bool:
    """Whether the data was verified against the signature these properties ask for now: the read-only
    record is there (it is dropped whenever a signature property changes, ``still_verified``)."""
    return requested_all(properties) and properties.get(VERIFIED_CERTIFICATE_UUID) == properties[CERTIFICATE_UUID]


def requested_all(properties: Mapping[str, str]) -> bool:
    return all(name in properties for name in PROPERTIES)


def still_verified(before: Mapping[str, str], properties: dict[str, str]) -> None:
    """Drop the verification record from ``properties`` when a signature property changed since ``before``:
    the record vouches for the signature the data was verified against, not for a new one."""
    if any(before.get(name) != properties.get(name) for name in WATCHED):
        for name in VERIFIED:
            properties.pop(name, None)


@dataclass(frozen=True, slots=True)
class Verification:
    """The stage: the pipeline hashes the data with ``algorithm`` and hands ``check`` the digest at the end."""

    requested: Requested
    public_key: rsa.RSAPublicKey | dsa.DSAPublicKey | ec.EllipticCurvePublicKey = field(repr=False)
    certificate_fingerprint: str  # SHA-256 of the DER certificate, hex
    trust_chain: tuple[str, ...] = ()  # the trusted certificates it chained through (validated), issuer first

    @property
    def algorithm(self) -> str:
        return self.requested.algorithm

    def recorded(self) -> dict[str, str]:
        record = {
            VERIFIED_CERTIFICATE_UUID: self.requested.certificate_uuid,
            VERIFIED_CERTIFICATE_SHA256: self.certificate_fingerprint,
        }
        if self.trust_chain:
            record[VERIFIED_TRUST_CHAIN] = ",".join(self.trust_chain)
        return record

    async def check(self, digest: bytes) -> None:
        self.verify(digest)

    def verify(self, digest: bytes) -> None:
        """SignatureVerificationFailed unless the signature is valid for ``digest``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

        req = self.requested
        prehashed = utils.Prehashed(_hash(req.hash_method))
        key = self.public_key
        try:
            if isinstance(key, rsa.RSAPublicKey):
                pss = padding.PSS(mgf=padding.MGF1(_hash(req.hash_method)), salt_length=padding.PSS.MAX_LENGTH)
                key.verify(req.signature, digest, pss, prehashed)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(req.signature, digest, ec.ECDSA(prehashed))
            else:
                key.verify(req.signature, digest, prehashed)
        except InvalidSignature:
            raise SignatureVerificationFailed("the signature does not match the data") from None
        except (ValueError, TypeError) as exc:  # e.g. a digest the key's size cannot take
            raise SignatureVerificationFailed(f"the signature cannot be checked: {exc}") from None


class Deferred:
    """The stage while the certificate is still on its way: the key manager is asked while the data streams
    (its round trips then cost the upload nothing); the verdict waits for it at the end of the stream, and a
    certificate that cannot be had fails the upload there, before anything is stored."""

    def __init__(self, req: Requested, certificate: Awaitable[Certificates]) -> None:
        self.requested = req
        self._certificate = asyncio.ensure_future(certificate)
        self._certificate.add_done_callback(_retrieved)
        self._verification: Verification | None = None

    @property
    def algorithm(self) -> str:
        return self.requested.algorithm

    async def check(self, digest: bytes) -> None:
        self._verification = verification(self.requested, await self._certificate)
        self._verification.verify(digest)

    def recorded(self) -> dict[str, str]:
        return self._verification.recorded() if self._verification is not None else {}


def _retrieved(future: asyncio.Future[Certificates]) -> None:
    """A stream that failed before its check never awaits the certificate: its error is not news."""
    if not future.cancelled():
        future.exception()


@dataclass(frozen=True, slots=True)
class Certificates:
    """What the key manager gave for a verification: the signing certificate (DER) and, when the request asks
    for certificate validation, the trusted certificates it could read and the UUIDs it could not."""

    signing: bytes = field(repr=False)
    trusted: tuple[Trusted, ...] = ()
    unreadable: tuple[str, ...] = ()


def verification(req: Requested, certificates: Certificates, *, now: datetime.datetime | None = None) -> Verification:
    """The stage for ``req`` with the certificates the key manager gave; the key must fit the key type, and
    the certificate must chain to the trusted ones when ``req`` names any (at ``now``, by default the clock's)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    try:
        certificate = x509.load_der_x509_certificate(certificates.signing)
        public_key = certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise SignatureVerificationFailed(f"Invalid certificate {req.certificate_uuid}: {exc}") from None
    wanted: tuple[type, ...]
    if req.key_type == RSA_PSS:
        wanted = (rsa.RSAPublicKey,)
    elif req.key_type == DSA:
        wanted = (dsa.DSAPublicKey,)
    else:
        wanted = (ec.EllipticCurvePublicKey,)
    if not isinstance(public_key, wanted):
        raise SignatureVerificationFailed(f"Invalid public key type for signature key type: {req.key_type}")
    chain: list[str] = []
    if req.trusted_ids:
        at = now if now is not None else datetime.datetime.now(datetime.UTC)
        chain = validate(
            req.certificate_uuid, certificate, certificates.trusted, now=at, unreadable=certificates.unreadable
        )
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex()
    return Verification(req, public_key, fingerprint, tuple(chain))
