"""Launching stacks from Heat-template assets and Running Apps, in process against the real Keystone
(scripts/keystone-up) and the real Heat (scripts/heat-up): people sign in at the dashboard with their Keystone
password, and the dashboard reaches Heat through the orchestration endpoint of their own catalog with their own
token. Another project's stacks never appear; every POST needs its CSRF token; without Keystone, or without an
orchestration endpoint in the catalog, the pages say so."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openstack.connection
import pytest
from starlette.testclient import TestClient

from glimpse.container import Services, build_services
from glimpse.context import RequestContext
from glimpse.settings import load_settings
from tests.functional.dashboard.conftest import Browser, browser_for
from tests.heat import KEYSTONE_URL, TEMPLATE, USER_PASSWORD, password_session

KEYSTONE_ENV = {
    "GLIMPSE_AUTH": "keystone",
    "GLIMPSE_KEYSTONE_AUTH_URL": KEYSTONE_URL,
    "GLIMPSE_KEYSTONE_USERNAME": "glimpse",
    "GLIMPSE_KEYSTONE_PASSWORD": "glimpse-service-password",
    "GLIMPSE_KEYSTONE_PROJECT_NAME": "service",
    "GLIMPSE_KEYSTONE_USER_DOMAIN_NAME": "Default",
    "GLIMPSE_KEYSTONE_PROJECT_DOMAIN_NAME": "Default",
    "GLIMPSE_KEYSTONE_INTERFACE": "public",
}
ENVIRONMENT = b"parameter_defaults:\n  length: 13\n"
ROW = re.compile(r'<tr id="stack-([0-9a-f-]{36})">\s*<td data-label="Name">([^<]*)</td>.*?'
                 r'<span class="stack-status[^"]*">([A-Z_]+)</span>', re.S)  # fmt: skip


class Person(Browser):
    """A browser with its own cookie jar on a shared test client (one app, one event loop)."""

    def __init__(self, client: TestClient) -> None:
        super().__init__(client)
        self.jar = type(client.cookies)()  # the test client's own cookie class

    @contextmanager
    def _own_cookies(self) -> Iterator[None]:
        saved, self.client.cookies = self.client.cookies, self.jar
        try:
            yield
        finally:
            self.jar, self.client.cookies = self.client.cookies, saved

    def get(self, path: str, **options: Any) -> httpx.Response:
        with self._own_cookies():
            return super().get(path, **options)

    def post(self, path: str, data: dict[str, str] | None = None, **options: Any) -> httpx.Response:
        with self._own_cookies():
            return super().post(path, data, **options)

    def stacks(self) -> dict[str, tuple[str, str]]:
        """Running Apps as this person sees it: stack id -> (name, Heat's status)."""
        page = self.get("/dashboard/running")
        assert page.status_code == 200, page.text
        return {found[0]: (found[1], found[2]) for found in ROW.findall(page.text)}

    def wait_for(self, stack_id: str, status: str, timeout: float = 90.0) -> None:
        """Heat works on a stack after answering: reload Running Apps until it reports ``status``."""
        deadline = time.monotonic() + timeout
        seen = self.stacks().get(stack_id)
        while (seen is None or seen[1] != status) and time.monotonic() < deadline:
            assert seen is None or not seen[1].endswith("FAILED"), seen
            time.sleep(0.5)
            seen = self.stacks().get(stack_id)
        assert seen is not None
        assert seen[1] == status, seen

    def wait_gone(self, stack_id: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while stack_id in self.stacks() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert stack_id not in self.stacks()


@pytest.fixture(scope="module")
def dashboard(
    heat: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, Services]]:
    """One in-process Glimpse with Keystone sign-in for the module; each test uses asset names of its own."""
    settings = load_settings(env=KEYSTONE_ENV, data_dir=tmp_path_factory.mktemp("stacks") / "data",
                             database_url=database_url)  # fmt: skip
    services = build_services(settings)
    try:
        with browser_for(settings, services) as web:
            yield web, services
    finally:
        services.close()


def person(web: TestClient, user: str) -> Person:
    browser = Person(web)
    browser.sign_in(username=user, password=USER_PASSWORD, project=user.split("-")[0])
    return browser


def context_of(web: TestClient, services: Services, user: str) -> RequestContext:
    """The user's context as Glimpse builds it from a token of theirs."""
    token = password_session(user).get_token()
    ctx: RequestContext = web.portal.call(services.auth.authenticate, {"x-auth-token": token})  # type: ignore[union-attr]
    return ctx


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def asset(web: TestClient, services: Services, ctx: RequestContext, type_name: str, blob: str, data: bytes,
          **body: Any) -> dict[str, Any]:  # fmt: skip
    created: dict[str, Any] = web.portal.call(services.artifacts.create, ctx, type_name, body)  # type: ignore[union-attr]

    async def upload() -> None:
        await services.artifact_blobs.upload(ctx, type_name, created["id"], blob, _once(data),
                                             content_type="application/x-yaml", content_length=len(data))  # fmt: skip

    web.portal.call(upload)  # type: ignore[union-attr]
    return created


def template_asset(web: TestClient, services: Services, ctx: RequestContext, name: str,
                   data: bytes = TEMPLATE, **body: Any) -> dict[str, Any]:  # fmt: skip
    return asset(web, services, ctx, "heat_templates", "template", data, name=name, version="1.2.0", **body)


def test_launch_suspend_resume_and_delete(dashboard: tuple[TestClient, Services]) -> None:
    web, services = dashboard
    alpha = context_of(web, services, "alpha-member")
    name = f"words-{uuid.uuid4().hex[:8]}"
    env = asset(web, services, alpha, "heat_environments", "environment", ENVIRONMENT, name=f"{name}-env")
    template = template_asset(
        web, services, alpha, name, environments={"short": f"/artifacts/heat_environments/{env['id']}"}
    )
    alice = person(web, "alpha-member")

    detail = alice.get(f"/dashboard/apps/heat_templates/{template['id']}")
    assert f"/dashboard/apps/heat_templates/{template['id']}/launch" in detail.text
    form = alice.get(f"/dashboard/apps/heat_templates/{template['id']}/launch")
    assert form.status_code == 200
    assert "short (linked)" in form.text
    launched = alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch",
                          {"name": f"{name}-stack", "environment": env["id"], "parameters": ""})  # fmt: skip
    assert launched.status_code == 303, launched.text
    assert launched.headers["location"].startswith("/dashboard/running?launched=")
    (stack_id,) = [sid for sid, (shown, _) in alice.stacks().items() if shown == f"{name}-stack"]
    alice.wait_for(stack_id, "CREATE_COMPLETE")
    page = alice.get("/dashboard/running").text
    assert name in page
    assert "1.2.0" in page

    # what Heat holds, read with openstacksdk as the same person: tags, and the environment's parameter applied
    cloud = openstack.connection.Connection(session=password_session("alpha-member"), region_name="RegionOne")
    stack = cloud.orchestration.get_stack(stack_id)
    assert "glimpse" in stack.tags
    assert f"glimpse-asset={name}" in stack.tags
    assert "glimpse-version=1.2.0" in stack.tags
    assert f"glimpse-artifact={template['id']}" in stack.tags
    (word,) = [out["output_value"] for out in stack.outputs if out["output_key"] == "word"]
    assert len(word) == 13

    assert alice.post(f"/dashboard/running/{stack_id}/suspend").status_code == 303
    alice.wait_for(stack_id, "SUSPEND_COMPLETE")
    assert ">Resume</button>" in alice.get("/dashboard/running").text
    assert alice.post(f"/dashboard/running/{stack_id}/resume").status_code == 303
    alice.wait_for(stack_id, "RESUME_COMPLETE")
    assert alice.post(f"/dashboard/running/{stack_id}/delete").status_code == 303
    alice.wait_gone(stack_id)


