"""The artifacts API (Glare's option names): its types, listener, limits and quotas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from glimpse.settings.sources import Ini


class ArtifactTypeOptions(BaseModel):
    """``[artifact_type:<name>]``, with Glare's option names: one artifact type's quotas and deletion."""

    model_config = ConfigDict(frozen=True)

    max_artifact_number: int = Field(default=-1, ge=-1)  # artifacts of this type a project may have; -1: any
    max_uploaded_data: int = Field(default=-1, ge=-1)  # bytes of this type's blobs a project may have; -1: any
    delayed_delete: bool | None = None  # None: [DEFAULT] delayed_delete


ARTIFACT_TYPE_SECTION = "artifact_type:"


class ArtifactGroup(BaseModel):
    """Settings' fields for the artifacts API: its types and where it listens."""

    # the artifacts API (Glare's; `glimpse artifacts serve`, or mounted under artifacts_mount in `glimpse serve`)
    enabled_artifact_types: Annotated[list[str], Ini("DEFAULT", "enabled_artifact_types")] = Field(
        default_factory=lambda: ["heat_templates", "heat_environments", "murano_packages", "tosca_templates", "images"]
    )
    artifacts_host: Annotated[str, Ini("artifacts", "bind_host")] = "127.0.0.1"
    artifacts_port: Annotated[int, Ini("artifacts", "bind_port")] = 9494
    # e.g. /artifact: the artifacts API inside the images process; empty: not mounted
    artifacts_mount: Annotated[str, Ini("artifacts", "mount")] = ""


class ArtifactLimitGroup(BaseModel):
    """Settings' fields for the artifacts API's list limits, blob cap, quotas and deletion."""

    default_api_limit: Annotated[int, Ini("DEFAULT", "default_api_limit")] = Field(default=25, ge=0)
    max_api_limit: Annotated[int, Ini("DEFAULT", "max_api_limit")] = Field(default=1000, ge=1)
    # a cap over every blob field's own; -1: the fields' caps only
    max_blob_size: Annotated[int, Ini("DEFAULT", "max_blob_size")] = Field(default=-1, ge=-1)
    # Glare's quotas of every project (-1: none): its artifacts, and the bytes uploaded to their blobs; per
    # type in [artifact_type:<name>] sections (artifact_types), per project through PUT /quotas
    max_artifact_number: Annotated[int, Ini("DEFAULT", "max_artifact_number")] = Field(default=-1, ge=-1)
    max_uploaded_data: Annotated[int, Ini("DEFAULT", "max_uploaded_data")] = Field(default=-1, ge=-1)
    # a deleted artifact stays listed as 'deleted' until the scrubber removes it and its data
    delayed_delete: Annotated[bool, Ini("DEFAULT", "delayed_delete")] = False
    artifact_types: dict[str, ArtifactTypeOptions] = Field(default_factory=dict)
