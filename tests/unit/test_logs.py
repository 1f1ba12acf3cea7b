"""glimpse.logs: the JSON line formatter and the logging setup of `glimpse serve`."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from glimpse.logs import (
    TEXT_FORMAT,
    JsonFormatter,
    RequestLog,
    SecretMask,
    configure_logging,
    current_request,
    mask_secrets,
)


def record(message: str = "hello %s", *args: Any, level: int = logging.INFO, **extra: Any) -> logging.LogRecord:
    if not args and "%s" in message:
        args = ("world",)
    made = logging.LogRecord("glimpse.test", level, __file__, 1, message, args, None)
    for key, val in extra.items():
        setattr(made, key, val)
    return made


def as_json(made: logging.LogRecord) -> dict[str, Any]:
    line = JsonFormatter().format(made)
    assert "\n" not in line
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_plain_record() -> None:
    entry = as_json(record())
    assert set(entry) == {"timestamp", "level", "logger", "message"}
    assert entry["level"] == "INFO"
    assert entry["logger"] == "glimpse.test"
    assert entry["message"] == "hello world"
    assert entry["timestamp"].endswith("+00:00")


def test_request_fields_come_from_the_current_request() -> None:
    token = current_request.set(RequestLog("req-1", "alice", "alpha"))
    try:
        entry = as_json(record())
    finally:
        current_request.reset(token)
    assert (entry["request_id"], entry["user"], entry["project"]) == ("req-1", "alice", "alpha")


def test_unknown_user_is_left_out() -> None:
    token = current_request.set(RequestLog("req-2"))
    try:
        entry = as_json(record())
    finally:
        current_request.reset(token)
    assert entry["request_id"] == "req-2"
    assert "user" not in entry
    assert "project" not in entry


def test_access_fields() -> None:
    entry = as_json(
        record(
            "GET /v2/images 200",
            request_id="req-3",
            user="bob",
            project="beta",
            method="GET",
            path="/v2/images",
            status=200,
            duration_ms=1.5,
        )
    )
    assert entry["request_id"] == "req-3"
    assert (entry["user"], entry["project"]) == ("bob", "beta")
    assert (entry["method"], entry["path"], entry["status"], entry["duration_ms"]) == ("GET", "/v2/images", 200, 1.5)


def test_fields_of_a_record_win_over_the_current_request() -> None:
    token = current_request.set(RequestLog("req-outer", "alice", "alpha"))
    try:
        entry = as_json(record(request_id="req-inner", user="bob"))
    finally:
        current_request.reset(token)
    assert (entry["request_id"], entry["user"], entry["project"]) == ("req-inner", "bob", "alpha")


def test_other_attributes_are_not_written() -> None:
    entry = as_json(record(token="secret-token", headers={"x-auth-token": "secret-token"}))
    assert "secret-token" not in json.dumps(entry)


def test_exception_is_one_field() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = logging.LogRecord("glimpse.test", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = as_json(made)
    assert entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]
    assert "Traceback" in entry["exception"]


def test_non_ascii_and_odd_values() -> None:
    entry = as_json(record("name %s", "Ünïcode ✓", status=object()))
    assert entry["message"] == "name Ünïcode ✓"
    assert isinstance(entry["status"], str)


@pytest.fixture
def restore_root_logger() -> Iterator[logging.Logger]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield root
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_configure_json(restore_root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "warning")
    assert restore_root_logger.level == logging.WARNING
    [handler] = restore_root_logger.handlers
    assert isinstance(handler.formatter, JsonFormatter)
    logging.getLogger("glimpse.x").warning("careful %d", 3)
    logging.getLogger("glimpse.x").info("not shown")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["careful 3"]


def test_configure_text(restore_root_logger: logging.Logger) -> None:
    configure_logging("text", "INFO")
    [handler] = restore_root_logger.handlers
    assert handler.formatter is not None
    assert handler.formatter._fmt == TEXT_FORMAT
    assert restore_root_logger.level == logging.INFO


# -- secrets ---------------------------------------------------------------------------------------------------
SECRET = "hunter2-Sw0rdfish"
URL_PASSWORD = "p@ss/word"  # written %-encoded inside URLs


def _secret_failure() -> BaseException:
    try:
        raise ConnectionError(f"cannot reach postgresql://glance:{SECRET}@db/glance")
    except ConnectionError as exc:
        return exc


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_configured_secrets_never_reach_the_output(
    restore_root_logger: logging.Logger, capsys: pytest.CaptureFixture[str], log_format: Literal["text", "json"]
) -> None:
    configure_logging(log_format, "INFO", [SECRET, "p%40ss%2Fword", URL_PASSWORD])
    log = logging.getLogger("glimpse.driver")
    log.info("connecting to redis://:%s@cache:6379/0", "p%40ss%2Fword")  # in the arguments
    log.warning(f"key {SECRET} refused")  # in the message itself
    log.warning("the raw one: %r", {"password": URL_PASSWORD})
    failure = _secret_failure()
    log.error("failed", exc_info=(type(failure), failure, failure.__traceback__))
    log.info("nothing secret: %d images", 3)
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "p%40ss%2Fword" not in err
    assert URL_PASSWORD not in err
    assert "redis://:***@cache:6379/0" in err
    assert "key *** refused" in err
    assert "postgresql://glance:***@db/glance" in err  # in the traceback
    assert "nothing secret: 3 images" in err


def test_mask_secrets_adds_to_every_handler_of_a_logger(capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("glimpse.test.masked")
    handler = logging.StreamHandler(sys.stderr)
    logger.addHandler(handler)
    logger.propagate = False
    try:
        mask_secrets(["first-secret"], logger)
        mask_secrets(["second-secret"], logger)
        assert len([f for f in handler.filters if isinstance(f, SecretMask)]) == 1
        logger.warning("first-secret and second-secret and first-secret-and-more")
        assert capsys.readouterr().err.strip() == "*** and *** and ***-and-more"
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_a_mask_without_secrets_leaves_records_alone() -> None:
    made = record("hello %s", "world")
    assert SecretMask().filter(made)
    assert (made.msg, made.args) == ("hello %s", ("world",))
