"""Prometheus' scrape endpoint: `GET /metrics`, keyless only with `[metrics] public = true`."""
from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request, Response

from controller.api.deps import key_unless_public
from controller.api.timing import RequestTimer
from controller.farm.service import LabService
from controller.publish.metrics import Metrics

router = APIRouter(tags=["monitoring"],
                   dependencies=[Depends(key_unless_public(lambda cfg: cfg.metrics.public))])


def install(app: FastAPI, service: LabService) -> None:
    """Give the app its metrics (fed from the service's bus), the latency middleware and the route."""
    metrics = Metrics(service)
    app.state.metrics = metrics
    app.add_middleware(RequestTimer, observe=metrics.observe_request)
    app.include_router(router)


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}, "application/openmetrics-text": {}}}})
def scrape(request: Request) -> Response:
    """Every printer's state, temperatures, progress, link figures, copies, verdicts; the API's latency."""
    body, content_type = request.app.state.metrics.exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type)
