"""The real PrinterDriver: a PrinterSession over pyserial, with the camera layer check when a camera is set."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from controller.driver import DriverTemps, LayerCallback, LayerReport, RunProgress
from controller.store.records import Printer


class SessionRun:
    """A Job of the link layer seen as a RunHandle."""

    def __init__(self, job: Any) -> None:
        """Wrap a controller.job.Job."""
        self.job = job

    def progress(self) -> RunProgress:
        """Map JobProgress to RunProgress."""
        p = self.job.progress()
        return RunProgress(p.state, int(p.layer), int(p.layer_count), float(p.percent), p.reason or "")

    def pause(self) -> None:
        """Pause the job."""
        self.job.pause()

    def resume(self) -> None:
        """Resume the job."""
        self.job.resume()

    def cancel(self) -> None:
        """Cancel the job."""
        self.job.cancel()


class SessionDriver:
    """Drives one printer through controller.session.PrinterSession."""

    def __init__(self, printer: Printer) -> None:
        """Remember the printer's port, baud, camera and failure policy; nothing is opened yet."""
        self.printer = printer
        self.session: Any = None

    def connect(self) -> None:
        """Open the serial link and wait for the firmware to answer."""
        from controller.session import PrinterSession

        if self.session is not None:
            self.session.close()
        self.session = PrinterSession(self.printer.port, baud=self.printer.baud)
        self.session.connect()

    def close(self) -> None:
        """Close the link if open."""
        if self.session is not None:
            self.session.close()
            self.session = None

    def state(self) -> str:
        """The session's state."""
        return "disconnected" if self.session is None else str(self.session.state)

    def temperatures(self) -> DriverTemps | None:
        """The session's latest temperatures."""
        t = None if self.session is None else self.session.temperatures
        if t is None:
            return None
        return DriverTemps(float(t.hotend), float(t.hotend_target or 0), float(t.bed), float(t.bed_target or 0))

    def start(self, gcode: Path, photo_dir: Path, on_layer: LayerCallback) -> SessionRun:
        """Start the job, checking each layer with the camera when the printer has one."""
        hook = None
        if self.printer.camera:
            hook = layer_hook(self.printer, gcode, photo_dir, on_layer)
        job = self.session.start_job(gcode, layer_hook=hook) if hook else self.session.start_job(gcode)
        return SessionRun(job)

    def emergency_stop(self) -> None:
        """M112."""
        if self.session is not None:
            self.session.emergency_stop()


def layer_hook(printer: Printer, gcode: Path, photo_dir: Path, on_layer: LayerCallback) -> Any:
    """Vision's per-layer check for this printer's camera, reporting each verdict to on_layer."""
    from controller.layer_check import make_layer_hook  # from the vision branch

    def report(layer: int, verdict: Any, image_path: Any = None, annotated_path: Any = None) -> None:
        ok = bool(getattr(verdict, "ok", True))
        figures = {k: v for k, v in getattr(verdict, "__dict__", {}).items()
                   if isinstance(v, (int, float, str, bool)) and k != "ok"}
        on_layer(LayerReport(layer, ok, str(getattr(verdict, "fault", None) or ("ok" if ok else "fault")),
                             figures, str(image_path) if image_path else None,
                             str(annotated_path) if annotated_path else None))

    return make_layer_hook(printer.camera, gcode, photo_dir, policy=printer.on_failure, on_verdict=report)
