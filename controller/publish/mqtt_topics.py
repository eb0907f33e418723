"""MQTT topics and payloads as pure functions and one small state mirror, with no sockets or threads.

The layout follows OctoPrint-MQTT's, one subtree per printer: `<base>/<printer>/event/<OctoPrint event>`,
retained `<base>/<printer>/progress/printing` and `<base>/<printer>/temperature/<tool0|bed>`, plus
`<base>/<printer>/state`, `…/layer` (the last layer verdict), `…/layer/photo` (its JPEG, for Home Assistant's
camera), `…/job`, and `<base>/queue` and `<base>/status` for the whole service. `Mirror` remembers the retained
state it has handed out, so a reconnect republishes it and unchanged values are not sent again.
"""
from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OCTOPRINT_EVENTS: Mapping[str, str] = {
    "connected": "Connected",
    "error": "Error",
    "firmware_error": "Error",
    "job_started": "PrintStarted",
    "paused": "PrintPaused",
    "resumed": "PrintResumed",
    "completed": "PrintDone",
    "cancelled": "PrintCancelled",
    "failed": "PrintFailed",
    "layer": "ZChange",
}
"""Printer session kinds and the OctoPrint event each is published as (OctoPrint's own names)."""
STATE_CHANGED = "PrinterStateChanged"
"""The OctoPrint event published when the service's state of a printer changes."""

OCTOPRINT_STATE_TEXT: Mapping[str, str] = {
    "idle": "Operational", "printing": "Printing", "paused": "Paused", "awaiting_clear": "Operational",
    "needs_attention": "Error", "error": "Error", "offline": "Offline",
}
"""The state strings OctoPrint shows, for PrinterStateChanged's `state_string`."""

HEATERS = ("tool0", "bed")
ONLINE, OFFLINE = "online", "offline"


@dataclass(frozen=True)
class Message:
    """One MQTT publication: topic, payload bytes, retained or not, QoS."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0


def encode(payload: Any) -> bytes:
    """JSON bytes, compact; anything JSON does not know (paths, enums) becomes its string."""
    return json.dumps(payload, separators=(",", ":"), default=str).encode()


def object_id(*parts: str) -> str:
    """A Home Assistant object id: the parts joined by '_', with anything but letters, digits, '_' and '-' as
    '_' (printer names may hold '.', topic roots '/')."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", "_".join(parts))


@dataclass(frozen=True)
class Topics:
    """Every topic name printloop uses, from the base topic and Home Assistant's discovery prefix."""

    base: str = "printloop"
    discovery_prefix: str = "homeassistant"

    @property
    def status(self) -> str:
        """The service's retained online/offline (the connection's last will)."""
        return f"{self.base}/status"

    @property
    def queue(self) -> str:
        """The queue of the whole service."""
        return f"{self.base}/queue"

    @property
    def commands(self) -> str:
        """The subscription that takes every printer's commands."""
        return f"{self.base}/+/command"

    def printer(self, name: str, *parts: str) -> str:
        """A topic under one printer."""
        return "/".join((self.base, name, *parts))

    def event(self, name: str, event: str) -> str:
        """`<base>/<printer>/event/<OctoPrint event name>`."""
        return self.printer(name, "event", event)

    def progress(self, name: str) -> str:
        """Retained print progress, as OctoPrint-MQTT names it."""
        return self.printer(name, "progress", "printing")

    def temperature(self, name: str, heater: str) -> str:
        """Retained `{"actual", "target"}` of one heater."""
        return self.printer(name, "temperature", heater)

    def command_printer(self, topic: str) -> str | None:
        """The printer a command topic names, or None when the topic is not `<base>/<printer>/command`."""
        prefix = self.base + "/"
        if not topic.startswith(prefix) or not topic.endswith("/command"):
            return None
        name = topic[len(prefix):-len("/command")]
        return name if name and "/" not in name else None

    def discovery(self, component: str, unique_id: str) -> str:
        """Where Home Assistant looks for an entity's config."""
        return f"{self.discovery_prefix}/{component}/{unique_id}/config"


def event_payload(kind: str, name: str, printer: str, message: str, t: float,
                  data: Mapping[str, Any]) -> dict[str, Any]:
    """OctoPrint-MQTT's event body: `_event`, `_timestamp`, then what the event carries."""
    body: dict[str, Any] = {"_event": name, "_timestamp": int(t), "printer": printer, "kind": kind,
                            "message": message}
    if kind == "layer":
        body["new"] = data.get("z")
    body.update({k: v for k, v in data.items() if k not in body})
    return body


