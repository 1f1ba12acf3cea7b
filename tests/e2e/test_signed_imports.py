"""Signature verification of imported data end to end: web-download, copy-image and location import against a
real Keystone and Barbican and a real `glimpse serve` with two filesystem stores.

The data is signed with ``cryptography`` and the certificate stored in Barbican by alpha's member. A
web-download or a location import of the signed data makes the image active with the verification recorded;
of tampered data, the task fails with "Signature verification failed" and the image is queued again with
nothing stored. copy-image of a verified image by an admin of another project (who may not read alpha's
certificate in Barbican) copies it: the copy is checked against the image's recorded multihash, so corrupt
bytes in the source store are refused; once the owner changes a signature property the record is gone and
the admin's copy is verified with the admin's credentials, as Glance does (400: Barbican refuses them).
"""

from __future__ import annotations

import hashlib
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import openstack.connection
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from glanceclient import exc as glance_exc

from tests.e2e.conftest import stays_healthy
from tests.e2e.test_key_manager import barbican, store_certificate  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import KeystoneServer, keystone, keystone_server, password_session  # noqa: F401
from tests.e2e.test_signatures import DATA_SIZE, Signer, _signer, signature_properties
from tests.webserver import bytes_handler, serving

pytestmark = pytest.mark.e2e

STORES_CONF = """
[DEFAULT]
enabled_backends = fast:file, cheap:file

[glance_store]
default_backend = fast

[fast]
filesystem_store_datadir = {root}/fast

[cheap]
filesystem_store_datadir = {root}/cheap

[import_filtering_opts]
allowed_hosts = 127.0.0.1
allowed_ports =
"""


