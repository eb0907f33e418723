"""The numbers: statistics of a period (`GET /api/v1/stats`) and every copy as CSV (`GET /api/v1/runs.csv`)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response

from controller.api.deps import READERS, Service, allow, principal
from controller.config import CostsConfig
from controller.farm.service import LabService
from controller.store import runs_csv, stats, stats_rows

router = APIRouter(prefix="/api/v1", tags=["statistics"], dependencies=[Depends(principal)])

From = Annotated[datetime | None, Query(alias="from", description="ISO 8601 (UTC unless it says); default: the "
                                                                  "start of the history")]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601 (UTC unless it says); default: now")]


def default_filament(costs: CostsConfig) -> stats.Filament:
    """The config's default filament with its price."""
    return stats.Filament(costs.material, costs.diameter, costs.material_density, costs.filament_cost_per_kg)


def _epoch(t: datetime) -> float:
    """A datetime as epoch seconds, naive ones taken as UTC."""
    return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()


def _window(svc: LabService, start: datetime | None, end: datetime | None) -> tuple[float, float]:
    """The period asked for, as epoch seconds; 422 when it ends before it starts."""
    t1 = _epoch(end) if end is not None else svc.clock()
    t0 = _epoch(start) if start is not None else min(stats_rows.history_start(svc.store), t1)
    if t1 < t0:
        raise HTTPException(status_code=422, detail=f"'to' ({end}) is before 'from' ({start})")
    return t0, t1


def _iso(t: float) -> str:
    """Epoch seconds as ISO 8601 UTC."""
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@router.get("/stats", **allow(READERS))
def get_stats(svc: Service, start: From = None, end: To = None,
              period: Annotated[Literal["day", "week", "month"], Query(description="for by_period")] = "day"
              ) -> dict[str, Any]:
    """Yield (good ÷ started copies), failure cost, queue wait, cost per good part and utilisation, overall and
    by_printer, by_material, by_user and by_period, of the copies started in [from, to)."""
    t0, t1 = _window(svc, start, end)
    costs = svc.config.costs
    runs = stats_rows.load_runs(svc.store, t0, t1, default_filament(costs))
    changes, since = stats_rows.load_states(svc.store, t1)
    body = stats.summary(runs, changes, since, t0, t1, costs.hourly_rate, period)
    return {"from": _iso(t0), "to": _iso(t1), "currency": costs.currency, "hourly_rate": costs.hourly_rate, **body}


@router.get("/runs.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            **allow(READERS))
def get_runs_csv(svc: Service, start: From = None, end: To = None) -> Response:
    """One row per copy started (or queued and not started) in [from, to), with a header."""
    t0, t1 = _window(svc, start, end)
    costs = svc.config.costs
    runs = stats_rows.load_runs(svc.store, t0, t1, default_filament(costs))
    return Response(runs_csv.runs_csv(runs, costs.hourly_rate), media_type="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="runs.csv"'})
