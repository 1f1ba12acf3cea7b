"""oslo.policy's Enforcer with Glance's rules, and a fast evaluator of the rules it holds.

Loading is oslo.policy's own: an ``Enforcer`` gets every default from :mod:`glimpse.policy.rules`
registered, reads the operator's policy file (YAML or JSON, Glance's format), merges the two and warns
about rules that reference undefined ones. Evaluating through ``Enforcer.enforce`` costs 100 to 200 µs
per check with oslo.policy 6 (it inspects the signature of every node of the rule tree on every call), so
the merged rule trees are compiled once into plain closures that keep oslo.policy's semantics for its
built-in checks (``@``, ``!``, ``and``, ``or``, ``not``, ``rule:``, ``role:``, ``key:value`` generic
checks) and hand any other kind of check (``http:``, plugins) to oslo.policy itself. Scope types are
honoured as ``Enforcer.enforce`` honours them. ``tests/unit/policy`` checks the two agree.

Credentials are oslo.context's policy values: ``roles`` (the token's roles plus the roles Keystone's
default implications add: admin > manager > member > reader), ``service_roles`` (the roles of a service
token sent along, as keystonemiddleware reports them), ``user_id``, ``project_id``, ``domain_id`` and
``system_scope``. The policy file is re-read when it changes (looked at once a second at most).
"""

from __future__ import annotations

import ast
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oslo_config import cfg
from oslo_policy import _checks
from oslo_policy import policy as oslo

from glimpse.context import RequestContext
from glimpse.errors import Forbidden
from glimpse.policy.rules import list_rules
from glimpse.settings import Settings

log = logging.getLogger(__name__)

# Keystone's default role implications (``keystone-manage bootstrap``): each role brings the ones below it.
IMPLIED_ROLES: dict[str, tuple[str, ...]] = {
    "admin": ("admin", "manager", "member", "reader"),
    "manager": ("manager", "member", "reader"),
    "member": ("member", "reader"),
}

Evaluator = Callable[[Mapping[str, Any], MutableMapping[str, Any], str | None], bool]


def effective_roles(ctx: RequestContext) -> frozenset[str]:
    """The caller's (user token's) roles with the roles they imply, lower-cased."""
    roles: set[str] = set()
    for role in ctx.roles:
        role = role.lower()
        roles.update(IMPLIED_ROLES.get(role, (role,)))
    return frozenset(roles)


def credentials(ctx: RequestContext, *, with_service_roles: bool = False) -> dict[str, Any]:
    """The credentials a rule sees, keyed as oslo.context's ``to_policy_values`` keys them.

    ``with_service_roles`` adds the service token's roles to ``roles`` (property protections do this, as
    Glance does); policy rules otherwise see them under ``service_roles`` only, so a service token's
    ``admin`` never makes the user's request an admin's.
    """
    roles = effective_roles(ctx)
    service_roles = sorted(role.lower() for role in ctx.service_roles)
    if with_service_roles:
        roles = roles | frozenset(service_roles)
    creds: dict[str, Any] = {"roles": sorted(roles), "service_roles": service_roles, "is_admin_project": True}
    # Glare's rules (``admin_or_owner``) read it, as Glare's context put it among the policy values
    creds["is_admin"] = "admin" in roles
    # absent rather than None: 'project_id:%(member_id)s' must not match a project-less caller
    if ctx.user_id is not None:
        creds["user_id"] = ctx.user_id
    if ctx.project_id is not None:
        creds["project_id"] = ctx.project_id
    if ctx.domain_id is not None:
        creds["domain_id"] = ctx.domain_id
    if ctx.system_scope:
        creds["system_scope"] = creds["system"] = ctx.system_scope
    return creds


def _token_scope(creds: Mapping[str, Any]) -> str:
    if creds.get("system"):
        return "system"
    if creds.get("domain_id"):
        return "domain"
    return "project"


@dataclass(frozen=True, slots=True)
class Target:
    """What a rule is checked against. ``project_id`` is the owner of the resource."""

    project_id: str | None = None
    member_id: str | None = None
    visibility: str | None = None
    # more of the resource for operators' rules (an image's id, name, status, properties...)
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Absent keys rather than None values: a rule naming an absent key fails, as in oslo.policy."""
        values = {name: value for name, value in self.attributes.items() if value is not None}
        if self.project_id is not None:
            values["project_id"] = self.project_id
            values.setdefault("owner", self.project_id)
        if self.member_id is not None:
            values["member_id"] = self.member_id
        if self.visibility is not None:
            values["visibility"] = self.visibility
        return values


def _find(value: Any, path: list[str], match: str) -> bool:
    """oslo.policy's generic-check lookup: a dotted path into the credentials; lists match any element."""
    if not path:
        return match == str(value)
    try:
        value = value[path[0]]
    except KeyError:
        return False
    if isinstance(value, list):
        return any(_find(item, path[1:], match) for item in value)
    return _find(value, path[1:], match)


