"""The artifact types Glare shipped, with the same field names, kinds, options and descriptions (clients
and the catalog read them from ``/schemas``), plus ``sample_artifact``, the test type using every kind."""

from __future__ import annotations

from typing import Any, ClassVar

from glimpse.domain.artifacts import fields as f
from glimpse.domain.artifacts import validators as v
from glimpse.domain.artifacts.types import ArtifactType


class SampleArtifact(ArtifactType):
    """Every field kind, validator and option once: the type Glare's functional tests exercise."""

    type_name = "sample_artifact"
    display_type_name = "Sample Artifact"
    fields: ClassVar[dict[str, f.Field]] = {
        "blob": f.Blob(required_on_activate=False, mutable=True, description="I am Blob"),
        "small_blob": f.Blob(max_blob_size=10, required_on_activate=False, mutable=True),
        "link1": f.Link(required_on_activate=False),
        "link2": f.Link(required_on_activate=False),
        "bool1": f.Boolean(required_on_activate=False, filter_ops=("eq",), default=False),
        "bool2": f.Boolean(required_on_activate=False, filter_ops=("eq",), default=False),
        "int1": f.Integer(required_on_activate=False, sortable=True),
        "int2": f.Integer(sortable=True, required_on_activate=False),
        "float1": f.Float(sortable=True, required_on_activate=False),
        "float2": f.Float(sortable=True, required_on_activate=False),
        "str1": f.String(filter_ops=("like", "eq", "neq", "in"), sortable=True, required_on_activate=False),
        "list_of_str": f.List("String", required_on_activate=False, filter_ops=("eq", "in")),
        "list_of_int": f.List("Integer", required_on_activate=False, filter_ops=("eq", "in")),
        "dict_of_str": f.Dict("String", required_on_activate=False, filter_ops=("eq", "in")),
        "dict_of_int": f.Dict("Integer", required_on_activate=False, filter_ops=("eq", "in")),
        "dict_of_links": f.Dict("Link", mutable=True, required_on_activate=False, filter_ops=("eq",)),
        "list_of_links": f.List("Link", mutable=True, required_on_activate=False, filter_ops=("eq",)),
        "dict_of_blobs": f.Folder(required_on_activate=False, max_folder_size=2000, validators=[v.MaxDictKeyLen(1000)]),
        "string_mutable": f.String(required_on_activate=False, mutable=True),
        "string_regex": f.String(required_on_activate=False, validators=[v.Regex("^([0-9a-fA-F]){8}$")]),
        "string_required": f.String(required_on_activate=True),
        "string_validators": f.String(
            required_on_activate=False, validators=[v.AllowedValues(["aa", "bb", "c" * 11]), v.MaxStrLen(10)]
        ),
        "int_validators": f.Integer(required_on_activate=False, validators=[v.MinNumberSize(10), v.MaxNumberSize(20)]),
        "list_validators": f.List(
            "String", required_on_activate=False, filter_ops=(), max_size=3, validators=[v.Unique()]
        ),
        "dict_validators": f.Dict(
            "String",
            required_on_activate=False,
            default=None,
            filter_ops=(),
            validators=[v.AllowedDictKeys(["abc", "def", "ghi", "jkl"])],
            max_size=3,
        ),
        "system_attribute": f.String(system=True, sortable=True, default="default"),
        "metadata_attribute": f.String(
            default="default", metadata={"metadata1": "value1", "metadata2": "blahblahblah"}
        ),
    }

    @classmethod
    def decorate(cls, values: dict[str, Any]) -> dict[str, Any]:
        values["__some_meta_information__"] = str(values.get("name") or "").upper()
        return values

    @classmethod
    def check_upload(cls, head: bytes) -> None:
        if head == b"invalid_data":
            raise ValueError("Invalid Data found")


class Images(ArtifactType):
    type_name = "images"
    display_type_name = "Images"
    fields: ClassVar[dict[str, f.Field]] = {
        "container_format": f.String(
            validators=[v.AllowedValues(["ami", "ari", "aki", "bare", "ovf", "ova", "docker"])],
            description="Image container format.",
        ),
        "disk_format": f.String(
            validators=[v.AllowedValues(["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso"])],
            description="Image disk format.",
        ),
        "min_ram": f.Integer(
            required_on_activate=False,
            validators=[v.MinNumberSize(0)],
            description="Minimal RAM required to boot image.",
        ),
        "min_disk": f.Integer(
            required_on_activate=False,
            validators=[v.MinNumberSize(0)],
            description="Minimal disk space required to boot image.",
        ),
        "image": f.Blob(max_blob_size=1073741824000, required_on_activate=False, description="Image binary."),
        "kernel_id": f.String(
            required_on_activate=False,
            validators=[v.UUID()],
            description="ID of image stored in Glare that should be used as the kernel when booting an AMI-style "
            "image.",
        ),
        "ramdisk_id": f.String(
            required_on_activate=False,
            validators=[v.UUID()],
            description="ID of image stored in Glare that should be used as the ramdisk when booting an AMI-style "
            "image.",
        ),
        "instance_uuid": f.String(
            required_on_activate=False,
            description="Metadata which can be used to record which instance this image is associated with. "
            "(Informational only, does not create an instance snapshot.)",
        ),
        "architecture": f.String(
            required_on_activate=False,
            description="Operating system architecture as specified in "
            "http://docs.openstack.org/trunk/openstack-compute/admin/content/adding-images.html",
        ),
        "os_distro": f.String(
            required_on_activate=False,
            description="Common name of operating system distribution as specified in "
            "http://docs.openstack.org/trunk/openstack-compute/admin/content/adding-images.html",
        ),
        "os_version": f.String(
            required_on_activate=False, description="Operating system version as specified by the distributor"
        ),
    }


