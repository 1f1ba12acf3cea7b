"""Every Glance policy rule, registered in code under Glance's name with its secure-RBAC default.

The names and default check strings are Glance's (project scope; roles admin / member / reader and the
``service`` role), so an operator's Glance ``policy.yaml`` overrides them unchanged. Two departures, both
documented in docs/policy.md:

- ``service_api`` also accepts a service token carrying the ``service`` role (``service_roles:service``),
  the way keystonemiddleware hands it over with a user's token;
- ``project_manager`` is Glimpse's own helper rule: ``!`` (nobody) unless ``[glimpse] enable_manager_role``
  is set, then a ``manager`` of the image's project. ``copy_image`` and ``delete_image_location`` accept it.

The descriptions are written for Glimpse; ``glimpse policy sample`` prints them with the defaults.
"""

from __future__ import annotations

from oslo_policy.policy import DocumentedRuleDefault, Operation, RuleDefault

PROJECT = ["project"]

# check strings, composed the way Glance composes its defaults
ADMIN = "rule:context_is_admin"
DEFAULT = "rule:default"
SERVICE = "rule:service_api"
MANAGER = "rule:project_manager"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"
_OWN_OR_SHARED_WITH = (
    "project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s "
    "or 'public':%(visibility)s or 'shared':%(visibility)s"
)
ADMIN_OR_PROJECT_MEMBER = f"{ADMIN} or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"{ADMIN} or ({PROJECT_READER})"
ADMIN_OR_READER_OF_VISIBLE_IMAGE = f"{ADMIN} or (role:reader and ({_OWN_OR_SHARED_WITH}))"
ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE = f"{ADMIN} or (role:member and ({_OWN_OR_SHARED_WITH}))"
ADMIN_OR_PROJECT_MEMBER_AS_OWNER = f"{ADMIN} or ({PROJECT_MEMBER} and project_id:%(owner)s)"
ADMIN_OR_READER_OF_OWNER_OR_MEMBER = (
    f"{ADMIN} or role:reader and (project_id:%(project_id)s or project_id:%(member_id)s)"
)
ADMIN_OR_THE_MEMBER = f"{ADMIN} or (role:member and project_id:%(member_id)s)"
SERVICE_OR_PROJECT_MEMBER_AS_OWNER = f"{SERVICE} or ({PROJECT_MEMBER} and project_id:%(owner)s)"
ADMIN_OR_SERVICE = f"{ADMIN} or {SERVICE}"
ADMIN_OR_PROJECT_MANAGER = f"{ADMIN} or {MANAGER}"
ADMIN_OR_READER_OF_PUBLIC_NAMESPACE = (
    f"{ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
)
METADEF_ADMIN = "rule:metadef_admin"

_IMAGE = "/v2/images/{image_id}"
_NAMESPACE = "/v2/metadefs/namespaces/{namespace_name}"

_TASKS_NOTE = (
    "\n\nThe tasks API is guarded as a whole by ``tasks_api_access``; this rule is checked after it and "
    "is there so that policy files written for Glance keep their meaning."
)


def _op(method: str, path: str) -> Operation:
    return {"method": method, "path": path}


def _rule(name: str, check: str, description: str, *operations: tuple[str, str]) -> DocumentedRuleDefault:
    return DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[_op(method, path) for method, path in operations],
        scope_types=PROJECT,
    )


def base_rules(enable_manager_role: bool) -> list[RuleDefault]:
    manager = PROJECT_MANAGER if enable_manager_role else "!"
    return [
        RuleDefault(
            "default",
            "",
            description="Used for any rule a policy file references but nobody defines. Empty: always passes.",
        ),
        RuleDefault("context_is_admin", "role:admin", description="Who counts as an administrator of the cloud."),
        RuleDefault(
            "service_api",
            "role:service or service_roles:service or role:admin",
            description=(
                "Service-to-service calls: a token with the service role, or a user's token that arrives "
                "together with a service token carrying the service role (X-Service-Token)."
            ),
        ),
        RuleDefault(
            "project_manager",
            manager,
            description=(
                "Glimpse's manager persona: a manager of the image's own project. Nobody ('!') unless "
                "[glimpse] enable_manager_role = true, then 'role:manager and project_id:%(project_id)s'. "
                "copy_image and delete_image_location accept it; override it here to switch the persona on "
                "or off independently of the setting."
            ),
        ),
    ]


