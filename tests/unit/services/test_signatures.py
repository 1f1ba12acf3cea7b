"""Signatures (the use case) over an in-memory key manager: the trusted certificates fetched with the signing
one, a refused trusted certificate skipped (as cursive), an outage a 503, an import task carrying what its
request fetched; the real Barbican is in tests/e2e/test_certificate_validation.py."""

from __future__ import annotations

import asyncio
import base64
import datetime

import pytest

from glimpse.context import RequestContext
from glimpse.data import signature
from glimpse.data.certificates import CertificateValidationFailed
from glimpse.domain.images import Image, Status
from glimpse.errors import KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import Consumer, Credentials
from glimpse.services.signatures import TASK_KEY, Signatures, blob_properties
from tests.pki import issue

CTX = RequestContext(user_id="u", project_id="p", auth_token="token")


class Certificates:
    def __init__(self, **secrets: bytes) -> None:
        self.secrets = secrets
        self.down = False
        self.asked: list[str] = []

    async def certificate(self, credentials: Credentials, uuid: str) -> bytes:
        self.asked.append(uuid)
        if self.down:
            raise KeyManagerUnavailable("down")
        if uuid not in self.secrets:
            raise KeyManagerRefused(f"the key manager has no secret {uuid}")
        return self.secrets[uuid]

    async def add_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None: ...

    async def remove_consumer(self, credentials: Credentials, uuid: str, consumer: Consumer) -> None: ...

    async def delete(self, credentials: Credentials, uuid: str) -> bool:
        return False


@pytest.fixture(scope="module")
def pki() -> dict[str, bytes]:
    root = issue("root", ca=True)
    return {"root": root.der, "leaf": issue("signer", root).der, "other": issue("root", ca=True).der}


def image(**properties: str) -> Image:
    now = datetime.datetime.now(datetime.UTC)
    props = {
        "img_signature": base64.b64encode(b"sig").decode(), "img_signature_hash_method": "SHA-256",
        "img_signature_key_type": "ECC_SECP384R1", "img_signature_certificate_uuid": "leaf", **properties,
    }  # fmt: skip
    return Image(id="img", owner="p", created_at=now, updated_at=now, properties=props)


def test_trusted_certificates_are_fetched_and_refused_ones_skipped(pki: dict[str, bytes]) -> None:
    keys = Certificates(leaf=pki["leaf"], root=pki["root"])
    sigs = Signatures(keys, default_trusted=["missing", "root"])
    task = asyncio.run(sigs.task_input(CTX, image()))[TASK_KEY]
    assert sorted(keys.asked) == ["leaf", "missing", "root"]
    assert task["trusted_ids"] == ["missing", "root"]
    assert task["unreadable"] == ["missing"]
    assert [item["uuid"] for item in task["trusted"]] == ["root"]
    # the worker validates again with what the request fetched, and the image's own list wins over the default
    check = sigs.for_task({TASK_KEY: task}, image())
    assert check is not None
    assert check.trust_chain == ("root",)
    with pytest.raises(signature.SignatureVerificationFailed, match="changed after the import was requested"):
        sigs.for_task({TASK_KEY: task}, image(img_signature_trusted_certificate_ids="root"))


def test_a_chain_to_no_trusted_root_is_refused_at_the_request(pki: dict[str, bytes]) -> None:
    sigs = Signatures(Certificates(leaf=pki["leaf"], other=pki["other"]))
    with pytest.raises(CertificateValidationFailed, match="does not chain to the trusted certificates \\(other\\)"):
        asyncio.run(sigs.task_input(CTX, image(img_signature_trusted_certificate_ids="other")))


def test_an_unreachable_key_manager_is_a_503_whichever_certificate(pki: dict[str, bytes]) -> None:
    keys = Certificates(leaf=pki["leaf"], root=pki["root"])
    keys.down = True
    with pytest.raises(KeyManagerUnavailable):
        asyncio.run(Signatures(keys).task_input(CTX, image(img_signature_trusted_certificate_ids="root")))


def test_a_copy_needs_the_validation_asked_for_now() -> None:
    record = {"img_signature_verified_certificate_uuid": "leaf", "img_signature_verified_certificate_sha256": "ab"}
    verified = image(**record)
    verified.status, verified.os_hash_value = Status.ACTIVE, "00"
    assert Signatures().already_verified(verified)
    assert not Signatures(default_trusted=["root"]).already_verified(verified)  # validation is asked for now
    verified.properties["img_signature_verified_trust_chain"] = "root"
    assert Signatures(default_trusted=["root"]).already_verified(verified)


def test_a_blobs_signature_properties() -> None:
    plain = {"img_signature": "s", "img_signature_hash_method": "SHA-256", "img_signature_key_type": "DSA",
             "img_signature_certificate_uuid": "c", "note": "kept out"}  # fmt: skip
    assert blob_properties(plain, "image") == {k: v for k, v in plain.items() if k != "note"}
    # keys suffixed with the blob's path sign that blob alone, whatever the plain keys say
    own = {**plain, "img_signature:nested/a.yaml": "t", "img_signature_trusted_certificate_ids:nested/a.yaml": "r"}
    assert blob_properties(own, "nested/a.yaml") == {
        "img_signature": "t",
        "img_signature_trusted_certificate_ids": "r",
    }
    assert blob_properties(own, "image") == blob_properties(plain, "image")
    assert blob_properties({}, "image") == {}
