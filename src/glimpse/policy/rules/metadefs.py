"""Metadata definitions: namespaces, objects, properties, tags and resource type associations."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, ADMIN_OR_PROJECT_READER, rule

METADEF_ADMIN = "rule:metadef_admin"
ADMIN_OR_READER_OF_PUBLIC_NAMESPACE = (
    f"{ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
)
_NAMESPACE = "/v2/metadefs/namespaces/{namespace_name}"


def rules() -> list[RuleDefault]:
    read = ADMIN_OR_READER_OF_PUBLIC_NAMESPACE
    obj, prop, tag, rtype = (f"{_NAMESPACE}/objects", f"{_NAMESPACE}/properties", f"{_NAMESPACE}/tags",
                             f"{_NAMESPACE}/resource_types")  # fmt: skip
    return [
        RuleDefault("metadef_default", "", description="Older default for the metadata definition rules."),
        RuleDefault("metadef_admin", ADMIN, description="Who may change metadata definitions."),
        rule("get_metadef_namespace", read, "Show a metadata definition namespace.", ("GET", _NAMESPACE)),
        rule("get_metadef_namespaces", ADMIN_OR_PROJECT_READER, "List metadata definition namespaces.",
             ("GET", "/v2/metadefs/namespaces")),
        rule("modify_metadef_namespace", METADEF_ADMIN, "Replace a namespace.", ("PUT", _NAMESPACE)),
        rule("add_metadef_namespace", METADEF_ADMIN, "Create a namespace.", ("POST", "/v2/metadefs/namespaces")),
        rule("delete_metadef_namespace", METADEF_ADMIN, "Delete a namespace.", ("DELETE", _NAMESPACE)),
        rule("get_metadef_object", read, "Show a metadata definition object.", ("GET", f"{obj}/{{object_name}}")),
        rule("get_metadef_objects", read, "List a namespace's objects.", ("GET", obj)),
        rule("modify_metadef_object", METADEF_ADMIN, "Replace an object.", ("PUT", f"{obj}/{{object_name}}")),
        rule("add_metadef_object", METADEF_ADMIN, "Create an object.", ("POST", obj)),
        rule("delete_metadef_object", METADEF_ADMIN, "Delete an object.", ("DELETE", f"{obj}/{{object_name}}")),
        rule("list_metadef_resource_types", read, "List the resource types.", ("GET", "/v2/metadefs/resource_types")),
        rule("get_metadef_resource_type", read, "List a namespace's resource type associations.", ("GET", rtype)),
        rule("add_metadef_resource_type_association", METADEF_ADMIN, "Associate a resource type with a namespace.",
             ("POST", rtype)),
        rule("remove_metadef_resource_type_association", METADEF_ADMIN, "Remove a resource type association.",
             ("DELETE", f"{rtype}/{{name}}")),
        rule("get_metadef_property", read, "Show a property definition.", ("GET", f"{prop}/{{property_name}}")),
        rule("get_metadef_properties", read, "List a namespace's property definitions.", ("GET", prop)),
        rule("modify_metadef_property", METADEF_ADMIN, "Replace a property definition.",
             ("PUT", f"{prop}/{{property_name}}")),
        rule("add_metadef_property", METADEF_ADMIN, "Create a property definition.", ("POST", prop)),
        rule("remove_metadef_property", METADEF_ADMIN, "Delete a property definition.",
             ("DELETE", f"{prop}/{{property_name}}")),
        rule("get_metadef_tag", read, "Show a metadata definition tag.", ("GET", f"{tag}/{{tag_name}}")),
        rule("get_metadef_tags", read, "List a namespace's tags.", ("GET", tag)),
        rule("modify_metadef_tag", METADEF_ADMIN, "Rename a tag.", ("PUT", f"{tag}/{{tag_name}}")),
        rule("add_metadef_tag", METADEF_ADMIN, "Create a tag.", ("POST", f"{tag}/{{tag_name}}")),
        rule("add_metadef_tags", METADEF_ADMIN, "Create tags in bulk (replacing or appending).", ("POST", tag)),
        rule("delete_metadef_tag", METADEF_ADMIN, "Delete a tag.", ("DELETE", f"{tag}/{{tag_name}}")),
        rule("delete_metadef_tags", METADEF_ADMIN, "Delete all of a namespace's tags.", ("DELETE", tag)),
        # Glimpse's extension: resource types themselves (Glance creates them only through associations)
        rule("add_metadef_resource_type", METADEF_ADMIN, "Create a resource type (a Glimpse extension).",
             ("POST", "/v2/metadefs/resource_types")),
        rule("delete_metadef_resource_type", METADEF_ADMIN,
             "Delete an unprotected, unassociated resource type (a Glimpse extension).",
             ("DELETE", "/v2/metadefs/resource_types/{resource_type_name}")),
    ]  # fmt: skip
