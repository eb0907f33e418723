"""When a maintenance task is due: a pure rule from a task's intervals and the printer's counters since the task was
last done. A task is due once any counter reaches its interval (e.g. 200 print hours, or 3 failed copies)."""
from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from controller.config import MaintenanceTaskConfig
from controller.store.records import Record
from controller.store.upkeep import COUNTERS, Usage


@dataclass(frozen=True)
class TaskState(Record):
    """A task of a printer: its intervals, when it was last done, the counters since, which are at or over their
    interval (`due_by`, empty when it is not due) and how far along the nearest one is (1.0 = due)."""

    task: str
    every: dict[str, float]
    last_done: float | None
    used: Usage
    due_by: list[str] = field(default_factory=list)
    fraction: float = 0.0

    @property
    def due(self) -> bool:
        """Is any interval reached?"""
        return bool(self.due_by)

    def reason(self) -> str:
        """Why it is due, in words: `412.0 of every 200 hours`."""
        return ", ".join(f"{self.used.value(c):.1f} of every {self.every[c]:g} {c}" for c in self.due_by)


def task_state(task: MaintenanceTaskConfig, used: Usage, last_done: float | None) -> TaskState:
    """The state of one task given the counters since it was last done."""
    every = task.limits()
    ratios = {c: used.value(c) / every[c] for c in COUNTERS if c in every}
    due_by = [c for c, r in ratios.items() if r >= 1.0]
    return TaskState(task.task, every, last_done, used, due_by, max(ratios.values(), default=0.0))


def newly_due(states: Iterable[TaskState], announced: Collection[str]) -> list[TaskState]:
    """Tasks due whose being due was not told yet (since they were last done)."""
    return [s for s in states if s.due and s.task not in announced]
