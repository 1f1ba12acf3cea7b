"""Installing a remote catalog asset from the Applications list: the Install form starts a ``catalog_install``
task through ``InstallService`` as the signed-in person, and the install page shows the task's state with a
``<progress>`` bar. The script (``static/install.js``) keeps the bar current from the JSON view every second;
without JavaScript the page reloads itself while the task runs. Only a task of the person's own project is
shown (``InstallService.show``: another project's is 404)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from starlette.responses import JSONResponse, Response

from glimpse.api.dashboard.pages import SECURITY_HEADERS, Call
from glimpse.domain.catalog import AssetRef, check_name, check_version
from glimpse.domain.tasks import FINISHED, Task, TaskStatus
from glimpse.errors import BadRequest

PHASES = {
    TaskStatus.PENDING: "Waiting for a worker to start the install…",
    TaskStatus.PROCESSING: "Downloading, verifying and storing the asset and what it depends on…",
    TaskStatus.SUCCESS: "Installed.",
}
REFRESH_SECONDS = 2  # the page's own reload while the task runs, without JavaScript


@dataclass(frozen=True, slots=True)
class InstallView:
    """What the page and its JSON show of one install task."""

    id: str
    asset: str
    catalog: str
    status: str
    percent: int
    done: int
    total: int | None
    finished: bool
    status_text: str
    link: str  # the installed local asset's dashboard path (mount prefix added), once installed


def install_view(task: Task, root: str) -> InstallView:
    done, total = task.bytes_done, task.bytes_total
    percent = 100 if task.status == TaskStatus.SUCCESS else min(99, done * 100 // total) if total else 0
    if task.status == TaskStatus.FAILURE:
        text = f"The install failed: {task.message or 'no reason given'}"
    else:
        text = PHASES.get(task.status, task.status.value)
    return InstallView(
        id=task.id, asset=f"{task.input.get('name')}@{task.input.get('version')}",
        catalog=str(task.input.get("catalog", "")), status=task.status.value, percent=percent, done=done,
        total=total, finished=task.status in FINISHED, status_text=text, link=_installed_link(task, root),
    )  # fmt: skip


def _installed_link(task: Task, root: str) -> str:
    """The asset itself is the last one the result lists (dependencies come first)."""
    installed = (task.result or {}).get("installed") or []
    if task.status != TaskStatus.SUCCESS or not installed:
        return ""
    last = installed[-1]
    local_type, local_id = str(last.get("local_type") or ""), last.get("id")
    if not local_id:  # a bundle makes nothing of its own
        return f"{root}/apps"
    if local_type == "image":
        return f"{root}/images/{local_id}"
    return f"{root}/apps/{local_type}/{local_id}"


async def start(call: Call) -> Response:
    name, version = call.form.get("name", ""), call.form.get("version", "")
    if not name or not version:
        raise BadRequest("Say which asset to install: its name and version")
    ref = AssetRef(check_name(name), check_version(version))
    task = await call.svc.catalog_installs.start(call.ctx, ref, call.form.get("catalog") or None)
    return call.redirect(f"/installs/{task.id}")


async def show(call: Call) -> Response:
    task = await call.svc.catalog_installs.show(call.ctx, call.request.path_params["task_id"])
    return call.render("install.html", view=install_view(task, call.url("")), refresh=REFRESH_SECONDS)


async def status(call: Call) -> Response:
    task = await call.svc.catalog_installs.show(call.ctx, call.request.path_params["task_id"])
    return JSONResponse(asdict(install_view(task, call.url(""))), headers=SECURITY_HEADERS)
