"""Authenticators turn request headers into a RequestContext."""

from glimpse.auth.base import Authenticator, build_authenticator

__all__ = ["Authenticator", "build_authenticator"]