NESTED_PARENT = b"""heat_template_version: 2021-04-16
resources:
  inner: {type: inner.yaml, properties: {size: 9}}
outputs:
  word: {value: {get_attr: [inner, word]}}
"""
NESTED_CHILD = b"""heat_template_version: 2021-04-16
parameters:
  size: {type: number}
resources:
  word: {type: OS::Heat::RandomString, properties: {length: {get_param: size}}}
outputs:
  word: {value: {get_attr: [word, value]}}
"""


def test_nested_templates_go_to_heat_as_files(dashboard: tuple[TestClient, Services]) -> None:
    web, services = dashboard
    alpha = context_of(web, services, "alpha-member")
    name = f"nested-{uuid.uuid4().hex[:8]}"
    template = template_asset(web, services, alpha, name, NESTED_PARENT)

    async def add_child() -> None:
        await services.artifact_blobs.upload(alpha, "heat_templates", template["id"], "nested_templates/inner.yaml",
                                             _once(NESTED_CHILD), content_type="application/x-yaml",
                                             content_length=len(NESTED_CHILD))  # fmt: skip

    web.portal.call(add_child)  # type: ignore[union-attr]
    alice = person(web, "alpha-member")
    assert alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch", {"name": name}).status_code == 303
    (stack_id,) = [sid for sid, (shown, _) in alice.stacks().items() if shown == name]
    try:
        alice.wait_for(stack_id, "CREATE_COMPLETE")
        cloud = openstack.connection.Connection(session=password_session("alpha-member"))
        stack = cloud.orchestration.get_stack(stack_id)
        (word,) = [out["output_value"] for out in stack.outputs if out["output_key"] == "word"]
        assert len(word) == 9  # made by the nested template, with the parent's property
    finally:
        alice.post(f"/dashboard/running/{stack_id}/delete")
    alice.wait_gone(stack_id)


