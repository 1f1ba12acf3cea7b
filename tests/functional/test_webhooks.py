"""/v2/webhooks in process, with the app's own task worker and real HTTP receivers on 127.0.0.1: the secret
is shown once, a receiver verifies the HMAC of CloudEvents that carry only the properties the webhook's
audience may read, a failing receiver gets retries with growing waits and the webhook is disabled after
``disable_after`` failures, and targets pass web-download's SSRF guard."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import text
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.domain.webhooks import verify
from glimpse.keys.local import SecretBox
from glimpse.settings import Settings, load_settings
from tests.conftest import running_app, running_services
from tests.functional.conftest import ALICE, BOB, CAROL_READER, web_settings
from tests.unit.events.test_events import PROTECTIONS
from tests.webserver import QuietHandler, serving

WAIT = 30.0


class Receiver:
    """What a receiver got: (arrival time, headers, body); it answers ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.got: list[tuple[float, dict[str, str], bytes]] = []
        self.lock = threading.Lock()

    def handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.got.append((time.monotonic(), {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler

    def wait_for(self, count: int) -> list[tuple[float, dict[str, str], bytes]]:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.got) >= count:
                    return list(self.got)
            time.sleep(0.05)
        raise AssertionError(f"{len(self.got)} of {count} deliveries arrived within {WAIT}s")


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    got = Receiver()
    with serving(got.handler()) as url:
        yield got, url


def hook_settings(tmp_path: Path, clean_db: str, **options: Any) -> Settings:
    protections = tmp_path / "protections.conf"
    protections.write_text(PROTECTIONS)
    options = {
        "webhooks_enabled": True, "webhook_backoff": 0.4, "webhook_disable_after": 3, "webhook_max_attempts": 5,
        "webhook_timeout": 3.0, "task_heartbeat_interval": 0.1, "property_protection_file": protections,
        **options,
    }  # fmt: skip
    if "import_allowed_hosts" in options:  # the default filtering rather than the test web servers'
        return load_settings(env={}, data_dir=tmp_path / "data", database_url=clean_db, auth="noauth", **options)
    return web_settings(tmp_path, clean_db, **options)


@pytest.fixture
def client(tmp_path: Path, clean_db: str) -> Iterator[TestClient]:
    with running_app(hook_settings(tmp_path, clean_db)) as test_client:
        yield test_client


def add_hook(client: TestClient, url: str, headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    response = client.post("/v2/webhooks", json={"url": url, **body}, headers=ALICE if headers is None else headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def deliveries(client: TestClient, hook: dict[str, Any], headers: dict[str, str] | None = None) -> list[Any]:
    response = client.get(f"/v2/webhooks/{hook['id']}/deliveries", headers=ALICE if headers is None else headers)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["deliveries"]
    return found


def until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("the condition never held")


def test_the_secret_is_shown_once_and_never_listed(client: TestClient, receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    hook = add_hook(client, f"{url}/hook?token=abc", events=["image"], description="ci")
    assert hook["secret"].startswith("whsec_")
    assert (hook["project_id"], hook["global"], hook["status"], hook["events"]) == ("alpha", False, "active", ["image"])
    assert hook["url"] == f"{url}/hook?..."  # neither query nor credentials are shown back
    shown = client.get(f"/v2/webhooks/{hook['id']}", headers=ALICE)
    listed = client.get("/v2/webhooks", headers=ALICE).json()["webhooks"]
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert [w["id"] for w in listed] == [hook["id"]]
    assert all("secret" not in w for w in listed)
    assert hook["secret"] not in shown.text + json.dumps(listed)


def test_projects_see_only_their_own_webhooks(client: TestClient, receiver: tuple[Receiver, str]) -> None:
    _, url = receiver
    hook = add_hook(client, url)
    assert client.get("/v2/webhooks", headers=BOB).json()["webhooks"] == []
    for method in ("GET", "DELETE"):
        assert client.request(method, f"/v2/webhooks/{hook['id']}", headers=BOB).status_code == 404
    assert client.get(f"/v2/webhooks/{hook['id']}/deliveries", headers=BOB).status_code == 404
    # a reader of the project sees it but may not add or delete one
    assert client.get(f"/v2/webhooks/{hook['id']}", headers=CAROL_READER).status_code == 200
    assert client.post("/v2/webhooks", json={"url": url}, headers=CAROL_READER).status_code == 403
    assert client.delete(f"/v2/webhooks/{hook['id']}", headers=CAROL_READER).status_code == 403
    # only an admin adds a global one, and sees every webhook
    assert client.post("/v2/webhooks", json={"url": url, "global": True}, headers=ALICE).status_code == 403
    every = add_hook(client, url, headers={}, **{"global": True})
    assert (every["project_id"], every["global"]) == (None, True)
    assert {w["id"] for w in client.get("/v2/webhooks").json()["webhooks"]} == {hook["id"], every["id"]}
    assert client.delete(f"/v2/webhooks/{hook['id']}", headers=ALICE).status_code == 204
    assert client.get(f"/v2/webhooks/{hook['id']}", headers=ALICE).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # the metadata service
        "http://[::ffff:169.254.169.254]/",
        "http://10.0.0.1/hook",
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "not a url",
    ],
)
def test_targets_pass_the_ssrf_guard(client: TestClient, url: str) -> None:
    response = client.post("/v2/webhooks", json={"url": url}, headers=ALICE)
    assert response.status_code == 400, response.text
    assert client.get("/v2/webhooks", headers=ALICE).json()["webhooks"] == []


def test_the_metadata_service_is_refused_under_the_default_filtering(tmp_path: Path, clean_db: str) -> None:
    settings = hook_settings(tmp_path, clean_db, import_allowed_hosts=[], import_allowed_ports=[80, 443])
    with running_app(settings) as test_client:
        response = test_client.post("/v2/webhooks", json={"url": "http://169.254.169.254/"}, headers=ALICE)
        assert response.status_code == 400
        assert "Webhook URL does not pass filtering" in response.text
        assert "not public" in response.text


@pytest.mark.parametrize(
    "body",
    [{}, {"url": 5}, {"url": "http://127.0.0.1/", "events": []}, {"url": "http://127.0.0.1/", "events": "image"},
     {"url": "http://127.0.0.1/", "secret": "mine"}, {"url": "http://127.0.0.1/", "global": "yes"},
     {"url": "http://127.0.0.1/", "description": 3}],
)  # fmt: skip
def test_bad_bodies_are_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/v2/webhooks", json=body, headers=ALICE).status_code == 400


def test_the_number_of_webhooks_per_project_is_limited(tmp_path: Path, clean_db: str) -> None:
    with running_app(hook_settings(tmp_path, clean_db, webhook_max_per_project=1)) as test_client:
        add_hook(test_client, "http://127.0.0.1:9/a")
        assert test_client.post("/v2/webhooks", json={"url": "http://127.0.0.1:9/b"}, headers=ALICE).status_code == 413


def test_off_unless_enabled(tmp_path: Path, clean_db: str) -> None:
    with running_app(hook_settings(tmp_path, clean_db, webhooks_enabled=False)) as test_client:
        assert test_client.get("/v2/webhooks", headers=ALICE).status_code == 404
        assert test_client.post("/v2/webhooks", json={"url": "http://127.0.0.1/"}, headers=ALICE).status_code == 404


def test_a_receiver_verifies_signed_cloudevents_of_its_projects_events(
    client: TestClient, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    hook = add_hook(client, url, events=["image.create", "image.member"])
    created = client.post(
        "/v2/images",
        json={"name": "hooked", "disk_format": "raw", "container_format": "bare", "visibility": "shared",
              "owner": "alpha", "secret_owner_note": "admins only", "x_public_note": "hello"},
        headers={},  # an admin creates it for alpha: only an admin may set secret_* properties
    ).json()  # fmt: skip
    client.post("/v2/images", json={"name": "not ours"}, headers=BOB)  # another project's: not sent
    client.patch(
        f"/v2/images/{created['id']}", json=[{"op": "replace", "path": "/name", "value": "renamed"}],
        headers={**ALICE, "content-type": "application/openstack-images-v2.1-json-patch"},
    )  # fmt: skip  # image.update: filtered out
    assert client.post(f"/v2/images/{created['id']}/members", json={"member": "beta"}, headers=ALICE).status_code == 200
    arrived = got.wait_for(2)
    time.sleep(0.5)
    assert len(got.got) == 2
    events = []
    for _, headers, body in arrived:
        assert verify(hook["secret"], headers, body)
        assert not verify("whsec_" + "A" * 44, headers, body)
        assert headers["content-type"] == "application/cloudevents+json"
        events.append(json.loads(body))
    assert [e["type"] for e in events] == [
        "org.openstack.glance.image.create",
        "org.openstack.glance.image.member.create",
    ]
    create = events[0]
    assert (create["specversion"], create["subject"], create["data"]["name"]) == ("1.0", created["id"], "hooked")
    assert create["data"]["properties"].get("x_public_note") == "hello"
    # alice (member) may not read secret_* under the protections: neither does her webhook
    assert "secret_owner_note" not in create["data"]["properties"]
    assert events[1]["data"]["member_id"] == "beta"
    log = until(lambda: [d for d in deliveries(client, hook) if d["status"] == "succeeded"][:2])
    assert {d["event_type"] for d in log} == {"image.create", "image.member.create"}
    assert all(d["attempts"] == 1 and d["last_status_code"] == 204 for d in log)


def test_an_admins_global_webhook_gets_every_project_and_protected_properties(
    client: TestClient, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    hook = add_hook(client, url, headers={}, events=["image.create"], **{"global": True})
    client.post("/v2/images", json={"name": "a", "secret_owner_note": "s"}, headers={})
    client.post("/v2/images", json={"name": "b"}, headers=BOB)
    arrived = got.wait_for(2)
    events = [json.loads(body) for _, _, body in arrived]
    assert all(verify(hook["secret"], headers, body) for _, headers, body in arrived)
    assert sorted(e["data"]["name"] for e in events) == ["a", "b"]
    assert next(e for e in events if e["data"]["name"] == "a")["data"]["properties"]["secret_owner_note"] == "s"


def test_a_failing_receiver_gets_retries_with_backoff_then_the_webhook_is_disabled(client: TestClient) -> None:
    failing = Receiver(status=500)
    with serving(failing.handler()) as url:
        hook = add_hook(client, url, events=["image.create"])
        client.post("/v2/images", json={"name": "never taken"}, headers=ALICE)
        arrived = failing.wait_for(3)
        shown = until(
            lambda: (h := client.get(f"/v2/webhooks/{hook['id']}", headers=ALICE).json())["status"] == "disabled" and h
        )
        time.sleep(1.5)  # nothing more is sent to a disabled webhook
        assert len(failing.got) == 3
    times = [when for when, _, _ in arrived]
    first, second = times[1] - times[0], times[2] - times[1]
    assert first >= 0.4, (first, second)  # 0.4 s, then doubled
    assert second >= 0.8, (first, second)
    ids = {headers["webhook-id"] for _, headers, _ in arrived}
    assert len(ids) == 1  # the same delivery each time: receivers drop duplicates by it
    assert (shown["failures"], shown["disabled_reason"]) == (3, "3 delivery attempts failed in a row")
    [delivery] = deliveries(client, hook)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == ("failed", 3, 500)
    assert delivery["last_error"] == "the receiver answered 500"
    client.post("/v2/images", json={"name": "after"}, headers=ALICE)  # a disabled webhook gets no delivery
    time.sleep(1.0)
    assert len(deliveries(client, hook)) == 1


def test_a_receiver_that_recovers_gets_the_delivery_and_the_failures_reset(
    client: TestClient, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    got.status = 503
    hook = add_hook(client, url, events=["image.create"])
    client.post("/v2/images", json={"name": "late"}, headers=ALICE)
    got.wait_for(1)
    got.status = 200
    arrived = got.wait_for(2)
    assert arrived[0][1]["webhook-id"] == arrived[1][1]["webhook-id"]
    [delivery] = until(lambda: [d for d in deliveries(client, hook) if d["status"] == "succeeded"])
    assert (delivery["attempts"], delivery["last_status_code"]) == (2, 200)
    assert until(lambda: client.get(f"/v2/webhooks/{hook['id']}", headers=ALICE).json()["failures"] == 0)


def test_a_disabled_webhook_is_re_enabled_and_receives_again(client: TestClient) -> None:
    got = Receiver(status=500)
    with serving(got.handler()) as url:
        hook = add_hook(client, url, events=["image.create"])
        path = f"/v2/webhooks/{hook['id']}"
        client.post("/v2/images", json={"name": "refused"}, headers=ALICE)
        got.wait_for(3)
        until(lambda: client.get(path, headers=ALICE).json()["status"] == "disabled")
        # a reader may not, another project does not see it, only known attributes with valid values
        assert client.patch(path, json={"status": "active"}, headers=CAROL_READER).status_code == 403
        assert client.patch(path, json={"status": "active"}, headers=BOB).status_code == 404
        bad: list[dict[str, Any]] = [{"status": "on"}, {"url": "http://127.0.0.1/"}, {"events": []}, {"description": 1}]
        for refused in bad:
            assert client.patch(path, json=refused, headers=ALICE).status_code == 400, refused
        got.status = 204
        response = client.patch(path, json={"status": "active", "description": "back"}, headers=ALICE)
        assert response.status_code == 200, response.text
        shown = response.json()
        assert (shown["status"], shown["failures"], shown["disabled_reason"]) == ("active", 0, None)
        assert shown["description"] == "back"
        assert "secret" not in shown
        client.post("/v2/images", json={"name": "after"}, headers=ALICE)
        arrived = got.wait_for(4)
    _, headers, body = arrived[3]
    assert verify(hook["secret"], headers, body)
    assert json.loads(body)["data"]["name"] == "after"
    # the delivery refused before the webhook was disabled stays failed: re-enabling does not replay it
    log = deliveries(client, hook)
    assert sorted(d["status"] for d in log) == ["failed", "succeeded"]
    # disabling through the API: no more deliveries
    disabled = client.patch(path, json={"status": "disabled"}, headers=ALICE).json()
    assert (disabled["status"], disabled["disabled_reason"]) == ("disabled", "disabled through the API")
    client.post("/v2/images", json={"name": "while off"}, headers=ALICE)
    time.sleep(1.0)
    assert len(deliveries(client, hook)) == 2


def stored_secret(services: Services, webhook_id: str) -> str:
    with services.db.engine.connect() as connection:
        row = connection.execute(text("SELECT secret FROM webhooks WHERE id = :id"), {"id": webhook_id}).one()
    stored: str = row[0]
    return stored


def test_secrets_are_sealed_at_rest_with_the_data_directorys_key(tmp_path: Path, clean_db: str) -> None:
    got = Receiver()
    settings = hook_settings(tmp_path, clean_db)
    with serving(got.handler()) as url, running_services(settings) as (test_client, services):
        hook = add_hook(test_client, url, events=["image.create"])
        stored = stored_secret(services, hook["id"])
        assert hook["secret"] not in stored
        assert stored.startswith("gAAAAA")
        key = (settings.data_dir / "webhooks.key").read_bytes()
        assert SecretBox([key]).open(stored) == hook["secret"]
        assert oct((settings.data_dir / "webhooks.key").stat().st_mode & 0o777) == "0o600"
        test_client.post("/v2/images", json={"name": "signed"}, headers=ALICE)
        [(_, headers, body)] = got.wait_for(1)
        assert verify(hook["secret"], headers, body)


def test_configured_keys_seal_secrets_and_a_plain_one_from_before_is_sealed_by_the_sweep(
    tmp_path: Path, clean_db: str
) -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    got = Receiver()
    settings = hook_settings(tmp_path, clean_db, webhook_secret_key=SecretStr(old.decode()))
    with serving(got.handler()) as url, running_services(settings) as (test_client, services):
        sealed_hook = add_hook(test_client, url, events=["image.create"])
        plain_hook = add_hook(test_client, url, events=["image.create"])
        assert SecretBox([old]).open(stored_secret(services, sealed_hook["id"])) == sealed_hook["secret"]
        with services.db.engine.begin() as connection:  # a webhook stored before secrets were sealed
            connection.execute(
                text("UPDATE webhooks SET secret = :s WHERE id = :id"),
                {"s": plain_hook["secret"], "id": plain_hook["id"]},
            )
        test_client.post("/v2/images", json={"name": "both"}, headers=ALICE)
        arrived = got.wait_for(2)
        secrets = {sealed_hook["secret"], plain_hook["secret"]}
        assert all(any(verify(s, headers, body) for s in secrets) for _, headers, body in arrived)
        assert {h["webhook-id"] for _, h, _ in arrived}
        assert len(arrived) == 2
    # the next start has a new first key and keeps the old one: the sweep seals the plain secret and seals
    # the other again with the new key, so the old key can then be dropped. The services alone, without the
    # app: a running app's worker sweeps once as it starts, and would race this test's own call.
    rotated = hook_settings(tmp_path, clean_db, webhook_secret_key=SecretStr(f"{new.decode()}, {old.decode()}"))
    services = build_services(rotated)
    try:
        assert asyncio.run(services.webhooks.seal_plain_secrets()) == 2
        assert asyncio.run(services.webhooks.seal_plain_secrets()) == 0
        for hook in (sealed_hook, plain_hook):
            assert SecretBox([new]).open(stored_secret(services, hook["id"])) == hook["secret"]
    finally:
        services.close()


def test_a_bad_secret_key_is_refused_at_start(tmp_path: Path, clean_db: str) -> None:
    settings = hook_settings(tmp_path, clean_db, webhook_secret_key=SecretStr("not a fernet key"))
    with pytest.raises(ValueError, match="Fernet key must be 32 url-safe base64-encoded bytes"):
        build_services(settings)
