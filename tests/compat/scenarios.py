"""The request sequences tests/compat/harness.py sends to both servers.

Paths, headers and JSON bodies may name ``{image}``, ``{image2}`` (fresh ids per scenario, the same on both
servers) and ``{<persona>_project}`` (the project ids of the Keystone personas). A step's persona is whose
token it carries; None sends no token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
OCTETS = {"Content-Type": "application/octet-stream"}
DATA = bytes(range(256)) * 4  # 1 KiB, not all zeros, no known image format
FILE_URL = "http://127.0.0.1:9595/image.raw"  # scripts/interop-files-up: read through each server's http store
ADD_LOCATION = {"op": "add", "path": "/locations/-", "value": {"url": FILE_URL, "metadata": {}}}


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    path: str
    persona: str | None = "member"
    json: Any = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # poll the same GET until the body's field has one of these values (60 s at most)
    wait_for: tuple[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: list[Step]
    cleanup: list[Step] = field(default_factory=list)


def new_image(name: str, persona: str = "member", image: str = "{image}", **extra: Any) -> Step:
    body = {"id": image, "name": f"compat-{name}", "disk_format": "raw", "container_format": "bare", **extra}
    return Step(f"create {name}", "POST", "/v2/images", persona, json=body)


def delete(image: str = "{image}", persona: str = "admin") -> Step:
    return Step("delete", "DELETE", f"/v2/images/{image}", persona)


SCENARIOS = [
    Scenario(
        "discovery",
        [
            Step("versions at root, no token", "GET", "/", None),
            Step("versions", "GET", "/versions", None),
            Step("v2 without token", "GET", "/v2/images", None),
            Step("import info", "GET", "/v2/info/import"),
            Step("stores info", "GET", "/v2/info/stores"),
            Step("stores detail (admin)", "GET", "/v2/info/stores/detail", "admin"),
            Step("stores detail (member)", "GET", "/v2/info/stores/detail"),
            Step("usage", "GET", "/v2/info/usage"),
        ],
    ),
    Scenario(
        "schemas",
        [
            Step(f"schema {name}", "GET", f"/v2/schemas/{name}")
            for name in (
                "image",
                "images",
                "member",
                "members",
                "task",
                "tasks",
                "metadefs/namespace",
                "metadefs/namespaces",
                "metadefs/resource_type",
                "metadefs/object",
                "metadefs/property",
                "metadefs/tag",
            )
        ],
    ),
    Scenario(
        "image lifecycle",
        [
            new_image("lifecycle", visibility="private", tags=["a", "b"], os_distro="cirros"),
            Step("show", "GET", "/v2/images/{image}"),
            new_image("lifecycle-2", image="{image2}"),
            # only this scenario's images: whatever else either database holds does not change the answer
            Step("list", "GET", "/v2/images?limit=1&id=in:{image},{image2}"),
            Step("list filtered by tag", "GET", "/v2/images?tag=a&id=in:{image},{image2}"),
            Step(
                "patch name, add property",
                "PATCH",
                "/v2/images/{image}",
                json=[
                    {"op": "replace", "path": "/name", "value": "renamed"},
                    {"op": "add", "path": "/color", "value": "red"},
                ],
                headers=PATCH,
            ),
            Step("upload", "PUT", "/v2/images/{image}/file", body=DATA, headers=OCTETS),
            Step("show after upload", "GET", "/v2/images/{image}"),
            Step("download", "GET", "/v2/images/{image}/file"),
            Step("download a range", "GET", "/v2/images/{image}/file", headers={"Range": "bytes=0-9"}),
            Step("upload again", "PUT", "/v2/images/{image}/file", body=DATA, headers=OCTETS),
            Step("add tag", "PUT", "/v2/images/{image}/tags/c"),
            Step("delete tag", "DELETE", "/v2/images/{image}/tags/c"),
            Step("deactivate (member)", "POST", "/v2/images/{image}/actions/deactivate"),
            Step("deactivate (admin)", "POST", "/v2/images/{image}/actions/deactivate", "admin"),
            Step("download deactivated", "GET", "/v2/images/{image}/file"),
            Step("reactivate", "POST", "/v2/images/{image}/actions/reactivate", "admin"),
            Step("delete", "DELETE", "/v2/images/{image}"),
            Step("show deleted", "GET", "/v2/images/{image}"),
        ],
        cleanup=[delete("{image2}")],
    ),
    Scenario(
        "bad input",
        [
            Step(
                "malformed JSON", "POST", "/v2/images", body=b"{not json", headers={"Content-Type": "application/json"}
            ),
            Step("unknown disk format", "POST", "/v2/images", json={"name": "x", "disk_format": "floppy"}),
            Step("read-only attribute", "POST", "/v2/images", json={"name": "x", "status": "active"}),
            Step("reserved os_glance property", "POST", "/v2/images", json={"name": "x", "os_glance_foo": "1"}),
            Step("id not a uuid", "POST", "/v2/images", json={"id": "nope"}),
            Step("show, id not a uuid", "GET", "/v2/images/not-a-uuid"),
            Step("show unknown", "GET", "/v2/images/{image2}"),
            Step("negative limit", "GET", "/v2/images?limit=-1"),
            Step("unknown sort key", "GET", "/v2/images?sort_key=colour"),
            Step("unknown marker", "GET", "/v2/images?marker={image2}"),
            Step("bad visibility filter", "GET", "/v2/images?visibility=everyone"),
            new_image("bad-input"),
            Step(
                "patch with plain JSON",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/name", "value": "n"}],
            ),
            Step(
                "patch a read-only attribute",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/status", "value": "active"}],
                headers=PATCH,
            ),
            Step(
                "patch an unknown op",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "frob", "path": "/name"}],
                headers=PATCH,
            ),
            Step(
                "upload with a JSON type",
                "PUT",
                "/v2/images/{image}/file",
                body=DATA,
                headers={"Content-Type": "application/json"},
            ),
            Step("import unknown method", "POST", "/v2/images/{image}/import", json={"method": {"name": "teleport"}}),
            Step(
                "import glance-direct not staged",
                "POST",
                "/v2/images/{image}/import",
                json={"method": {"name": "glance-direct"}},
            ),
            Step("delete twice, first", "DELETE", "/v2/images/{image}"),
            Step("delete twice, second", "DELETE", "/v2/images/{image}"),
        ],
        cleanup=[delete()],
    ),
    Scenario(
        "personas",
        [
            new_image("rbac"),
            Step("reader creates", "POST", "/v2/images", "reader", json={"name": "by-reader"}),
            Step("reader shows project image", "GET", "/v2/images/{image}", "reader"),
            Step(
                "reader patches",
                "PATCH",
                "/v2/images/{image}",
                "reader",
                json=[{"op": "replace", "path": "/name", "value": "r"}],
                headers=PATCH,
            ),
            Step("reader deletes", "DELETE", "/v2/images/{image}", "reader"),
            Step("other project shows", "GET", "/v2/images/{image}", "other"),
            Step("other project deletes", "DELETE", "/v2/images/{image}", "other"),
            Step(
                "member publicizes",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/visibility", "value": "public"}],
                headers=PATCH,
            ),
            Step("admin shows", "GET", "/v2/images/{image}", "admin"),
            Step(
                "member protects",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/protected", "value": True}],
                headers=PATCH,
            ),
            Step("delete protected", "DELETE", "/v2/images/{image}"),
            Step(
                "unprotect",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/protected", "value": False}],
                headers=PATCH,
            ),
        ],
        cleanup=[delete()],
    ),
    Scenario(
        "members",
        [
            new_image("shared", visibility="shared"),
            Step("add member", "POST", "/v2/images/{image}/members", json={"member": "{other_project}"}),
            Step("add the same member again", "POST", "/v2/images/{image}/members", json={"member": "{other_project}"}),
            Step("list members", "GET", "/v2/images/{image}/members"),
            Step("show member", "GET", "/v2/images/{image}/members/{other_project}"),
            Step("member lists own membership", "GET", "/v2/images/{image}/members/{other_project}", "other"),
            Step(
                "owner accepts for the member",
                "PUT",
                "/v2/images/{image}/members/{other_project}",
                json={"status": "accepted"},
            ),
            Step(
                "member accepts",
                "PUT",
                "/v2/images/{image}/members/{other_project}",
                "other",
                json={"status": "accepted"},
            ),
            Step(
                "bad member status",
                "PUT",
                "/v2/images/{image}/members/{other_project}",
                "other",
                json={"status": "maybe"},
            ),
            Step("member sees it in list", "GET", "/v2/images?member_status=accepted&id=in:{image}", "other"),
            Step("member deletes the image", "DELETE", "/v2/images/{image}", "other"),
            Step("add without member", "POST", "/v2/images/{image}/members", json={"project": "x"}),
            Step("add an empty member", "POST", "/v2/images/{image}/members", json={"member": ""}),
            Step("add to an unknown image", "POST", "/v2/images/{image2}/members", json={"member": "x"}),
            Step("reader adds", "POST", "/v2/images/{image}/members", "reader", json={"member": "y"}),
            Step("member adds further", "POST", "/v2/images/{image}/members", "other", json={"member": "y"}),
            Step("status missing", "PUT", "/v2/images/{image}/members/{other_project}", "other", json={"s": 1}),
            Step(
                "member rejects",
                "PUT",
                "/v2/images/{image}/members/{other_project}",
                "other",
                json={"status": "rejected"},
            ),
            Step("rejected: member shows the image", "GET", "/v2/images/{image}", "other"),
            Step("rejected: member's default list", "GET", "/v2/images?id=in:{image}", "other"),
            Step("member_status=rejected", "GET", "/v2/images?member_status=rejected&id=in:{image}", "other"),
            Step("member_status=all", "GET", "/v2/images?member_status=all&visibility=shared&id=in:{image}", "other"),
            Step("member_status unknown", "GET", "/v2/images?member_status=maybe", "other"),
            Step(
                "admin sets the status",
                "PUT",
                "/v2/images/{image}/members/{other_project}",
                "admin",
                json={"status": "pending"},
            ),
            Step("member removes itself", "DELETE", "/v2/images/{image}/members/{other_project}", "other"),
            Step(
                "made private",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/visibility", "value": "private"}],
                headers=PATCH,
            ),
            Step("private: member shows the image", "GET", "/v2/images/{image}", "other"),
            Step("private: list members", "GET", "/v2/images/{image}/members"),
            Step("private: show member", "GET", "/v2/images/{image}/members/{other_project}"),
            Step(
                "shared again",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/visibility", "value": "shared"}],
                headers=PATCH,
            ),
            Step("remove member", "DELETE", "/v2/images/{image}/members/{other_project}"),
            Step("remove it again", "DELETE", "/v2/images/{image}/members/{other_project}"),
            Step(
                "members of a private image", "POST", "/v2/images/{image2}/members", json={"member": "{other_project}"}
            ),
        ],
        cleanup=[delete()],
    ),
    Scenario(
        "import",
        [
            new_image("stage"),
            Step("stage", "PUT", "/v2/images/{image}/stage", body=DATA, headers=OCTETS),
            Step("show staged", "GET", "/v2/images/{image}"),
            Step(
                "import glance-direct", "POST", "/v2/images/{image}/import", json={"method": {"name": "glance-direct"}}
            ),
            Step("wait active", "GET", "/v2/images/{image}", wait_for=("status", ("active", "killed", "queued"))),
            Step("tasks of the image", "GET", "/v2/images/{image}/tasks"),
            new_image("web", image="{image2}"),
            Step(
                "import web-download",
                "POST",
                "/v2/images/{image2}/import",
                json={"method": {"name": "web-download", "uri": "http://127.0.0.1:9595/image.raw"}},
            ),
            Step(
                "wait web-download", "GET", "/v2/images/{image2}", wait_for=("status", ("active", "killed", "queued"))
            ),
            Step(
                "web-download to a refused port",
                "POST",
                "/v2/images/{image2}/import",
                json={"method": {"name": "web-download", "uri": "http://127.0.0.1:22/x"}},
            ),
            Step("tasks list (admin)", "GET", "/v2/tasks?limit=1", "admin"),
        ],
        cleanup=[delete(), delete("{image2}")],
    ),
    Scenario(
        "locations",
        [
            # the legacy PATCH operations (show_multiple_locations is on for both servers)
            new_image("located"),
            Step("member adds a location", "PATCH", "/v2/images/{image}", json=[ADD_LOCATION], headers=PATCH),
            Step("show located", "GET", "/v2/images/{image}"),
            Step("the same location again", "PATCH", "/v2/images/{image}", json=[ADD_LOCATION], headers=PATCH),
            Step(
                "add a refused address",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "add", "path": "/locations/-", "value": {"url": "http://127.0.0.1:22/x", "metadata": {}}}],
                headers=PATCH,
            ),
            Step(
                "add a file location",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "add", "path": "/locations/-", "value": {"url": "file:///etc/passwd", "metadata": {}}}],
                headers=PATCH,
            ),
            Step(
                "replace the metadata",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/locations", "value": [{"url": FILE_URL, "metadata": {"k": "v"}}]}],
                headers=PATCH,
            ),
            Step(
                "replace with another URL",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/locations", "value": [{"url": FILE_URL + "?x", "metadata": {}}]}],
                headers=PATCH,
            ),
            Step(
                "replace with an empty list",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "replace", "path": "/locations", "value": []}],
                headers=PATCH,
            ),
            Step(
                "member removes",
                "PATCH",
                "/v2/images/{image}",
                json=[{"op": "remove", "path": "/locations/0"}],
                headers=PATCH,
            ),
            Step(
                "admin removes the last",
                "PATCH",
                "/v2/images/{image}",
                "admin",
                json=[{"op": "remove", "path": "/locations/0"}],
                headers=PATCH,
            ),
            Step(
                "reader adds",
                "PATCH",
                "/v2/images/{image}",
                "reader",
                json=[ADD_LOCATION],
                headers=PATCH,
            ),
            Step("create with locations", "POST", "/v2/images", json={"name": "x", "locations": []}),
            # the locations API (2.17)
            new_image("add-location", image="{image2}"),
            Step("add location (2.17)", "POST", "/v2/images/{image2}/locations", json={"url": FILE_URL}),
            Step("wait location import", "GET", "/v2/images/{image2}", wait_for=("status", ("active", "queued"))),
            Step("member lists locations", "GET", "/v2/images/{image2}/locations"),
            Step("admin lists locations", "GET", "/v2/images/{image2}/locations", "admin"),
            Step("add location to an active image", "POST", "/v2/images/{image2}/locations", json={"url": FILE_URL}),
            Step("add location without url", "POST", "/v2/images/{image}/locations", json={"u": FILE_URL}),
        ],
        cleanup=[delete(), delete("{image2}")],
    ),
    Scenario(
        "metadefs",
        [
            Step("namespaces", "GET", "/v2/metadefs/namespaces?limit=2"),
            Step("resource types", "GET", "/v2/metadefs/resource_types"),
            Step("namespace OS::Compute::Hypervisor", "GET", "/v2/metadefs/namespaces/OS::Compute::Hypervisor"),
            Step("unknown namespace", "GET", "/v2/metadefs/namespaces/compat-nope"),
            Step("member creates namespace", "POST", "/v2/metadefs/namespaces", json={"namespace": "compat-ns"}),
            Step(
                "admin creates namespace", "POST", "/v2/metadefs/namespaces", "admin", json={"namespace": "compat-ns"}
            ),
            Step("admin adds a tag", "POST", "/v2/metadefs/namespaces/compat-ns/tags/t1", "admin"),
            Step("admin deletes namespace", "DELETE", "/v2/metadefs/namespaces/compat-ns", "admin"),
        ],
        cleanup=[Step("delete namespace", "DELETE", "/v2/metadefs/namespaces/compat-ns", "admin")],
    ),
]