def test_another_project_never_sees_or_touches_the_stacks(dashboard: tuple[TestClient, Services]) -> None:
    web, services = dashboard
    alpha = context_of(web, services, "alpha-member")
    name = f"private-{uuid.uuid4().hex[:8]}"
    template = template_asset(web, services, alpha, f"{name}<script>alert(1)</script>")  # stored XSS in the asset
    alice, bob = person(web, "alpha-member"), person(web, "beta-member")
    assert alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch",
                      {"parameters": "length=5"}).status_code == 303  # fmt: skip
    mine = [sid for sid, (shown, _) in alice.stacks().items() if shown.startswith(f"{name}-script-alert")]
    assert len(mine) == 1
    stack_id = mine[0]
    try:
        page = alice.get("/dashboard/running").text  # the asset's name comes back from the stack's tag, as text
        assert f"{name}&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert" not in page
        running = bob.get("/dashboard/running").text
        assert stack_id not in running
        assert name not in running
        for action in ("delete", "suspend", "resume"):
            assert bob.post(f"/dashboard/running/{stack_id}/{action}").status_code == 404
        # nor launch alpha's private template
        assert bob.get(f"/dashboard/apps/heat_templates/{template['id']}/launch").status_code == 404
        assert bob.post(f"/dashboard/apps/heat_templates/{template['id']}/launch", {}).status_code == 404
        alice.wait_for(stack_id, "CREATE_COMPLETE")
        assert name not in bob.get("/dashboard/running").text
    finally:
        alice.post(f"/dashboard/running/{stack_id}/delete")
    alice.wait_gone(stack_id)


def test_every_post_needs_its_csrf_token(dashboard: tuple[TestClient, Services]) -> None:
    web, services = dashboard
    template = template_asset(web, services, context_of(web, services, "alpha-member"), f"csrf-{uuid.uuid4().hex[:8]}")
    alice = person(web, "alpha-member")
    before = set(alice.stacks())
    for token in ("", "forged"):
        alice.csrf, real = token, alice.csrf
        assert alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch", {}).status_code == 403
        assert alice.post(f"/dashboard/running/{uuid.uuid4()}/delete").status_code == 403
        alice.csrf = real
    assert set(alice.stacks()) == before


