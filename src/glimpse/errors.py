"""The domain exception tree.

Domain and service code raise these; ``glimpse.api.errors`` is the one place that maps them to HTTP
statuses and Glance-style bodies. Nothing here knows about HTTP.
"""

from __future__ import annotations


class GlimpseError(Exception):
    """Base of every error the service reports to a client."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(GlimpseError):
    """The request is malformed or a value is invalid."""


class Unauthorized(GlimpseError):
    """No identity, or an identity that could not be verified."""


class Forbidden(GlimpseError):
    """The caller is known but may not do this."""


class ReadOnlyAttribute(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is read-only.")


class ReservedAttribute(Forbidden):
    def __init__(self, name: str) -> None:
        super().__init__(f"Attribute '{name}' is reserved.")


class NotFound(GlimpseError):
    """The resource does not exist, or the caller may not know that it does."""


class Conflict(GlimpseError):
    """The resource is in a state that does not allow this."""


class Duplicate(Conflict):
    """A row with the same key already exists (another request may have just created it)."""


class InvalidTransition(Conflict):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"Image status transition from {current} to {target} is not allowed")
        self.current = current
        self.target = target


class TooLarge(GlimpseError):
    """The request or the data exceeds a configured cap or quota."""


class OverLimit(TooLarge):
    """A project quota (unified limit) would be exceeded."""

    def __init__(self, message: str, *, resource: str, limit: int, usage: int, requested: int) -> None:
        super().__init__(message)
        self.resource = resource
        self.limit = limit
        self.usage = usage
        self.requested = requested


class UnsupportedMediaType(GlimpseError):
    """The request body has a content type this endpoint does not take; ``accept_patch`` lists the patch
    media types when the endpoint is a PATCH (sent back as ``Accept-Patch``)."""

    def __init__(self, message: str, accept_patch: str | None = None) -> None:
        super().__init__(message)
        self.accept_patch = accept_patch


class RangeNotSatisfiable(GlimpseError):
    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class StoreError(GlimpseError):
    """A store failed in a way the client cannot fix (the driver translated its SDK's error)."""


class StoreUnavailable(StoreError):
    pass


class StorageFull(StoreError):
    """The store has no space (or no quota) left for the data."""


class StorageWriteDenied(StoreError):
    """The store refuses writes: permission denied, or a read-only filesystem."""


class DatabaseUnavailable(GlimpseError):
    """The database cannot be reached or stays locked; the same request may succeed when retried."""


class IdentityUnavailable(GlimpseError):
    """The identity service (Keystone) cannot validate tokens now: down, timing out or refusing our service
    credentials. Nothing is wrong with the caller's token as far as anyone knows."""


class KeyManagerUnavailable(GlimpseError):
    """The key manager (Barbican), or the Keystone it needs, cannot be reached now; retrying may succeed."""


class KeyManagerRefused(BadRequest):
    """The key manager answered but gave no usable object: no such secret, not readable by the caller, or
    not of the kind asked for."""


class OrchestrationUnavailable(GlimpseError):
    """No orchestration service (Heat) for this person: no Keystone sign-in (hence no catalog), no
    ``orchestration`` endpoint in their catalog, or Heat does not answer."""


class ComputeUnavailable(GlimpseError):
    """No compute service (Nova) for this person: no Keystone sign-in (hence no catalog), no ``compute`` endpoint
    in their catalog, or Nova does not answer."""


class ClientDisconnected(GlimpseError):
    """The client went away while sending data."""
