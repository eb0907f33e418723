"""Dashboard sessions and the login throttle, held in memory (a restart signs everyone out) on an injected clock."""
from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "printloop_session"
CSRF_HEADER = "X-CSRF-Token"
SESSION_S = 12 * 3600.0
MAX_FAILURES = 5          # wrong passwords in a row before a name is locked out
LOCKOUT_S = 60.0


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose it is, the token state changes must echo, and when it ends."""

    user: str
    csrf: str
    expires: float


class Sessions:
    """Session tokens (the cookie's value) to sessions; expired ones are forgotten when looked up."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """Empty, timed by `clock`."""
        self.clock = clock
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str) -> tuple[str, Session]:
        """A new session for `user`: its cookie token and the session."""
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(24), self.clock() + SESSION_S)
        with self._lock:
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie token, or None."""
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is not None and session.expires <= self.clock():
                del self._by_token[token]
                return None
            return session

    def close(self, token: str | None) -> None:
        """Sign a cookie token out."""
        with self._lock:
            self._by_token.pop(token or "", None)


class LoginThrottle:
    """Counts wrong passwords in a row per name; after MAX_FAILURES the name is refused for LOCKOUT_S."""

    def __init__(self, clock: Callable[[], float]) -> None:
        """No failures yet, timed by `clock`."""
        self.clock = clock
        self._failures: dict[str, tuple[int, float]] = {}  # name -> (failures in a row, locked until)
        self._lock = threading.Lock()

    def retry_after(self, name: str) -> int:
        """Whole seconds until `name` may try again (0: now)."""
        with self._lock:
            _, until = self._failures.get(name, (0, 0.0))
        return max(0, math.ceil(until - self.clock()))

    def failed(self, name: str) -> None:
        """Count a wrong password; the fifth in a row locks the name."""
        with self._lock:
            count, _ = self._failures.get(name, (0, 0.0))
            count += 1
            until = self.clock() + LOCKOUT_S if count >= MAX_FAILURES else 0.0
            self._failures[name] = (0 if until else count, until)

    def succeeded(self, name: str) -> None:
        """A right password clears the count."""
        with self._lock:
            self._failures.pop(name, None)
