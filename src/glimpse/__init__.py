"""Glimpse: an image registry that speaks the OpenStack Glance Images API v2."""

__version__ = "0.1.0"
