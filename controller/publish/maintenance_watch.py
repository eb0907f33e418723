"""Maintenance due: a printer's counters and task states (what the API and the dashboard show), and a subscriber
of the bus that, whenever a copy ends on a printer, records in the history that one of its tasks became due
(`maintenance_due`, once until the task is done again), which `[[notify]]` and `[[webhooks]]` route like any event."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from controller.config import ServiceConfig
from controller.events import LOGGED, EventBus, Subscription
from controller.events import Event as BusEvent
from controller.publish.maintenance_rules import TaskState, newly_due, task_state
from controller.store import Store, audit, history, upkeep
from controller.store.records import Record
from controller.store.upkeep import Usage, tally

DUE, DONE = "maintenance_due", "maintenance_done"      # history kinds: a task became due; a task was done
ACTOR = "service:maintenance"
ENDED = frozenset({"completed", "failed", "cancelled", "vision_failure"})
"""History kinds that end a copy on a printer (its counters move)."""
_RECOUNT = "maintenance_recount"   # offered to the watch alone when it starts


@dataclass(frozen=True)
class Upkeep(Record):
    """A printer's maintenance: when it was last serviced (any task), its counters since, and each task's state."""

    printer: str
    last_service: float | None
    usage: Usage
    tasks: list[TaskState]


def upkeep_of(store: Store, config: ServiceConfig, printer: str) -> Upkeep:
    """The counters and task states of a printer now."""
    done = upkeep.last_done(store, printer)
    tasks = config.maintenance_of(printer)
    last = max(done.values(), default=None)
    sinces = [done.get(t.task) for t in tasks] + [last]
    earliest = None if None in sinces else min(s for s in sinces if s is not None)
    uses = upkeep.run_uses(store, printer, earliest)
    states = [task_state(t, tally(uses, done.get(t.task)), done.get(t.task)) for t in tasks]
    return Upkeep(printer, last, tally(uses, last), states)


def announced(store: Store, printer: str) -> set[str]:
    """Tasks of a printer whose being due is in the history after the task was last done."""
    last_done = {str(e.data.get("task")): e.id for e in audit.list_audit(store, kind=DONE, printer=printer,
                                                                         limit=100_000)}
    return {str(e.data.get("task")) for e in audit.list_audit(store, kind=DUE, printer=printer, limit=100_000)
            if e.id > last_done.get(str(e.data.get("task")), 0)}


class MaintenanceWatch:
    """Tells the history when a configured task becomes due; start/stop with the service."""

    def __init__(self, config: ServiceConfig, bus: EventBus, store: Store,
                 clock: Callable[[], float] = time.time) -> None:
        """Wire to the config's tasks; nothing is watched before `start`."""
        self.config, self.bus, self.store, self.clock = config, bus, store, clock
        self._sub: Subscription | None = None

    def start(self) -> None:
        """Listen to the history, and count every printer once (a task may be due already)."""
        self._sub = self.bus.subscribe(self._on_event, [LOGGED, _RECOUNT], name="maintenance")
        self._sub.offer(BusEvent(_RECOUNT, "maintenance counted at start", self.clock()))

    def stop(self) -> None:
        """Stop listening."""
        if self._sub is not None:
            self.bus.unsubscribe(self._sub)
            self._sub = None

    def _on_event(self, event: BusEvent) -> None:
        """A copy ended: its printer's counters moved."""
        if event.kind == _RECOUNT:
            for p in self.config.printers:
                self.check(p.name)
            return
        record = event.data["event"]
        if record.kind in ENDED and record.printer is not None:
            self.check(record.printer)

    def check(self, printer: str) -> list[TaskState]:
        """Record `maintenance_due` for each task of the printer that is due and not told yet; returns those."""
        if not self.config.maintenance_of(printer):
            return []
        fresh = newly_due(upkeep_of(self.store, self.config, printer).tasks, announced(self.store, printer))
        for s in fresh:
            history.add_event(self.store, DUE, f"{printer}: {s.task} is due ({s.reason()})", self.clock(),
                              printer=printer, actor=ACTOR,
                              data={"task": s.task, "due_by": s.due_by, **s.used.to_dict()})
        return fresh
