"""The served metadef schemas are valid JSON Schemas and judge bodies as Glance's do."""

import pytest
from jsonschema import Draft4Validator

from glimpse.errors import BadRequest
from glimpse.services.metadefs import schemas

NAMES = {"namespace": "namespace", "namespaces": "namespaces", "object": "object", "objects": "objects",
         "property": "property", "properties": "properties", "tag": "tag", "tags": "tags",
         "resource_type": "resource_type_association", "resource_types": "resource_type_associations"}  # fmt: skip


@pytest.mark.parametrize(("served", "title"), NAMES.items())
def test_every_schema_is_valid_and_named_as_glance(served: str, title: str) -> None:
    schema = schemas.served()[served]
    Draft4Validator.check_schema(schema)
    assert schema["name"] == title


def test_bodies() -> None:
    schemas.validate("namespace", {"namespace": "n", "properties": {"p": {"title": "t", "type": "string"}}})
    schemas.validate_definition("p", {"title": "t", "type": "array", "items": {"type": "string"}})
    with pytest.raises(BadRequest, match=r"^Provided object does not match schema 'namespace': "):
        schemas.validate("namespace", {"namespace": 5})
    with pytest.raises(BadRequest, match="'title' is a required property"):
        schemas.validate_definition("p", {"type": "string"})
    with pytest.raises(BadRequest, match="schema 'resource_type_association'"):
        schemas.validate("resource_type", {"prefix": "x"})
