"""Shared dependencies of the routes: the service, who is asking (config key, user key or session cookie) and the
roles each route allows (stated on the route and in the OpenAPI document as `x-roles`)."""
from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Path, Query, Request

from controller.config import ServiceConfig
from controller.errors import NotFoundError
from controller.farm.service import LabService
from controller.store import jobs, users

_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Principal:
    """Who a request is from: the actor named in the history, their role, and whether a browser cookie carried it."""

    actor: str          # the user's name, or key:NAME for a config key
    role: str
    user: str | None    # the user's name; None for a config key
    by_cookie: bool = False


async def get_service(request: Request) -> LabService:
    """The LabService the app was built with."""
    return request.app.state.service


def config_key_name(cfg: ServiceConfig, given: str) -> str | None:
    """The name of the config key `given` is (`config-1`, `config-2`, ... in config order), or None."""
    for i, k in enumerate(cfg.api_keys, start=1):
        if secrets.compare_digest(given.encode(), k.encode()):
            return f"config-{i}"
    return None


def _from_key(svc: LabService, given: str) -> Principal | None:
    """A config key is an admin; a user's key is that user."""
    name = config_key_name(svc.config, given)
    if name is not None:
        return Principal(f"key:{name}", "admin", None)
    user = users.user_by_key(svc.store, given)
    return Principal(user.name, user.role, user.name) if user is not None else None


def _from_cookie(request: Request) -> Principal | None:
    """The signed-in user of the session cookie; state changes must echo its CSRF token."""
    from controller.api.sessions import COOKIE, CSRF_HEADER

    session = request.app.state.sessions.get(request.cookies.get(COOKIE))
    if session is None:
        return None
    if request.method not in _SAFE_METHODS and not secrets.compare_digest(
            request.headers.get(CSRF_HEADER, "").encode(), session.csrf.encode()):
        raise HTTPException(status_code=403, detail=f"a signed-in change needs the {CSRF_HEADER} header "
                                                    "the login answered with")
    svc: LabService = request.app.state.service
    user = next((u for u in users.list_users(svc.store) if u.name == session.user), None)
    return Principal(user.name, user.role, user.name, by_cookie=True) if user is not None else None


def identify(request: Request, given: str | None) -> Principal | None:
    """Who `given` (a key) or else the session cookie says the request is from, or None."""
    svc: LabService = request.app.state.service
    if given:
        return _from_key(svc, given)
    return _from_cookie(request)


async def principal(request: Request,
                    x_api_key: Annotated[str | None, Header(description="An API key: the config's or a user's")]
                    = None,
                    api_key: Annotated[str | None, Query(description="The key, for browsers' EventSource and <img>")]
                    = None,
                    apikey: Annotated[str | None, Query(description="OctoPrint's spelling of api_key")] = None
                    ) -> Principal:
    """The caller, from X-Api-Key (or ?api_key=) or the dashboard's session cookie; 401 if neither is valid."""
    who = identify(request, x_api_key or api_key or apikey)
    if who is None:
        raise HTTPException(status_code=401, detail="missing or wrong API key: send it in the X-Api-Key header "
                                                    "(printloop serve prints one on first start) or sign in")
    return who


Caller = Annotated[Principal, Depends(principal)]

EVERYONE = ("admin", "operator", "submitter", "viewer")   # read; a submitter sees only their own jobs
READERS = ("admin", "operator", "viewer")                  # read everything, other people's jobs too
SUBMITTERS = ("admin", "operator", "submitter")
OPERATORS = ("admin", "operator")
ADMINS = ("admin",)


def allow(roles: tuple[str, ...]) -> dict[str, Any]:
    """Route keyword arguments: a dependency refusing other roles (403) and `x-roles` in the OpenAPI document."""
    async def check(who: Caller) -> None:
        if who.role not in roles:
            raise HTTPException(status_code=403, detail=f"{who.actor} is {who.role}; this needs one of: "
                                                        f"{', '.join(roles)}")
    return {"dependencies": [Depends(check)], "openapi_extra": {"x-roles": list(roles)}}


def sees_job(svc: LabService, who: Principal, job_id: int) -> None:
    """NotFoundError (404, as for a missing job) unless `who` may see the job: a submitter sees only their own."""
    if who.role == "submitter" and users.submitter_of(svc.store, job_id) != who.user:
        raise NotFoundError(f"no job with id {job_id}")


def sees_run(svc: LabService, who: Principal, run_id: int) -> None:
    """404 for a submitter asking about a copy of someone else's job (as for a run that does not exist)."""
    if who.role == "submitter":
        try:
            sees_job(svc, who, jobs.get_run(svc.store, run_id).job_id)
        except NotFoundError:
            raise NotFoundError(f"no run with id {run_id}") from None


def given_key(request: Request) -> str | None:
    """The key a request carries: X-Api-Key, or ?api_key= / ?apikey= (as `principal` takes them)."""
    q = request.query_params
    return request.headers.get("x-api-key") or q.get("api_key") or q.get("apikey")


def key_valid(request: Request, given: str | None) -> bool:
    """Is `given` a config key or a user's key?"""
    return bool(given) and _from_key(request.app.state.service, given or "") is not None


def key_unless_public(is_public: Callable[[ServiceConfig], bool]) -> Callable[[Request], Awaitable[None]]:
    """A dependency asking for a key or session like `principal`, unless the config makes the route public."""
    async def check(request: Request) -> None:
        if not is_public(request.app.state.service.config) and identify(request, given_key(request)) is None:
            raise HTTPException(status_code=401, detail="missing or wrong API key: send it in the X-Api-Key header")
    return check


Service = Annotated[LabService, Depends(get_service)]
Id = Annotated[int, Path(ge=1, le=2**53, description="A database id")]
