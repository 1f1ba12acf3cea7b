"""What a fetch raises: refusals and bad URLs are the caller's (400), remote failures a backend's (502)."""

from __future__ import annotations

from glimpse.errors import BadRequest, StoreError, TooLarge


class FetchRefused(BadRequest):
    """A policy rule refused the URL (or a redirect target); ``rule`` names the rule."""

    def __init__(self, message: str, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class InvalidFetchURL(BadRequest):
    """The URL cannot be parsed, or has no usable host or port."""


class RemoteFetchError(StoreError):
    """The remote end failed: no connection, TLS failure, an HTTP error status, a broken or truncated reply.

    ``status`` is the remote HTTP status when there was one.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class FetchTimeout(RemoteFetchError):
    """A connect or read timeout, or the fetch's total deadline, expired."""


class FetchTooLarge(TooLarge):
    """The remote data is larger than ``max_bytes``."""
