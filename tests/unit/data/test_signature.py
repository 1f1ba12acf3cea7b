"""glimpse.data.signature: cursive's semantics for the img_signature* properties, checked in the pipeline
while real data streams into real (memory) stores, and cross-checked against cursive's own verifiers."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cryptography.x509.oid import NameOID
from cursive import exception as cursive_errors
from cursive import signature_utils as cursive

from glimpse.data import pipeline, signature
from glimpse.data.signature import Certificates, SignatureVerificationFailed
from glimpse.stores.memory import MemoryStore
from tests.pki import issue

DATA = bytes(range(256)) * 4099  # a little over 1 MiB, not a multiple of the block size
HASHES = {"SHA-224": hashes.SHA224, "SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512}


def sign(key: Any, data: bytes, hash_method: str) -> bytes:
    algorithm = HASHES[hash_method]()
    if isinstance(key, rsa.RSAPrivateKey):
        pss = padding.PSS(mgf=padding.MGF1(HASHES[hash_method]()), salt_length=padding.PSS.MAX_LENGTH)
        return key.sign(data, pss, algorithm)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(algorithm))
    signed: bytes = key.sign(data, algorithm)
    return signed


def certificate_der(key: Any) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "glimpse-unit")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "RSA-PSS": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "DSA": dsa.generate_private_key(key_size=2048),
        "ECC_SECP384R1": ec.generate_private_key(ec.SECP384R1()),
        "ECC_SECP521R1": ec.generate_private_key(ec.SECP521R1()),
    }


def properties(key_type: str, hash_method: str, sig: bytes, uuid: str = "cert-uuid") -> dict[str, str]:
    return {
        "img_signature": base64.b64encode(sig).decode(),
        "img_signature_hash_method": hash_method,
        "img_signature_key_type": key_type,
        "img_signature_certificate_uuid": uuid,
    }


async def _source(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 65536):
        yield data[start : start + 65536]


def stream(check: signature.Verification, data: bytes, stores: list[MemoryStore]) -> pipeline.Outcome:
    plan = pipeline.Plan(block_size=256 * 1024, cap=1 << 30, algorithms=("md5", "sha512"), checks=(check,))
    return asyncio.run(pipeline.run(_source(data), plan, list(stores), "key"))


@pytest.mark.parametrize("key_type", ["RSA-PSS", "DSA", "ECC_SECP384R1", "ECC_SECP521R1"])
@pytest.mark.parametrize("hash_method", ["SHA-224", "SHA-256", "SHA-384", "SHA-512"])
def test_a_good_signature_passes_and_the_data_is_stored(keys: dict[str, Any], key_type: str, hash_method: str) -> None:
    key = keys[key_type]
    sig = sign(key, DATA, hash_method)
    req = signature.requested(properties(key_type, hash_method, sig))
    assert req is not None
    der = certificate_der(key)
    check = signature.verification(req, Certificates(der))
    stores = [MemoryStore("a"), MemoryStore("b")]
    out = stream(check, DATA, stores)
    assert all(store.objects[out.stored[store.id].url] == DATA for store in stores)
    assert out.digests("sha512").verified == (
        ("img_signature_verified_certificate_sha256", hashlib.sha256(der).hexdigest()),
        ("img_signature_verified_certificate_uuid", "cert-uuid"),
    )
    # only the plan's own digests are reported, whatever the signature hashed with
    assert out.hexdigests == {"md5": hashlib.md5(DATA).hexdigest(), "sha512": hashlib.sha512(DATA).hexdigest()}
    # cursive's verifier (what Glance and Nova run) agrees
    verifier = cursive.SignatureKeyType.lookup(key_type).create_verifier(sig, HASHES[hash_method](), key.public_key())
    verifier.update(DATA)
    verifier.verify()


@pytest.mark.parametrize("key_type", ["RSA-PSS", "DSA", "ECC_SECP384R1"])
def test_tampered_data_fails_and_nothing_is_left_in_any_store(keys: dict[str, Any], key_type: str) -> None:
    key = keys[key_type]
    sig = sign(key, DATA, "SHA-256")
    req = signature.requested(properties(key_type, "SHA-256", sig))
    assert req is not None
    check = signature.verification(req, Certificates(certificate_der(key)))
    tampered = DATA[:1000] + b"\x00" + DATA[1001:]
    stores = [MemoryStore("a"), MemoryStore("b")]
    with pytest.raises(SignatureVerificationFailed, match="does not match the data"):
        stream(check, tampered, stores)
    assert all(store.objects == {} for store in stores)
    verifier = cursive.SignatureKeyType.lookup(key_type).create_verifier(sig, hashes.SHA256(), key.public_key())
    verifier.update(tampered)
    with pytest.raises(InvalidSignature):  # cursive agrees
        verifier.verify()


def test_a_signature_by_another_key_fails(keys: dict[str, Any]) -> None:
    sig = sign(rsa.generate_private_key(public_exponent=65537, key_size=2048), DATA, "SHA-512")
    req = signature.requested(properties("RSA-PSS", "SHA-512", sig))
    assert req is not None
    with pytest.raises(SignatureVerificationFailed):
        stream(signature.verification(req, Certificates(certificate_der(keys["RSA-PSS"]))), DATA, [MemoryStore("a")])


def test_verification_happens_only_with_all_four_properties() -> None:
    full = properties("RSA-PSS", "SHA-256", b"x")
    assert signature.requested({}) is None
    for name in signature.PROPERTIES:
        assert signature.requested({k: v for k, v in full.items() if k != name}) is None


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("img_signature", "not base64!", "not properly encoded using base64"),
        ("img_signature_hash_method", "MD5", "Invalid signature hash method: MD5"),
        ("img_signature_hash_method", "sha256", "Invalid signature hash method"),
        ("img_signature_key_type", "RSA", "Invalid signature key type: RSA"),
        ("img_signature_key_type", "ECC_SECP256R1", "Invalid signature key type"),
    ],
)
def test_malformed_properties_are_refused_before_any_byte(name: str, value: str, message: str) -> None:
    props = properties("RSA-PSS", "SHA-256", b"signature")
    props[name] = value
    with pytest.raises(SignatureVerificationFailed, match=message):
        signature.requested(props)
    # cursive refuses the same value
    refuse = {
        "img_signature": cursive.get_signature,
        "img_signature_hash_method": cursive.get_hash_method,
        "img_signature_key_type": cursive.SignatureKeyType.lookup,
    }[name]
    with pytest.raises(cursive_errors.SignatureVerificationError, match=message.split(":")[0]):
        refuse(value)


@pytest.mark.parametrize(
    ("key_type", "other"), [("RSA-PSS", "DSA"), ("DSA", "ECC_SECP384R1"), ("ECC_SECP521R1", "RSA-PSS")]
)
def test_the_key_type_must_match_the_certificate(keys: dict[str, Any], key_type: str, other: str) -> None:
    req = signature.requested(properties(key_type, "SHA-256", b"sig"))
    assert req is not None
    with pytest.raises(
        SignatureVerificationFailed, match=f"Invalid public key type for signature key type: {key_type}"
    ):
        signature.verification(req, Certificates(certificate_der(keys[other])))


def test_a_certificate_that_is_no_certificate_is_refused() -> None:
    req = signature.requested(properties("RSA-PSS", "SHA-256", b"sig"))
    assert req is not None
    with pytest.raises(SignatureVerificationFailed, match="Invalid certificate"):
        signature.verification(req, Certificates(b"not DER"))


def test_key_types_are_cursives() -> None:
    assert set(signature.key_types()) == set(cursive.SignatureKeyType.REGISTERED_TYPES)


def test_the_verification_record_vouches_for_the_current_signature_only() -> None:
    props = properties("RSA-PSS", "SHA-256", b"sig", uuid="cert-1")
    assert not signature.verified(props)
    recorded = {**props, signature.VERIFIED_CERTIFICATE_UUID: "cert-1", signature.VERIFIED_CERTIFICATE_SHA256: "ab"}
    assert signature.verified(recorded)
    unchanged = dict(recorded)
    signature.still_verified(recorded, unchanged)
    assert unchanged == recorded  # other changes keep the record
    for name in signature.PROPERTIES:
        changed = {**recorded, name: "other"}
        signature.still_verified(recorded, changed)
        assert not set(signature.VERIFIED) & set(changed), name
        assert not signature.verified(changed)
    removed = {k: v for k, v in recorded.items() if k != signature.SIGNATURE}
    signature.still_verified(recorded, removed)
    assert not set(signature.VERIFIED) & set(removed)


def test_trusted_certificate_ids_ask_for_validation() -> None:
    props = properties("RSA-PSS", "SHA-256", b"sig")
    assert signature.requested(props).trusted_ids == ()  # type: ignore[union-attr]
    # the operator's default applies unless the image names its own (Nova's rule)
    assert signature.requested(props, ["d1", "d2", "d1"]).trusted_ids == ("d1", "d2")  # type: ignore[union-attr]
    own = {**props, signature.TRUSTED_CERTIFICATE_IDS: " a, b  c,,a "}
    assert signature.requested(own, ["d1"]).trusted_ids == ("a", "b", "c")  # type: ignore[union-attr]
    for value, match in [
        ("", "names no certificate"),
        (" , ", "names no certificate"),
        (",".join(f"id-{n}" for n in range(51)), "more than 50"),
        ("x" * 256, "at most 255"),
    ]:
        with pytest.raises(SignatureVerificationFailed, match=match):
            signature.requested({**props, signature.TRUSTED_CERTIFICATE_IDS: value})
    # as Nova: trusted certificates ask for a signature; unsigned data with them is refused
    unsigned = {signature.TRUSTED_CERTIFICATE_IDS: "a"}
    with pytest.raises(SignatureVerificationFailed, match="missing: img_signature, img_signature_hash_method"):
        signature.requested(unsigned)
    assert signature.requested({}, ["d1"]) is None  # the default alone does not


def test_the_certificate_is_validated_before_its_key_is_used(keys: dict[str, Any]) -> None:
    from glimpse.data.certificates import CertificateValidationFailed, Trusted

    key = keys["ECC_SECP521R1"]
    ca = issue("unit root", ca=True)
    der = issue("unit signer", ca, key=key).der
    props = {
        **properties("ECC_SECP521R1", "SHA-512", sign(key, DATA, "SHA-512")),
        signature.TRUSTED_CERTIFICATE_IDS: "gone,root-uuid",
    }
    req = signature.requested(props)
    assert req is not None
    trusted = (Trusted("root-uuid", ca.der),)
    check = signature.verification(req, Certificates(der, trusted, ("gone",)))
    out = stream(check, DATA, [MemoryStore("a")])
    assert dict(out.digests("sha512").verified)["img_signature_verified_trust_chain"] == "root-uuid"
    # the same data and signature with no trusted root: refused before any byte is read
    other = issue("unit root", ca=True)  # the same name, another key
    with pytest.raises(CertificateValidationFailed, match="not readable, skipped: gone"):
        signature.verification(req, Certificates(der, (Trusted("root-uuid", other.der),), ("gone",)))
    # a certificate valid today is refused at a time it is not
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=30)
    with pytest.raises(CertificateValidationFailed, match="outside its valid date range"):
        signature.verification(req, Certificates(der, trusted), now=later)
    assert issubclass(CertificateValidationFailed, signature.BadRequest)


def test_a_trusted_ids_change_drops_the_record() -> None:
    props = properties("RSA-PSS", "SHA-256", b"sig", uuid="cert-1")
    recorded = {
        **props, signature.VERIFIED_CERTIFICATE_UUID: "cert-1", signature.VERIFIED_CERTIFICATE_SHA256: "ab",
        signature.VERIFIED_TRUST_CHAIN: "root",
    }  # fmt: skip
    changed = {**recorded, signature.TRUSTED_CERTIFICATE_IDS: "other-root"}
    signature.still_verified(recorded, changed)
    assert not set(signature.VERIFIED) & set(changed)
