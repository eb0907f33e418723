"""Which notice (if any) a history event is: a pure table from the event's kind, data and words to the names
people subscribe to in `[[notify]]` and `[[webhooks]]`."""
from __future__ import annotations

from controller.store.records import Event

_BY_KIND = {"vision_failure": "layer_failed", "pause": "paused", "awaiting_approval": "awaiting_approval",
            "error": "printer_error", "firmware_error": "printer_error", "maintenance_due": "maintenance_due",
            "test": "test"}
_BY_PRINTER_STATE = {"awaiting_clear": "bed_waiting", "offline": "printer_offline", "error": "printer_error"}
_RUNOUT_WORDS = ("runout", "run out", "filament", "m600")


def notice_of(event: Event, job_done: bool = False) -> str | None:
    """The notice name of a history event, or None; `job_done` says a `completed` copy finished its job."""
    if event.kind == "paused":          # the printer paused itself: a runout, or why it said
        text = f"{event.message} {event.data}".lower()
        return "runout" if any(w in text for w in _RUNOUT_WORDS) else "paused"
    if event.kind == "printer":
        return _BY_PRINTER_STATE.get(str(event.data.get("state", "")))
    if event.kind == "completed":
        return "job_done" if job_done else None
    return _BY_KIND.get(event.kind)


def wants(events: list[str], printers: list[str], notice: str, printer: str | None) -> bool:
    """Does a target subscribed to `events` (and, if any, `printers`) want this notice? A test reaches everyone."""
    if notice == "test":
        return True
    if printers and printer not in printers:
        return False
    return "*" in events or notice in events