@dataclass(frozen=True)
class Signed:
    server: KeystoneServer
    stores: Path
    signer: Signer
    certificate: str
    data: bytes

    def properties(self, data: bytes | None = None) -> dict[str, str]:
        return signature_properties(self.signer, self.certificate, self.data if data is None else data)

    def files(self, image_id: str) -> list[Path]:
        """This image's data in either store."""
        return [path for path in self.stores.rglob(f"*{image_id}*") if path.is_file()]


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, keystone: str, barbican: str) -> Iterator[Signed]:  # noqa: F811
    stores = tmp_path_factory.mktemp("signed-import-stores")
    for name in ("fast", "cheap"):
        (stores / name).mkdir()
    signer = _signer("ECC_SECP384R1", ec.generate_private_key(ec.SECP384R1()))
    certificate = store_certificate("alpha-member", signer.certificate)
    data = bytes(range(256)) * (DATA_SIZE // 256) + b"tail"
    with (
        keystone_server(tmp_path_factory, "signed-imports", extra=STORES_CONF.format(root=stores)) as server,
        stays_healthy(server),
    ):
        yield Signed(server, stores, signer, certificate, data)


def client(server: KeystoneServer, user: str, project: str, password: str | None = None) -> Any:
    session = password_session(user, project) if password is None else password_session(user, project, password)
    return glanceclient.Client("2", endpoint=server.url, session=session)


def settle(glance: Any, image_id: str, statuses: set[str], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        image = glance.images.get(image_id)
        if image["status"] in statuses and not image.get("os_glance_importing_to_stores"):
            return image
        assert time.monotonic() < deadline, f"image {image_id} stayed {image['status']}"
        time.sleep(0.3)


def task_messages(glance: Any, image_id: str) -> str:
    return " ".join(task.get("message") or "" for task in glance.images.get_associated_image_tasks(image_id)["tasks"])


def new_image(glance: Any, **properties: str) -> str:
    image = glance.images.create(
        name=f"signed-{uuid.uuid4().hex[:8]}", disk_format="raw", container_format="bare", **properties
    )
    return str(image["id"])


def test_web_download_verifies(signed: Signed) -> None:
    alpha = client(signed.server, "alpha-member", "alpha")
    tampered = signed.data[:100] + b"X" + signed.data[101:]
    with serving(bytes_handler(signed.data)) as good_url, serving(bytes_handler(tampered)) as bad_url:
        good = new_image(alpha, **signed.properties())
        alpha.images.image_import(good, method="web-download", uri=f"{good_url}/signed.img")
        image = settle(alpha, good, {"active", "queued"})
        assert image["status"] == "active", task_messages(alpha, good)
        assert image["img_signature_verified_certificate_uuid"] == signed.certificate
        assert image["os_hash_value"] == hashlib.sha512(signed.data).hexdigest()

        bad = new_image(alpha, **signed.properties())
        alpha.images.image_import(bad, method="web-download", uri=f"{bad_url}/signed.img")
        image = settle(alpha, bad, {"active", "queued"})
        assert image["status"] == "queued"
        assert "Signature verification failed" in task_messages(alpha, bad)
        assert image.get("checksum") is None
        assert signed.files(bad) == []


def test_admin_copies_another_projects_signed_image(signed: Signed) -> None:
    alpha = client(signed.server, "alpha-member", "alpha")
    admin = client(signed.server, "admin", "admin", "admin")  # scripts/keystone-up's bootstrap admin
    image_id = new_image(alpha, **signed.properties())
    alpha.images.upload(image_id, io.BytesIO(signed.data), image_size=len(signed.data))
    assert alpha.images.get(image_id)["img_signature_verified_certificate_uuid"] == signed.certificate

    admin.images.image_import(image_id, method="copy-image", stores=["cheap"])
    image = settle(admin, image_id, {"active"})
    assert sorted(image["stores"].split(",")) == ["cheap", "fast"], task_messages(admin, image_id)
    copy = next(path for path in signed.files(image_id) if "cheap" in path.parts)
    assert hashlib.sha512(copy.read_bytes()).hexdigest() == image["os_hash_value"]
    assert image["img_signature_verified_certificate_uuid"] == signed.certificate


def test_a_copy_of_corrupt_bytes_is_refused(signed: Signed) -> None:
    alpha = client(signed.server, "alpha-member", "alpha")
    admin = client(signed.server, "admin", "admin", "admin")
    image_id = new_image(alpha, **signed.properties())
    alpha.images.upload(image_id, io.BytesIO(signed.data), image_size=len(signed.data))
    (source,) = signed.files(image_id)
    source.write_bytes(signed.data[:-1] + b"!")  # the verified bytes rot in the store
    admin.images.image_import(image_id, method="copy-image", stores=["cheap"])
    image = settle(admin, image_id, {"active"})
    assert image["stores"] == "fast"
    assert image["os_glance_failed_import"] == "cheap"
    assert "does not match its recorded sha512 hash" in task_messages(admin, image_id)
    assert [path for path in signed.files(image_id) if "cheap" in path.parts] == []


def test_a_changed_signature_is_verified_again_with_the_callers_credentials(signed: Signed) -> None:
    alpha = client(signed.server, "alpha-member", "alpha")
    admin = client(signed.server, "admin", "admin", "admin")
    image_id = new_image(alpha, **signed.properties())
    alpha.images.upload(image_id, io.BytesIO(signed.data), image_size=len(signed.data))
    other = signature_properties(signed.signer, signed.certificate, signed.data, "SHA-384")
    alpha.images.update(image_id, img_signature=other["img_signature"], img_signature_hash_method="SHA-384")
    image = alpha.images.get(image_id)
    assert "img_signature_verified_certificate_uuid" not in image  # the record vouched for the old signature
    assert "img_signature_verified_certificate_sha256" not in image
    # the admin of another project may not read alpha's certificate in Barbican: refused before any task
    with pytest.raises(glance_exc.HTTPBadRequest, match="Unable to retrieve certificate"):
        admin.images.image_import(image_id, method="copy-image", stores=["cheap"])
    assert alpha.images.get(image_id)["stores"] == "fast"


def sdk(server: KeystoneServer, user: str, project: str) -> Any:
    return openstack.connection.Connection(
        session=password_session(user, project), image_endpoint_override=server.url, region_name="RegionOne"
    )


def test_location_import_verifies(signed: Signed) -> None:
    conn = sdk(signed.server, "alpha-member", "alpha")
    alpha = client(signed.server, "alpha-member", "alpha")
    try:
        good_path = signed.stores / "fast" / f"located-{uuid.uuid4().hex[:8]}.img"
        good_path.write_bytes(signed.data)
        good = new_image(alpha, **signed.properties())
        conn.image.add_image_location(good, good_path.as_uri())
        image = settle(alpha, good, {"active", "queued"})
        assert image["status"] == "active", task_messages(alpha, good)
        assert image["img_signature_verified_certificate_uuid"] == signed.certificate

        bad_path = signed.stores / "fast" / f"located-{uuid.uuid4().hex[:8]}.img"
        bad_path.write_bytes(signed.data + b"more")
        bad = new_image(alpha, **signed.properties())
        conn.image.add_image_location(bad, bad_path.as_uri())
        image = settle(alpha, bad, {"active", "queued"})
        assert image["status"] == "queued"
        assert "Signature verification failed" in task_messages(alpha, bad)
        assert bad_path.read_bytes() == signed.data + b"more"  # a location's data is never touched
    finally:
        conn.close()


def test_rsa_signed_web_download_of_8192_bits(signed: Signed) -> None:
    """A 1,368-character signature through an import task (its input carries the certificate)."""
    signer = _signer("RSA-PSS", rsa.generate_private_key(public_exponent=65537, key_size=8192))
    certificate = store_certificate("alpha-member", signer.certificate)
    alpha = client(signed.server, "alpha-member", "alpha")
    props = signature_properties(signer, certificate, signed.data)
    assert len(props["img_signature"]) == 1368
    with serving(bytes_handler(signed.data)) as url:
        image_id = new_image(alpha, **props)
        alpha.images.image_import(image_id, method="web-download", uri=f"{url}/signed.img")
        image = settle(alpha, image_id, {"active", "queued"})
    assert image["status"] == "active", task_messages(alpha, image_id)
