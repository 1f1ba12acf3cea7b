"""Side-by-side compatibility harness: the same requests to Glance 33 and to Glimpse, answers compared.

Both servers validate tokens with the same Keystone (scripts/keystone-up), so one token per persona works on
both; each scenario creates its images with the same fixed ids on both servers, so every request can be sent
byte for byte the same. For each step it compares the status code, the media type, which of a few headers
Glance clients read are present, and the body's keys (top level, and the keys of the first item of a list).

    python tests/compat/harness.py [--glance URL] [--glimpse URL] [--report docs/compat-report.md]

`make compat` brings both servers up first (scripts/glance-up, scripts/glimpse-interop-up).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

if __package__ in (None, ""):  # run as a script: make `tests.compat` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.compat.scenarios import SCENARIOS, Step

KEYSTONE = "http://127.0.0.1:5000/v3"
PERSONAS = {
    # persona -> (user, password, project)
    "admin": ("admin", "admin", "admin"),
    "member": ("alpha-member", "glimpse-test-password", "alpha"),
    "reader": ("alpha-reader", "glimpse-test-password", "alpha"),
    "other": ("beta-member", "glimpse-test-password", "beta"),
}
HEADERS = ("location", "openstack-image-import-methods", "openstack-image-store-ids", "content-md5", "www-authenticate")


@dataclass(frozen=True)
class Answer:
    status: int
    media_type: str
    headers: tuple[str, ...]
    keys: tuple[str, ...]
    detail: str = ""

    def differences(self, other: Answer) -> list[str]:
        found = []
        if self.status != other.status:
            found.append(f"status {self.status} vs {other.status}")
        if self.media_type != other.media_type:
            found.append(f"type {self.media_type or '-'} vs {other.media_type or '-'}")
        if self.headers != other.headers:
            found.append(f"headers {', '.join(self.headers) or '-'} vs {', '.join(other.headers) or '-'}")
        if self.keys != other.keys:
            only_a = sorted(set(self.keys) - set(other.keys))
            only_b = sorted(set(other.keys) - set(self.keys))
            found.append(f"keys only Glance: {', '.join(only_a) or '-'}; only Glimpse: {', '.join(only_b) or '-'}")
        return found


@dataclass
class Outcome:
    scenario: str
    step: str
    glance: Answer
    glimpse: Answer
    differences: list[str] = field(default_factory=list)


def token(persona: str) -> tuple[str, str]:
    """(token, project id) for a persona, from Keystone."""
    user, password, project = PERSONAS[persona]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
            },
            "scope": {"project": {"name": project, "domain": {"id": "default"}}},
        }
    }
    response = httpx.post(f"{KEYSTONE}/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.headers["X-Subject-Token"], response.json()["token"]["project"]["id"]


def body_keys(response: httpx.Response) -> tuple[str, ...]:
    if "json" not in response.headers.get("content-type", ""):
        return ()
    try:
        data = response.json()
    except ValueError:
        return ("<invalid json>",)
    keys: list[str] = []
    if isinstance(data, dict):
        keys = sorted(data)
        for key, value in data.items():
            if isinstance(value, dict):  # e.g. usage's resources
                keys += [f"{key}.{item}" for item in sorted(value)]
            if isinstance(value, list) and value and isinstance(value[0], dict):
                keys += [f"{key}[].{item}" for item in sorted(value[0])]
                # one level further, e.g. a store's properties
                keys += [
                    f"{key}[].{item}.{sub}"
                    for item, inner in sorted(value[0].items())
                    if isinstance(inner, dict)
                    for sub in sorted(inner)
                ]
    elif isinstance(data, list):
        keys = ["<list>"]
    return tuple(keys)


def answer(response: httpx.Response) -> Answer:
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    present = tuple(name for name in HEADERS if name in response.headers)
    detail = error_message(response.text) if response.status_code >= 400 else ""
    return Answer(response.status_code, media_type, present, body_keys(response), detail)


def error_message(text: str) -> str:
    """The words of an error body in webob's HTML form (what follows the <h1> title), on one line."""
    found = re.search(r"</h1>(.*?)</body>", text, re.DOTALL)
    words = re.sub(r"<br\s*/?>", " ", found.group(1) if found else text)
    return " ".join(html.unescape(words).split())[:200]


