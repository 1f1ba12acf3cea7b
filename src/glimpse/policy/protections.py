"""Property protections: who may create, read, update and delete which extra image properties.

The file is Glance's ``property_protection_file``: INI sections whose names are regular expressions over
property names, each with ``create``, ``read``, ``update`` and ``delete``. With
``property_protection_rule_format = roles`` a value lists roles (comma-separated); with ``policies`` it
names one policy rule (from the policy file or the defaults). ``@`` allows everyone, ``!`` nobody, an empty
value nobody. The first section whose expression is found in the property name (``re.search``) decides; a
property no section matches may not be touched by anyone. Being unable to read a property also means
being unable to update or delete it.

Roles counted are the token's roles with their implications plus the roles of a service token sent along,
so a service (``X-Service-Token`` with role ``service``) may write a property its user may not.
Core attributes (name, visibility, ...) are not properties and are never protected here; the server's own
``os_glance*`` properties are readable by everyone (clients may never write them anyway).
"""

from __future__ import annotations

import configparser
import functools
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from glimpse.context import RequestContext
from glimpse.domain.images import RESERVED_PREFIX
from glimpse.errors import Forbidden
from glimpse.policy.engine import Policy, effective_roles
from glimpse.settings import Settings

log = logging.getLogger(__name__)

Operation = Literal["create", "read", "update", "delete"]
OPERATIONS: tuple[Operation, ...] = ("create", "read", "update", "delete")
EVERYONE = "@"
NOBODY = "!"
RuleFormat = Literal["roles", "policies"]


@dataclass(frozen=True, slots=True)
class Section:
    """One section of the file: an expression over property names and who may do what."""

    expression: str
    pattern: re.Pattern[str]
    # operation -> roles (roles format) or a one-element tuple naming a policy rule; () is nobody
    allowed: Mapping[str, tuple[str, ...]]


def parse(text: str, rule_format: RuleFormat, source: str = "<property protections>") -> list[Section]:
    """Read a protections file; a malformed one raises ValueError (the server refuses to start)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise ValueError(f"{source}: not a valid INI file: {exc}") from exc
    sections: list[Section] = []
    for expression in parser.sections():
        if expression.startswith(RESERVED_PREFIX):
            log.warning("%s: ignoring section [%s]: os_glance properties are the server's own", source, expression)
            continue
        try:
            pattern = re.compile(expression)
        except re.error as exc:
            raise ValueError(f"{source}: section [{expression}] is not a valid regular expression: {exc}") from exc
        allowed: dict[str, tuple[str, ...]] = {}
        for operation in OPERATIONS:
            if not parser.has_option(expression, operation):
                raise ValueError(f"{source}: section [{expression}] does not say who may {operation}")
            allowed[operation] = _permission(parser.get(expression, operation), rule_format, expression, operation)
            if not allowed[operation]:
                log.warning("%s: [%s] %s is empty: nobody may %s these properties",
                            source, expression, operation, operation)  # fmt: skip
        sections.append(Section(expression, pattern, allowed))
    return sections


def _permission(raw: str, rule_format: RuleFormat, expression: str, operation: str) -> tuple[str, ...]:
    where = f"[{expression}] {operation} = {raw.strip()}"
    if rule_format == "policies":
        value = raw.strip()
        if "," in value:
            raise ValueError(f"{where}: the policies format takes one rule per operation; combine rules in the policy")
        return (value,) if value else ()
    roles = tuple(role.strip().lower() for role in raw.split(",") if role.strip())
    if EVERYONE in roles and NOBODY in roles:
        raise ValueError(f"{where}: '@' (everyone) and '!' (nobody) cannot both be given")
    return roles


class PropertyProtections:
    """The loaded protections and the checks the image service makes with them."""

    def __init__(self, sections: Iterable[Section], rule_format: RuleFormat, policy: Policy) -> None:
        self.sections = tuple(sections)
        self.rule_format = rule_format
        self.policy = policy
        self._section_for = functools.lru_cache(maxsize=4096)(self._first_match)
        if rule_format == "policies":
            for section in self.sections:
                for operation, names in section.allowed.items():
                    for name in names:
                        if name not in (EVERYONE, NOBODY) and not policy.is_defined(name):
                            raise ValueError(
                                f"property protection [{section.expression}] {operation} names policy rule "
                                f"{name!r}, which neither the defaults nor the policy file define"
                            )

    @classmethod
    def load(cls, path: Path, rule_format: RuleFormat, policy: Policy) -> PropertyProtections:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read property_protection_file {path}: {exc}") from exc
        return cls(parse(text, rule_format, str(path)), rule_format, policy)

    @classmethod
    def from_settings(cls, settings: Settings, policy: Policy) -> PropertyProtections | None:
        if settings.property_protection_file is None:
            return None
        return cls.load(settings.property_protection_file, settings.property_protection_rule_format, policy)

    def _first_match(self, name: str) -> Section | None:
        for section in self.sections:
            if section.pattern.search(name):
                return section
        return None

    def allows(self, ctx: RequestContext, name: str, operation: Operation) -> bool:
        if name.startswith(RESERVED_PREFIX):
            return True
        section = self._section_for(name)
        if section is None:
            return False
        if operation in ("update", "delete") and not self._permits(ctx, section, "read"):
            return False
        return self._permits(ctx, section, operation)

    def _permits(self, ctx: RequestContext, section: Section, operation: Operation) -> bool:
        allowed = section.allowed[operation]
        if not allowed or NOBODY in allowed:
            return False
        if EVERYONE in allowed:
            return True
        if self.rule_format == "policies":
            return self.policy.check_defined(ctx, allowed[0], with_service_roles=True)
        roles = effective_roles(ctx) | {role.lower() for role in ctx.service_roles}
        return not roles.isdisjoint(allowed)

    def enforce(self, ctx: RequestContext, name: str, operation: Operation) -> None:
        if not self.allows(ctx, name, operation):
            raise Forbidden(f"Property '{name}' is protected: you are not authorized to {operation} it.")

    def readable(
        self, ctx: RequestContext, properties: Mapping[str, str], memo: dict[str, bool] | None = None
    ) -> dict[str, str]:
        """The properties the caller may read; ``memo`` keeps the answers across the images of one list."""
        memo = {} if memo is None else memo
        readable: dict[str, str] = {}
        for name, value in properties.items():
            allowed = memo.get(name)
            if allowed is None:
                allowed = memo[name] = self.allows(ctx, name, "read")
            if allowed:
                readable[name] = value
        return readable
