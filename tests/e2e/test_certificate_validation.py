"""Certificate validation (Nova's ``trusted_certificate_ids``, a Glimpse extension) end to end: a real Keystone
and Barbican, a real `glimpse serve`, python-glanceclient.

A root CA (P-384) issues an intermediate CA (RSA 3072), which issues the signing certificate (RSA 3072,
RSA-PSS signatures); all three, an unrelated root and an expired signing certificate are stored in Barbican
by alpha's member. An image naming its trusted certificates in ``img_signature_trusted_certificate_ids`` is
active when its signing certificate chains to them (one Barbican does not have is skipped), and records the
chain; a chain to nothing trusted, a missing intermediate, an expired certificate: 400 worded as Nova's, the
image queued and nothing stored. A server with ``default_trusted_certificate_ids`` validates every signed
image that names none.
"""

from __future__ import annotations

import datetime
import io
import uuid
from typing import Any

import glanceclient  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cursive import certificate_utils as cursive
from cursive import exception as cursive_errors

from tests.e2e.test_key_manager import barbican, store_certificate  # noqa: F401 (a fixture)
from tests.e2e.test_keystone import (
    KeystoneServer,
    keystone,  # noqa: F401 (a fixture)
    keystone_server,
    password_session,
)
from tests.e2e.test_signatures import (  # noqa: F401 (fixtures: this module's own server, as alpha's member)
    Signer,
    _server_stays_healthy,
    glance,
    new_image,
    refused,
    sig_server,
    signature_properties,
    wait_for,
)
from tests.pki import DAY, issue

pytestmark = pytest.mark.e2e

REFUSED = "Image signature certificate validation failed for certificate"


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    root = issue("Glimpse e2e Root CA", ca=True)
    inter = issue("Glimpse e2e Intermediate CA", root, ca=True, key=rsa.generate_private_key(65537, 3072))
    signer = issue("Glimpse e2e signer", inter, key=rsa.generate_private_key(65537, 3072))
    now = datetime.datetime.now(datetime.UTC)
    expired = issue("Glimpse e2e expired signer", inter, key=signer.key, not_before=now - 30 * DAY, not_after=now - DAY)
    return {
        "root": root.cert,
        "inter": inter.cert,
        "other": issue("Another Root CA", ca=True).cert,
        "signer": Signer("RSA-PSS", signer.key, signer.cert),
        "expired": Signer("RSA-PSS", expired.key, expired.cert),
    }


@pytest.fixture(scope="module")
def ids(pki: dict[str, Any], barbican: str, keystone: str) -> dict[str, str]:  # noqa: F811
    """Every certificate in Barbican, stored by alpha's member: name -> secret UUID."""
    stored = {name: store_certificate("alpha-member", pki[name]) for name in ("root", "inter", "other")}
    for name in ("signer", "expired"):
        stored[name] = store_certificate("alpha-member", pki[name].certificate)
    return stored


@pytest.fixture(scope="module")
def data() -> bytes:
    return uuid.uuid4().bytes * 70_000  # 1.1 MB


def signed(
    pki: dict[str, Any], ids: dict[str, str], data: bytes, signer: str = "signer", **extra: str
) -> dict[str, str]:
    return {**signature_properties(pki[signer], ids[signer], data), **extra}


def cursive_trusts(pki: dict[str, Any], signer: str, trusted: list[str]) -> bool:
    """cursive's verdict (what Nova runs at boot) on the same certificates."""
    context = cursive.CertificateVerificationContext([(name, pki[name]) for name in trusted])
    try:
        context.update(pki[signer].certificate)
        context.verify()
    except cursive_errors.SignatureVerificationError:
        return False
    return True


def test_a_chain_to_a_trusted_root_is_active_and_recorded(
    glance: Any,  # noqa: F811
    pki: dict[str, Any],
    ids: dict[str, str],
    data: bytes,
) -> None:
    # a trusted certificate Barbican does not have is skipped (as cursive skips it)
    trusted = f"{ids['root']} {uuid.uuid4()},{ids['inter']}"
    image_id = new_image(glance, **signed(pki, ids, data, img_signature_trusted_certificate_ids=trusted))
    glance.images.upload(image_id, io.BytesIO(data), image_size=len(data))
    image = glance.images.get(image_id)
    assert image["status"] == "active"
    assert image["img_signature_verified_certificate_uuid"] == ids["signer"]
    # the issuer first, the root last
    assert image["img_signature_verified_trust_chain"] == f"{ids['inter']},{ids['root']}"
    assert cursive_trusts(pki, "signer", ["inter", "root"])  # Nova would boot it
    # the record is read-only, and changing what is trusted drops it
    with pytest.raises(glanceclient.exc.HTTPForbidden):
        glance.images.update(image_id, img_signature_verified_trust_chain=ids["other"])
    glance.images.update(image_id, img_signature_trusted_certificate_ids=ids["other"])
    assert "img_signature_verified_trust_chain" not in glance.images.get(image_id)


