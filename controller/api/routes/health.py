"""The one unauthenticated endpoint: is the service up."""
from __future__ import annotations

from fastapi import APIRouter

from controller.api.deps import Service
from controller.api.schemas import Health
from controller.store import printers

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, openapi_extra={"x-roles": []})
def health(svc: Service) -> Health:
    """Liveness check for load balancers and the demo."""
    return Health(status="ok", printers=len(printers.list_printers(svc.store)))
