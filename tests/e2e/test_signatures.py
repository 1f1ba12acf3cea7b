"""Image signature verification end to end: a real Keystone and Barbican (scripts/barbican-up), a real
`glimpse serve` with Keystone auth, and the clients users run.

Data is signed with ``cryptography`` (RSA-PSS 4096 and 8192, ECC P-384 and P-521, DSA), the certificate is
stored in Barbican by the project's member (``openstack secret store`` and python-barbicanclient), and the
image is uploaded with python-glanceclient and openstacksdk: active. Tampered data, another key's
certificate, a key type that does not fit, a certificate Barbican does not have: 400, the image back in
``queued`` and no byte of it in the store. Barbican down: 503, nothing left behind, unsigned uploads work.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import openstack.connection
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, padding, rsa
from cursive import signature_utils as cursive
from glanceclient import exc as glance_exc

from tests.e2e.conftest import stays_healthy
from tests.e2e.test_key_manager import barbican, self_signed, store_certificate  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import (
    KEYSTONE_URL,
    USER_PASSWORD,
    KeystoneServer,
    keystone,  # noqa: F401 (a fixture)
    keystone_server,
    openstack_cli,
    password_session,
)

pytestmark = pytest.mark.e2e

DATA_SIZE = 3 * 1024 * 1024 + 12345  # a few blocks, not a multiple of the block size
HASHES = {"SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384, "SHA-512": hashes.SHA512}


@dataclass(frozen=True)
class Signer:
    key_type: str
    key: Any
    certificate: x509.Certificate

    def sign(self, data: bytes, hash_method: str) -> str:
        algorithm = HASHES[hash_method]()
        if isinstance(self.key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(HASHES[hash_method]()), salt_length=padding.PSS.MAX_LENGTH)
            signed = self.key.sign(data, pss, algorithm)
        elif isinstance(self.key, ec.EllipticCurvePrivateKey):
            signed = self.key.sign(data, ec.ECDSA(algorithm))
        else:
            signed = self.key.sign(data, algorithm)
        return base64.b64encode(signed).decode()


def _signer(key_type: str, key: Any) -> Signer:
    return Signer(key_type, key, self_signed(key, f"glimpse e2e {key_type}"))


SIGNERS: dict[str, Callable[[], Signer]] = {
    "rsa4096": lambda: _signer("RSA-PSS", rsa.generate_private_key(public_exponent=65537, key_size=4096)),
    "rsa8192": lambda: _signer("RSA-PSS", rsa.generate_private_key(public_exponent=65537, key_size=8192)),
    "p384": lambda: _signer("ECC_SECP384R1", ec.generate_private_key(ec.SECP384R1())),
    "p521": lambda: _signer("ECC_SECP521R1", ec.generate_private_key(ec.SECP521R1())),
    "dsa": lambda: _signer("DSA", dsa.generate_private_key(key_size=2048)),
}


@pytest.fixture(scope="module")
def signers() -> dict[str, Signer]:
    return {name: make() for name, make in SIGNERS.items()}


@pytest.fixture(scope="module")
def certificates(signers: dict[str, Signer], barbican: str, sig_server: KeystoneServer) -> dict[str, str]:  # noqa: F811
    """Each signer's certificate in Barbican, stored by alpha's member: the 8192-bit one with the
    `openstack secret store` CLI, the others with python-barbicanclient. name -> secret UUID."""
    stored: dict[str, str] = {}
    for name, signer in signers.items():
        if name == "rsa8192":
            pem = signer.certificate.public_bytes(serialization.Encoding.PEM)
            result = openstack_cli(
                sig_server, "alpha-member", "secret", "store", "--name", f"e2e-{name}", "--secret-type",
                "certificate", "--payload-content-type", "application/octet-stream",
                "--payload-content-encoding", "base64", "--payload", base64.b64encode(pem).decode(),
                "-f", "value", "-c", "Secret href",
            )  # fmt: skip
            stored[name] = result.stdout.strip().rpartition("/")[2]
        else:
            stored[name] = store_certificate("alpha-member", signer.certificate)
    return stored


@pytest.fixture(scope="module")
def sig_server(tmp_path_factory: pytest.TempPathFactory, keystone: str, barbican: str) -> Iterator[KeystoneServer]:  # noqa: F811
    with keystone_server(tmp_path_factory, "signatures") as state:
        yield state


@pytest.fixture(autouse=True)
def _server_stays_healthy(sig_server: KeystoneServer) -> Iterator[None]:
    with stays_healthy(sig_server):
        yield


@pytest.fixture(scope="module")
def glance(sig_server: KeystoneServer) -> Any:
    """python-glanceclient as alpha's member, signed in at Keystone."""
    return glanceclient.Client("2", endpoint=sig_server.url, session=password_session("alpha-member", "alpha"))


@pytest.fixture(scope="module")
def data() -> bytes:
    return os.urandom(DATA_SIZE)


