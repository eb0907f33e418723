"""The MTConnect agent's HTTP face: /mtconnect/probe, /current, /sample?from=&count=, /assets (XML), and
/mtconnect/<printer>/probe, /current, /sample for one device.

Errors come back as MTConnectError documents, as MTConnect clients expect: OUT_OF_RANGE and INVALID_REQUEST
with 400, NO_DEVICE with 404, UNAUTHORIZED with 401 (an API key is needed unless `[mtconnect] public = true`).
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response

from controller.api.deps import given_key, key_valid
from controller.farm.service import LabService
from controller.publish.mtconnect import MTConnectAgent, NoDevice
from controller.publish.mtconnect_buffer import SequenceOutOfRange

router = APIRouter(prefix="/mtconnect", tags=["mtconnect"])
XML = "application/xml"
_DOC = {"content": {XML: {}}, "description": "an MTConnect document"}
_RESPONSES: dict[int | str, dict] = {200: _DOC, 400: _DOC, 401: _DOC, 404: _DOC}


def install(app: FastAPI, service: LabService) -> None:
    """With `[mtconnect] enabled = true`: start the agent on the service's bus and serve its routes."""
    if not service.config.mtconnect.enabled:
        return
    app.state.mtconnect = MTConnectAgent(service)
    app.include_router(router)


def _answer(request: Request, build: str, *args: int | str | None) -> Response:
    """Check the key, then build one of the agent's documents; errors as MTConnectError documents."""
    agent: MTConnectAgent = request.app.state.mtconnect
    cfg = request.app.state.service.config
    if not cfg.mtconnect.public and not key_valid(request, given_key(request)):
        return Response(agent.error("UNAUTHORIZED", "missing or wrong API key: send it in the X-Api-Key header "
                                    "or as ?api_key="), 401, media_type=XML)
    try:
        return Response(getattr(agent, build)(*args), media_type=XML)
    except SequenceOutOfRange as exc:
        return Response(agent.error("OUT_OF_RANGE", str(exc)), 400, media_type=XML)
    except NoDevice as exc:
        return Response(agent.error("NO_DEVICE", str(exc)), 404, media_type=XML)


def _number(request: Request, name: str, value: str | None) -> int | None:
    """A query parameter as an integer (None when absent); ValueError names it."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"'{name}' must be an integer; it was {value!r}") from None


@router.get("/probe", response_class=Response, responses=_RESPONSES)
def probe(request: Request) -> Response:
    """MTConnectDevices: one Device per printer, named after it."""
    return _answer(request, "probe")


@router.get("/current", response_class=Response, responses=_RESPONSES)
def current(request: Request) -> Response:
    """MTConnectStreams: the latest value of every data item of every printer."""
    return _answer(request, "current")


@router.get("/sample", response_class=Response, responses=_RESPONSES)
def sample(request: Request, from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
           count: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """MTConnectStreams: up to `count` observations from sequence `from` on (its Header's nextSequence is
    where the next page starts)."""
    return _sample(request, from_, count, None)


def _sample(request: Request, from_: str | None, count: str | None, device: str | None) -> Response:
    """A sample request, its numbers checked (INVALID_REQUEST otherwise)."""
    try:
        start, n = _number(request, "from", from_), _number(request, "count", count)
    except ValueError as exc:
        agent: MTConnectAgent = request.app.state.mtconnect
        return Response(agent.error("INVALID_REQUEST", str(exc)), 400, media_type=XML)
    return _answer(request, "sample", start, n, device)


@router.get("/assets", response_class=Response, responses=_RESPONSES)
def assets(request: Request) -> Response:
    """MTConnectAssets (printloop keeps none yet)."""
    return _answer(request, "assets")


@router.get("/{device}/probe", response_class=Response, responses=_RESPONSES)
def device_probe(request: Request, device: Annotated[str, Path(max_length=64)]) -> Response:
    """MTConnectDevices of one printer."""
    return _answer(request, "probe", device)


@router.get("/{device}/current", response_class=Response, responses=_RESPONSES)
def device_current(request: Request, device: Annotated[str, Path(max_length=64)]) -> Response:
    """MTConnectStreams: the latest value of every data item of one printer."""
    return _answer(request, "current", device)


@router.get("/{device}/sample", response_class=Response, responses=_RESPONSES)
def device_sample(request: Request, device: Annotated[str, Path(max_length=64)],
                  from_: Annotated[str | None, Query(alias="from", max_length=20)] = None,
                  count: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """MTConnectStreams: one printer's observations from sequence `from` on."""
    return _sample(request, from_, count, device)
