"""Signature verification benchmark: what verifying an RSA-PSS SHA-512 signature costs a large upload.

    scripts/barbican-up && .venv/bin/python bench/signature_bench.py                 # 1 GiB, 3 rounds
    .venv/bin/python bench/signature_bench.py --size-mib 256 --rounds 2          # quicker

Starts `glimpse serve --config FILE` with Keystone auth (the Keystone and Barbican of scripts/barbican-up,
which must be running), SQLite and one filesystem store in a fresh temp dir. A file of incompressible bytes is
signed with a 4096-bit RSA key (RSA-PSS, MGF1, maximum salt, SHA-512) whose self-signed certificate alpha's
member stores in Barbican. Each round uploads the file twice as alpha's member (``PUT /file``, the body sent
with ``sendfile``): once to an image without signature properties, once to an image carrying the four
``img_signature*`` properties; the order alternates between rounds. An upload's MB/s is the size over the time
from the first byte sent to the response; both images must end active with the file's sha512. The figure
is the median of the rounds for each, and their ratio. Writes bench/results/signature-latest.json.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from barbicanclient import client as barbican_client
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.x509.oid import NameOID
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from benchlib import httpc, machine, server
from import_bench import Server, log

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results" / "signature-latest.json"
KEYSTONE = "http://127.0.0.1:5000"
CONFIG = """\
[DEFAULT]
enabled_backends = local:file

[glance_store]
default_backend = local

[local]
filesystem_store_datadir = {root}/stores/local

[database]
connection = sqlite:///{root}/glimpse.db

[glimpse]
data_dir = {root}/data

[paste_deploy]
flavor = keystone

[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = glimpse
password = glimpse-service-password
interface = public
"""


def member_session() -> ks_session.Session:
    auth = v3.Password(
        auth_url=f"{KEYSTONE}/v3", username="alpha-member", password="glimpse-test-password",
        project_name="alpha", user_domain_name="Default", project_domain_name="Default",
    )  # fmt: skip
    return ks_session.Session(auth=auth, timeout=60)


def signed_properties(sess: ks_session.Session, sha512_hex: str) -> dict[str, str]:
    """Sign the digest with a new RSA 4096 key; its certificate goes to Barbican. The four properties."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "glimpse signature bench")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    ref = barbican_client.Client(session=sess).secrets.create(
        name="signature-bench", payload=base64.b64encode(pem).decode(), secret_type="certificate",
        payload_content_type="application/octet-stream", payload_content_encoding="base64",
    ).store()  # fmt: skip
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=padding.PSS.MAX_LENGTH)
    signature = key.sign(bytes.fromhex(sha512_hex), pss, utils.Prehashed(hashes.SHA512()))
    return {
        "img_signature": base64.b64encode(signature).decode(),
        "img_signature_hash_method": "SHA-512",
        "img_signature_key_type": "RSA-PSS",
        "img_signature_certificate_uuid": ref.rpartition("/")[2],
    }


def upload(srv: Server, token: str, data: machine.DataFile, sha512: str, properties: dict[str, str]) -> float:
    """One image created and uploaded; the upload's seconds. The image must be active with the file's sha512."""
    headers = {"X-Auth-Token": token}
    with httpx.Client(base_url=srv.endpoint.base, headers=headers, timeout=600) as client:
        body = {"name": "signature-bench", "disk_format": "raw", "container_format": "bare", **properties}
        created = client.post("/v2/images", json=body)
        created.raise_for_status()
        image_id = created.json()["id"]
        sent = httpc.upload_file(
            srv.endpoint, f"/v2/images/{image_id}/file", data.path,
            {**headers, "Content-Type": "application/octet-stream"},
        )  # fmt: skip
        if sent.status != 204:
            raise RuntimeError(f"PUT /file answered {sent.status}: {sent.body[:300]!r}")
        image = client.get(f"/v2/images/{image_id}").json()
        if image["status"] != "active" or image["os_hash_value"] != sha512:
            raise RuntimeError(f"image {image_id} is {image['status']} with {image['os_hash_value']}")
        client.delete(f"/v2/images/{image_id}").raise_for_status()
    return sent.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="image size in MiB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3, help="uploads of each kind (default 3)")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="where the file, database and store go")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results (default {RESULTS})")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="glimpse-signature-bench-", dir=args.tmp_dir) as tmp:
        root = Path(tmp)
        log(f"machine: {os.cpu_count()} CPUs, {platform.platform()}, temp dir on {machine.filesystem_of(root)}")
        log(f"writing {args.size_mib} MiB of incompressible data ...")
        data = machine.make_data_file(root / "image.raw", args.size_mib)
        sha512 = machine.hash_file(data.path, "sha512")
        sess = member_session()
        properties = signed_properties(sess, sha512.hexdigest)
        log(f"signature: {len(properties['img_signature'])} characters, certificate in Barbican")
        config = root / "glimpse.conf"
        config.write_text(CONFIG.format(root=root, keystone=KEYSTONE))
        srv = Server(config, root / "server.log")
        seconds: dict[str, list[float]] = {"plain": [], "verified": []}
        try:
            server.wait_ready(srv.endpoint, 60, srv.process)
            token = sess.get_token()
            assert token is not None
            upload(srv, token, data, sha512.hexdigest, {})  # warm-up: the first upload pays for start-up costs
            for round_ in range(args.rounds):
                order = ("plain", "verified") if round_ % 2 == 0 else ("verified", "plain")
                for kind in order:
                    took = upload(srv, token, data, sha512.hexdigest, properties if kind == "verified" else {})
                    seconds[kind].append(took)
                    log(f"round {round_ + 1}: {kind:9} {machine.mbps(data.size, took):8,.0f} MB/s")
        except BaseException:
            log(f"server log (tail):\n{srv.log_tail()}")
            raise
        finally:
            srv.stop()

    plain = machine.mbps(data.size, statistics.median(seconds["plain"]))
    verified = machine.mbps(data.size, statistics.median(seconds["verified"]))
    cost = 1 - verified / plain
    log()
    log(f"upload without verification  {plain:8,.0f} MB/s (median of {args.rounds})")
    log(f"upload with RSA-PSS SHA-512  {verified:8,.0f} MB/s")
    log(f"verified / plain             {verified / plain:8.3f}  (cost {cost:.1%}; target under 10%)")
    result: dict[str, Any] = {
        "version": 1,
        "run_id": time.strftime("%Y%m%d-%H%M%S"),
        "target": "glimpse serve (SQLite, Keystone auth, Barbican via castellan, one filesystem store)",
        "plan": {"size_mib": args.size_mib, "rounds": args.rounds, "signature": "RSA-PSS 4096 SHA-512"},
        "environment": {"python": platform.python_version(), "cpus": os.cpu_count(), "loadavg_end": os.getloadavg()},
        "figures": {
            "plain_mbps": plain,
            "verified_mbps": verified,
            "ratio": verified / plain,
            "seconds": seconds,
            "sha512_one_core_mbps": sha512.mbps,
            "disk_write_fsync_mbps": data.write_mbps,
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
