"""The real PrinterDriver: a PrinterSession over pyserial, with the camera layer check when a camera is set."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from controller.events import EventBus
from controller.farm.driver import DriverTemps, LayerCallback, LayerReport, LinkCounts, RunProgress
from controller.store.records import Printer


class SessionRun:
    """A Job of the link layer seen as a RunHandle."""

    def __init__(self, job: Any) -> None:
        """Wrap a controller.printer.job.Job."""
        self.job = job

    def progress(self) -> RunProgress:
        """Map JobProgress to RunProgress."""
        p = self.job.progress()
        return RunProgress(p.state, int(p.layer), int(p.layer_count), float(p.percent), p.reason or "",
                           int(p.bytes_sent), float(p.elapsed_s), p.eta_s, float(self.job.plan.estimate_s),
                           int(p.line), tuple(p.skipped))

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
    """Drives one printer through controller.printer.session.PrinterSession."""

    def __init__(self, printer: Printer, bus: EventBus | None = None) -> None:
        """Remember the printer's port, baud, camera and failure policy; nothing is opened yet."""
        self.printer = printer
        self.bus = bus
        self.session: Any = None

    def connect(self) -> None:
        """Open the serial link and wait for the firmware to answer."""
        from controller.printer.session import PrinterSession

        if self.session is not None:
            self.session.close()
        self.session = PrinterSession(self.printer.port, baud=self.printer.baud, bus=self.bus,
                                      name=self.printer.name)
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

    def link_counts(self) -> LinkCounts | None:
        """Lines and bytes written on the open link, or None when closed."""
        session = self.session
        if session is None:
            return None
        lines, sent = session.link_counts()
        return LinkCounts(lines, sent)

    def start(self, gcode: Path, photo_dir: Path, on_layer: LayerCallback, objects: Sequence[str] = ()
              ) -> SessionRun:
        """Start the job (only `objects` of the plate when given), checking each layer with the camera when the
        printer has one."""
        from slicing.job_plan import plan_file

        job_plan = plan_file(gcode)
        hook = layer_hook(self.printer, job_plan, photo_dir, self._publishing(on_layer), objects) \
            if self.printer.camera else None
        if hook is not None:
            hook.photograph_bed()  # before anything is printed: the bed this run must leave behind
        job = self.session.start_job(job_plan, layer_hook=hook, name=gcode.name, only_objects=objects)
        return SessionRun(job)

    def _publishing(self, on_layer: LayerCallback) -> LayerCallback:
        """Hand each layer's verdict to the fleet, then publish it on the bus (kind "verdict")."""
        def report(layer: LayerReport) -> None:
            on_layer(layer)
            if self.bus is not None:
                self.bus.emit("verdict", f"layer {layer.layer}: {layer.verdict}",
                              {"layer": layer.layer, "ok": layer.ok, "verdict": layer.verdict,
                               "message": str(layer.figures.get("message", "")), "photo": layer.image_path},
                              printer=self.printer.name)
        return report

    def emergency_stop(self) -> None:
        """M112."""
        if self.session is not None:
            self.session.emergency_stop()


def verdict_report(verdict: Any, photo_dir: Path) -> LayerReport:
    """A vision Verdict and the files LayerCheck wrote for it, as the fleet's LayerReport."""
    stem = photo_dir / f"layer_{int(verdict.layer):04d}"
    photo, annotated = stem.with_suffix(".jpg"), Path(str(stem) + "_check.jpg")
    figures = dict(verdict.to_dict())
    figures.pop("layer", None)
    return LayerReport(int(verdict.layer), not verdict.failed, str(verdict.status), figures,
                       str(photo) if photo.exists() else None, str(annotated) if annotated.exists() else None)


def layer_hook(printer: Printer, job_plan: Any, photo_dir: Path, on_layer: LayerCallback,
               objects: Sequence[str] = ()) -> Any:
    """Vision's per-layer check on this printer's camera, with the printer's policy, reporting to on_layer.

    Thresholds come from the `[vision]` table of the printer's profile; the bed registration is kept per
    printer beside the photo folders so it is found again for the next job.
    """
    from controller.printer.layer_check import LayerCheck
    from vision.camera import open_camera
    from vision.config import load_config

    config = load_config(printer.profile).replace(policy=printer.on_failure)
    camera = open_camera(printer.camera or "")
    registration = photo_dir.parent.parent / f"registration-{printer.name}.json"
    return LayerCheck(job_plan.layer_paths(), camera, photo_dir, config, registration_path=registration,
                      on_verdict=lambda v: on_layer(verdict_report(v, photo_dir)),
                      object_names=[o.name for o in job_plan.objects],
                      left_out=[o.name for o in job_plan.objects if objects and o.name not in objects])