class HeatTemplates(ArtifactType):
    type_name = "heat_templates"
    display_type_name = "Heat Templates"
    fields: ClassVar[dict[str, f.Field]] = {
        "environments": f.Dict(
            "Link", mutable=True, description="References to Heat Environments that can be used with current template."
        ),
        "template": f.Blob(description="Heat template body."),
        "nested_templates": f.Folder(
            description="Dict of nested templates where key is the name  of template and value is nested template body."
        ),
        "default_envs": f.Dict(
            "String",
            mutable=True,
            description="Default environments that can be applied to the template if no environments specified by "
            "user.",
        ),
    }


class HeatEnvironments(ArtifactType):
    type_name = "heat_environments"
    display_type_name = "Heat Environments"
    fields: ClassVar[dict[str, f.Field]] = {"environment": f.Blob(description="Heat Environment text body.")}


class MuranoPackages(ArtifactType):
    type_name = "murano_packages"
    display_type_name = "Murano packages"
    fields: ClassVar[dict[str, f.Field]] = {
        "package": f.Blob(required_on_activate=False, description="Murano Package binary.", max_blob_size=104857600),
        "type": f.String(
            validators=[v.AllowedValues(["Application", "Library"])], default="Application", description="Package type."
        ),
        "display_name": f.String(mutable=True, description="Package name in human-readable format."),
        "categories": f.List("String", mutable=True, description="List of categories specified for the package."),
        "class_definitions": f.List(
            "String", validators=[v.Unique()], description="List of class definitions in the package."
        ),
        "inherits": f.Dict("String"),
        "keywords": f.List("String", mutable=True),
        "dependencies": f.List(
            "Link", required_on_activate=False, description="List of package dependencies for this package."
        ),
    }


class ToscaTemplates(ArtifactType):
    type_name = "tosca_templates"
    display_type_name = "TOSCA Templates"
    fields: ClassVar[dict[str, f.Field]] = {
        "template_format": f.String(description="TOSCA template format."),
        "template": f.Blob(description="TOSCA template body."),
    }


class Secrets(ArtifactType):
    type_name = "secrets"
    display_type_name = "Secrets"
    fields: ClassVar[dict[str, f.Field]] = {
        "payload": f.Blob(description="The secret's data to be stored"),
        "payload_content_encoding": f.String(
            required_on_activate=False,
            default="base64",
            filter_ops=(),
            validators=[v.AllowedValues(["base64"])],
            description="Required if payload is encoded. The encoding used for the payload to be able to include it "
            "in the JSON request (only base64 supported)",
        ),
        "secret_type": f.String(
            required_on_activate=False,
            default="opaque",
            sortable=True,
            filter_ops=("eq",),
            validators=[v.AllowedValues(["symmetric", "public", "private", "passphrase", "certificate", "opaque"])],
            description="Used to indicate the type of secret being stored",
        ),
        "algorithm": f.String(
            required_on_activate=False,
            filter_ops=("eq",),
            description="Metadata provided by a user or system for informational purposes",
        ),
        "bit_length": f.Integer(
            required_on_activate=False,
            sortable=True,
            validators=[v.MinNumberSize(1)],
            description="Metadata provided by a user or system for informational purposes. Value must be greater "
            "than zero.",
        ),
        "mode": f.String(
            required_on_activate=False,
            filter_ops=("eq",),
            description="Metadata provided by a user or system for informational purposes.",
        ),
    }


class All(ArtifactType):
    """Read-only view of the artifacts of every type with their base fields."""

    type_name = "all"
    display_type_name = "All Artifacts"
    is_all = True
    fields: ClassVar[dict[str, f.Field]] = {
        "type_name": f.String(
            description="Name of artifact type.", sortable=True, filter_ops=("like", "eq", "neq", "in")
        ),
    }


BUILTIN_TYPES: tuple[type[ArtifactType], ...] = (
    SampleArtifact,
    Images,
    HeatTemplates,
    HeatEnvironments,
    MuranoPackages,
    ToscaTemplates,
    Secrets,
    All,
)
