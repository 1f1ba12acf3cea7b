"""The Applications list with a subscribed remote catalog (a real TUF-signed catalog served over TLS): local and
remote assets in one page, the source filter, search, type filter and paging on the remote side."""

from __future__ import annotations

from pathlib import Path

from glimpse.domain.catalog import AssetRef
from tests.functional.catalog.conftest import Publisher, publisher
from tests.functional.dashboard.conftest import subscribed

__all__ = ["publisher"]


def test_local_and_remote_in_one_list(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    publisher.add("wordpress", "1.0", b"heat_template_version: 2021-04-16\n",
                  metadata={"description": "A blog on one server"})  # fmt: skip
    publisher.add("cirros", "0.6.2", b"\0" * 4096, kind="image", metadata={"disk_format": "raw"})
    for n in range(22):
        publisher.add(f"env-{n:02d}", "1.0", b"parameters: {}\n", kind="heat-environment")
    publisher.repo.publish()
    with subscribed(publisher.subscriber(tmp_path, clean_db)) as (_, _, alice):
        everything = alice.get("/dashboard/apps").text
        assert "No remote catalog is configured" not in everything
        assert "cirros" in everything  # the catalog's first page (by name)
        remote = alice.get("/dashboard/apps?source=remote").text
        assert remote.count('<td data-label="Name">') == 20
        next_url = remote.split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
        assert alice.get(next_url).text.count('<td data-label="Name">') == 4
        blog = alice.get("/dashboard/apps?source=remote&q=blog").text
        assert blog.count('<td data-label="Name">') == 1
        assert "wordpress" in blog
        assert "A blog on one server" in blog
        templates = alice.get("/dashboard/apps?source=remote&type=heat_templates").text
        assert templates.count('<td data-label="Name">') == 1
        local = alice.get("/dashboard/apps?source=local").text
        assert "wordpress" not in local


def test_a_remote_asset_s_page(publisher: Publisher, tmp_path: Path, clean_db: str) -> None:
    publisher.add("mysql", "8.0", b"heat_template_version: 2021-04-16\n", metadata={"description": "A database"})
    publisher.add("wordpress", "1.0", b"heat_template_version: 2021-04-16\n# one\n", depends=["mysql@8.0"],
                  metadata={"description": "A blog <script>alert(1)</script>", "license": "GPL-2.0",
                            "provider": "The WP team", "supported_services": "heat>=2021.1"})  # fmt: skip
    publisher.add("wordpress", "1.1", b"heat_template_version: 2021-04-16\n# two\n")
    publisher.repo.publish()
    with subscribed(publisher.subscriber(tmp_path, clean_db)) as (_, services, alice):
        listed = alice.get("/dashboard/apps?source=remote&q=blog").text
        assert 'href="/dashboard/remote/pub/wordpress/1.0"' in listed
        page = alice.get("/dashboard/remote/pub/wordpress/1.0")
        assert page.status_code == 200
        html = page.text
        _, asset = alice.client.portal.call(services.catalog.find, AssetRef("wordpress", "1.0"), "pub")  # type: ignore[union-attr]
        assert f"<code class=\"wrap\">{asset.sha256}</code>" in html
        assert f"{asset.length} bytes" in html
        assert "GPL-2.0" in html
        assert "The WP team" in html
        assert "heat&gt;=2021.1" in html
        assert "<script>alert(1)</script>" not in html  # rendered inert
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert 'href="/dashboard/remote/pub/mysql/8.0">mysql 8.0</a>' in html
        assert 'href="/dashboard/remote/pub/wordpress/1.1">1.1</a>' in html
        assert "<strong>1.0</strong> (this one)" in html
        assert 'name="version" value="1.0"' in html
        assert 'name="catalog" value="pub"' in html
        verification = html.split('id="verification"')[1].split("</dl>")[0]
        assert "Metadata versions</dt><dd>root 1, targets 2, timestamp 2</dd>" in verification
        assert "Signed by keys</dt><dd><code" in verification
        assert alice.get("/dashboard/remote/pub/wordpress/9.9").status_code == 404
        assert alice.get("/dashboard/remote/nope/wordpress/1.0").status_code == 404
        assert alice.get("/dashboard/remote/pub/wordpress/1.0%20x").status_code == 400
        # the Install button works from the page
        started = alice.post("/dashboard/installs", {"catalog": "pub", "name": "mysql", "version": "8.0"})
        assert started.status_code == 303
