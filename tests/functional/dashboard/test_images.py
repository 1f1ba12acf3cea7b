"""The Images pages, driven as a browser does: list and filters, create and stream a file, members, deactivate,
reactivate, delete."""

from __future__ import annotations

from starlette.testclient import TestClient

from glimpse.container import Services
from glimpse.settings import Settings
from tests.functional.dashboard.conftest import Browser, browser_for


def create(browser: Browser, name: str, **fields: str) -> str:
    """Create an image through the page (as the script does: JSON answer) and return its id."""
    form = {"name": name, "disk_format": "raw", "container_format": "bare", "visibility": "private", **fields}
    response = browser.post("/dashboard/images", form, headers={"accept": "application/json"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["upload"] == f"/dashboard/images/{body['id']}/file"
    image_id: str = body["id"]
    return image_id


def test_create_then_stream_the_file(alice: Browser) -> None:
    image_id = create(alice, "cirros")
    data = b"x" * 300_000
    response = alice.client.put(
        f"/dashboard/images/{image_id}/file", content=data,
        headers={"x-csrf-token": alice.csrf, "content-type": "application/octet-stream"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json() == {"id": image_id, "status": "active", "size": len(data)}
    page = alice.get(f"/dashboard/images/{image_id}")
    assert page.status_code == 200
    assert 'id="image-status">active<' in page.text
    assert "300000 bytes" in page.text


def test_list_filters_and_paging(alice: Browser) -> None:
    for n in range(23):
        create(alice, f"img-{n:02d}", disk_format="qcow2" if n % 2 else "raw")
    first = alice.get("/dashboard/images")
    assert first.text.count('<td data-label="Name">') == 20
    assert "Next page" in first.text
    assert "First page" not in first.text
    marker = first.text.split('rel="next"')[0].rsplit("marker=", 1)[1].split('"')[0]
    second = alice.get(f"/dashboard/images?marker={marker}")
    assert second.text.count('<td data-label="Name">') == 3
    assert "First page" in second.text
    qcow = alice.get("/dashboard/images?disk_format=qcow2")
    assert qcow.text.count('<td data-label="Name">') == 11
    named = alice.get("/dashboard/images?name=img-07")
    assert named.text.count('<td data-label="Name">') == 1
    assert "img-07" in named.text


def test_a_filter_the_list_refuses_is_shown(alice: Browser) -> None:
    page = alice.get("/dashboard/images?visibility=bogus")
    assert page.status_code == 200
    assert 'role="alert"' in page.text


def test_form_without_script_goes_to_the_image_page(alice: Browser) -> None:
    form = {"name": "plain", "disk_format": "raw", "container_format": "bare", "source": "none"}
    response = alice.post("/dashboard/images", form)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/dashboard/images/")
    assert "plain" in alice.get(response.headers["location"]).text


def test_members_deactivate_reactivate_delete(settings: Settings, services: Services, alice: Browser) -> None:
    image_id = create(alice, "shared-one", visibility="shared")
    alice.client.put(f"/dashboard/images/{image_id}/file", content=b"abc",
                     headers={"x-csrf-token": alice.csrf, "content-type": "application/octet-stream"})  # fmt: skip
    assert alice.post(f"/dashboard/images/{image_id}/members", {"member": "beta"}).status_code == 303
    page = alice.get(f"/dashboard/images/{image_id}")
    assert '<td data-label="Project">beta</td>' in page.text

    with browser_for(settings, services) as other:  # bob of beta sees the share and accepts it
        bob = Browser(other)
        bob.sign_in(username="bob", project="beta")
        assert "shared-one" in bob.get(f"/dashboard/images/{image_id}").text
        accepted = bob.post(f"/dashboard/images/{image_id}/members/beta/status", {"status": "accepted"})
        assert accepted.status_code == 303
        assert "shared-one" in bob.get("/dashboard/images").text

    assert alice.post(f"/dashboard/images/{image_id}/members/beta/delete").status_code == 303
    assert "No member yet." in alice.get(f"/dashboard/images/{image_id}").text

    assert alice.post(f"/dashboard/images/{image_id}/deactivate").status_code == 303
    assert 'id="image-status">deactivated<' in alice.get(f"/dashboard/images/{image_id}").text
    assert alice.post(f"/dashboard/images/{image_id}/reactivate").status_code == 303
    assert 'id="image-status">active<' in alice.get(f"/dashboard/images/{image_id}").text
    assert alice.post(f"/dashboard/images/{image_id}/delete").status_code == 303
    gone = alice.get(f"/dashboard/images/{image_id}")
    assert gone.status_code == 404


def test_a_domain_error_is_a_page_with_its_status(alice: Browser) -> None:
    response = alice.post("/dashboard/images", {"name": "x", "disk_format": "nonsense", "container_format": "bare"})
    assert response.status_code == 400
    assert 'role="alert"' in response.text


def test_import_from_a_url_needs_one(alice: Browser) -> None:
    response = alice.post("/dashboard/images", {"name": "x", "disk_format": "raw", "container_format": "bare",
                                                "source": "url"})  # fmt: skip
    assert response.status_code == 400
    assert "URL" in response.text


def test_new_image_page_has_labelled_fields(alice: Browser) -> None:
    page = alice.get("/dashboard/images/new")
    for field in ("name", "disk_format", "container_format", "visibility", "file", "url"):
        assert f'<label for="{field}">' in page.text
        assert f'id="{field}"' in page.text
    assert '<progress id="upload-progress"' in page.text


def test_static_assets_are_served(web: TestClient) -> None:
    assert web.get("/dashboard/static/dashboard.css").status_code == 200
    assert web.get("/dashboard/static/dashboard.js").headers["content-type"].startswith("text/javascript")
    assert web.get("/dashboard/static/..%2Fpages.py").status_code == 404
