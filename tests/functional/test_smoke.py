from starlette.testclient import TestClient

PATCH = {"content-type": "application/openstack-images-v2.1-json-patch"}


def test_create_upload_download_roundtrip(client: TestClient) -> None:
    created = client.post("/v2/images", json={"name": "cirros", "disk_format": "raw", "container_format": "bare"})
    assert created.status_code == 201
    image_id = created.json()["id"]
    data = bytes(range(256)) * 4096
    up = client.put(f"/v2/images/{image_id}/file", content=data, headers={"content-type": "application/octet-stream"})
    assert up.status_code == 204
    down = client.get(f"/v2/images/{image_id}/file")
    assert down.status_code == 200
    assert down.content == data
    shown = client.get(f"/v2/images/{image_id}").json()
    assert shown["status"] == "active"
    assert shown["size"] == len(data)
    assert shown["stores"] == "local"
