"""The FastAPI application: routers, error mapping to JSON with actionable messages, and the dashboard."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from controller.api import octoprint
from controller.api.routes import (
    audit,
    checks,
    farm,
    health,
    jobs,
    maintenance,
    metrics,
    mtconnect,
    notifications,
    printers,
    queue,
    records,
    spools,
    stats,
    stream,
    users,
)
from controller.api.sessions import LoginThrottle, Sessions
from controller.api.views import PrintersCache
from controller.errors import (
    ConfigError,
    ConflictError,
    ControllerError,
    JobError,
    NotFoundError,
    UploadError,
    UploadTooLargeError,
)
from controller.farm.service import LabService
from controller.publish.wiring import attach_publishers

DASHBOARD = Path(__file__).resolve().parent.parent / "dashboard"
_STATUS: list[tuple[type[Exception], int]] = [
    (NotFoundError, 404), (UploadTooLargeError, 413), (UploadError, 400), (ConflictError, 409), (JobError, 409),
    (ConfigError, 400), (ControllerError, 409)]


def _status_of(exc: Exception) -> int:
    """The HTTP status for a project error; slicing errors are 422."""
    for cls, code in _STATUS:
        if isinstance(exc, cls):
            return code
    return 422


def _install_errors(app: FastAPI) -> None:
    """Every error comes back as JSON {"message": ...}; nothing reaches the client as a traceback."""
    from slicing.errors import SlicingError

    async def project_error(_req: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"message": str(exc), "error": type(exc).__name__}, status_code=_status_of(exc))

    async def validation_error(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        parts = [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()]
        detail = [{"loc": [str(x) for x in e["loc"]], "msg": str(e["msg"]), "type": str(e["type"])}
                  for e in exc.errors()]
        return JSONResponse({"message": "; ".join(parts) or "invalid request", "detail": detail}, status_code=422)

    async def http_error(_req: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(ControllerError, project_error)
    app.add_exception_handler(SlicingError, project_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def create_app(service: LabService, run_fleet: bool = True) -> FastAPI:
    """Build the app around a LabService (with the publishers its config asks for); with run_fleet the fleet
    loop and the publishers run for the app's lifetime."""
    attach_publishers(service)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if run_fleet:
            service.start()
        try:
            yield
        finally:
            if run_fleet:
                service.fleet.stop()

    app = FastAPI(title="printloop lab service", version="0.1.0", lifespan=lifespan,
                  description="Queue over several FDM printers with per-layer camera checks. Send X-Api-Key (a config "
                              "key, or a user's), or sign in; each operation lists the roles it allows in x-roles.")
    app.state.service = service
    app.state.selected = None
    app.state.printers_cache = PrintersCache()
    app.state.sessions, app.state.login_throttle = Sessions(service.clock), LoginThrottle(service.clock)
    _install_errors(app)
    for module in (health, users, printers, farm, jobs, queue, checks, records, stream, audit, notifications,
                   maintenance, spools, stats):
        app.include_router(module.router)
    app.include_router(octoprint.router)
    metrics.install(app, service)
    mtconnect.install(app, service)
    app.mount("/dashboard", StaticFiles(directory=DASHBOARD), name="dashboard")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(DASHBOARD / "index.html")

    return app
