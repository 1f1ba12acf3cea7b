"""Size limits of a stream: the image size cap and the size the client declared, checked as bytes arrive."""

from __future__ import annotations

from glimpse.errors import BadRequest, TooLarge


class SizeLimits:
    """Counts the bytes of a stream; ``add`` refuses a stream that grows past the cap or the declared size,
    ``finish`` one that ended short of the declared size."""

    def __init__(self, cap: int, expected: int | None) -> None:
        self.cap = cap
        self.expected = expected
        self.size = 0

    def add(self, count: int) -> None:
        self.size += count
        if self.size > self.cap:
            raise TooLarge(
                f"Image exceeds the storage quota: the upload is larger than the image size cap of {self.cap} bytes"
            )
        if self.expected is not None and self.size > self.expected:
            raise BadRequest(
                f"Image data is larger than the declared size of {self.expected} bytes (x-openstack-image-size)"
            )

    def finish(self) -> None:
        if self.expected is not None and self.size != self.expected:
            raise BadRequest(
                f"Image data is {self.size} bytes but {self.expected} bytes were declared (x-openstack-image-size)"
            )
