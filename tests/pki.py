"""Throw-away X.509 certificate chains for the signing tests, made with `cryptography`: a certificate with its
key, issued by another (or self-signed), with the extensions certificate validation looks at."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


@dataclass
class Issued:
    """A certificate with its key: what a CA needs to issue the next one."""

    cert: x509.Certificate
    key: Any = field(repr=False)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def issue(
    name: str,
    issuer: Issued | None = None,
    *,
    key: Any = None,
    ca: bool = False,
    path_length: int | None = None,
    key_usage: bool = True,
    digital_signature: bool = True,
    key_cert_sign: bool | None = None,
    basic_constraints: bool = True,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
    issuer_name: str | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
) -> Issued:
    """A certificate for ``name`` (a P-384 key unless ``key``), valid from yesterday for 30 days unless told:
    self-signed without ``issuer``; a CA's key usage allows signing certificates unless ``key_cert_sign``."""
    key = key if key is not None else ec.generate_private_key(ec.SECP384R1())
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_name = issuer.cert.subject if issuer is not None else subject
    if issuer_name is not None:
        signer_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before if not_before is not None else now - DAY)
        .not_valid_after(not_after if not_after is not None else now + 30 * DAY)
    )
    if basic_constraints:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
    if key_usage:
        usage = x509.KeyUsage(
            digital_signature=digital_signature, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=ca if key_cert_sign is None else key_cert_sign,
            crl_sign=False, encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(usage, critical=True)
    signing_key = issuer.key if issuer is not None else key
    return Issued(builder.sign(signing_key, algorithm or hashes.SHA256()), key)
