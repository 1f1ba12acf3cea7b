"""The Applications list with a subscribed remote catalog (a real TUF-signed catalog served over TLS): local and
remote assets in one page, the source filter, search, type filter and paging on the remote side."""

from __future__ import annotations

from pathlib import Path

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
