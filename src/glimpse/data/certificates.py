"""Certificate validation: does the signing certificate chain to certificates the caller trusts?

Nova's ``trusted_certificate_ids`` semantics (cursive's ``verify_certificate``): the signing certificate is
valid now and is linked, certificate by certificate, to a trusted certificate that is its own issuer; every
certificate on the way is one of the trusted ones, valid now, a CA (basic constraints) allowed to sign
certificates (key usage ``keyCertSign``), within its path length. Only self-signed trusted certificates are
roots: a trusted intermediate whose own issuer is not trusted vouches for nothing. A trusted certificate the
key manager would not give is skipped, as cursive skips it.

The path building and checks are ``cryptography``'s X.509 verifier (``PolicyBuilder``), told the rules above
through its extension policies; the signing certificate's key usage, when it has one, must allow digital
signatures (cursive does not look; a certificate whose key may not sign data should not vouch for data).
The verifier is stricter than cursive about algorithms: certificates signed with SHA-1 or SHA-224, by DSA
keys or by RSA keys under 2048 bits do not validate (docs/architecture.md, "Signed images").
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from glimpse.errors import BadRequest

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509.verification import ExtensionPolicy, Policy

MAX_TRUSTED = 50  # as many as Nova's server create takes


class CertificateValidationFailed(BadRequest):
    """The signing certificate is not trusted: a 400 worded as Nova's ``CertificateValidationFailed``."""

    def __init__(self, certificate_uuid: str, reason: str) -> None:
        super().__init__(f"Image signature certificate validation failed for certificate: {certificate_uuid}. {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Trusted:
    """A trusted certificate as the key manager gave it."""

    uuid: str
    der: bytes


def validate(
    certificate_uuid: str,
    certificate: x509.Certificate,
    trusted: Sequence[Trusted],
    *,
    now: datetime.datetime,
    unreadable: Sequence[str] = (),
) -> list[str]:
    """The UUIDs of the trusted certificates ``certificate`` chains through, its issuer first and the
    self-signed root last; CertificateValidationFailed when it does not chain to any of them at ``now``."""
    from cryptography import x509
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    _check_dates(certificate_uuid, certificate, now)
    parsed: list[tuple[str, x509.Certificate]] = []
    for item in trusted:
        try:
            parsed.append((item.uuid, x509.load_der_x509_certificate(item.der)))
        except ValueError:
            unreadable = (*unreadable, item.uuid)
    # a root is a self-signed CA that may sign certificates (the verifier checks the same of intermediates,
    # but takes a trust anchor as it is: the signing certificate itself, trusted, would pass unchecked)
    roots = [cert for _, cert in parsed if _self_signed(cert) and _can_sign_certificates(cert)]
    intermediates = [cert for _, cert in parsed if not _self_signed(cert)]
    ids = ", ".join(item.uuid for item in trusted)
    skipped = f" (not readable, skipped: {', '.join(unreadable)})" if unreadable else ""
    if not roots:
        raise CertificateValidationFailed(
            certificate_uuid,
            f"None of the trusted certificates{f' ({ids})' if ids else ''} is a self-signed root CA allowed to "
            f"sign certificates{skipped}.",
        )
    verifier = (
        PolicyBuilder()
        .store(Store(roots))
        .time(now)
        .extension_policies(ca_policy=_ca_policy(), ee_policy=_ee_policy())
        .build_client_verifier()
    )
    try:
        chain = verifier.verify(certificate, intermediates).chain
    except VerificationError as exc:
        raise CertificateValidationFailed(
            certificate_uuid, f"It does not chain to the trusted certificates ({ids}): {_reason(exc)}{skipped}."
        ) from None
    by_der = {cert: uuid for uuid, cert in reversed(parsed)}  # a certificate listed twice: its first UUID
    return [by_der[cert] for cert in chain[1:]] if len(chain) > 1 else [by_der.get(certificate, certificate_uuid)]


def _check_dates(uuid: str, certificate: x509.Certificate, now: datetime.datetime) -> None:
    """cursive checks the signing certificate's dates first; say so plainly rather than in the path's terms."""
    start, end = certificate.not_valid_before_utc, certificate.not_valid_after_utc
    if not start <= now <= end:
        raise CertificateValidationFailed(
            uuid,
            f"The certificate is outside its valid date range ({start.isoformat()} to {end.isoformat()}).",
        )


def _self_signed(certificate: x509.Certificate) -> bool:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm

    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def _can_sign_certificates(certificate: x509.Certificate) -> bool:
    """cursive's ``can_sign_certificates``: basic constraints with ``cA``, key usage with ``keyCertSign``."""
    from cryptography import x509

    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return constraints.ca and usage.key_cert_sign


def _ca_policy() -> ExtensionPolicy:
    """Trusted certificates that issue: a CA (basic constraints, ``cA`` asserted: checked by the verifier)
    whose key usage allows signing certificates, as cursive's ``can_sign_certificates``."""
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    def may_sign_certificates(policy: Policy, certificate: x509.Certificate, usage: x509.KeyUsage) -> None:
        if not usage.key_cert_sign:
            raise ValueError("a trusted certificate's key usage does not allow signing certificates (keyCertSign)")

    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
        .require_present(x509.KeyUsage, Criticality.AGNOSTIC, may_sign_certificates)
    )


def _ee_policy() -> ExtensionPolicy:
    """The signing certificate: no extended key usage asked for (it signs image data, not TLS); a key usage,
    when present, must allow digital signatures."""
    from cryptography import x509
    from cryptography.x509.verification import Criticality, ExtensionPolicy

    def may_sign_data(policy: Policy, certificate: x509.Certificate, usage: x509.KeyUsage | None) -> None:
        if usage is not None and not usage.digital_signature:
            raise ValueError("the signing certificate's key usage does not allow digital signatures (digitalSignature)")

    return ExtensionPolicy.permit_all().may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, may_sign_data)


_NOISE = (
    re.compile(r"^validation failed: "),
    re.compile(r"^candidates exhausted: "),
    re.compile(r"^Python extension validator failed: ValueError: "),
    re.compile(r" \(encountered processing <Certificate.*$"),
    re.compile(r":? ?AlgorithmIdentifier \{.*$"),
)


def _reason(exc: Exception) -> str:
    """The verifier's reason without its internals (Rust debug dumps of keys and certificates)."""
    text = str(exc)
    for pattern in _NOISE:
        text = pattern.sub("", text)
    return _PLAIN.get(text, text)[:300]


_PLAIN = {
    "all candidates exhausted with no interior errors": "no trusted certificate issued it, or an issuer on its path",
    "cert is not valid at validation time": "a certificate on its path is outside its valid date range",
    "Forbidden public key algorithm": "an issuer's key is of a kind not accepted for signing certificates: "
    "only RSA of 2048 bits or more and ECDSA on P-256, P-384 or P-521 are",
    "RSA key is too weak": "an issuer's RSA key is shorter than 2048 bits",
    "Forbidden signature algorithm": "a certificate on its path is signed with an algorithm not accepted: "
    "only RSA (PKCS#1 v1.5 or PSS) and ECDSA with SHA-256, SHA-384 or SHA-512 are",
}