def signature_properties(signer: Signer, certificate: str, data: bytes, hash_method: str = "SHA-512") -> dict[str, str]:
    return {
        "img_signature": signer.sign(data, hash_method),
        "img_signature_hash_method": hash_method,
        "img_signature_key_type": signer.key_type,
        "img_signature_certificate_uuid": certificate,
    }


def stored_files(server: KeystoneServer, image_id: str) -> list[Path]:
    """Whatever of this image is under the server's data directory (its store and staging area)."""
    data_dir = server.config.parent / "data"
    return [path for path in data_dir.rglob(f"*{image_id}*") if path.is_file()]


def new_image(glance: Any, **properties: str) -> str:
    image = glance.images.create(
        name=f"signed-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare", **properties
    )
    return str(image["id"])


@pytest.mark.parametrize("name", list(SIGNERS))
def test_signed_upload_with_glanceclient_becomes_active(
    glance: Any, signers: dict[str, Signer], certificates: dict[str, str], data: bytes, name: str
) -> None:
    signer = signers[name]
    props = signature_properties(signer, certificates[name], data)
    if name == "rsa8192":
        assert len(props["img_signature"]) == 1368  # far past Glance's old 255-character limit
    # Glimpse and cursive (what Glance and Nova verify with) agree on the sample
    verifier = cursive.SignatureKeyType.lookup(signer.key_type).create_verifier(
        base64.b64decode(props["img_signature"]), hashes.SHA512(), signer.certificate.public_key()
    )
    verifier.update(data)
    verifier.verify()
    image_id = new_image(glance, **props)
    glance.images.upload(image_id, io.BytesIO(data), image_size=len(data))
    image = glance.images.get(image_id)
    assert image["status"] == "active"
    assert image["img_signature"] == props["img_signature"]
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    # what the data was verified with, read-only
    assert image["img_signature_verified_certificate_uuid"] == certificates[name]
    assert image["img_signature_verified_certificate_sha256"] == signer.certificate.fingerprint(hashes.SHA256()).hex()
    with pytest.raises(glance_exc.HTTPForbidden):
        glance.images.update(image_id, img_signature_verified_certificate_uuid=str(uuid.uuid4()))
    assert b"".join(glance.images.data(image_id)) == data


@pytest.mark.parametrize("hash_method", ["SHA-256", "SHA-384"])
def test_other_hash_methods(
    glance: Any, signers: dict[str, Signer], certificates: dict[str, str], data: bytes, hash_method: str
) -> None:
    image_id = new_image(glance, **signature_properties(signers["p384"], certificates["p384"], data, hash_method))
    glance.images.upload(image_id, io.BytesIO(data), image_size=len(data))
    assert glance.images.get(image_id)["status"] == "active"