class CompiledRules:
    """One loaded Enforcer and its rules compiled to closures. Immutable once built; swapped whole on reload."""

    def __init__(self, enforcer: oslo.Enforcer) -> None:
        self.enforcer = enforcer
        self.registered = frozenset(enforcer.registered_rules)
        self.scopes: dict[str, frozenset[str]] = {
            name: frozenset(default.scope_types)
            for name, default in enforcer.registered_rules.items()
            if default.scope_types
        }
        default_rule = enforcer.rules.default_rule
        self.default_rule = default_rule if isinstance(default_rule, str) else None
        self.table: dict[str, Evaluator] = {}
        for name, check in enforcer.rules.items():
            self.table[name] = self._compile(check)

    def __contains__(self, name: str) -> bool:
        return name in self.table

    def evaluate(self, name: str, target: Mapping[str, Any], creds: MutableMapping[str, Any]) -> bool:
        evaluator = self.table.get(name)
        if evaluator is None:
            return False
        return evaluator(target, creds, name)

    def _resolve(self, name: str) -> Evaluator | None:
        """``rule:name``: the named rule, else (as oslo.policy's Rules) the default rule, else nothing."""
        evaluator = self.table.get(name)
        if evaluator is None and self.default_rule:
            evaluator = self.table.get(self.default_rule)
        return evaluator

    def _compile(self, check: _checks.BaseCheck) -> Evaluator:
        kind = type(check)
        if kind is _checks.TrueCheck:
            return lambda target, creds, current: True
        if kind is _checks.FalseCheck:
            return lambda target, creds, current: False
        if kind is _checks.AndCheck or kind is _checks.OrCheck:
            parts = tuple(self._compile(rule) for rule in check.rules)  # type: ignore[attr-defined]
            if kind is _checks.AndCheck:
                return lambda target, creds, current: all(part(target, creds, current) for part in parts)
            return lambda target, creds, current: any(part(target, creds, current) for part in parts)
        if kind is _checks.NotCheck:
            inner = self._compile(check.rule)  # type: ignore[attr-defined]
            return lambda target, creds, current: not inner(target, creds, current)
        if kind is _checks.RuleCheck:
            return self._compile_rule_reference(check.match)  # type: ignore[attr-defined]
        if kind is _checks.RoleCheck:
            return self._compile_role(check.match)  # type: ignore[attr-defined]
        if kind is _checks.GenericCheck:
            compiled = self._compile_generic(check.kind, check.match)  # type: ignore[attr-defined]
            if compiled is not None:
                return compiled
        return self._delegate(check)

    def _delegate(self, check: _checks.BaseCheck) -> Evaluator:
        enforcer = self.enforcer

        def evaluate(target: Mapping[str, Any], creds: MutableMapping[str, Any], current: str | None) -> bool:
            return bool(_checks._check(check, target, creds, enforcer, current))

        return evaluate

    def _compile_rule_reference(self, name: str) -> Evaluator:
        def evaluate(target: Mapping[str, Any], creds: MutableMapping[str, Any], current: str | None) -> bool:
            evaluator = self._resolve(name)
            return evaluator is not None and evaluator(target, creds, current)

        return evaluate

    @staticmethod
    def _compile_role(match: str) -> Evaluator:
        if "%" not in match:
            role = match.lower()

            def static(target: Mapping[str, Any], creds: MutableMapping[str, Any], current: str | None) -> bool:
                roles = creds.get("roles")
                return roles is not None and any(role == given.lower() for given in roles)

            return static

        def templated(target: Mapping[str, Any], creds: MutableMapping[str, Any], current: str | None) -> bool:
            try:
                role = (match % target).lower()
            except KeyError:
                return False
            roles = creds.get("roles")
            return roles is not None and any(role == given.lower() for given in roles)

        return templated

    @staticmethod
    def _compile_generic(kind: str, match: str) -> Evaluator | None:
        try:
            literal: str | None = str(ast.literal_eval(kind))
        except ValueError:
            literal = None
        except Exception:
            return None  # oslo.policy raises on such a check at evaluation time: let it
        path = kind.split(".")

        def evaluate(target: Mapping[str, Any], creds: MutableMapping[str, Any], current: str | None) -> bool:
            try:
                value = match % target
            except KeyError:
                return False
            if literal is not None:
                return value == literal
            return _find(creds, path, value)

        return evaluate


