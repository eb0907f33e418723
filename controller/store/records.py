"""Plain frozen records handed out by the store, so callers never hold live ORM objects."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Printer states: offline, idle, printing, paused, awaiting_clear, needs_attention, error.
# Job states: slicing, queued, printing, done, failed, cancelled.
# Run states: queued, printing, paused, completed, failed, cancelled, interrupted.
RUN_ACTIVE = ("printing", "paused")
RUN_FINAL = ("completed", "failed", "cancelled", "interrupted")


@dataclass(frozen=True)
class Record:
    """Base with a JSON-ready dict view."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class Printer(Record):
    """A printer and its last known state."""

    id: int
    name: str
    port: str
    baud: int
    camera: str | None
    profile: str | None
    on_failure: str
    state: str
    message: str
    host: str | None = None   # the host that drives it (None: a database from before hosts)
    nozzle: float | None = None                          # mm
    materials: list[str] = field(default_factory=list)   # what it may print; [] = any
    tags: list[str] = field(default_factory=list)
    bed: list[float] | None = None                       # [x, y, z] mm, when known
    spool_id: int | None = None                          # the spool loaded on it


@dataclass(frozen=True)
class Capabilities(Record):
    """What a printer can make: nozzle (mm), the materials it may print (empty: any), tags and bed [x, y, z] mm."""

    nozzle: float | None = None
    materials: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    bed: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class StoredFile(Record):
    """An uploaded file."""

    id: int
    name: str
    path: str
    kind: str
    size: int
    sha256: str
    created_at: float


@dataclass(frozen=True)
class Job(Record):
    """N copies of a file with a priority, and how far along they are."""

    id: int
    file_id: int
    name: str
    copies: int
    priority: int
    profile: str | None
    printers: list[str]
    state: str
    slice_progress: float
    gcode_path: str | None
    layer_count: int | None
    message: str
    created_at: float
    finished_at: float | None
    counts: dict[str, int] = field(default_factory=dict)
    requires: dict[str, Any] = field(default_factory=dict)   # {material, colour, nozzle, tags}
    needs: dict[str, Any] = field(default_factory=dict)      # filament per copy: {mm, objects: {name: mm}, size}


@dataclass(frozen=True)
class Run(Record):
    """One copy on one printer."""

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
    objects: list[str] = field(default_factory=list)   # only these objects (copies) of the plate; [] = all
    skipped: list[str] = field(default_factory=list)   # objects dropped from the plate while it printed
    replaces: int | None = None                        # the run whose skipped objects this one makes again
    spool_id: int | None = None                        # the spool it printed from
    used_g: float = 0.0                                # filament deducted from that spool so far


@dataclass(frozen=True)
class Spool(Record):
    """A spool of filament: what it is, how much is left and what it cost (from printloop's store or Spoolman's)."""

    id: int
    material: str
    brand: str
    colour: str
    diameter: float      # mm
    density: float       # g/cm³
    lot: str
    initial_g: float
    remaining_g: float
    cost_per_kg: float
    printer: str | None = None   # the printer it is loaded on


@dataclass(frozen=True)
class Event(Record):
    """A logged event."""

    id: int
    job_id: int | None
    run_id: int | None
    printer: str | None
    t: float
    kind: str
    message: str
    data: dict[str, Any]
    actor: str = "unknown"


@dataclass(frozen=True)
class LayerCheck(Record):
    """The stored verdict of one layer."""

    id: int
    run_id: int
    layer: int
    ok: bool
    verdict: str
    figures: dict[str, Any]
    image_path: str | None
    annotated_path: str | None
    t: float


@dataclass(frozen=True)
class TemperatureSample(Record):
    """One temperature reading."""

    t: float
    hotend: float
    hotend_target: float
    bed: float
    bed_target: float
