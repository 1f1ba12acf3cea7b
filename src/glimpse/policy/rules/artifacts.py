"""The artifacts API (Glare's): Glare's rule names and default check strings, so that a Glare policy file
keeps its meaning. ``context_is_admin`` is shared with the Images API (see :mod:`.base`)."""

from __future__ import annotations

from oslo_policy.policy import DocumentedRuleDefault, RuleDefault

ARTIFACT = "/artifacts/{type_name}/{artifact_id}"
BLOB = ARTIFACT + "/{blob_path}"
_ADMIN_IF = "'{value}':%({key})s and rule:context_is_admin or not '{value}':%({key})s"


def _rule(name: str, check: str, description: str, *operations: tuple[str, str]) -> RuleDefault:
    if not operations:
        return RuleDefault(name, check, description=description)
    return DocumentedRuleDefault(
        name=name,
        check_str=check,
        description=description,
        operations=[{"method": method, "path": path} for method, path in operations],
    )


def rules() -> list[RuleDefault]:
    return [
        _rule("admin_or_owner", "is_admin:True or project_id:%(owner)s",
              "An administrator, or a member of the project owning the artifact."),
        _rule("artifact:type_list", "", "List artifact types and show their schemas.",
              ("GET", "/schemas"), ("GET", "/schemas/{type_name}")),
        _rule("artifact:create", "", "Create an artifact.", ("POST", "/artifacts/{type_name}")),
        _rule("artifact:update_public", _ADMIN_IF.format(value="public", key="visibility"),
              "Update a public artifact (administrators only by default)."),
        _rule("artifact:update", "rule:admin_or_owner and rule:artifact:update_public", "Update an artifact.",
              ("PATCH", ARTIFACT)),
        _rule("artifact:activate", "rule:admin_or_owner", "Activate a drafted artifact.", ("PATCH", ARTIFACT)),
        _rule("artifact:reactivate", "rule:context_is_admin", "Reactivate a deactivated artifact.",
              ("PATCH", ARTIFACT)),
        _rule("artifact:deactivate", "rule:context_is_admin", "Deactivate an artifact.", ("PATCH", ARTIFACT)),
        _rule("artifact:publish", "rule:context_is_admin", "Make an artifact public.", ("PATCH", ARTIFACT)),
        _rule("artifact:get", "", "Show an artifact.", ("GET", ARTIFACT)),
        _rule("artifact:get_any_artifact", "rule:context_is_admin", "Show an artifact of any project."),
        _rule("artifact:list", "", "List artifacts.", ("GET", "/artifacts/{type_name}")),
        _rule("artifact:list_all_artifacts", "rule:context_is_admin", "List the artifacts of every project."),
        _rule("artifact:delete_public", _ADMIN_IF.format(value="public", key="visibility"),
              "Delete a public artifact (administrators only by default)."),
        _rule("artifact:delete_deactivated", _ADMIN_IF.format(value="deactivated", key="status"),
              "Delete a deactivated artifact (administrators only by default)."),
        _rule("artifact:delete",
              "rule:admin_or_owner and rule:artifact:delete_public and rule:artifact:delete_deactivated",
              "Delete an artifact.", ("DELETE", ARTIFACT)),
        _rule("artifact:set_location", "rule:admin_or_owner", "Set an external location of a blob.",
              ("PUT", BLOB)),
        _rule("artifact:set_internal_location", "rule:context_is_admin", "Set an internal location of a blob.",
              ("PUT", BLOB)),
        _rule("artifact:upload", "rule:admin_or_owner", "Upload blob data.", ("PUT", BLOB)),
        _rule("artifact:download_deactivated", _ADMIN_IF.format(value="deactivated", key="status"),
              "Download from a deactivated artifact (administrators only by default)."),
        _rule("artifact:download", "rule:admin_or_owner and rule:artifact:download_deactivated",
              "Download blob data.", ("GET", BLOB)),
        _rule("artifact:download_from_any_artifact", "rule:context_is_admin",
              "Download blob data of an artifact of any project."),
        _rule("artifact:delete_blob", "rule:admin_or_owner", "Delete a blob with an external location.",
              ("DELETE", BLOB)),
        _rule("artifact:set_quotas", "rule:context_is_admin", "Set quotas of projects.", ("PUT", "/quotas")),
        _rule("artifact:list_all_quotas", "rule:context_is_admin", "List the quotas of every project.",
              ("GET", "/quotas")),
        _rule("artifact:list_project_quotas", "project_id:%(project_id)s or rule:context_is_admin",
              "Show a project's quotas.", ("GET", "/project-quotas"), ("GET", "/project-quotas/{project_id}")),
    ]  # fmt: skip
