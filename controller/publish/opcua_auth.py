"""Who may do what on the OPC UA server: the `[opcua] users` sign in by name and password and may call the
machines' methods; anonymous clients (unless `anonymous = "off"`) may browse, read and subscribe, nothing more."""
from __future__ import annotations

import hmac
from typing import Any

from asyncua import ua
from asyncua.crypto.permission_rules import USER_TYPES, SimpleRoleRuleset, User, UserRole
from asyncua.server.user_managers import UserManager

from controller.publish.opcua_model import nid

CHANGING_REQUESTS = frozenset(nid(i) for i in (
    ua.ObjectIds.WriteRequest_Encoding_DefaultBinary,
    ua.ObjectIds.CallRequest_Encoding_DefaultBinary,
))
"""Requests that change something: refused to anonymous sessions."""


class ConfiguredUsers(UserManager):
    """Signs in the configured users; anonymous sessions get the read-only role (or none when switched off)."""

    def __init__(self, users: dict[str, str], anonymous: bool) -> None:
        """`users` maps names to passwords; `anonymous` lets clients in without one."""
        self.users, self.anonymous = dict(users), anonymous

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:
        """The session's user, or None to refuse it (a wrong password, or anonymous when that is off)."""
        if username is None:
            return User(role=UserRole.Anonymous) if self.anonymous else None
        expected = self.users.get(username)
        given = password or ""
        if expected is None or not hmac.compare_digest(expected.encode(), given.encode()):
            return None
        return User(role=UserRole.User, name=username)


class ReadOnlyAnonymous(SimpleRoleRuleset):
    """asyncua's role rules with one change: anonymous sessions may read, browse and subscribe (not write or
    call); signed-in users may do everything a client does; nobody adds or deletes nodes."""

    def __init__(self) -> None:
        """Build the permission table."""
        super().__init__()
        user_ids = {nid(i) for i in USER_TYPES}
        self._permission_dict[UserRole.User] = set(user_ids)
        self._permission_dict[UserRole.Admin] = set(user_ids)
        self._permission_dict[UserRole.Anonymous] = user_ids - CHANGING_REQUESTS
