"""Metadata definitions end to end: python-glanceclient's `glance md-*` commands and openstacksdk's
metadef proxy against a real server (tokens: admin, and members of projects alpha and beta)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from openstack import exceptions

from tests.e2e.conftest import GlanceCLI, parse_show, parse_table

pytestmark = pytest.mark.e2e

Sdk = Callable[[str], Any]


def names(cli: GlanceCLI, user: str, *args: str) -> list[str]:
    return [row[0] for row in parse_table(cli.run(user, *args).stdout)[1:]]


def test_glance_md_commands(glance_cli: GlanceCLI, unique: str) -> None:
    ns = f"E2E::Cli{unique}"
    created = parse_show(glance_cli.run("admin", "md-namespace-create", ns, "--visibility", "public",
                                        "--display-name", "E2E", "--description", "made by glance").stdout)  # fmt: skip
    assert created["namespace"] == ns
    assert created["owner"] == "admin"
    assert ns in names(glance_cli, "alpha", "md-namespace-list")
    assert "OS::Nova::Server" in names(glance_cli, "alpha", "md-resource-type-list")

    glance_cli.run("admin", "md-resource-type-associate", ns, "--name", "OS::Glance::Image", "--prefix", "hw_")
    assert names(glance_cli, "alpha", "md-namespace-resource-type-list", ns) == ["OS::Glance::Image"]
    assert ns in names(glance_cli, "alpha", "md-namespace-list", "--resource-types", "OS::Glance::Image")

    definition = '{"type": "integer", "minimum": 1}'
    prop = parse_show(glance_cli.run("admin", "md-property-create", ns, "--name", "cores", "--title", "Cores",
                                     "--type", "integer", "--schema", definition).stdout)  # fmt: skip
    assert (prop["name"], prop["minimum"]) == ("cores", "1")
    renamed = parse_show(glance_cli.run("admin", "md-property-update", ns, "cores", "--name", "vcpus").stdout)
    assert renamed["name"] == "vcpus"
    assert names(glance_cli, "alpha", "md-property-list", ns) == ["vcpus"]

    schema = {"description": "d", "required": ["rate"], "properties": {"rate": {"title": "Rate", "type": "integer"}}}
    obj = parse_show(glance_cli.run("admin", "md-object-create", ns, "--name", "Rng", "--schema",
                                    json.dumps(schema)).stdout)  # fmt: skip
    assert json.loads(obj["required"]) == ["rate"]
    assert parse_show(glance_cli.run("alpha", "md-object-property-show", ns, "Rng", "rate").stdout)["title"] == "Rate"
    glance_cli.run("admin", "md-object-update", ns, "Rng", "--name", "Random")
    assert names(glance_cli, "alpha", "md-object-list", ns) == ["Random"]

    glance_cli.run("admin", "md-tag-create", ns, "--name", "single")
    glance_cli.run("admin", "md-tag-create-multiple", ns, "--names", "a,b", "--delim", ",")
    assert sorted(names(glance_cli, "alpha", "md-tag-list", ns)) == ["a", "b"]  # replaced, not appended
    assert parse_show(glance_cli.run("admin", "md-tag-update", ns, "a", "--name", "aa").stdout)["name"] == "aa"
    assert parse_show(glance_cli.run("alpha", "md-tag-show", ns, "aa").stdout)["name"] == "aa"

    shown = parse_show(glance_cli.run("alpha", "md-namespace-show", ns, "--resource-type", "OS::Glance::Image",
                                      "--max-column-width", "500").stdout)  # fmt: skip
    assert json.loads(shown["properties"]) == ["hw_vcpus"]
    assert json.loads(shown["objects"]) == ["Random"]

    # writes are admin-only; another project's member is refused
    refused = glance_cli.run("alpha", "md-tag-create", ns, "--name", "x", check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr

    glance_cli.run("admin", "md-namespace-update", ns, "--protected", "True")
    protected = glance_cli.run("admin", "md-namespace-delete", ns, check=False)
    assert "is protected and cannot be deleted" in protected.stderr
    glance_cli.run("admin", "md-namespace-update", ns, "--protected", "False", "--namespace", f"{ns}2")
    glance_cli.run("admin", "md-namespace-tags-delete", f"{ns}2")
    assert names(glance_cli, "admin", "md-tag-list", f"{ns}2") == []
    glance_cli.run("admin", "md-namespace-properties-delete", f"{ns}2")
    glance_cli.run("admin", "md-namespace-objects-delete", f"{ns}2")
    glance_cli.run("admin", "md-resource-type-deassociate", f"{ns}2", "OS::Glance::Image")
    glance_cli.run("admin", "md-namespace-delete", f"{ns}2")
    gone = glance_cli.run("admin", "md-namespace-show", f"{ns}2", check=False)
    assert "404" in gone.stderr


def test_glance_tag_create_multiple_append_client_bug(glance_cli: GlanceCLI, unique: str) -> None:
    """glanceclient sends ``X-Openstack-Append`` as a bool, which its own HTTP layer cannot quote: the
    command fails before any request is made (the server side is covered by the functional tests)."""
    ns = f"E2E::Append{unique}"
    glance_cli.run("admin", "md-namespace-create", ns)
    glance_cli.run("admin", "md-tag-create-multiple", ns, "--names", "a", "--delim", ",")
    result = glance_cli.run("admin", "md-tag-create-multiple", ns, "--names", "b", "--delim", ",", "--append",
                            check=False)  # fmt: skip
    if result.returncode == 0:  # a fixed client appends
        assert sorted(names(glance_cli, "admin", "md-tag-list", ns)) == ["a", "b"]
    else:
        assert "quote_from_bytes() expected bytes" in result.stderr
        assert names(glance_cli, "admin", "md-tag-list", ns) == ["a"]
    glance_cli.run("admin", "md-namespace-delete", ns)


def test_openstacksdk_metadef_proxy(sdk: Sdk, unique: str) -> None:
    admin, alpha, beta = sdk("admin"), sdk("alpha"), sdk("beta")
    ns_name = f"E2E::Sdk{unique}"
    ns = admin.image.create_metadef_namespace(namespace=ns_name, visibility="private", owner="alpha",
                                              display_name="SDK")  # fmt: skip
    assert ns.namespace == ns_name
    assert ns_name in [n.namespace for n in alpha.image.metadef_namespaces()]
    assert ns_name not in [n.namespace for n in beta.image.metadef_namespaces()]
    with pytest.raises(exceptions.NotFoundException):
        beta.image.get_metadef_namespace(ns_name)
    with pytest.raises(exceptions.ForbiddenException):
        alpha.image.update_metadef_namespace(ns_name, namespace=ns_name, display_name="mine")

    admin.image.create_metadef_resource_type_association(ns_name, name="OS::Nova::Flavor", prefix="hw:")
    assert [a.name for a in alpha.image.metadef_resource_type_associations(ns_name)] == ["OS::Nova::Flavor"]
    assert "OS::Cinder::Volume" in [r.name for r in alpha.image.metadef_resource_types()]

    admin.image.create_metadef_property(ns_name, name="mem", title="Memory", type="integer")
    assert [p.name for p in alpha.image.metadef_properties(ns_name)] == ["mem"]
    assert alpha.image.get_metadef_property("mem", ns_name).title == "Memory"
    admin.image.create_metadef_object(ns_name, name="Thing", description="t")
    assert [o.name for o in alpha.image.metadef_objects(ns_name)] == ["Thing"]
    assert alpha.image.get_metadef_object("Thing", ns_name).description == "t"
    updated = admin.image.update_metadef_object("Thing", ns_name, name="Thing", description="u")
    assert updated.description == "u"

    admin.image.add_tag_to_metadef_namespace(ns_name, "sdk-tag")
    assert [t["name"] for t in admin.image.get_metadef_namespace(ns_name).tags] == ["sdk-tag"]
    admin.image.remove_tag_from_metadef_namespace(ns_name, "sdk-tag")
    assert admin.image.get_metadef_namespace(ns_name).tags in (None, [])

    admin.image.delete_all_metadef_properties(ns_name)
    assert list(alpha.image.metadef_properties(ns_name)) == []
    admin.image.delete_metadef_object("Thing", ns_name)
    admin.image.delete_metadef_resource_type_association("OS::Nova::Flavor", ns_name)
    assert admin.image.get_metadef_namespace_schema().name == "namespace"
    assert admin.image.get_metadef_resource_type_schema().name == "resource_type_association"
    admin.image.delete_metadef_namespace(ns_name)
    assert ns_name not in [n.namespace for n in admin.image.metadef_namespaces()]


def test_glance_md_namespace_import(glance_cli: GlanceCLI, unique: str, tmp_path: Any) -> None:
    """`md-namespace-import` posts a whole namespace (the shape of load_metadefs' files) in one request."""
    ns = f"E2E::Import{unique}"
    document = {
        "namespace": ns,
        "visibility": "public",
        "resource_type_associations": [{"name": "OS::Nova::Flavor", "prefix": "hw:"}],
        "properties": {"cpu_policy": {"title": "CPU policy", "type": "string", "enum": ["shared", "dedicated"]}},
        "objects": [{"name": "Pinning", "properties": {"mode": {"title": "Mode", "type": "string"}}}],
        "tags": [{"name": "imported"}],
    }
    path = tmp_path / "ns.json"
    path.write_text(json.dumps(document))
    glance_cli.run("admin", "md-namespace-import", "--file", str(path))
    shown = parse_show(glance_cli.run("beta", "md-namespace-show", ns, "--resource-type", "OS::Nova::Flavor",
                                      "--max-column-width", "500").stdout)  # fmt: skip
    assert json.loads(shown["properties"]) == ["hw:cpu_policy"]
    assert json.loads(shown["tags"]) == ["imported"]
    again = glance_cli.run("admin", "md-namespace-import", "--file", str(path), check=False)
    assert "409" in again.stderr
    glance_cli.run("admin", "md-namespace-delete", ns)