def run_step(client: httpx.Client, step: Step, values: dict[str, str], tokens: dict[str, str]) -> Answer:
    headers = {key: value.format(**values) for key, value in step.headers.items()}
    if step.persona:
        headers["X-Auth-Token"] = tokens[step.persona]
    path = step.path.format(**values)
    content: bytes | None = None
    if step.json is not None:
        content = json.dumps(fill(step.json, values)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif step.body is not None:
        content = step.body
    response = client.request(step.method, path, content=content, headers=headers)
    if step.wait_for:
        field_name, wanted = step.wait_for
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and response.status_code == 200:
            body = response.json()
            # Glance leaves an image `queued` until its import task starts: the import is over only once the
            # image no longer names a running import task
            if body.get(field_name) in wanted and not body.get("os_glance_import_task"):
                break
            time.sleep(0.5)
            response = client.request(step.method, path, headers=headers)
    return answer(response)


def fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**values)
    if isinstance(value, list):
        return [fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: fill(item, values) for key, item in value.items()}
    return value


def run(glance_url: str, glimpse_url: str) -> list[Outcome]:
    tokens: dict[str, str] = {}
    values: dict[str, str] = {}
    for persona in PERSONAS:
        tokens[persona], values[f"{persona}_project"] = token(persona)
    outcomes = []
    with (
        httpx.Client(base_url=glance_url, timeout=60) as glance,
        httpx.Client(base_url=glimpse_url, timeout=60) as ours,
    ):
        for scenario in SCENARIOS:
            run_values = {**values, **{name: str(uuid.uuid4()) for name in ("image", "image2", "task")}}
            for step in scenario.steps:
                a = run_step(glance, step, run_values, tokens)
                b = run_step(ours, step, run_values, tokens)
                outcomes.append(Outcome(scenario.name, step.name, a, b, a.differences(b)))
            for cleanup in scenario.cleanup:
                for client in (glance, ours):
                    run_step(client, cleanup, run_values, tokens)
    return outcomes


def report(outcomes: list[Outcome], glance_url: str, glimpse_url: str, commit: str) -> str:
    same_status = sum(outcome.glance.status == outcome.glimpse.status for outcome in outcomes)
    identical = sum(not outcome.differences for outcome in outcomes)
    lines = [
        "# Glance 33 / Glimpse side by side",
        "",
        f"Generated by `make compat` (tests/compat/harness.py) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"Glance 33.0.0 at {glance_url}, Glimpse {commit} at {glimpse_url}, both with Keystone auth (same tokens).",
        "Each step is sent to both servers; compared: status, media type, the presence of Location and the",
        "OpenStack-image-* headers, and the body's keys (top level and the first item of a list). Both databases",
        "hold the metadata definitions Glance ships; lists name only the scenario's own images (`id=in:`), so",
        "what else either database holds does not change an answer.",
        "",
        f"**{len(outcomes)} requests: {same_status} with the same status, "
        f"{identical} identical on every compared point.**",
        "",
        "## Differences",
        "",
        "| scenario | step | Glance | Glimpse | difference |",
        "|---|---|---|---|---|",
    ]
    for outcome in outcomes:
        if outcome.differences:
            lines.append(
                f"| {outcome.scenario} | {outcome.step} | {outcome.glance.status} | {outcome.glimpse.status} | "
                f"{'; '.join(outcome.differences).replace('|', '/')} |"
            )
    worded = [o for o in outcomes if o.glance.status == o.glimpse.status and o.glance.detail != o.glimpse.detail]
    lines += [
        "",
        "## Error messages worded differently",
        "",
        "Not counted above (clients act on the status); listed so that a wording a client looks for can be",
        "matched. Messages are cut at 200 characters.",
        "",
        "| scenario | step | status | Glance | Glimpse |",
        "|---|---|---|---|---|",
    ]
    for outcome in worded:
        lines.append(
            f"| {outcome.scenario} | {outcome.step} | {outcome.glance.status} | "
            f"{outcome.glance.detail.replace('|', '/')} | {outcome.glimpse.detail.replace('|', '/')} |"
        )
    lines += ["", "## Every request", "", "| scenario | step | Glance | Glimpse | same |", "|---|---|---|---|---|"]
    for outcome in outcomes:
        lines.append(
            f"| {outcome.scenario} | {outcome.step} | {outcome.glance.status} | {outcome.glimpse.status} | "
            f"{'yes' if not outcome.differences else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glance", default="http://127.0.0.1:9496")
    parser.add_argument("--glimpse", default="http://127.0.0.1:9393")
    parser.add_argument("--report", type=Path, default=Path("docs/compat-report.md"))
    parser.add_argument("--commit", default="")
    args = parser.parse_args(argv)
    outcomes = run(args.glance, args.glimpse)
    args.report.write_text(report(outcomes, args.glance, args.glimpse, args.commit))
    different = [outcome for outcome in outcomes if outcome.differences]
    for outcome in different:
        print(f"{outcome.scenario} / {outcome.step}: {'; '.join(outcome.differences)}")
    print(f"compat: {len(outcomes) - len(different)} same, {len(different)} different; report in {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
