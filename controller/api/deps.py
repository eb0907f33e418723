"""Shared dependencies of the routes: the service and the API-key check."""
from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request

from controller.config import ServiceConfig
from controller.farm.service import LabService


async def get_service(request: Request) -> LabService:
    """The LabService the app was built with."""
    return request.app.state.service


async def require_key(request: Request,
                x_api_key: Annotated[str | None, Header(description="An API key from the config")] = None,
                api_key: Annotated[str | None, Query(description="The key, for browsers' EventSource and <img>")]
                = None,
                apikey: Annotated[str | None, Query(description="OctoPrint's spelling of api_key")] = None) -> None:
    """Refuse requests without a configured key in X-Api-Key (or ?api_key= for streams and images)."""
    _check_key(request, x_api_key or api_key or apikey)


def _check_key(request: Request, given: str | None) -> None:
    """401 unless `given` is one of the configured keys."""
    if not key_valid(request, given):
        raise HTTPException(status_code=401, detail="missing or wrong API key: send it in the X-Api-Key header "
                                                    "(printloop serve prints one on first start)")


def key_valid(request: Request, given: str | None) -> bool:
    """Is `given` one of the configured API keys?"""
    keys = request.app.state.service.config.api_keys
    return bool(given) and any(secrets.compare_digest(given or "", k) for k in keys)


def given_key(request: Request) -> str | None:
    """The key a request carries: X-Api-Key, or ?api_key= / ?apikey= (as `require_key` takes them)."""
    q = request.query_params
    return request.headers.get("x-api-key") or q.get("api_key") or q.get("apikey")


def key_unless_public(is_public: Callable[[ServiceConfig], bool]) -> Callable[[Request], Awaitable[None]]:
    """A dependency asking for the API key like `require_key`, unless the config makes the route public."""
    async def check(request: Request) -> None:
        if not is_public(request.app.state.service.config):
            _check_key(request, given_key(request))
    return check


Service = Annotated[LabService, Depends(get_service)]
Auth = [Depends(require_key)]
Id = Annotated[int, Path(ge=1, le=2**53, description="A database id")]
