"""The event bus: everything that happens on a printer or in the service is published once, as a typed event.

Subscribers (the store's history, the CLI's JSON lines, later MQTT, OPC UA, notifications) each get their own
bounded queue and thread, so a publisher — a printer's pump thread above all — never waits on one: when a
subscriber falls `capacity` events behind, its oldest events are dropped and counted. A subscriber that raises
is logged and keeps its place.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

_log = logging.getLogger(__name__)

PRINTER_KINDS = frozenset({
    "connected", "error", "reset", "resend", "resend_ignored", "poke", "echo", "firmware_error", "action",
    "job_started", "layer", "paused", "resumed", "completed", "cancelled", "failed", "verdict", "temperature",
    "object_skipped",
})
"""Kinds a printer session publishes (see `controller.printer.session`)."""
LOGGED = "logged"
"""An event committed to the history (data["event"] is the stored record, with its id)."""
LAYER_CHECKED = "layer_checked"
"""A layer check committed to the store (data["check"] is the stored LayerCheck, with its id and photo)."""


@dataclass(frozen=True)
class Event:
    """Something that happened: its kind, the printer it concerns (None for the service), words, time, data."""

    kind: str
    message: str
    t: float
    data: Mapping[str, Any] = field(default_factory=dict)
    printer: str | None = None


Handler = Callable[[Event], None]


class Subscription:
    """One subscriber's queue and thread; `dropped` counts events it lost by falling behind."""

    def __init__(self, handler: Handler, kinds: frozenset[str] | None, name: str, capacity: int) -> None:
        self.handler, self.kinds, self.name = handler, kinds, name
        self.dropped = 0
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=capacity)
        self._thread = threading.Thread(target=self._run, name=f"bus:{name}", daemon=True)
        self._thread.start()

    def offer(self, event: Event) -> None:
        """Queue an event without blocking (the oldest is dropped when the queue is full)."""
        if self.kinds is not None and event.kind not in self.kinds:
            return
        while True:
            try:
                self._queue.put_nowait(event)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued, then stop the thread."""
        while True:
            try:
                self._queue.put(None, timeout=0.05)
                break
            except queue.Full:
                if not self._thread.is_alive():
                    return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self.handler(event)
            except Exception:  # noqa: BLE001 - a broken subscriber must not stop the others
                _log.exception("event subscriber %s failed on %s", self.name, event.kind)


class EventBus:
    """Publish/subscribe of Events (see module docstring)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        """An empty bus; `clock` stamps events published with `emit`."""
        self.clock = clock
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def subscribe(self, handler: Handler, kinds: Iterable[str] | None = None, *, name: str = "subscriber",
                  capacity: int = 10_000) -> Subscription:
        """Call `handler` on its own thread for every event (of these kinds, when given)."""
        sub = Subscription(handler, frozenset(kinds) if kinds is not None else None, name, capacity)
        with self._lock:
            self._subs = [*self._subs, sub]
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop delivering to a subscriber (what it has queued is still delivered)."""
        with self._lock:
            self._subs = [s for s in self._subs if s is not sub]
        sub.close()

    def publish(self, event: Event) -> None:
        """Hand an event to every subscriber; never blocks."""
        for sub in self._subs:
            sub.offer(event)

    def emit(self, kind: str, message: str, data: Mapping[str, Any] | None = None,
             printer: str | None = None) -> Event:
        """Publish a new event stamped with the bus's clock; returns it."""
        event = Event(kind, message, self.clock(), dict(data or {}), printer)
        self.publish(event)
        return event

    def close(self) -> None:
        """Deliver what is queued and stop every subscriber."""
        with self._lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close()
