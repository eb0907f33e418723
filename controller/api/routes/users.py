"""Accounts: add and list users (admin), sign in and out of the dashboard, and who am I."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from controller.api.deps import ADMINS, EVERYONE, Caller, Service, allow
from controller.api.sessions import COOKIE, SESSION_S
from controller.store import users

router = APIRouter(prefix="/api/v1", tags=["users"])
Role = Literal["admin", "operator", "submitter", "viewer"]


class UserIn(BaseModel):
    """A user to add."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$")
    role: Role
    password: str = Field(min_length=8, max_length=1024)


class UserOut(BaseModel):
    """A user, without any secret."""

    id: int
    name: str
    role: Role
    created_at: float


class UserCreated(UserOut):
    """A new user with their API key, shown this once."""

    api_key: str


class LoginIn(BaseModel):
    """Name and password."""

    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    """Who the caller is; after a login, the token to send in X-CSRF-Token with every change."""

    name: str
    role: Role
    csrf_token: str | None = None


@router.post("/users", response_model=UserCreated, status_code=201,
             **allow(ADMINS))
def create(body: UserIn, svc: Service) -> UserCreated:
    """Add a user; the answer holds their API key, which is stored hashed and never shown again."""
    user, key = users.create_user(svc.store, body.name, body.role, body.password, svc.clock())
    return UserCreated(**user.to_dict(), api_key=key)


@router.get("/users", response_model=list[UserOut], **allow(ADMINS))
def list_all(svc: Service) -> list[UserOut]:
    """Every user (never a key or password hash)."""
    return [UserOut(**u.to_dict()) for u in users.list_users(svc.store)]


@router.get("/me", response_model=Me, **allow(EVERYONE))
def me(who: Caller) -> Me:
    """The caller's name and role."""
    return Me(name=who.actor, role=who.role)  # type: ignore[arg-type]


@router.post("/login", response_model=Me, responses={401: {}, 429: {}}, openapi_extra={"x-roles": []})
def login(body: LoginIn, request: Request, response: Response, svc: Service) -> Me:
    """Sign in: a session cookie (HttpOnly, SameSite=Strict) and the CSRF token changes must echo; after 5 wrong
    passwords in a row the name is refused for a minute (429 with Retry-After)."""
    throttle = request.app.state.login_throttle
    wait = throttle.retry_after(body.name)
    if wait:
        raise HTTPException(status_code=429, detail=f"too many wrong passwords for {body.name!r}: try again in "
                                                    f"{wait} s", headers={"Retry-After": str(wait)})
    user = users.check_password(svc.store, body.name, body.password)
    if user is None:
        throttle.failed(body.name)
        raise HTTPException(status_code=401, detail="wrong name or password")
    throttle.succeeded(body.name)
    token, session = request.app.state.sessions.open(user.name)
    response.set_cookie(COOKIE, token, max_age=int(SESSION_S), httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")
    return Me(name=user.name, role=user.role, csrf_token=session.csrf)  # type: ignore[arg-type]


@router.post("/logout", status_code=204, response_class=Response, openapi_extra={"x-roles": []})
def logout(request: Request) -> Response:
    """Sign out: the session ends and the cookie is cleared."""
    request.app.state.sessions.close(request.cookies.get(COOKIE))
    out = Response(status_code=204)
    out.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return out

