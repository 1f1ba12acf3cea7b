"""Native image encryption metadata: the os_encrypt_* set is all required ones or none, with valid values,
on create and on PATCH; Cinder's legacy names are read as equivalents."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.functional.conftest import PATCH21

KEY = "0d7e5b9a-3c1f-4e2a-8b6d-9f0a1b2c3d4e"
FULL = {
    "os_encrypt_format": "LUKS",
    "os_encrypt_cipher": "aes-xts-plain64",
    "os_encrypt_key_id": KEY,
    "os_encrypt_key_deletion_policy": "on_image_deletion",
    "os_decrypt_container_format": "bare",
    "os_decrypt_size": "1048576",
}


def _create(client: TestClient, **properties: Any) -> Any:
    return client.post(
        "/v2/images", json={"name": "sealed", "disk_format": "raw", "container_format": "bare", **properties}
    )


@pytest.mark.parametrize(
    "properties",
    [
        FULL,
        {"os_encrypt_format": "GPG", "os_encrypt_key_id": KEY},
        {"cinder_encryption_key_id": KEY, "cinder_encryption_key_deletion_policy": "do_not_delete"},
        {"os_encrypt_format": "luks", "cinder_encryption_key_id": KEY},
    ],
)
def test_a_complete_set_is_accepted_and_shown(client: TestClient, properties: dict[str, str]) -> None:
    response = _create(client, **properties)
    assert response.status_code == 201, response.text
    for name, value in properties.items():
        assert response.json()[name] == value


@pytest.mark.parametrize(
    ("properties", "words"),
    [
        ({"os_encrypt_format": "LUKS"}, "missing required property os_encrypt_key_id"),
        ({"os_encrypt_key_id": KEY}, "missing required property os_encrypt_format"),
        ({"os_encrypt_cipher": "aes"}, "missing required properties os_encrypt_format, os_encrypt_key_id"),
        ({**FULL, "os_encrypt_format": "zip"}, "os_encrypt_format must be one of LUKS, GPG"),
        ({**FULL, "os_encrypt_key_id": "not-a-uuid"}, "os_encrypt_key_id must be the UUID"),
        ({**FULL, "os_encrypt_key_deletion_policy": "sometimes"}, "on_image_deletion, do_not_delete"),
        ({**FULL, "os_decrypt_container_format": "zip"}, "os_decrypt_container_format must be one of"),
        ({**FULL, "os_decrypt_size": "-1"}, "os_decrypt_size must be a non-negative integer"),
        ({**FULL, "os_encrypt_cipher": " "}, "os_encrypt_cipher must not be empty"),
        ({**FULL, "cinder_encryption_key_id": "1d7e5b9a-3c1f-4e2a-8b6d-9f0a1b2c3d4e"}, "name different keys"),
        ({"cinder_encryption_key_deletion_policy": "on_image_deletion"}, "requires cinder_encryption_key_id"),
        ({"cinder_encryption_key_id": "abc"}, "cinder_encryption_key_id must be the UUID"),
    ],
)
def test_an_incomplete_or_invalid_set_is_400(client: TestClient, properties: dict[str, str], words: str) -> None:
    response = _create(client, **properties)
    assert response.status_code == 400, response.text
    assert "Invalid image encryption metadata" in response.text
    assert words in response.text
    assert client.get("/v2/images").json()["images"] == []


def test_patch_is_validated_on_the_resulting_image(client: TestClient) -> None:
    image_id = _create(client, **FULL).json()["id"]

    def patch(*ops: dict[str, str]) -> Any:
        return client.patch(f"/v2/images/{image_id}", json=list(ops), headers=PATCH21)

    response = patch({"op": "remove", "path": "/os_encrypt_key_id"})
    assert response.status_code == 400, response.text
    assert "missing required property os_encrypt_key_id" in response.text
    response = patch({"op": "replace", "path": "/os_encrypt_key_deletion_policy", "value": "never"})
    assert response.status_code == 400, response.text
    assert client.get(f"/v2/images/{image_id}").json()["os_encrypt_key_deletion_policy"] == "on_image_deletion"
    response = patch({"op": "replace", "path": "/os_encrypt_key_deletion_policy", "value": "do_not_delete"})
    assert response.status_code == 200, response.text
    # the whole set removed at once: an unencrypted image again
    response = patch(*({"op": "remove", "path": f"/{name}"} for name in FULL))
    assert response.status_code == 200, response.text
    assert not any(name.startswith("os_encrypt") for name in response.json())
