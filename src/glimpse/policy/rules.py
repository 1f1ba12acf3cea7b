"""Glance's policy rules with their secure-RBAC defaults (project scope: admin / member / reader).

Each rule is a predicate over the caller's context and the target; the names are Glance's, so
messages, docs and (later) an operator's ``policy.yaml`` line up. Roles imply each other the way
Keystone's default role implications do: admin implies member, member implies reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from glimpse.context import RequestContext
from glimpse.errors import Forbidden

IMPLIED = {"admin": {"admin", "member", "reader"}, "member": {"member", "reader"}, "reader": {"reader"}}


@dataclass(frozen=True, slots=True)
class Target:
    project_id: str | None = None  # the owner of the resource
    member_id: str | None = None
    visibility: str | None = None


def effective_roles(ctx: RequestContext) -> frozenset[str]:
    roles: set[str] = set()
    for role in ctx.roles:
        roles |= IMPLIED.get(role, {role})
    return frozenset(roles)


Rule = Callable[[RequestContext, frozenset[str], Target], bool]


def _admin(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
    return "admin" in roles


def _project_role(role: str) -> Rule:
    def rule(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
        return role in roles and ctx.project_id is not None and ctx.project_id == target.project_id

    return rule


def _visible_with(role: str) -> Rule:
    def rule(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
        if role not in roles:
            return False
        return target.visibility in ("public", "community", "shared") or (
            ctx.project_id is not None and ctx.project_id in (target.project_id, target.member_id)
        )

    return rule


def _member_or_owner_reader(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
    return "reader" in roles and ctx.project_id is not None and ctx.project_id in (target.project_id, target.member_id)


def _the_member(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
    return "member" in roles and ctx.project_id is not None and ctx.project_id == target.member_id


def _service(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
    return "service" in roles or "service" in ctx.service_roles


def _everyone(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
    return True


def _any_of(*rules: Rule) -> Rule:
    def rule(ctx: RequestContext, roles: frozenset[str], target: Target) -> bool:
        return any(r(ctx, roles, target) for r in rules)

    return rule


_PM = _project_role("member")
_PR = _project_role("reader")

DEFAULT_RULES: dict[str, Rule] = {
    "context_is_admin": _admin,
    "get_image": _any_of(_admin, _visible_with("reader")),
    "get_images": _any_of(_admin, _PR),
    "add_image": _any_of(_admin, _PM),
    "modify_image": _any_of(_admin, _PM),
    "delete_image": _any_of(_admin, _PM),
    "upload_image": _any_of(_admin, _PM),
    "communitize_image": _any_of(_admin, _PM),
    "deactivate": _any_of(_admin, _PM),
    "reactivate": _any_of(_admin, _PM),
    "add_member": _any_of(_admin, _PM),
    "delete_member": _any_of(_admin, _PM),
    "publicize_image": _admin,
    "copy_image": _admin,
    "delete_image_location": _admin,
    "download_image": _any_of(_admin, _visible_with("member")),
    "get_member": _any_of(_admin, _member_or_owner_reader),
    "get_members": _any_of(_admin, _member_or_owner_reader),
    "modify_member": _any_of(_admin, _the_member),
    "stores_info_detail": _any_of(_admin, _service),
    "tasks_api_access": _admin,
    "get_task": _everyone,
    "get_tasks": _everyone,
    "add_task": _everyone,
}


class Policy:
    def __init__(self, rules: dict[str, Rule] | None = None) -> None:
        self.rules = dict(DEFAULT_RULES if rules is None else rules)

    def check(self, ctx: RequestContext, rule: str, target: Target | None = None) -> bool:
        return self.rules[rule](ctx, effective_roles(ctx), target or Target(project_id=ctx.project_id))

    def enforce(self, ctx: RequestContext, rule: str, target: Target | None = None) -> None:
        if not self.check(ctx, rule, target):
            raise Forbidden(f"You are not authorized to complete {rule} action.")
