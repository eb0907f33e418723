"""ASGI middleware timing every HTTP request, by method, route template and status, for Prometheus."""
from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Observe = Callable[[str, str, int, float], None]


class RequestTimer:
    """Reports each request's latency (until its response starts) to `observe(method, route, status, s)`."""

    def __init__(self, app: ASGIApp, observe: Observe) -> None:
        """Wrap the app."""
        self.app, self.observe = app, observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time one HTTP request; other scopes pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = [500]
        reported = [False]

        def report() -> None:
            if not reported[0]:
                reported[0] = True
                self.observe(scope["method"], _route_of(scope), status[0], time.perf_counter() - start)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
                report()
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            report()


def _route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/jobs/{job_id}`), so ids do not make a series each."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    if scope.get("path", "").startswith("/dashboard/"):
        return "/dashboard"
    return "unmatched"
