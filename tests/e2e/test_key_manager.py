"""The key manager driver against the real Barbican of scripts/barbican-up (Keystone auth, simple_crypto).

A certificate stored by a project member with python-barbicanclient is read back through castellan with that
member's token; a missing secret, another project's secret and a Barbican nobody answers for are told apart
(400-class refusals against a 503-class outage).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from barbicanclient import client as barbican_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from glimpse.errors import KeyManagerRefused, KeyManagerUnavailable
from glimpse.keys import Credentials
from glimpse.keys.barbican import CastellanKeyManager

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BARBICAN_UP = ROOT / "scripts" / "barbican-up"
KEYSTONE_URL = "http://127.0.0.1:5000"
BARBICAN_URL = "http://127.0.0.1:9311"
USER_PASSWORD = "glimpse-test-password"  # scripts/keystone_accounts.py


@pytest.fixture(scope="session")
def barbican() -> str:
    """The Barbican of scripts/barbican-up (started, or reused while healthy; Keystone comes up first)."""
    started = subprocess.run(
        [str(BARBICAN_UP)], capture_output=True, text=True, timeout=1200, check=False, stdin=subprocess.DEVNULL
    )
    if started.returncode != 0:
        pytest.fail(f"scripts/barbican-up failed ({started.returncode}):\n{started.stderr[-4000:]}", pytrace=False)
    return BARBICAN_URL


def user_session(user: str) -> ks_session.Session:
    auth = v3.Password(
        auth_url=f"{KEYSTONE_URL}/v3",
        username=user,
        password=USER_PASSWORD,
        project_name=user.split("-")[0],
        user_domain_name="Default",
        project_domain_name="Default",
    )
    return ks_session.Session(auth=auth, timeout=30)


def credentials(user: str) -> Credentials:
    sess = user_session(user)
    token = sess.get_token()
    assert token is not None
    return Credentials(token=token, project_id=sess.get_project_id())


def self_signed(key: Any, name: str = "glimpse-test") -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )


def store_certificate(user: str, certificate: x509.Certificate) -> str:
    """python-barbicanclient, as `openstack secret store --secret-type certificate` does; the secret's UUID."""
    client = barbican_client.Client(session=user_session(user))
    secret = client.secrets.create(
        name=f"cert-{uuid.uuid4().hex[:8]}",
        payload=base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode(),
        secret_type="certificate",
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )
    ref: str = secret.store()
    return ref.rpartition("/")[2]


@pytest.fixture(scope="module")
def manager(barbican: str) -> CastellanKeyManager:
    return CastellanKeyManager(auth_url=f"{KEYSTONE_URL}/v3", endpoint=barbican)


def test_certificate_read_back_with_the_users_token(manager: CastellanKeyManager) -> None:
    certificate = self_signed(ec.generate_private_key(ec.SECP384R1()))
    secret = store_certificate("alpha-member", certificate)
    der = asyncio.run(manager.certificate(credentials("alpha-member"), secret))
    assert der == certificate.public_bytes(serialization.Encoding.DER)


def test_catalog_lookup_finds_barbican(barbican: str) -> None:
    """No endpoint configured: castellan finds the key-manager service scripts/barbican-up registered."""
    certificate = self_signed(ec.generate_private_key(ec.SECP384R1()))
    secret = store_certificate("alpha-member", certificate)
    catalog = CastellanKeyManager(auth_url=f"{KEYSTONE_URL}/v3")
    der = asyncio.run(catalog.certificate(credentials("alpha-member"), secret))
    assert x509.load_der_x509_certificate(der) == certificate


def test_missing_and_foreign_secrets_are_refused(manager: CastellanKeyManager) -> None:
    with pytest.raises(KeyManagerRefused, match="no secret"):
        asyncio.run(manager.certificate(credentials("alpha-member"), str(uuid.uuid4())))
    secret = store_certificate("alpha-member", self_signed(ec.generate_private_key(ec.SECP384R1())))
    with pytest.raises(KeyManagerRefused):
        asyncio.run(manager.certificate(credentials("beta-member"), secret))


def test_a_secret_that_is_no_certificate_is_refused(manager: CastellanKeyManager) -> None:
    client = barbican_client.Client(session=user_session("alpha-member"))
    ref = client.secrets.create(
        name="opaque",
        payload=base64.b64encode(b"not a certificate").decode(),
        secret_type="opaque",
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    ).store()
    with pytest.raises(KeyManagerRefused, match="not a certificate"):
        asyncio.run(manager.certificate(credentials("alpha-member"), ref.rpartition("/")[2]))


def test_barbican_down_is_unavailable(barbican: str) -> None:
    nobody = CastellanKeyManager(auth_url=f"{KEYSTONE_URL}/v3", endpoint="http://127.0.0.1:9")
    with pytest.raises(KeyManagerUnavailable):
        asyncio.run(nobody.certificate(credentials("alpha-member"), str(uuid.uuid4())))
    no_keystone = CastellanKeyManager(auth_url="http://127.0.0.1:9/v3", endpoint=barbican)
    with pytest.raises(KeyManagerUnavailable):
        asyncio.run(no_keystone.certificate(credentials("alpha-member"), str(uuid.uuid4())))
