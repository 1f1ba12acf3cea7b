"""Validators of artifact field values. Each checks a coerced value (``ValueError`` when it does not pass)
and describes itself as JSON-schema keywords for ``/schemas``, with Glare's keyword choices."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

UUID_PATTERN = "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"
# Glare publishes the semver pattern wrapped in slashes; kept so schema consumers see the same text
VERSION_PATTERN = r"/^([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+)?$/"


class Validator:
    """Base: ``__call__`` raises ValueError for a bad value; ``schema()`` gives the JSON-schema keywords."""

    def __call__(self, value: Any) -> None:
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        return {}


class UUID(Validator):
    def __call__(self, value: Any) -> None:
        uuid.UUID(value, version=4)

    def schema(self) -> dict[str, Any]:
        return {"pattern": UUID_PATTERN}


class AllowedValues(Validator):
    def __init__(self, allowed: Sequence[Any]) -> None:
        self.allowed = list(allowed)

    def __call__(self, value: Any) -> None:
        if value not in self.allowed:
            raise ValueError(f"Value must be one of the following: {', '.join(map(str, self.allowed))}")

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.allowed)}


class Version(Validator):
    """Semver syntax is enforced by coercion; this only publishes the pattern."""

    def __call__(self, value: Any) -> None:
        return None

    def schema(self) -> dict[str, Any]:
        return {"pattern": VERSION_PATTERN}


class Regex(Validator):
    def __init__(self, pattern: str) -> None:
        self.pattern = re.compile(pattern)

    def __call__(self, value: Any) -> None:
        if not self.pattern.match(value):
            raise ValueError(f"Value {value!r} does not match pattern {self.pattern.pattern}")

    def schema(self) -> dict[str, Any]:
        return {"pattern": self.pattern.pattern}


class MaxStrLen(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if len(value) > self.size:
            raise ValueError(f"String length must be less than {self.size}. Current length: {len(value)}")

    def schema(self) -> dict[str, Any]:
        return {"maxLength": self.size}


class MinStrLen(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if len(value) < self.size:
            raise ValueError(f"String length must be more than {self.size}. Current length: {len(value)}")

    def schema(self) -> dict[str, Any]:
        return {"minLength": self.size}


class ForbiddenChars(Validator):
    def __init__(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)

    def __call__(self, value: Any) -> None:
        for char in self.chars:
            if char in value:
                raise ValueError(f"Forbidden character {char} found in string {value}")

    def schema(self) -> dict[str, Any]:
        return {"pattern": "^[^" + "".join(self.chars) + "]+$"}


class MaxListSize(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if len(value) > self.size:
            raise ValueError(f"Number of items must be less than {self.size}. Current size: {len(value)}")

    def schema(self) -> dict[str, Any]:
        return {"maxItems": self.size}


class MaxDictSize(MaxListSize):
    def schema(self) -> dict[str, Any]:
        return {"maxProperties": self.size}


class MinListSize(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if len(value) < self.size:
            raise ValueError(f"Number of items must be greater than {self.size}. Current size: {len(value)}")

    def schema(self) -> dict[str, Any]:
        return {"minItems": self.size}


class MinDictSize(MinListSize):
    def schema(self) -> dict[str, Any]:
        return {"minProperties": self.size}


class MaxNumberSize(Validator):
    def __init__(self, size: float) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if value > self.size:
            raise ValueError(f"Number is too big: {value}. Max allowed number is {self.size}")

    def schema(self) -> dict[str, Any]:
        return {"maximum": self.size}


class MinNumberSize(Validator):
    def __init__(self, size: float) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        if value < self.size:
            raise ValueError(f"Number is too small: {value}. Min allowed number is {self.size}")

    def schema(self) -> dict[str, Any]:
        return {"minimum": self.size}


class Unique(Validator):
    """List items must differ; ``convert_to_set`` drops duplicates instead of refusing them (tags)."""

    def __init__(self, convert_to_set: bool = False) -> None:
        self.convert_to_set = convert_to_set

    def __call__(self, value: Any) -> None:
        if self.convert_to_set:
            seen: list[Any] = []
            for item in value:
                if item not in seen:
                    seen.append(item)
            value[:] = seen
        elif len(value) != len({repr(item) for item in value}):
            raise ValueError(f"List items {value} must be unique.")

    def schema(self) -> dict[str, Any]:
        return {"uniqueItems": True}


class AllowedDictKeys(Validator):
    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)

    def __call__(self, value: Any) -> None:
        for key in value:
            if key not in self.keys:
                raise ValueError(f"Key {key} is not allowed in dict. Allowed key values: {', '.join(self.keys)}")

    def schema(self) -> dict[str, Any]:
        return {"properties": {key: {} for key in self.keys}}


class RequiredDictKeys(Validator):
    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)

    def __call__(self, value: Any) -> None:
        for key in self.keys:
            if key not in value:
                raise ValueError(f'Key "{key}" is required in dictionary.')

    def schema(self) -> dict[str, Any]:
        return {"required": list(self.keys)}


class MaxDictKeyLen(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        for key in value:
            if len(str(key)) > self.size:
                raise ValueError(f"Dict key length {key} must be less than {self.size}.")


class MinDictKeyLen(Validator):
    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, value: Any) -> None:
        for key in value:
            if len(str(key)) < self.size:
                raise ValueError(f"Dict key length {key} must be bigger than {self.size}.")


class ListElements(Validator):
    """Applies element validators to every item of a list."""

    def __init__(self, validators: Sequence[Validator]) -> None:
        self.validators = list(validators)

    def __call__(self, value: Any) -> None:
        for item in value:
            for check in self.validators:
                check(item)

    def schema(self) -> dict[str, Any]:
        return {"itemValidators": [check.schema() for check in self.validators]}


class DictElements(Validator):
    """Applies element validators to every value of a dict; the values of keys ``long_values`` names may be
    up to ``LONG_VALUE`` characters, whatever the elements' length limit (the schema shows the limit)."""

    LONG_VALUE = 65535

    def __init__(self, validators: Sequence[Validator], *, long_values: Callable[[str], bool] | None = None) -> None:
        self.validators = list(validators)
        self.long_values = long_values
        self._long = [check for check in self.validators if not isinstance(check, MaxStrLen)]
        self._long.append(MaxStrLen(self.LONG_VALUE))

    def __call__(self, value: Any) -> None:
        for key, item in value.items():
            long = self.long_values is not None and self.long_values(key)
            for check in self._long if long else self.validators:
                check(item)

    def schema(self) -> dict[str, Any]:
        return {"propertyValidators": [check.schema() for check in self.validators]}
