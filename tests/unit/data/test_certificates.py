"""glimpse.data.certificates: Nova's certificate validation (cursive's ``verify_certificate``) on chains made
here with ``cryptography``: dates, issuers, key usage, basic constraints, path length, intermediates; each
verdict cross-checked with cursive's own ``CertificateVerificationContext``, and the two deliberate
differences shown."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cursive import certificate_utils as cursive
from cursive import exception as cursive_errors

from glimpse.data.certificates import CertificateValidationFailed, Trusted, validate
from tests.pki import DAY, Issued, issue

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki() -> dict[str, Issued]:
    """root -> intermediate -> second intermediate -> leaf (as Nova's documentation builds it), and a leaf
    of the root itself."""
    root = issue("Root CA", ca=True, path_length=2)
    inter_a = issue("First Intermediate", root, ca=True, path_length=1)
    inter_b = issue("Second Intermediate", inter_a, ca=True, path_length=0)
    return {
        "root": root,
        "inter_a": inter_a,
        "inter_b": inter_b,
        "leaf": issue("Signing Certificate", inter_b),
        "root_leaf": issue("Signed by the root", root),
    }


def trusted(*items: tuple[str, Issued]) -> list[Trusted]:
    return [Trusted(uuid, issued.der) for uuid, issued in items]


def glimpse_accepts(leaf: Issued, items: list[tuple[str, Issued]]) -> bool:
    try:
        validate("leaf-uuid", leaf.cert, trusted(*items), now=NOW)
    except CertificateValidationFailed:
        return False
    return True


def cursive_accepts(leaf: Issued, items: list[tuple[str, Issued]]) -> bool:
    context = cursive.CertificateVerificationContext([(uuid, issued.cert) for uuid, issued in items])
    try:
        context.update(leaf.cert)
        context.verify()
    except cursive_errors.SignatureVerificationError:
        return False
    return True


def test_a_chain_through_trusted_intermediates_to_a_trusted_root(pki: dict[str, Issued]) -> None:
    chain = validate(
        "leaf-uuid",
        pki["leaf"].cert,
        trusted(("b-uuid", pki["inter_b"]), ("root-uuid", pki["root"]), ("a-uuid", pki["inter_a"])),
        now=NOW,
    )
    assert chain == ["b-uuid", "a-uuid", "root-uuid"]  # the issuer first, the root last
    assert validate("leaf-uuid", pki["root_leaf"].cert, trusted(("root-uuid", pki["root"])), now=NOW) == ["root-uuid"]


def test_a_trusted_self_signed_ca_may_sign_itself(pki: dict[str, Issued]) -> None:
    assert validate("root-uuid", pki["root"].cert, trusted(("root-uuid", pki["root"])), now=NOW) == ["root-uuid"]


def refused(leaf: Issued, items: list[tuple[str, Issued]], match: str, now: datetime.datetime = NOW) -> str:
    with pytest.raises(CertificateValidationFailed, match=match) as caught:
        validate("leaf-uuid", leaf.cert, trusted(*items), now=now)
    message = str(caught.value)
    assert message.startswith("Image signature certificate validation failed for certificate: leaf-uuid. ")
    assert "AlgorithmIdentifier" not in message
    assert "<Certificate" not in message
    return message


def test_only_self_signed_trusted_certificates_are_roots(pki: dict[str, Issued]) -> None:
    # the intermediates alone vouch for nothing: their root is not trusted
    refused(pki["leaf"], [("b", pki["inter_b"]), ("a", pki["inter_a"])], "self-signed root CA")
    # another root does not help them
    other = issue("Other Root", ca=True)
    refused(pki["leaf"], [("b", pki["inter_b"]), ("a", pki["inter_a"]), ("o", other)], "no trusted certificate")


def test_a_missing_intermediate_breaks_the_chain(pki: dict[str, Issued]) -> None:
    refused(pki["leaf"], [("b", pki["inter_b"]), ("root", pki["root"])], "no trusted certificate issued it")


def test_dates(pki: dict[str, Issued]) -> None:
    expired = issue("Expired", pki["root"], not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    refused(expired, [("root", pki["root"])], "outside its valid date range")
    early = issue("Not yet valid", pki["root"], not_before=NOW + DAY, not_after=NOW + 30 * DAY)
    refused(early, [("root", pki["root"])], "outside its valid date range")
    # a trusted certificate out of its dates is no issuer (cursive skips it)
    old_root = issue("Root CA", key=pki["root"].key, ca=True, not_before=NOW - 30 * DAY, not_after=NOW - DAY)
    refused(pki["root_leaf"], [("root", old_root)], "outside its valid date range")
    # the validation time is the caller's: the same chain later is refused
    refused(pki["root_leaf"], [("root", pki["root"])], "outside its valid date range", now=NOW + 60 * DAY)


def test_wrong_issuer(pki: dict[str, Issued]) -> None:
    # the name says the root, another key signed it
    impostor = issue("Impostor", issue("Root CA", ca=True), issuer_name="Root CA")
    refused(impostor, [("root", pki["root"])], "signature does not match")


def test_key_usage_and_basic_constraints(pki: dict[str, Issued]) -> None:
    root = pki["root"]
    for label, ca in [
        ("no key usage", issue("CA", ca=True, key_usage=False)),
        ("no keyCertSign", issue("CA", ca=True, key_cert_sign=False)),
        ("not a CA", issue("CA", ca=False, key_cert_sign=True)),
        ("no basic constraints", issue("CA", basic_constraints=False, key_cert_sign=True)),
    ]:
        refused(issue("Leaf", ca), [("ca", ca)], "self-signed root CA allowed to sign certificates")
        assert not cursive_accepts(issue("Leaf", ca), [("ca", ca)]), label
    # ... and as an intermediate under a good root
    for bad in (issue("I", root, ca=True, key_cert_sign=False), issue("I", root, ca=False, key_cert_sign=True)):
        refused(issue("Leaf", bad), [("i", bad), ("root", root)], "keyCertSign|cA must be asserted")
    # the signing certificate: a key usage without digitalSignature is refused; no key usage at all is fine
    refused(issue("Leaf", root, digital_signature=False), [("root", root)], "digitalSignature")
    assert glimpse_accepts(issue("Leaf", root, key_usage=False), [("root", root)])


def test_path_length(pki: dict[str, Issued]) -> None:
    short = issue("Root CA", key=pki["root"].key, ca=True, path_length=0)  # may issue end certificates only
    refused(pki["leaf"], [("b", pki["inter_b"]), ("a", pki["inter_a"]), ("root", short)], "path length")


def test_unreadable_trusted_certificates_are_named(pki: dict[str, Issued]) -> None:
    items = [Trusted("garbage", b"not DER"), *trusted(("b", pki["inter_b"]))]
    with pytest.raises(CertificateValidationFailed, match="not readable, skipped: gone, garbage"):
        validate("leaf-uuid", pki["leaf"].cert, items, now=NOW, unreadable=("gone",))


CASES: dict[str, Callable[[dict[str, Issued]], tuple[Issued, list[tuple[str, Issued]]]]] = {
    "full chain": lambda p: (p["leaf"], [("b", p["inter_b"]), ("a", p["inter_a"]), ("r", p["root"])]),
    "root signs": lambda p: (p["root_leaf"], [("r", p["root"])]),
    "self-signed trusted CA": lambda p: (p["root"], [("r", p["root"])]),
    "intermediate missing": lambda p: (p["leaf"], [("b", p["inter_b"]), ("r", p["root"])]),
    "root missing": lambda p: (p["leaf"], [("b", p["inter_b"]), ("a", p["inter_a"])]),
    "untrusted self-signed leaf": lambda p: (issue("Alone"), [("r", p["root"])]),
    "self-signed non-CA leaf trusted": lambda p: ((alone := issue("Alone")), [("x", alone)]),
    "expired leaf": lambda p: (
        issue("E", p["root"], not_before=NOW - 9 * DAY, not_after=NOW - DAY),
        [("r", p["root"])],
    ),
    "path length": lambda p: (
        p["leaf"],
        [("b", p["inter_b"]), ("a", p["inter_a"]), ("r", issue("Root CA", key=p["root"].key, ca=True, path_length=0))],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_glimpse_and_cursive_agree(pki: dict[str, Issued], case: str) -> None:
    leaf, items = CASES[case](pki)
    assert glimpse_accepts(leaf, items) == cursive_accepts(leaf, items)


def test_where_glimpse_is_stricter_than_cursive(pki: dict[str, Issued]) -> None:
    """Documented differences: a signing certificate whose key usage forbids digital signatures, and issuers
    with keys or algorithms the X.509 verifier no longer accepts (DSA, RSA under 2048 bits)."""
    root = pki["root"]
    no_signing = issue("Leaf", root, digital_signature=False)
    assert cursive_accepts(no_signing, [("r", root)])
    assert not glimpse_accepts(no_signing, [("r", root)])
    for weak in (
        dsa.generate_private_key(key_size=2048),
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
    ):
        weak_root = issue("Weak Root", key=weak, ca=True)
        leaf = issue("Leaf", weak_root)
        assert cursive_accepts(leaf, [("r", weak_root)])
        message = refused(leaf, [("r", weak_root)], "does not chain")
        assert len(message) < 400