def progress_payload(state: str, percent: float, layer: int, layer_count: int, path: str | None,
                     elapsed_s: float | None, time_left_s: float | None) -> dict[str, Any]:
    """The retained progress: `progress` 0-100 as OctoPrint-MQTT sends it, with layers and time left."""
    return {"progress": max(0, min(100, int(percent))), "percent": round(float(percent), 1), "state": state,
            "layer": int(layer), "layer_count": int(layer_count), "location": "local", "path": path,
            "printTime": None if elapsed_s is None else int(elapsed_s),
            "printTimeLeft": None if time_left_s is None else int(time_left_s),
            "time_left_s": None if time_left_s is None else int(time_left_s)}


def layer_payload(layer: int, ok: bool, verdict: str, photo_url: str | None, **extra: Any) -> dict[str, Any]:
    """The last layer verdict with the absolute URL of its photo."""
    return {"layer": int(layer), "ok": bool(ok), "verdict": verdict, "photo_url": photo_url, **extra}


def photo_url(public_url: str, check_id: int, kind: str = "photo") -> str:
    """The service's absolute URL of a layer check's photo (the API asks for a key there as everywhere)."""
    return f"{public_url.rstrip('/')}/api/v1/layer-checks/{check_id}/image?kind={kind}"


def state_payload(state: str, message: str) -> dict[str, Any]:
    """The retained state of a printer, with OctoPrint's text for it."""
    return {"state": state, "text": OCTOPRINT_STATE_TEXT.get(state, state.replace("_", " ").title()),
            "message": message}


class Mirror:
    """The retained state last handed out, per topic, and the temperature rate limit (thread-safe)."""

    def __init__(self, topics: Topics, temperature_interval_s: float = 1.0) -> None:
        """Empty; temperatures of one heater go out at most once per `temperature_interval_s`."""
        self.topics = topics
        self.temperature_interval_s = temperature_interval_s
        self._retained: dict[str, bytes] = {}
        self._temp_sent: dict[tuple[str, str], tuple[float, float, float]] = {}  # (t, actual, target)
        self._temp_pending: dict[tuple[str, str], tuple[float, float]] = {}  # held back: (actual, target)
        self._lock = threading.Lock()

    def retain(self, topic: str, payload: Any) -> list[Message]:
        """A retained message for `topic`, or nothing when the broker already holds this payload."""
        data = payload if isinstance(payload, bytes) else encode(payload)
        with self._lock:
            if self._retained.get(topic) == data:
                return []
            self._retained[topic] = data
        return [Message(topic, data, retain=True, qos=1)]

    def forget(self, prefix: str) -> list[Message]:
        """Empty retained messages that delete what is held under `prefix` (a removed printer's subtree)."""
        with self._lock:
            gone = [t for t in self._retained if t.startswith(prefix)]
            for t in gone:
                del self._retained[t]
            for key in [k for k in self._temp_sent if self.topics.printer(k[0]).startswith(prefix)]:
                self._temp_sent.pop(key, None)
                self._temp_pending.pop(key, None)
        return [Message(t, b"", retain=True, qos=1) for t in gone]

    def retained(self) -> list[Message]:
        """Everything retained so far, to publish again after a reconnect (a restarted broker forgot it)."""
        with self._lock:
            return [Message(t, p, retain=True, qos=1) for t, p in self._retained.items()]

    def temperatures(self, printer: str, data: Mapping[str, Any], now: float) -> list[Message]:
        """Retained `{"actual", "target"}` per heater when it changed (by 0.1 °C or a new target), at most once
        per interval unless the target moved; a reading held back goes out with `flush_temperatures`."""
        out: list[Message] = []
        for heater in HEATERS:
            reading = data.get(heater)
            if not isinstance(reading, Mapping):
                continue
            actual = round(float(reading.get("actual") or 0.0), 1)
            target = round(float(reading.get("target") or 0.0), 1)
            out += self._temperature(printer, heater, actual, target, now)
        return out

    def flush_temperatures(self, now: float) -> list[Message]:
        """The readings held back by the rate limit whose interval has passed (so the last one is never lost)."""
        with self._lock:
            pending = list(self._temp_pending.items())
        out: list[Message] = []
        for (printer, heater), (actual, target) in pending:
            out += self._temperature(printer, heater, actual, target, now)
        return out

    def _temperature(self, printer: str, heater: str, actual: float, target: float, now: float) -> list[Message]:
        """One heater's reading through the rate limit."""
        key = (printer, heater)
        with self._lock:
            last = self._temp_sent.get(key)
            if last is not None:
                t_last, a_last, g_last = last
                if (actual, target) == (a_last, g_last):
                    self._temp_pending.pop(key, None)
                    return []
                if target == g_last and now - t_last < self.temperature_interval_s:
                    self._temp_pending[key] = (actual, target)
                    return []
            self._temp_sent[key] = (now, actual, target)
            self._temp_pending.pop(key, None)
        return self.retain(self.topics.temperature(printer, heater), {"actual": actual, "target": target})
