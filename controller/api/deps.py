"""Shared dependencies of the routes: the service and the API-key check."""
from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Query, Request

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
    given = x_api_key or api_key or apikey
    keys = request.app.state.service.config.api_keys
    if not given or not any(secrets.compare_digest(given, k) for k in keys):
        raise HTTPException(status_code=401, detail="missing or wrong API key: send it in the X-Api-Key header "
                                                    "(printloop serve prints one on first start)")


Service = Annotated[LabService, Depends(get_service)]
Auth = [Depends(require_key)]
Id = Annotated[int, Path(ge=1, le=2**53, description="A database id")]