def test_signed_upload_with_openstacksdk(
    sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    conn = openstack.connection.Connection(
        auth_type="password",
        auth={
            "auth_url": f"{KEYSTONE_URL}/v3",
            "username": "alpha-member",
            "password": USER_PASSWORD,
            "project_name": "alpha",
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        region_name="RegionOne",
        image_endpoint_override=sig_server.url,
    )
    try:
        props = signature_properties(signers["rsa8192"], certificates["rsa8192"], data)
        image = conn.image.create_image(
            name=f"sdk-signed-{uuid.uuid4().hex[:8]}", data=data, disk_format="raw", container_format="bare",
            allow_duplicates=True, validate_checksum=False, **props,
        )  # fmt: skip
        image = conn.image.get_image(image.id)
        assert image.status == "active"
        assert image.properties["img_signature"] == props["img_signature"]
        tampered = bytes([data[0] ^ 1]) + data[1:]
        with pytest.raises(openstack.exceptions.BadRequestException):
            conn.image.create_image(
                name=f"sdk-tampered-{uuid.uuid4().hex[:8]}", data=tampered, disk_format="raw",
                container_format="bare", allow_duplicates=True, validate_checksum=False, **props,
            )  # fmt: skip
    finally:
        conn.close()


def refused(glance: Any, server: KeystoneServer, image_id: str, data: bytes, match: str) -> None:
    """The upload is a 400 saying ``match``; the image is queued again with nothing stored."""
    with pytest.raises(glance_exc.HTTPBadRequest, match=match):
        glance.images.upload(image_id, io.BytesIO(data), image_size=len(data))
    image = glance.images.get(image_id)
    assert image["status"] == "queued"
    assert image.get("checksum") is None
    assert stored_files(server, image_id) == []


def test_tampered_data_is_refused(
    glance: Any, sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    for name in ("rsa4096", "p521", "dsa"):
        image_id = new_image(glance, **signature_properties(signers[name], certificates[name], data))
        tampered = data[:-1] + bytes([data[-1] ^ 0x80])
        refused(glance, sig_server, image_id, tampered, "Signature verification failed")
        # the same image takes the right data afterwards
        glance.images.upload(image_id, io.BytesIO(data), image_size=len(data))
        assert glance.images.get(image_id)["status"] == "active"


def test_wrong_certificate_is_refused(
    glance: Any, sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    props = signature_properties(signers["rsa4096"], certificates["rsa8192"], data)  # another RSA key's
    refused(glance, sig_server, new_image(glance, **props), data, "does not match the data")


def test_wrong_key_type_is_refused(
    glance: Any, sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    props = signature_properties(signers["p384"], certificates["p384"], data)
    props["img_signature_key_type"] = "DSA"
    refused(glance, sig_server, new_image(glance, **props), data, "Invalid public key type")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"img_signature_certificate_uuid": str(uuid.uuid4())}, "Unable to retrieve certificate"),
        ({"img_signature": "%%% not base64"}, "base64"),
        ({"img_signature_hash_method": "MD5"}, "Invalid signature hash method"),
        ({"img_signature_key_type": "ECC_SECP256K1"}, "Invalid signature key type"),
    ],
)
def test_bad_properties_are_refused(
    glance: Any,
    sig_server: KeystoneServer,
    signers: dict[str, Signer],
    certificates: dict[str, str],
    data: bytes,
    change: dict[str, str],
    match: str,
) -> None:
    props = {**signature_properties(signers["p521"], certificates["p521"], data), **change}
    refused(glance, sig_server, new_image(glance, **props), data, match)


def test_another_projects_certificate_is_refused(
    sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    beta = glanceclient.Client("2", endpoint=sig_server.url, session=password_session("beta-member", "beta"))
    props = signature_properties(signers["p384"], certificates["p384"], data)  # alpha's secret
    refused(beta, sig_server, new_image(beta, **props), data, "Unable to retrieve certificate")


def test_glance_direct_import_verifies(
    glance: Any, sig_server: KeystoneServer, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    props = signature_properties(signers["rsa4096"], certificates["rsa4096"], data)
    good = new_image(glance, **props)
    glance.images.stage(good, io.BytesIO(data), image_size=len(data))
    glance.images.image_import(good, method="glance-direct")
    assert wait_for(glance, good, {"active", "queued", "uploading"}) == "active"

    bad = new_image(glance, **props)
    glance.images.stage(bad, io.BytesIO(data[:-1] + b"\x00"), image_size=len(data))
    glance.images.image_import(bad, method="glance-direct")
    # as any failed glance-direct import: back to uploading with the staged data, the store in the failed list
    assert wait_for(glance, bad, {"active", "uploading"}) == "uploading"
    image = glance.images.get(bad)
    assert image["os_glance_failed_import"] == "local"
    assert image.get("checksum") is None
    tasks = glance.images.get_associated_image_tasks(bad)["tasks"]
    assert any("Signature verification failed" in (task.get("message") or "") for task in tasks)
    assert [path for path in stored_files(sig_server, bad) if "staging" not in str(path)] == []


def wait_for(glance: Any, image_id: str, statuses: set[str]) -> str:
    import time

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = str(glance.images.get(image_id)["status"])
        if status in statuses:
            return status
        time.sleep(0.5)
    raise AssertionError(f"image {image_id} stayed {status}")


def test_barbican_down_is_a_503_and_unsigned_uploads_work(
    tmp_path_factory: pytest.TempPathFactory, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    extra = "\n[barbican]\nbarbican_endpoint = http://127.0.0.1:9\n"
    with keystone_server(tmp_path_factory, "no-barbican", extra=extra) as down:
        client = glanceclient.Client("2", endpoint=down.url, session=password_session("alpha-member", "alpha"))
        signed = new_image(client, **signature_properties(signers["p384"], certificates["p384"], data))
        with pytest.raises(glance_exc.HTTPServiceUnavailable):
            client.images.upload(signed, io.BytesIO(data), image_size=len(data))
        assert client.images.get(signed)["status"] == "queued"
        assert stored_files(down, signed) == []
        unsigned = new_image(client)
        client.images.upload(unsigned, io.BytesIO(data), image_size=len(data))
        assert client.images.get(unsigned)["status"] == "active"


def test_a_project_may_require_signed_images(
    tmp_path_factory: pytest.TempPathFactory, signers: dict[str, Signer], certificates: dict[str, str], data: bytes
) -> None:
    alpha = password_session("alpha-member", "alpha")
    extra = f"\n[glimpse]\nrequire_signed_images = {alpha.get_project_id()}\n"
    with keystone_server(tmp_path_factory, "require-signed", extra=extra) as strict:
        client = glanceclient.Client("2", endpoint=strict.url, session=alpha)
        unsigned = new_image(client)
        refused(client, strict, unsigned, data, "accepts signed image data only")
        props = signature_properties(signers["p521"], certificates["p521"], data)
        partial = new_image(client, **{k: v for k, v in props.items() if k != "img_signature"})
        refused(client, strict, partial, data, "missing: img_signature")
        signed = new_image(client, **props)
        client.images.upload(signed, io.BytesIO(data), image_size=len(data))
        assert client.images.get(signed)["status"] == "active"
        # another project is not bound by alpha's rule
        beta = glanceclient.Client("2", endpoint=strict.url, session=password_session("beta-member", "beta"))
        other = new_image(beta)
        beta.images.upload(other, io.BytesIO(data), image_size=len(data))
        assert beta.images.get(other)["status"] == "active"
