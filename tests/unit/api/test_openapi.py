"""The OpenAPI description covers exactly the live routes and methods, so it cannot drift."""

import pkgutil
from types import ModuleType

from glimpse.api import openapi
from glimpse.api.openapi import RESOURCES, build_openapi
from glimpse.api.routes import ROUTES
from glimpse.services.schemas import Schemas
from glimpse.settings import load_settings

HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def test_openapi_paths_match_routes() -> None:
    document = build_openapi(Schemas(load_settings(env={})))
    described = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }
    live = {(route.path, method) for route in ROUTES for method in route.handlers}
    assert described == live


def test_operation_ids_are_unique() -> None:
    document = build_openapi(Schemas(load_settings(env={})))
    ids = [op["operationId"] for item in document["paths"].values() for k, op in item.items() if k in HTTP_METHODS]
    assert len(ids) == len(set(ids))


def test_every_resource_module_is_registered() -> None:
    """A module added under api/openapi/ describes nothing until it is listed in RESOURCES."""
    modules = {info.name for info in pkgutil.iter_modules(openapi.__path__)} - {"common"}
    registered = {resource.__name__.rsplit(".", 1)[1] for resource in RESOURCES if isinstance(resource, ModuleType)}
    assert modules == registered
