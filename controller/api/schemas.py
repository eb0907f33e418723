"""Response and request bodies of the API (pydantic at the boundary only)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Message(BaseModel):
    """An error or acknowledgement a person can read."""

    message: str


class Temperatures(BaseModel):
    """Temperatures in °C."""

    hotend: float
    hotend_target: float
    bed: float
    bed_target: float


class RunOut(BaseModel):
    """One copy of a job on one printer."""

    id: int
    job_id: int
    copy_index: int
    printer: str | None
    state: str
    excluded: list[str]
    layer: int
    layer_count: int
    percent: float
    failed_layer: int | None
    message: str
    created_at: float
    started_at: float | None
    finished_at: float | None
    objects: list[str] = []
    skipped: list[str] = []
    replaces: int | None = None
    spool_id: int | None = None
    used_g: float = 0.0


class PrinterOut(BaseModel):
    """A printer with its live state."""

    name: str
    port: str
    baud: int
    camera: str | None
    profile: str | None
    on_failure: str
    state: str
    message: str
    connected: bool
    temperatures: Temperatures | None
    current_run: RunOut | None
    job_name: str | None = None
    last_run: RunOut | None = None
    latest_check: LayerCheckOut | None = None
    host: str | None = None   # the host that drives it (a farm of hosts shares one database)
    nozzle: float | None = None
    materials: list[str] = []
    tags: list[str] = []
    bed: list[float] | None = None
    spool_id: int | None = None


class PrinterIn(BaseModel):
    """A printer to add through the API."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    port: str = Field(min_length=1, max_length=512)
    baud: int = Field(default=115200, gt=0, le=10_000_000)
    camera: str | None = Field(default=None, max_length=512)
    profile: str | None = Field(default=None, max_length=512)
    on_failure: Literal["pause", "cancel", "warn"] = "pause"
    nozzle: float = Field(default=0.4, gt=0, le=3)
    materials: list[str] = Field(default_factory=list, max_length=64, description="what it may print; [] = any")
    tags: list[str] = Field(default_factory=list, max_length=64)
    bed: tuple[float, float, float] | None = Field(default=None, description="[x, y, z] mm of the print volume")


class JobOut(BaseModel):
    """A job and its copies."""

    id: int
    file_id: int
    name: str
    copies: int
    priority: int
    profile: str | None
    printers: list[str]
    state: str
    slice_progress: float
    layer_count: int | None
    message: str
    created_at: float
    finished_at: float | None
    counts: dict[str, int]
    runs: list[RunOut] = []
    requires: dict[str, Any] = Field(default_factory=dict, description="material, colour, nozzle (mm), tags")
    needs: dict[str, Any] = Field(default_factory=dict, description="per copy: filament mm, mm per object, "
                                                                     "reach [x, y, z] mm")


class EventOut(BaseModel):
    """A logged event."""

    id: int
    job_id: int | None
    run_id: int | None
    printer: str | None
    t: float
    kind: str
    message: str
    data: dict[str, Any]
    actor: str = Field(description="who or what caused it: a user, key:NAME, service:queue|vision|timeout, "
                                   "printer:NAME")


class LayerCheckOut(BaseModel):
    """A layer's camera check, with URLs of its images."""

    id: int
    run_id: int
    layer: int
    ok: bool
    verdict: str
    figures: dict[str, Any]
    image_url: str | None
    annotated_url: str | None
    t: float


class TemperatureOut(BaseModel):
    """A temperature sample."""

    t: float
    hotend: float
    hotend_target: float
    bed: float
    bed_target: float


class Health(BaseModel):
    """Liveness."""

    status: str
    printers: int


class BedRegionOut(BaseModel):
    """Something on the bed that was not there before the job: centroid and bounds in bed mm, area in mm²."""

    x_mm: float
    y_mm: float
    bounds_mm: tuple[float, float, float, float]
    area_mm2: float


class BedOut(BaseModel):
    """The camera's opinion of a printer's bed now, against the photo taken as its last run started."""

    printer: str
    run_id: int | None
    camera: Literal["clear", "not_clear", "unknown"]
    message: str
    regions: list[BedRegionOut]
    changed_mm2: float
    figures: dict[str, float]
    image_url: str | None
    t: float


class TimelapseOut(BaseModel):
    """A run's timelapse as written: the MP4 (mp4v, to download) and the WebM a browser plays (VP8), frames, size."""

    run_id: int
    url: str
    web_url: str | None
    frames: int
    width: int
    height: int
    fps: float
    codec: str
    web_codec: str
    seconds: float


PrinterOut.model_rebuild()


class RejectIn(BaseModel):
    """Why a job awaiting approval is refused."""

    reason: str = Field(min_length=1, max_length=2000)


class SpoolIn(BaseModel):
    """A spool to add: material, colour, diameter (mm), density (g/cm³), lot, net filament weight and price."""

    material: str = Field(min_length=1, max_length=32)
    colour: str = Field(default="", max_length=32)
    diameter: float = Field(default=1.75, gt=0, le=5)
    density: float = Field(default=1.24, gt=0, le=10)
    lot: str = Field(default="", max_length=64)
    weight_g: float = Field(gt=0, le=100_000)
    cost_per_kg: float = Field(default=0.0, ge=0, le=1e6)
    brand: str = Field(default="", max_length=64)


class SpoolOut(BaseModel):
    """A spool: what it is, how much is left, what it cost and the printer it is loaded on."""

    id: int
    material: str
    brand: str
    colour: str
    diameter: float
    density: float
    lot: str
    initial_g: float
    remaining_g: float
    cost_per_kg: float
    printer: str | None


class LoadSpoolIn(BaseModel):
    """The spool to load on a printer."""

    spool_id: int = Field(ge=1, le=2**53)
