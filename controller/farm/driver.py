"""The small typed interface the queue drives printers through, so fleet logic does not depend on transports."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class DriverTemps:
    """Temperatures in °C."""

    hotend: float
    hotend_target: float
    bed: float
    bed_target: float


@dataclass(frozen=True)
class LinkCounts:
    """What the host wrote on a printer's link since it connected (resends included)."""

    lines_sent: int
    bytes_sent: int


@dataclass(frozen=True)
class RunProgress:
    """How far a print on one printer is; state is running|paused|completed|cancelled|failed."""

    state: str
    layer: int
    layer_count: int
    percent: float
    reason: str = ""
    bytes_sent: int = 0
    elapsed_s: float = 0.0
    time_left_s: float | None = None   # from the job plan and the progress through it
    estimate_s: float | None = None    # the whole print, as planned (the file's own figure when it has one)
    line: int = 0                      # commands of the plan the firmware has acknowledged
    skipped: tuple[str, ...] = ()      # objects (copies) of the plate dropped while printing


@dataclass(frozen=True)
class LayerReport:
    """The camera's verdict on one finished layer; ok=False means vision caught a fault."""

    layer: int
    ok: bool
    verdict: str
    figures: dict[str, Any] = field(default_factory=dict)
    image_path: str | None = None
    annotated_path: str | None = None


LayerCallback = Callable[[LayerReport], None]


class RunHandle(Protocol):
    """A print in progress on one printer."""

    def progress(self) -> RunProgress:
        """Current progress snapshot."""
        ...

    def pause(self) -> None:
        """Pause at the next safe point."""
        ...

    def resume(self) -> None:
        """Resume a paused print."""
        ...

    def cancel(self) -> None:
        """Stop the print and make the printer safe."""
        ...


class PrinterDriver(Protocol):
    """One printer as the fleet sees it."""

    def connect(self) -> None:
        """Open the link; raises ControllerError if the printer does not answer."""
        ...

    def close(self) -> None:
        """Close the link."""
        ...

    def state(self) -> str:
        """disconnected|idle|printing|paused|error."""
        ...

    def temperatures(self) -> DriverTemps | None:
        """Latest temperatures, or None before the first report."""
        ...

    def start(self, gcode: Path, photo_dir: Path, on_layer: LayerCallback, objects: Sequence[str] = ()
              ) -> RunHandle:
        """Start streaming a G-code file (only the labelled `objects` of its plate when given); on_layer is
        called after each checked layer (from any thread)."""
        ...

    def emergency_stop(self) -> None:
        """M112: stop everything now."""
        ...


@runtime_checkable
class CountingDriver(Protocol):
    """A driver that can say how much it wrote on its link (the serial one can; test fakes need not)."""

    def link_counts(self) -> LinkCounts | None:
        """Lines and bytes written since connecting, or None when not connected."""
        ...


DriverFactory = Callable[[Any], PrinterDriver]
