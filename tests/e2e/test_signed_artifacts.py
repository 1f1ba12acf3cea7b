"""Signed artifact blobs end to end (a Glimpse extension): a real Keystone and Barbican, `glimpse serve` with
the artifacts API mounted (``[artifacts] mount``), driven over HTTP with a Keystone token.

An artifact whose ``metadata`` holds the ``img_signature*`` properties has its blob uploads verified by the
same pipeline stage as images: an RSA-PSS 4096 signature (684 characters, past Glare's 255) in the plain
keys signs the blob of an ``images`` artifact; a Heat template signs each of its blobs under keys suffixed
with the blob's path; ``img_signature_trusted_certificate_ids`` asks for certificate validation. Tampered
data, another blob's signature, an untrusted certificate: 400, the blob as it was and no bytes stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.e2e.test_key_manager import barbican, self_signed, store_certificate  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import (
    KeystoneServer,
    keystone,  # noqa: F401 (a fixture)
    keystone_server,
    password_session,
)
from tests.e2e.test_signatures import Signer
from tests.pki import issue

pytestmark = pytest.mark.e2e

OCTETS = {"content-type": "application/octet-stream"}
DATA = b"signed artifact data " * 50_000  # about 1 MB
TEMPLATE = b"heat_template_version: 2018-08-31\nresources:\n  a: {type: nested/a.yaml}\n"
NESTED = b"resources: {}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keystone: str, barbican: str) -> Iterator[KeystoneServer]:  # noqa: F811
    with keystone_server(tmp_path_factory, "signed-artifacts", extra="\n[artifacts]\nmount = /artifact\n") as state:
        yield state


@pytest.fixture(scope="module")
def http(server: KeystoneServer) -> Iterator[httpx.Client]:
    token = password_session("alpha-member", "alpha").get_token()
    assert token is not None
    with httpx.Client(base_url=f"{server.url}/artifact", headers={"X-Auth-Token": token}, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def signers(barbican: str, keystone: str) -> dict[str, tuple[Signer, str]]:  # noqa: F811
    """name -> (signer, its certificate's UUID in Barbican, stored by alpha's member)."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    ec_key = ec.generate_private_key(ec.SECP384R1())
    made = {
        "rsa4096": Signer("RSA-PSS", rsa_key, self_signed(rsa_key, "glimpse e2e artifact signer")),
        "p384": Signer("ECC_SECP384R1", ec_key, self_signed(ec_key, "glimpse e2e artifact signer P-384")),
    }
    return {name: (signer, store_certificate("alpha-member", signer.certificate)) for name, signer in made.items()}


def signed(signer: tuple[Signer, str], data: bytes, suffix: str = "") -> dict[str, str]:
    key, certificate = signer
    return {
        f"img_signature{suffix}": key.sign(data, "SHA-256"),
        f"img_signature_hash_method{suffix}": "SHA-256",
        f"img_signature_key_type{suffix}": key.key_type,
        f"img_signature_certificate_uuid{suffix}": certificate,
    }


def create(http: httpx.Client, kind: str, metadata: dict[str, str]) -> str:
    response = http.post(f"/artifacts/{kind}", json={"name": f"signed-{uuid.uuid4().hex[:8]}", "metadata": metadata})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def upload(http: httpx.Client, kind: str, artifact_id: str, path: str, data: bytes) -> httpx.Response:
    return http.put(f"/artifacts/{kind}/{artifact_id}/{path}", content=data, headers=OCTETS)


def stored(server: KeystoneServer) -> set[Path]:
    return set((server.config.parent / "data").rglob("artifact-*"))


def refused(http: httpx.Client, server: KeystoneServer, kind: str, artifact_id: str, path: str, data: bytes) -> str:
    """The upload is a 400; the blob is as it was before (absent here) and no bytes were kept."""
    before = stored(server)
    response = upload(http, kind, artifact_id, path, data)
    assert response.status_code == 400, response.text
    field, _, key = path.partition("/")
    shown = http.get(f"/artifacts/{kind}/{artifact_id}").json()
    assert (shown[field] or {}).get(key) is None if key else shown[field] is None
    assert stored(server) == before
    message: str = response.json()["error"]["message"]
    return message


def test_a_signed_image_artifact(http: httpx.Client, server: KeystoneServer, signers: dict[str, Any]) -> None:
    metadata = signed(signers["rsa4096"], DATA)
    assert len(metadata["img_signature"]) == 684  # past the 255 characters of Glare's metadata values
    artifact_id = create(http, "images", metadata)
    tampered = DATA[:-1] + b"?"
    assert "Signature verification failed: the signature does not match the data" in refused(
        http, server, "images", artifact_id, "image", tampered
    )
    response = upload(http, "images", artifact_id, "image", DATA)
    assert response.status_code == 200, response.text
    assert response.json()["image"]["status"] == "active"
    assert http.get(f"/artifacts/images/{artifact_id}/image").content == DATA
    # other metadata keys keep Glare's limit
    too_long = http.post("/artifacts/images", json={"name": "x", "metadata": {"note": "x" * 256}})
    assert too_long.status_code == 400


def test_each_blob_signed_under_its_own_keys(
    http: httpx.Client, server: KeystoneServer, signers: dict[str, Any]
) -> None:
    metadata = {
        **signed(signers["p384"], TEMPLATE, ":template"),
        **signed(signers["rsa4096"], NESTED, ":nested_templates/a.yaml"),
    }
    artifact_id = create(http, "heat_templates", metadata)
    # each blob's signature is its own: the template's data under the nested blob's signature is refused
    assert "does not match" in refused(http, server, "heat_templates", artifact_id, "nested_templates/a.yaml", TEMPLATE)
    for path, data in (("template", TEMPLATE), ("nested_templates/a.yaml", NESTED)):
        response = upload(http, "heat_templates", artifact_id, path, data)
        assert response.status_code == 200, response.text
    # a blob the metadata does not sign is not verified
    assert upload(http, "heat_templates", artifact_id, "nested_templates/b.yaml", NESTED).status_code == 200


def test_certificate_validation_for_a_blob(http: httpx.Client, server: KeystoneServer, signers: dict[str, Any]) -> None:
    root = issue("Glimpse e2e artifact root", ca=True)
    leaf = issue("Glimpse e2e artifact signer", root)
    chained = (Signer("ECC_SECP384R1", leaf.key, leaf.cert), store_certificate("alpha-member", leaf.cert))
    root_id = store_certificate("alpha-member", root.cert)
    other_id = store_certificate("alpha-member", issue("Another root", ca=True).cert)
    untrusted = create(http, "images", {**signed(chained, DATA), "img_signature_trusted_certificate_ids": other_id})
    message = refused(http, server, "images", untrusted, "image", DATA)
    assert message.startswith(f"Image signature certificate validation failed for certificate: {chained[1]}.")
    trusted = create(http, "images", {**signed(chained, DATA), "img_signature_trusted_certificate_ids": root_id})
    response = upload(http, "images", trusted, "image", DATA)
    assert response.status_code == 200, response.text
    # a bad signature property is a 400 before any byte is read
    bad = create(http, "images", {**signed(chained, DATA), "img_signature": "abc"})
    assert "base64" in refused(http, server, "images", bad, "image", DATA)
