"""The Images pages: what an operator does daily (list with filters and paging, detail, create and upload with a
progress bar, import from a URL, members, deactivate, reactivate, delete). Each handler parses, makes one or two
service calls as the signed-in person, and renders."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response

from glimpse.api.dashboard.pages import SECURITY_HEADERS, Call
from glimpse.api.http import data_stream, int_header
from glimpse.errors import BadRequest, GlimpseError

FILTERS = ("name", "status", "visibility", "disk_format", "container_format", "tag")
PAGE_SIZE = 20
DISK_FORMATS = ("raw", "qcow2", "vmdk", "vdi", "vhd", "vhdx", "iso", "ploop", "aki", "ari", "ami")
CONTAINER_FORMATS = ("bare", "ovf", "ova", "docker", "compressed", "aki", "ari", "ami")
VISIBILITIES = ("private", "shared", "community", "public")


async def index(call: Call) -> Response:
    filters = {name: call.query(name) for name in FILTERS}
    chosen = {name: value for name, value in filters.items() if value}
    marker = call.query("marker")
    params = [*chosen.items(), ("limit", str(PAGE_SIZE))] + ([("marker", marker)] if marker else [])
    error = ""
    try:
        page = await call.svc.images.list(call.ctx, params)
        images, next_marker = page.images, page.next_marker
    except BadRequest as exc:  # a filter Glance's list refuses: shown next to the filters
        images, next_marker, error = [], None, exc.message
    return call.render(
        "images.html", images=images, filters=filters, error=error, disk_formats=DISK_FORMATS,
        visibilities=VISIBILITIES, pager_links=call.pager("/images", chosen, "marker", next_marker),
    )  # fmt: skip


async def new(call: Call) -> Response:
    return call.render(
        "image_new.html", disk_formats=DISK_FORMATS, container_formats=CONTAINER_FORMATS,
        visibilities=VISIBILITIES, methods=call.svc.imports.methods,
    )  # fmt: skip


async def create(call: Call) -> Response:
    """Create the image; with a URL, start its web-download import. A script uploading the file asks for JSON
    (the image's id and where to stream the data); a plain form goes to the image's page."""
    form = call.form
    body: dict[str, object] = {"name": form.get("name", "").strip()}
    for key in ("disk_format", "container_format", "visibility"):
        if form.get(key):
            body[key] = form[key]
    url = form.get("url", "").strip()
    if form.get("source") == "url" and not url:
        raise BadRequest("Give the URL to import the image from.")
    image = await call.svc.images.create(call.ctx, body)
    if form.get("source") == "url":
        await call.svc.imports.start(call.ctx, image.id, {"method": {"name": "web-download", "uri": url}})
    if "application/json" in call.request.headers.get("accept", ""):
        upload = call.url(f"/images/{image.id}/file")
        return JSONResponse({"id": image.id, "upload": upload, "page": call.url(f"/images/{image.id}")},
                            status_code=201, headers=SECURITY_HEADERS)  # fmt: skip
    return call.redirect(f"/images/{image.id}")


async def upload(call: Call) -> Response:
    """The image's data, streamed from the request body into the data pipeline (never held in memory)."""
    image_id = call.request.path_params["image_id"]
    image = await call.svc.image_data.upload(
        call.ctx, image_id, data_stream(call.request), declared_size=int_header(call.request, "content-length"),
        store_id=None,
    )  # fmt: skip
    return JSONResponse({"id": image.id, "status": image.status.value, "size": image.size}, headers=SECURITY_HEADERS)


async def show(call: Call) -> Response:
    image_id = call.request.path_params["image_id"]
    image = await call.svc.images.get(call.ctx, image_id)
    try:
        members = await call.svc.members.list(call.ctx, image_id)
        members_error = ""
    except GlimpseError as exc:  # not shared, or the caller may not list them
        members, members_error = [], exc.message
    mine = image.owner == call.ctx.project_id
    return call.render("image.html", image=image, members=members, members_error=members_error, mine=mine)


async def add_member(call: Call) -> Response:
    image_id = call.request.path_params["image_id"]
    await call.svc.members.create(call.ctx, image_id, {"member": call.form.get("member", "").strip()})
    return call.redirect(f"/images/{image_id}")


async def remove_member(call: Call) -> Response:
    image_id, member = call.request.path_params["image_id"], call.request.path_params["member_id"]
    await call.svc.members.delete(call.ctx, image_id, member)
    return call.redirect(f"/images/{image_id}")


async def member_status(call: Call) -> Response:
    """The member's answer to a share (accepted, rejected, pending)."""
    image_id, member = call.request.path_params["image_id"], call.request.path_params["member_id"]
    await call.svc.members.update(call.ctx, image_id, member, {"status": call.form.get("status", "")})
    return call.redirect(f"/images/{image_id}")


async def deactivate(call: Call) -> Response:
    image_id = call.request.path_params["image_id"]
    await call.svc.images.deactivate(call.ctx, image_id)
    return call.redirect(f"/images/{image_id}")


async def reactivate(call: Call) -> Response:
    image_id = call.request.path_params["image_id"]
    await call.svc.images.reactivate(call.ctx, image_id)
    return call.redirect(f"/images/{image_id}")


async def delete(call: Call) -> Response:
    await call.svc.images.delete(call.ctx, call.request.path_params["image_id"])
    return call.redirect("/images")