def image_rules() -> list[RuleDefault]:
    return [
        _rule("add_image", ADMIN_OR_PROJECT_MEMBER_AS_OWNER, "Create an image record owned by your project.",
              ("POST", "/v2/images")),
        _rule("delete_image", ADMIN_OR_PROJECT_MEMBER, "Delete an image and its data.", ("DELETE", _IMAGE)),
        _rule("get_image", ADMIN_OR_READER_OF_VISIBLE_IMAGE,
              "Show an image your project owns, is a member of, or that is public, community or shared.",
              ("GET", _IMAGE)),
        _rule("get_images", ADMIN_OR_PROJECT_READER, "List the images your project may see.",
              ("GET", "/v2/images")),
        _rule("modify_image", ADMIN_OR_PROJECT_MEMBER, "Change an image's attributes, properties and tags.",
              ("PATCH", _IMAGE)),
        _rule("publicize_image", ADMIN, "Make an image public: every project lists it.", ("PATCH", _IMAGE)),
        _rule("communitize_image", ADMIN_OR_PROJECT_MEMBER,
              "Make an image community: every project may use it, none lists it unasked.", ("PATCH", _IMAGE)),
        _rule("download_image", ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE, "Download an image's data.",
              ("GET", f"{_IMAGE}/file")),
        _rule("download_from_store", ADMIN_OR_MEMBER_OF_VISIBLE_IMAGE,
              "Download an image's data from a store the caller names.", ("GET", f"{_IMAGE}/file")),
        _rule("upload_image", ADMIN_OR_PROJECT_MEMBER, "Upload or stage an image's data.",
              ("PUT", f"{_IMAGE}/file")),
        _rule("delete_image_location", ADMIN_OR_PROJECT_MANAGER,
              "Remove a location of an image, including removing its copy from one store.",
              ("PATCH", _IMAGE), ("DELETE", "/v2/stores/{store_id}/{image_id}")),
        _rule("get_image_location", ADMIN_OR_PROJECT_READER, "Read an image's locations.", ("GET", _IMAGE)),
        _rule("set_image_location", ADMIN_OR_PROJECT_MEMBER, "Set an image's locations.", ("PATCH", _IMAGE)),
        _rule("add_image_location", SERVICE_OR_PROJECT_MEMBER_AS_OWNER, "Add a location to a queued image.",
              ("POST", f"{_IMAGE}/locations")),
        _rule("fetch_image_location", SERVICE, "List an image's locations (services only).",
              ("GET", f"{_IMAGE}/locations")),
        _rule("add_member", ADMIN_OR_PROJECT_MEMBER, "Share an image with another project.",
              ("POST", f"{_IMAGE}/members")),
        _rule("delete_member", ADMIN_OR_PROJECT_MEMBER, "Stop sharing an image with a project.",
              ("DELETE", f"{_IMAGE}/members/{{member_id}}")),
        _rule("get_member", ADMIN_OR_READER_OF_OWNER_OR_MEMBER, "Show one member of an image.",
              ("GET", f"{_IMAGE}/members/{{member_id}}")),
        _rule("get_members", ADMIN_OR_READER_OF_OWNER_OR_MEMBER, "List the members of an image.",
              ("GET", f"{_IMAGE}/members")),
        _rule("modify_member", ADMIN_OR_THE_MEMBER,
              "Accept, reject or reset a sharing: only the member project decides.",
              ("PUT", f"{_IMAGE}/members/{{member_id}}")),
        RuleDefault("manage_image_cache", ADMIN, description="Manage the image cache (older rule name).",
                    scope_types=PROJECT),
        _rule("deactivate", ADMIN_OR_PROJECT_MEMBER, "Deactivate an image: its data can no longer be downloaded.",
              ("POST", f"{_IMAGE}/actions/deactivate")),
        _rule("reactivate", ADMIN_OR_PROJECT_MEMBER, "Reactivate a deactivated image.",
              ("POST", f"{_IMAGE}/actions/reactivate")),
        _rule("copy_image", ADMIN_OR_PROJECT_MANAGER, "Copy an active image's data to more stores (copy-image).",
              ("POST", f"{_IMAGE}/import")),
        _rule("list_cached_nodes", ADMIN, "List the nodes whose cache holds an image.",
              ("GET", "/v2/cache/nodes/{image_id}")),
    ]  # fmt: skip


def task_rules() -> list[RuleDefault]:
    return [
        _rule("get_task", DEFAULT, "Show a task." + _TASKS_NOTE, ("GET", "/v2/tasks/{task_id}")),
        _rule("get_tasks", DEFAULT, "List tasks." + _TASKS_NOTE, ("GET", "/v2/tasks")),
        _rule("add_task", DEFAULT, "Create a task." + _TASKS_NOTE, ("POST", "/v2/tasks")),
        _rule("modify_task", DEFAULT, "Never checked; kept so that policy files naming it stay valid.",
              ("DELETE", "/v2/tasks/{task_id}")),
        _rule("tasks_api_access", ADMIN, "Use the tasks API at all.",
              ("GET", "/v2/tasks/{task_id}"), ("GET", "/v2/tasks"), ("POST", "/v2/tasks"),
              ("DELETE", "/v2/tasks/{task_id}")),
    ]  # fmt: skip


