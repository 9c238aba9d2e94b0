"""The route class of the REST API: responses are documented and checked by their models, never reshaped."""

from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute


class ApiRoute(APIRoute):
    """A route whose ``response_model`` documents and validates what it returns without adding to it:
    keys the route did not return stay absent (``response_model_exclude_unset``), so an optional
    field is documented as optional instead of appearing as ``null``."""

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    return APIRouter(route_class=ApiRoute, **kwargs)
