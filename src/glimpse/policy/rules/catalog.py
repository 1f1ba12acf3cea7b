"""The application catalog (Glimpse's own API, /catalog/v1)."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_READER, PROJECT, rule


def rules() -> list[RuleDefault]:
    return [
        rule("catalog:list_assets", ADMIN_OR_PROJECT_READER, "Browse and search the subscribed catalogs' assets.",
             ("GET", "/catalog/v1/assets"), ("GET", "/catalog/v1/assets/{name}/{version}")),
        rule("catalog:list_remotes", ADMIN_OR_PROJECT_READER, "Show the subscribed catalogs and their state.",
             ("GET", "/catalog/v1/remotes")),
        rule("catalog:refresh", ADMIN, "Refresh the subscribed catalogs' signed metadata now.",
             ("POST", "/catalog/v1/remotes/refresh")),
        rule("catalog:install", ADMIN_OR_PROJECT_MEMBER,
             "Install a verified asset (and its dependencies) into the caller's project.",
             ("POST", "/catalog/v1/assets/{name}/{version}/install")),
        RuleDefault("catalog:import_legacy", "!", scope_types=PROJECT, description=(
            "Import assets from a legacy, unsigned catalog (the retired App Catalog's assets document, a Murano "
            "package repository) marked unverified: `glimpse catalog import-legacy --allow-unverified`. Nobody "
            "by default; e.g. \"role:admin\" lets administrators.")),
    ]  # fmt: skip
