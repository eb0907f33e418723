"""The MTConnect agent: printers' events from the bus become numbered observations of their MTConnect devices.

Everything a printer reports (temperatures, layers, pauses, errors) and every committed history record (a copy
started, finished or failed by vision, a printer's state) is mapped onto the data items of
`mtconnect_model`, stamped with the agent's wall clock and appended to the circular buffer; unchanged values are
not repeated. The documents are built on request from the buffer. Printers added later get their device (and
a new deviceModelChangeTime) the next time the agent hears of them or is asked.
"""
from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from controller.events import LOGGED, Event
from controller.farm.service import LabService
from controller.publish import mtconnect_model as model
from controller.publish.mtconnect_buffer import UNAVAILABLE, ObservationBuffer
from controller.store import jobs, printers, tallies

EXECUTION_OF_STATE = {"offline": UNAVAILABLE, "idle": "READY", "printing": "ACTIVE", "paused": "FEED_HOLD",
                      "awaiting_clear": "PROGRAM_COMPLETED", "needs_attention": "INTERRUPTED", "error": "STOPPED"}
"""A printer's state (see `controller.store.records`) as MTConnect's EXECUTION."""
_THERMAL = re.compile(r"thermal|runaway|heating failed|not heating|mintemp|maxtemp", re.IGNORECASE)
_HEATING_FAILED = re.compile(r"heating failed|not heating", re.IGNORECASE)
_LINK = re.compile(r"lost|closed|no answer|disconnect", re.IGNORECASE)
DEFAULT_COUNT = 100


class NoDevice(LookupError):
    """A request named a device the agent does not have (the standard's NO_DEVICE)."""