def cache_rules() -> list[RuleDefault]:
    return [
        _rule("cache_image", ADMIN, "Queue an image for caching.", ("PUT", "/v2/cache/{image_id}")),
        _rule("cache_list", ADMIN, "List the cached and queued images.", ("GET", "/v2/cache")),
        _rule("cache_delete", ADMIN, "Remove images from the cache or its queue.",
              ("DELETE", "/v2/cache"), ("DELETE", "/v2/cache/{image_id}")),
        _rule("cache_clean", ADMIN, "Remove invalid and stalled cache entries.", ("POST", "/v2/cache/clean")),
        _rule("cache_prune", ADMIN, "Prune the cache down to its size limit.", ("POST", "/v2/cache/prune")),
    ]  # fmt: skip


def discovery_rules() -> list[RuleDefault]:
    return [
        _rule("stores_info_detail", ADMIN_OR_SERVICE, "Show the stores with their type and backend details.",
              ("GET", "/v2/info/stores/detail")),
    ]  # fmt: skip


def metadef_rules() -> list[RuleDefault]:
    read = ADMIN_OR_READER_OF_PUBLIC_NAMESPACE
    obj, prop, tag, rtype = (f"{_NAMESPACE}/objects", f"{_NAMESPACE}/properties", f"{_NAMESPACE}/tags",
                             f"{_NAMESPACE}/resource_types")  # fmt: skip
    return [
        RuleDefault("metadef_default", "", description="Older default for the metadata definition rules."),
        RuleDefault("metadef_admin", ADMIN, description="Who may change metadata definitions."),
        _rule("get_metadef_namespace", read, "Show a metadata definition namespace.", ("GET", _NAMESPACE)),
        _rule("get_metadef_namespaces", ADMIN_OR_PROJECT_READER, "List metadata definition namespaces.",
              ("GET", "/v2/metadefs/namespaces")),
        _rule("modify_metadef_namespace", METADEF_ADMIN, "Replace a namespace.", ("PUT", _NAMESPACE)),
        _rule("add_metadef_namespace", METADEF_ADMIN, "Create a namespace.", ("POST", "/v2/metadefs/namespaces")),
        _rule("delete_metadef_namespace", METADEF_ADMIN, "Delete a namespace.", ("DELETE", _NAMESPACE)),
        _rule("get_metadef_object", read, "Show a metadata definition object.", ("GET", f"{obj}/{{object_name}}")),
        _rule("get_metadef_objects", read, "List a namespace's objects.", ("GET", obj)),
        _rule("modify_metadef_object", METADEF_ADMIN, "Replace an object.", ("PUT", f"{obj}/{{object_name}}")),
        _rule("add_metadef_object", METADEF_ADMIN, "Create an object.", ("POST", obj)),
        _rule("delete_metadef_object", METADEF_ADMIN, "Delete an object.", ("DELETE", f"{obj}/{{object_name}}")),
        _rule("list_metadef_resource_types", read, "List the resource types.", ("GET", "/v2/metadefs/resource_types")),
        _rule("get_metadef_resource_type", read, "List a namespace's resource type associations.", ("GET", rtype)),
        _rule("add_metadef_resource_type_association", METADEF_ADMIN, "Associate a resource type with a namespace.",
              ("POST", rtype)),
        _rule("remove_metadef_resource_type_association", METADEF_ADMIN, "Remove a resource type association.",
              ("DELETE", f"{rtype}/{{name}}")),
        _rule("get_metadef_property", read, "Show a property definition.", ("GET", f"{prop}/{{property_name}}")),
        _rule("get_metadef_properties", read, "List a namespace's property definitions.", ("GET", prop)),
        _rule("modify_metadef_property", METADEF_ADMIN, "Replace a property definition.",
              ("PUT", f"{prop}/{{property_name}}")),
        _rule("add_metadef_property", METADEF_ADMIN, "Create a property definition.", ("POST", prop)),
        _rule("remove_metadef_property", METADEF_ADMIN, "Delete a property definition.",
              ("DELETE", f"{prop}/{{property_name}}")),
        _rule("get_metadef_tag", read, "Show a metadata definition tag.", ("GET", f"{tag}/{{tag_name}}")),
        _rule("get_metadef_tags", read, "List a namespace's tags.", ("GET", tag)),
        _rule("modify_metadef_tag", METADEF_ADMIN, "Rename a tag.", ("PUT", f"{tag}/{{tag_name}}")),
        _rule("add_metadef_tag", METADEF_ADMIN, "Create a tag.", ("POST", f"{tag}/{{tag_name}}")),
        _rule("add_metadef_tags", METADEF_ADMIN, "Create tags in bulk (replacing or appending).", ("POST", tag)),
        _rule("delete_metadef_tag", METADEF_ADMIN, "Delete a tag.", ("DELETE", f"{tag}/{{tag_name}}")),
        _rule("delete_metadef_tags", METADEF_ADMIN, "Delete all of a namespace's tags.", ("DELETE", tag)),
    ]  # fmt: skip


def list_rules(enable_manager_role: bool = False) -> list[RuleDefault]:
    """Every rule, in the order ``glimpse policy sample`` prints them."""
    return [
        *base_rules(enable_manager_role),
        *image_rules(),
        *task_rules(),
        *cache_rules(),
        *discovery_rules(),
        *metadef_rules(),
    ]