@pytest.mark.parametrize(
    ("signer", "trusted", "match"),
    [
        ("signer", ["other"], "no trusted certificate issued it"),
        ("signer", ["root"], "no trusted certificate issued it"),  # the intermediate is not trusted
        ("signer", ["inter"], "self-signed root CA"),  # an intermediate is no root
        ("expired", ["inter", "root"], "outside its valid date range"),
    ],
)
def test_an_untrusted_certificate_is_refused(
    glance: Any,  # noqa: F811
    sig_server: KeystoneServer,  # noqa: F811
    pki: dict[str, Any],
    ids: dict[str, str],
    data: bytes,
    signer: str,
    trusted: list[str],
    match: str,
) -> None:
    listed = ",".join(ids[name] for name in trusted)
    image_id = new_image(glance, **signed(pki, ids, data, signer, img_signature_trusted_certificate_ids=listed))
    refused(glance, sig_server, image_id, data, f"{REFUSED}: {ids[signer]}.*{match}")
    assert not cursive_trusts(pki, signer, trusted)  # cursive agrees


def test_trusted_certificates_ask_for_a_signature(
    glance: Any,  # noqa: F811
    sig_server: KeystoneServer,  # noqa: F811
    ids: dict[str, str],
    data: bytes,
) -> None:
    image_id = new_image(glance, img_signature_trusted_certificate_ids=ids["root"])
    refused(glance, sig_server, image_id, data, "needs signed image data; missing: img_signature,")


def test_glance_direct_import_validates(
    glance: Any,  # noqa: F811
    sig_server: KeystoneServer,  # noqa: F811
    pki: dict[str, Any],
    ids: dict[str, str],
    data: bytes,
) -> None:
    trusted = f"{ids['inter']},{ids['root']}"
    good = new_image(glance, **signed(pki, ids, data, img_signature_trusted_certificate_ids=trusted))
    glance.images.stage(good, io.BytesIO(data), image_size=len(data))
    glance.images.image_import(good, method="glance-direct")
    assert wait_for(glance, good, {"active", "queued", "uploading"}) == "active"
    assert glance.images.get(good)["img_signature_verified_trust_chain"] == trusted
    # refused at the import call, before any task runs
    bad = new_image(glance, **signed(pki, ids, data, img_signature_trusted_certificate_ids=ids["other"]))
    glance.images.stage(bad, io.BytesIO(data), image_size=len(data))
    with pytest.raises(glanceclient.exc.HTTPBadRequest, match=REFUSED):
        glance.images.image_import(bad, method="glance-direct")


def test_the_operators_default_trusted_certificates(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Any], ids: dict[str, str], data: bytes
) -> None:
    extra = f"\n[glimpse]\ndefault_trusted_certificate_ids = {ids['inter']}, {ids['root']}\n"
    with keystone_server(tmp_path_factory, "default-trusted", extra=extra) as strict:
        client = glanceclient.Client("2", endpoint=strict.url, session=password_session("alpha-member", "alpha"))
        validated = new_image(client, **signed(pki, ids, data))
        client.images.upload(validated, io.BytesIO(data), image_size=len(data))
        image = client.images.get(validated)
        assert image["status"] == "active"
        assert image["img_signature_verified_trust_chain"] == f"{ids['inter']},{ids['root']}"
        # the image's own list replaces the default (Nova's rule)
        own = new_image(client, **signed(pki, ids, data, img_signature_trusted_certificate_ids=ids["other"]))
        refused(client, strict, own, data, REFUSED)
        # unsigned data is not asked for a certificate (require_signed_images does that)
        unsigned = new_image(client)
        client.images.upload(unsigned, io.BytesIO(data), image_size=len(data))
        assert client.images.get(unsigned)["status"] == "active"
