"""The image cache."""

from __future__ import annotations

from oslo_policy.policy import RuleDefault

from glimpse.policy.rules.common import ADMIN, PROJECT, rule


def rules() -> list[RuleDefault]:
    return [
        RuleDefault("manage_image_cache", ADMIN, description="Manage the image cache (older rule name).",
                    scope_types=PROJECT),
        rule("list_cached_nodes", ADMIN, "List the nodes whose cache holds an image.",
             ("GET", "/v2/cache/nodes/{image_id}")),
        rule("cache_image", ADMIN, "Queue an image for caching.", ("PUT", "/v2/cache/{image_id}")),
        rule("cache_list", ADMIN, "List the cached and queued images.", ("GET", "/v2/cache")),
        rule("cache_delete", ADMIN, "Remove images from the cache or its queue.",
             ("DELETE", "/v2/cache"), ("DELETE", "/v2/cache/{image_id}")),
        rule("cache_clean", ADMIN, "Remove invalid and stalled cache entries.", ("POST", "/v2/cache/clean")),
        rule("cache_prune", ADMIN, "Prune the cache down to its size limit.", ("POST", "/v2/cache/prune")),
    ]  # fmt: skip
