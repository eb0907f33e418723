"""What the OPC UA machines show, as plain values per printer: kept from bus events on the bus's thread, taken
by the server's loop when it wakes. Pure: no OPC UA and no IO here, so the mapping is tested on its own.

Keys (the variables of a machine): nozzle, nozzle_target, bed, bed_target (°C); state (printloop's printer state),
state_message, item_state (Machinery's MachineryItemState: Executing, NotExecuting, OutOfService, NotAvailable);
program, program_state (MachineTool's production states: Initializing, Running, Interrupted, Ended, Aborted),
layer, layers; job, runs_planned, runs_completed, good_parts; material, filament_mm; manufacturer, model,
software_revision, serial_number.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.events import Event

ITEM_STATES = {
    "printing": "Executing", "paused": "NotExecuting", "idle": "NotExecuting", "awaiting_clear": "NotExecuting",
    "needs_attention": "OutOfService", "error": "OutOfService", "offline": "NotAvailable",
}
"""printloop's printer states as Machinery's MachineryItemState (OPC 40001-1)."""
PROGRAM_STATES = {
    "job_started": "Running", "resumed": "Running", "paused": "Interrupted", "completed": "Ended",
    "cancelled": "Aborted", "failed": "Aborted",
}
"""A job's events as MachineTool's production program states (OPC 40501-1 ProductionStateMachineType)."""


@dataclass(frozen=True)
class LayerAlarm:
    """A failed layer check, to be raised as an OPC UA event on the printer's machine."""

    printer: str
    layer: int
    verdict: str
    message: str
    t: float


def values_from_event(event: Event) -> dict[str, Any]:
    """The machine values a printer event changes (empty when it changes none)."""
    data: Mapping[str, Any] = event.data
    if event.kind == "temperature":
        out: dict[str, Any] = {}
        for heater, key in (("tool0", "nozzle"), ("bed", "bed")):
            reading = data.get(heater) or {}
            if reading.get("actual") is not None:
                out[key] = float(reading["actual"])
            if reading.get("target") is not None:
                out[f"{key}_target"] = float(reading["target"])
        return out
    if event.kind == "layer" and "layer" in data:
        return {"layer": int(data["layer"])}
    if event.kind == "connected":
        firmware = data.get("firmware") or {}
        return {k: str(firmware[f]) for k, f in (("model", "MACHINE_TYPE"), ("software_revision", "FIRMWARE_NAME"),
                                                 ("serial_number", "UUID")) if firmware.get(f)}
    if event.kind in PROGRAM_STATES:
        out = {"program_state": PROGRAM_STATES[event.kind]}
        if event.kind == "job_started":
            out["layer"] = 0
        return out
    return {}


def layer_alarm(event: Event) -> LayerAlarm | None:
    """The alarm of a failed layer verdict (None for a layer that passed or any other event)."""
    if event.kind != "verdict" or event.printer is None or event.data.get("ok", True):
        return None
    layer = int(event.data.get("layer", 0))
    verdict = str(event.data.get("verdict", "failed"))
    detail = str(event.data.get("message") or "")
    message = f"layer {layer} failed the camera check: {verdict}" + (f" ({detail})" if detail else "")
    return LayerAlarm(event.printer, layer, verdict, message, event.t)


class MachineValues:
    """The latest value of every key per printer, what changed since the last `take`, and pending alarms."""

    def __init__(self, max_alarms: int = 1000) -> None:
        """Empty; at most `max_alarms` alarms wait for the server (the oldest are dropped beyond that)."""
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, Any]] = {}
        self._dirty: dict[str, set[str]] = {}
        self._alarms: deque[LayerAlarm] = deque(maxlen=max_alarms)

    def update(self, printer: str, values: Mapping[str, Any]) -> bool:
        """Keep new values of a printer (a printer seen for the first time counts as a change); True if any."""
        with self._lock:
            known = printer in self._values
            current = self._values.setdefault(printer, {})
            changed = {k for k, v in values.items() if current.get(k, _MISSING) != v}
            current.update({k: values[k] for k in changed})
            if changed or not known:
                self._dirty.setdefault(printer, set()).update(changed)
            return bool(changed) or not known

    def alarm(self, alarm: LayerAlarm) -> None:
        """Queue an alarm for the server."""
        with self._lock:
            self._values.setdefault(alarm.printer, {})
            self._dirty.setdefault(alarm.printer, set())
            self._alarms.append(alarm)

    def get(self, printer: str) -> dict[str, Any]:
        """A copy of a printer's values."""
        with self._lock:
            return dict(self._values.get(printer, {}))

    def printers(self) -> list[str]:
        """Every printer seen, in the order first seen."""
        with self._lock:
            return list(self._values)

    def take(self) -> tuple[dict[str, dict[str, Any]], list[LayerAlarm]]:
        """The changed values per printer and the alarms since the last call (both emptied)."""
        with self._lock:
            changed = {p: {k: self._values[p][k] for k in keys} for p, keys in self._dirty.items()}
            alarms = list(self._alarms)
            self._dirty.clear()
            self._alarms.clear()
            return changed, alarms

    def everything(self) -> dict[str, dict[str, Any]]:
        """All values of all printers (for a machine built after its values arrived)."""
        with self._lock:
            return {p: dict(v) for p, v in self._values.items()}


_MISSING = object()