def test_heat_refusals_show_on_the_form(dashboard: tuple[TestClient, Services]) -> None:
    web, services = dashboard
    alpha = context_of(web, services, "alpha-member")
    unknown_type = b"heat_template_version: 2021-04-16\nresources:\n  x: {type: OS::Nowhere::Thing}\n"
    broken = template_asset(web, services, alpha, f"broken-{uuid.uuid4().hex[:8]}", data=unknown_type)
    not_yaml = template_asset(web, services, alpha, f"notyaml-{uuid.uuid4().hex[:8]}", data=b"- just\n- a list\n")
    alice = person(web, "alpha-member")
    refused = alice.post(f"/dashboard/apps/heat_templates/{broken['id']}/launch", {"parameters": ""})
    assert refused.status_code == 400
    assert "OS::Nowhere::Thing" in refused.text
    assert 'id="launch-error"' in refused.text
    bad_name = alice.post(f"/dashboard/apps/heat_templates/{broken['id']}/launch", {"name": "9 lives"})
    assert bad_name.status_code == 400
    assert "Heat:" in bad_name.text
    assert "not a YAML or JSON mapping" in alice.post(f"/dashboard/apps/heat_templates/{not_yaml['id']}/launch").text
    no_pair = alice.post(f"/dashboard/apps/heat_templates/{broken['id']}/launch", {"parameters": "length"})
    assert no_pair.status_code == 400
    assert "not name=value" in no_pair.text
    assert alice.post(f"/dashboard/running/{uuid.uuid4()}/explode").status_code == 400


def test_no_orchestration_endpoint_in_the_catalog(heat: str, database_url: str, tmp_path: Path) -> None:
    """The catalog's region InteropGlimpse has only an image endpoint (scripts/keystone_accounts.py)."""
    settings = load_settings(env={**KEYSTONE_ENV, "GLIMPSE_KEYSTONE_INTERFACE": "public"}, data_dir=tmp_path / "data",
                             database_url=database_url, dashboard_region_name="InteropGlimpse")  # fmt: skip
    services = build_services(settings)
    try:
        with browser_for(settings, services) as web:
            unique = TEMPLATE + f"# {uuid.uuid4()}\n".encode()  # blobs are kept once per digest, in the first store
            template = template_asset(web, services, context_of(web, services, "alpha-member"), "nowhere", unique)
            alice = person(web, "alpha-member")
            page = alice.get("/dashboard/running")
            assert page.status_code == 200
            assert "no public orchestration endpoint in region InteropGlimpse" in page.text
            refused = alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch", {})
            assert refused.status_code == 503
            assert "no public orchestration endpoint in region InteropGlimpse" in refused.text
    finally:
        services.close()


def test_without_keystone_the_pages_say_why(web: TestClient, services: Services, alice: Browser) -> None:
    """noauth (and the embedded token mode) have no catalog: nothing to list, launching is refused clearly."""
    ctx = RequestContext(user_id="alice", project_id="alpha", roles=frozenset({"member", "reader"}))
    template = template_asset(web, services, ctx, "offline", TEMPLATE + f"# {uuid.uuid4()}\n".encode())
    running = alice.get("/dashboard/running")
    assert running.status_code == 200
    assert "No orchestration (Heat) service" in running.text
    form = alice.get(f"/dashboard/apps/heat_templates/{template['id']}/launch")
    assert "stacks can be launched only when the dashboard signs in with Keystone" in form.text
    refused = alice.post(f"/dashboard/apps/heat_templates/{template['id']}/launch", {})
    assert refused.status_code == 503
    assert "has no catalog" in refused.text