def load_enforcer(
    policy_file: Path | None, *, enable_manager_role: bool = False, overrides: Mapping[str, str] | None = None
) -> oslo.Enforcer:
    """An oslo.policy Enforcer holding every default, the policy file's rules over them, then ``overrides``."""
    conf = cfg.ConfigOpts()
    conf(args=[], default_config_files=[], default_config_dirs=[])
    enforcer = oslo.Enforcer(conf, policy_file=str(policy_file) if policy_file else None, use_conf=False)
    conf.set_override("policy_dirs", [], "oslo_policy")
    enforcer.register_defaults(list_rules(enable_manager_role))
    if policy_file is not None:
        if not policy_file.is_file():
            raise ValueError(f"policy file {policy_file} does not exist")
        enforcer.load_rules(force_reload=True)  # reads the file, then fills in the registered defaults
    else:
        defaults = {name: default.check for name, default in enforcer.registered_rules.items()}
        enforcer.set_rules(oslo.Rules(defaults, enforcer.default_rule), use_conf=False)
    if overrides:
        enforcer.set_rules(oslo.Rules.from_dict(dict(overrides)), overwrite=False, use_conf=False)
    enforcer.use_conf = False  # loaded: oslo.policy must not look for files behind our back
    enforcer.check_rules()  # logs rules that reference undefined or cyclic rules
    return enforcer


@functools.cache
def _default_rules(enable_manager_role: bool) -> CompiledRules:
    """The registered defaults alone, compiled once a process: CompiledRules is immutable, and registering the
    defaults (oslo.policy deep-copies each) costs tens of milliseconds every time a Policy is built."""
    return CompiledRules(load_enforcer(None, enable_manager_role=enable_manager_role))


class Policy:
    """Checks Glance's rules for a request context. Unknown rule names are programming errors (KeyError)."""

    def __init__(
        self,
        policy_file: Path | None = None,
        *,
        enable_manager_role: bool = False,
        rules: Mapping[str, str] | None = None,
        reload_interval: float = 1.0,
    ) -> None:
        self.policy_file = policy_file.resolve() if policy_file is not None else None  # oslo.config finds only these
        self.enable_manager_role = enable_manager_role
        self._overrides = dict(rules or {})
        self._reload_interval = reload_interval
        self._reload_lock = threading.Lock()
        self._mtime = self._stat()
        self._next_look = time.monotonic() + reload_interval
        self._compiled = self._compile()

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.policy_file, enable_manager_role=settings.enable_manager_role)

    def _load(self) -> oslo.Enforcer:
        return load_enforcer(self.policy_file, enable_manager_role=self.enable_manager_role, overrides=self._overrides)

    def _compile(self) -> CompiledRules:
        if self.policy_file is None and not self._overrides:
            return _default_rules(self.enable_manager_role)
        return CompiledRules(self._load())

    def _stat(self) -> int | None:
        if self.policy_file is None:
            return None
        try:
            return os.stat(self.policy_file).st_mtime_ns
        except OSError:
            return None

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_look or not self._reload_lock.acquire(blocking=False):
            return
        try:
            self._next_look = now + self._reload_interval
            mtime = self._stat()
            if mtime is None or mtime == self._mtime:
                return
            self._mtime = mtime
            try:
                self._compiled = CompiledRules(self._load())
            except Exception:
                log.exception("policy file %s changed but cannot be loaded; the rules in force stay", self.policy_file)
            else:
                log.info("policy file %s reloaded", self.policy_file)
        finally:
            self._reload_lock.release()

    @property
    def enforcer(self) -> oslo.Enforcer:
        """The oslo.policy Enforcer in force (for tools and tests)."""
        return self._compiled.enforcer

    def rule_names(self) -> frozenset[str]:
        return self._compiled.registered

    def is_defined(self, name: str) -> bool:
        """Whether a rule of that name exists, registered or from the policy file."""
        return name in self._compiled

    def check(self, ctx: RequestContext, rule: str, target: Target | None = None) -> bool:
        if self.policy_file is not None:
            self._maybe_reload()
        compiled = self._compiled
        if rule not in compiled.registered:
            raise KeyError(rule)
        creds = credentials(ctx)
        scopes = compiled.scopes.get(rule)
        if scopes is not None and _token_scope(creds) not in scopes:
            return False
        values = (target or Target(project_id=ctx.project_id)).as_dict()
        return compiled.evaluate(rule, values, creds)

    def check_defined(
        self, ctx: RequestContext, name: str, target: Mapping[str, Any] | None = None, *, with_service_roles: bool
    ) -> bool:
        """Evaluate a rule that need not be registered (a policy file's own); an undefined one fails."""
        if self.policy_file is not None:
            self._maybe_reload()
        creds = credentials(ctx, with_service_roles=with_service_roles)
        return self._compiled.evaluate(name, dict(target or {}), creds)

    def enforce(self, ctx: RequestContext, rule: str, target: Target | None = None) -> None:
        if not self.check(ctx, rule, target):
            raise Forbidden(f"You are not authorized to complete {rule} action.")
