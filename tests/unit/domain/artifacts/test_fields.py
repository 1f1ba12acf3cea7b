from __future__ import annotations

import pytest

from glimpse.domain.artifacts import fields as f
from glimpse.domain.artifacts import validators as v
from glimpse.domain.artifacts.builtin import BUILTIN_TYPES, SampleArtifact


def test_coercion_by_kind() -> None:
    assert f.Integer().coerce("12") == 12
    assert f.Float().coerce(1) == 1.0
    assert f.Boolean().coerce("Yes") is True
    assert f.Boolean().coerce("no") is False
    # oslo's FlexibleBoolean reads any value as text: a list or an object is never true, never refused
    assert f.Boolean().coerce([]) is False
    assert f.Boolean().coerce([1]) is False
    assert f.Boolean().coerce({"1": 1}) is False
    assert f.Boolean().coerce(2.1) is False
    assert f.List("Boolean").coerce([1, "yes", [], 0]) == [True, True, False, False]
    assert f.String().coerce(5) == "5"
    assert f.Version().coerce("1.2") == "1.2.0"
    assert f.List("Integer").coerce(["1", 2]) == [1, 2]
    assert f.Dict("Float").coerce({"a": "1.5"}) == {"a": 1.5}
    assert f.Link().coerce("/artifacts/images/abc") == "/artifacts/images/abc"


@pytest.mark.parametrize(
    ("field", "value"),
    [(f.Integer(), "x"), (f.Integer(), [1]), (f.String(), {}), (f.String(), "x" * 256), (f.List("String"), "a"),
     (f.Dict("String"), ["a"]), (f.Float(), "nan"), (f.Link(), "/images/x"), (f.Link(), "ftp://h/x"),
     (f.String(nullable=False), None), (f.List("String", max_size=1), ["a", "b"]),
     (f.Dict("String", validators=[v.AllowedDictKeys(["a"])]), {"b": "1"})],
)  # fmt: skip
def test_refused_values(field: f.Field, value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        field.coerce(value)


def test_declaration_errors() -> None:
    with pytest.raises(f.IncorrectArtifactType):
        f.Integer(filter_ops=("like", "contains"))
    with pytest.raises(f.IncorrectArtifactType):
        f.List("Blob")
    with pytest.raises(f.IncorrectArtifactType):
        f.List("String", sortable=True)
    with pytest.raises(f.IncorrectArtifactType):
        f.String(sortable=True, validators=[v.MaxStrLen(1000)])


def test_sample_type_uses_every_kind() -> None:
    kinds = {item.glare_type for item in SampleArtifact.all_fields().values()}
    assert {"String", "Integer", "Float", "Boolean", "DateTime", "Link", "Blob", "BlobDict", "LinkList", "LinkDict",
            "StringList", "IntegerList", "StringDict", "IntegerDict"} <= kinds  # fmt: skip


def test_builtin_types_are_well_formed() -> None:
    names = [kind.type_name for kind in BUILTIN_TYPES]
    assert names == ["sample_artifact", "images", "heat_templates", "heat_environments", "murano_packages",
                     "tosca_templates", "secrets", "all"]  # fmt: skip
    for kind in BUILTIN_TYPES:
        kind.check()


def test_metadata_signature_values_may_be_long() -> None:
    """A blob's signature (an RSA-PSS 4096 one is 684 characters) and trusted certificate ids may outgrow
    Glare's 255 characters in ``metadata``; every other value keeps the limit, and the schema is Glare's."""
    from glimpse.domain.artifacts.types import BASE_FIELDS

    metadata = BASE_FIELDS["metadata"]
    long = "A" * 684
    for key in ("img_signature", "img_signature:nested_templates/a.yaml", "img_signature_trusted_certificate_ids"):
        assert metadata.coerce({key: long}) == {key: long}
    for key in ("note", "img_signature_hash_method", "img_signaturex"):
        with pytest.raises(ValueError, match="String length must be less than 255"):
            metadata.coerce({key: long})
    with pytest.raises(ValueError, match="less than 65535"):
        metadata.coerce({"img_signature": "A" * 65536})
    with pytest.raises(ValueError, match="must be more than 1"):
        metadata.coerce({"img_signature": ""})  # the element validators still apply
    assert metadata.schema()["additionalProperties"] == {"type": "string", "maxLength": 255, "minLength": 1}