class MTConnectAgent:
    """One agent for the whole service (see module docstring)."""

    def __init__(self, service: LabService, clock: Callable[[], float] = time.time,
                 sender: str | None = None) -> None:
        """Model every stored printer, mark every data item UNAVAILABLE, then listen to the bus."""
        self.service, self.clock = service, clock
        self.buffer = ObservationBuffer(service.config.mtconnect.buffer_size)
        self.sender = sender or socket.gethostname() or "printloop"
        self.instance_id = int(clock())
        self._printers: tuple[str, ...] = ()
        self._places: dict[str, model.ItemPlace] = {}
        self._model_changed = clock()
        self._layer: dict[str, int] = {}
        self._lock = threading.Lock()
        self.refresh()
        self.subscription = service.bus.subscribe(self._on_event, name="mtconnect")

    # -- the device model ------------------------------------------------------------------------------
    def refresh(self) -> tuple[str, ...]:
        """Give every printer in the store a device (new ones start UNAVAILABLE); returns the printer names."""
        names = tuple(p.name for p in printers.list_printers(self.service.store))
        with self._lock:
            if names == self._printers:
                return names
            new = [n for n in names if n not in self._printers]
            self._printers, self._model_changed = names, self.clock()
            for name in new:
                where = model.places(name)
                self._places.update(where)
                now = self.clock()
                for iid, place in where.items():
                    cond = place.item.category == "CONDITION"
                    self.buffer.add(iid, now, "" if cond else UNAVAILABLE, UNAVAILABLE if cond else None)
        for name in new:
            self._from_store(name)
        return names

    def info(self) -> model.AgentInfo:
        """What the headers say about this agent."""
        return model.AgentInfo(self.instance_id, self.sender, self.buffer.capacity, self._model_changed)

    def _from_store(self, name: str) -> None:
        """A new device's state and part counts as the store knows them."""
        try:
            state = printers.get_printer(self.service.store, name).state
        except Exception:  # noqa: BLE001 - removed meanwhile
            return
        self._state(name, state)
        self._part_counts(name)

    # -- observations ------------------------------------------------------------------------------------
    def _set(self, printer: str, role: str, value: object, level: str | None = None,
             code: str | None = None) -> None:
        """Observe a value of one of a printer's data items."""
        self.buffer.add(model.item_id(printer, role), self.clock(), str(value), level, code)

    def _condition(self, printer: str, role: str, level: str, message: str = "", code: str | None = None) -> None:
        """Observe a condition (NORMAL, WARNING, FAULT)."""
        self._set(printer, role, message if level != "NORMAL" else "", level, code if level != "NORMAL" else None)

    def _state(self, printer: str, state: str) -> None:
        """A printer's stored state: its availability and execution (and the camera's fault cleared when idle)."""
        self._set(printer, "avail", "UNAVAILABLE" if state == "offline" else "AVAILABLE")
        self._set(printer, "execution", EXECUTION_OF_STATE.get(state, UNAVAILABLE))
        if state == "idle":
            self._condition(printer, "vision", "NORMAL")

    def _part_counts(self, printer: str) -> None:
        """Good (completed) and bad (failed) copies of a printer, counted in the store."""
        counts = tallies.runs_by_printer_and_state(self.service.store)
        self._set(printer, "parts_good", counts.get((printer, "completed"), 0))
        self._set(printer, "parts_bad", counts.get((printer, "failed"), 0))

    def _on_event(self, event: Event) -> None:
        """Map one bus event onto the observations of its printer's device."""
        name = event.printer
        if name is None:
            return
        if model.item_id(name, "avail") not in self._places and name not in self.refresh():
            return
        if event.kind == LOGGED:
            self._on_logged(name, event.data["event"])
        else:
            self._on_printer(name, event.kind, event.message, event.data)

    def _on_printer(self, name: str, kind: str, message: str, data: Any) -> None:
        """What a printer session published."""
        if kind == "temperature":
            for key, heater in (("tool0", "tool0"), ("bed", "bed")):
                reading = data.get(heater) or {}
                if reading.get("actual") is not None:
                    self._set(name, f"{key}_temp", round(float(reading["actual"]), 1))
                if reading.get("target") is not None:
                    self._set(name, f"{key}_target", round(float(reading["target"]), 1))
            self._progress(name)
        elif kind == "connected":
            self._set(name, "avail", "AVAILABLE")
            self._set(name, "estop", "ARMED")
            for role in ("system", "comms", "tool0_thermal", "bed_thermal"):
                self._condition(name, role, "NORMAL")
        elif kind == "job_started":
            self._set(name, "execution", "ACTIVE")
            self._set(name, "line", 0)
            self._layer[name] = -1
        elif kind == "layer":
            self._to_layer(name, int(data.get("layer", 0)))
            if data.get("z") is not None:
                self._set(name, "z_pos", round(float(data["z"]), 3))
            if data.get("command") is not None:
                self._set(name, "line", int(data["command"]))
        elif kind in ("paused", "resumed", "completed", "cancelled", "failed"):
            execution = {"paused": "FEED_HOLD", "resumed": "ACTIVE", "completed": "PROGRAM_COMPLETED",
                         "cancelled": "STOPPED", "failed": "INTERRUPTED"}[kind]
            self._progress(name)
            self._set(name, "execution", execution)
            if data.get("line") is not None:
                self._set(name, "line", int(data["line"]))
        elif kind == "error":
            self._on_error(name, message)
        elif kind in ("firmware_error", "reset"):
            self._condition(name, "system", "WARNING", message, kind.upper())
        elif kind == "verdict":
            ok = data.get("ok")
            if ok is False:
                self._vision_fault(name, data.get("layer"), str(data.get("verdict", "fault")))
            elif ok is True:
                self._condition(name, "vision", "NORMAL")

    def _progress(self, name: str) -> None:
        """The running copy's layer, layer count and acknowledged line as its driver reports them (printers
        without a camera publish no layer events; temperature reports come every few seconds)."""
        planned = self.service.fleet.planned(name)
        if planned is not None:
            self._to_layer(name, planned.layer)
            if planned.line:
                self._set(name, "line", planned.line)
            if planned.layer_count:
                self._set(name, "layers", planned.layer_count)

    def _to_layer(self, name: str, layer: int) -> None:
        """Observe the layer being printed; never backwards within a copy (two sources report it)."""
        if layer >= 0 and layer > self._layer.get(name, -1):
            self._layer[name] = layer
            self._set(name, "layer", layer)

    def _on_error(self, name: str, message: str) -> None:
        """A printer error: a thermal fault on its heater, a lost link, an emergency stop, or a system fault."""
        if _THERMAL.search(message):
            role = "bed_thermal" if "bed" in message.lower() else "tool0_thermal"
            code = "HEATING_FAILED" if _HEATING_FAILED.search(message) else "THERMAL_RUNAWAY"
            self._condition(name, role, "FAULT", message, code)
        elif "emergency stop" in message.lower():
            self._set(name, "estop", "TRIGGERED")
            self._condition(name, "system", "FAULT", message, "EMERGENCY_STOP")
        elif _LINK.search(message):
            self._condition(name, "comms", "FAULT", message, "LINK")
        else:
            self._condition(name, "system", "FAULT", message, "HALTED" if "halt" in message.lower() else "ERROR")
        self._set(name, "execution", "STOPPED")

    def _vision_fault(self, name: str, layer: object, verdict: str) -> None:
        """The camera caught a fault: the vision condition and the part's status."""
        self._condition(name, "vision", "FAULT", f"layer {layer}: {verdict}", verdict.upper())
        self._set(name, "part_status", "FAIL")

    def _on_logged(self, name: str, record: Any) -> None:
        """A committed history record of this printer."""
        kind = record.kind
        if kind == "printer":
            try:
                self._state(name, printers.get_printer(self.service.store, name).state)
            except Exception:  # noqa: BLE001 - removed meanwhile
                return
        elif kind == "started" and record.job_id is not None:
            job = jobs.get_job(self.service.store, record.job_id)
            self._set(name, "program", job.name)
            if job.layer_count:
                self._set(name, "layers", job.layer_count)
            self._condition(name, "vision", "NORMAL")
        elif kind == "completed":
            self._set(name, "part_status", "PASS")
            self._part_counts(name)
        elif kind == "failed":
            self._set(name, "part_status", "FAIL")
            self._part_counts(name)
        elif kind == "vision_failure":
            data = record.data or {}
            self._vision_fault(name, data.get("layer"), str(data.get("verdict", "fault")))
            self._part_counts(name)

    # -- documents ---------------------------------------------------------------------------------------
    def _devices(self, device: str | None) -> tuple[tuple[str, ...], set[str] | None]:
        """The printers a request is about (all, or the one named) and their data item ids (None for all)."""
        names = self.refresh()
        if device is None:
            return names, None
        if device not in names:
            raise NoDevice(f"no device named {device!r}; the devices are {', '.join(names) or 'none'}")
        with self._lock:
            return (device,), {i for i, place in self._places.items() if place.printer == device}

    def probe(self, device: str | None = None) -> bytes:
        """MTConnectDevices: the device model of every printer (or of one)."""
        names, _items = self._devices(device)
        return model.devices_document(names, self.info(), self.clock())

    def current(self, device: str | None = None) -> bytes:
        """MTConnectStreams with the latest observation of every data item (of every printer, or of one)."""
        names, items = self._devices(device)
        observations, window = self.buffer.latest(items)
        return model.streams_document(observations, self._places, names, window, self.info(), self.clock())

    def sample(self, start: int | None, count: int | None = None, device: str | None = None) -> bytes:
        """MTConnectStreams with up to `count` observations (default 100, or the whole buffer if smaller) from
        sequence `start` on, of every printer or of one; raises SequenceOutOfRange (the standard's
        OUT_OF_RANGE) outside the buffer."""
        names, items = self._devices(device)
        n = min(DEFAULT_COUNT, self.buffer.capacity) if count is None else count
        observations, window, nxt = self.buffer.sample(start, n, items)
        return model.streams_document(observations, self._places, names, window, self.info(), self.clock(), nxt)

    def assets(self) -> bytes:
        """MTConnectAssets (empty: printloop has no MTConnect assets yet)."""
        return model.assets_document(self.info(), self.clock())

    def error(self, code: str, message: str) -> bytes:
        """MTConnectError with one error."""
        return model.error_document(code, message, self.info(), self.clock())

    def close(self) -> None:
        """Stop listening to the bus."""
        self.service.bus.unsubscribe(self.subscription)
