"""The per-resource rule modules are all registered and define each rule once."""

from __future__ import annotations

import pkgutil
from types import ModuleType

from glimpse.policy import rules
from glimpse.policy.rules import RESOURCES, list_rules


def test_every_resource_module_is_registered() -> None:
    modules = {info.name for info in pkgutil.iter_modules(rules.__path__)} - {"common", "base"}
    registered = {resource.__name__.rsplit(".", 1)[1] for resource in RESOURCES if isinstance(resource, ModuleType)}
    assert modules == registered


def test_each_rule_is_defined_once() -> None:
    names = [rule.name for rule in list_rules()]
    assert len(names) == len(set(names))
