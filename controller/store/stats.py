"""Statistics of a period, computed from plain facts about copies and printer states (no database here): yield,
failure cost, queue wait and cost per good part by printer, material, user and period, and each printer's
utilisation. Units: seconds, hours for machine time, grams, the config's currency."""
from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ENDED = ("completed", "failed", "cancelled", "interrupted")
UTILISATION = ("printing", "idle", "waiting_for_bed", "attention", "maintenance", "offline")
STATE_CATEGORY = {"printing": "printing", "idle": "idle", "awaiting_clear": "waiting_for_bed",
                  "needs_attention": "attention", "paused": "attention", "error": "attention",
                  "offline": "offline"}
"""Printer state -> utilisation category; out of rotation counts as maintenance unless the printer prints."""
PERIODS = ("day", "week", "month")
NO_USER = "(none)"   # jobs sent with a config key have no submitter


@dataclass(frozen=True)
class Filament:
    """The filament a copy was printed with: material, diameter (mm), density (g/cm³) and price per kg."""

    material: str
    diameter_mm: float
    density: float
    cost_per_kg: float

    def grams(self, e_mm: float) -> float:
        """Grams of `e_mm` of this filament: length × π(d/2)² × density (mm³ to cm³)."""
        return e_mm * math.pi * (self.diameter_mm / 2.0) ** 2 * self.density / 1000.0


@dataclass(frozen=True)
class RunFacts:
    """One copy (a run) as the statistics see it; `filament_mm` is the net E length it used (None: its G-code
    could not be read), through its last printed layer."""

    run_id: int
    job_id: int
    job_name: str
    copy_index: int
    printer: str | None
    user: str
    state: str
    rejected: bool
    created_at: float
    started_at: float | None
    finished_at: float | None
    layer: int
    failed_layer: int | None
    filament_mm: float | None
    filament: Filament

    @property
    def good(self) -> bool:
        """Completed and not rejected by an operator."""
        return self.state == "completed" and not self.rejected

    @property
    def ended(self) -> bool:
        """Started and over (completed, failed, cancelled or interrupted)."""
        return self.started_at is not None and self.finished_at is not None and self.state in ENDED

    @property
    def hours(self) -> float:
        """Printer-hours the copy took (0 until it ends)."""
        if not self.ended:
            return 0.0
        assert self.started_at is not None and self.finished_at is not None
        return max(0.0, self.finished_at - self.started_at) / 3600.0

    @property
    def grams(self) -> float:
        """Grams of filament it used (0 when its G-code is unknown)."""
        return self.filament.grams(self.filament_mm or 0.0)

    @property
    def material_cost(self) -> float:
        """What its filament cost."""
        return self.grams / 1000.0 * self.filament.cost_per_kg

    @property
    def queue_wait_s(self) -> float | None:
        """Seconds from being queued to starting (None before it starts)."""
        return None if self.started_at is None else max(0.0, self.started_at - self.created_at)


@dataclass(frozen=True)
class StateChange:
    """A printer's state from time `t` on (a printer state), or `out`/`back` of rotation."""

    printer: str
    t: float
    state: str


@dataclass(frozen=True)
class Figures:
    """The numbers of a group of copies that started in the period (yield and costs over the ended ones)."""

    started: int
    good: int
    completed: int
    failed: int
    cancelled: int
    interrupted: int
    rejected: int
    in_progress: int
    yield_: float | None
    grams: float
    failure_grams: float
    print_hours: float
    failure_hours: float
    queue_wait_s: float | None
    queue_wait_max_s: float | None
    material_cost: float
    machine_cost: float
    cost: float
    cost_per_good_part: float | None
    unknown_filament: int
    utilisation_s: dict[str, float] = field(default_factory=dict)
    utilisation: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with `yield` spelled as such."""
        d = asdict(self)
        d["yield"] = d.pop("yield_")
        if not self.utilisation_s:
            del d["utilisation_s"], d["utilisation"]
        return d


def figures(runs: Iterable[RunFacts], hourly_rate: float) -> Figures:
    """Yield (good ÷ started, started counting failed, cancelled and interrupted copies), what was used and lost
    (every ended copy that is not good), queue wait and cost per good part (material and machine time of every
    ended copy, spread over the good ones)."""
    started = [r for r in runs if r.started_at is not None]
    ended = [r for r in started if r.ended]
    lost = [r for r in ended if not r.good]
    good = sum(1 for r in ended if r.good)
    waits = [w for w in (r.queue_wait_s for r in started) if w is not None]
    material = sum(r.material_cost for r in ended)
    machine = sum(r.hours for r in ended) * hourly_rate
    count = {s: sum(1 for r in ended if r.state == s) for s in ENDED}
    return Figures(
        started=len(ended), good=good, completed=count["completed"], failed=count["failed"],
        cancelled=count["cancelled"], interrupted=count["interrupted"],
        rejected=sum(1 for r in ended if r.state == "completed" and r.rejected),
        in_progress=len(started) - len(ended), yield_=good / len(ended) if ended else None,
        grams=sum(r.grams for r in ended), failure_grams=sum(r.grams for r in lost),
        print_hours=sum(r.hours for r in ended), failure_hours=sum(r.hours for r in lost),
        queue_wait_s=sum(waits) / len(waits) if waits else None, queue_wait_max_s=max(waits) if waits else None,
        material_cost=material, machine_cost=machine, cost=material + machine,
        cost_per_good_part=(material + machine) / good if good else None,
        unknown_filament=sum(1 for r in ended if r.filament_mm is None))


def period_key(t: float, period: str) -> str:
    """The UTC period a time falls in: its day (2026-12-02), the Monday of its ISO week, or its month (2026-12)."""
    d = datetime.fromtimestamp(t, UTC).date()
    if period == "week":
        return (d - timedelta(days=d.weekday())).isoformat()
    if period == "month":
        return d.strftime("%Y-%m")
    return d.isoformat()


def grouped(runs: list[RunFacts], key: Callable[[RunFacts], str], hourly_rate: float) -> dict[str, Figures]:
    """Figures of the copies sharing each key, by key."""
    groups: dict[str, list[RunFacts]] = defaultdict(list)
    for r in runs:
        groups[key(r)].append(r)
    return {k: figures(v, hourly_rate) for k, v in sorted(groups.items())}


def utilisation(changes: Iterable[StateChange], since: dict[str, float], t0: float,
                t1: float) -> dict[str, dict[str, float]]:
    """Seconds each printer spent in each utilisation category between t0 and t1. A printer is offline from
    `since` (when it was added) until its first state; out of rotation it is in maintenance unless printing."""
    by_printer: dict[str, list[StateChange]] = defaultdict(list)
    for c in changes:
        by_printer[c.printer].append(c)
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(since) | set(by_printer)):
        seconds = dict.fromkeys(UTILISATION, 0.0)
        state, out_of_rotation = "offline", False
        t = since.get(name, min((c.t for c in by_printer[name]), default=t1))
        for c in sorted(by_printer[name], key=lambda c: c.t):
            _add_span(seconds, t, c.t, t0, t1, state, out_of_rotation)
            t = max(t, c.t)
            if c.state in ("out", "back"):
                out_of_rotation = c.state == "out"
            else:
                state = c.state
        _add_span(seconds, t, t1, t0, t1, state, out_of_rotation)
        out[name] = seconds
    return out


def _add_span(seconds: dict[str, float], a: float, b: float, t0: float, t1: float, state: str,
              out_of_rotation: bool) -> None:
    """Count the part of [a, b) inside [t0, t1) for the category of `state`."""
    span = min(b, t1) - max(a, t0)
    if span <= 0:
        return
    category = STATE_CATEGORY.get(state, "offline")
    if out_of_rotation and category != "printing":
        category = "maintenance"
    seconds[category] += span


def _fractions(seconds: dict[str, float]) -> dict[str, float]:
    """Each category's share of the printer's time."""
    total = sum(seconds.values())
    return {k: (v / total if total else 0.0) for k, v in seconds.items()}


def summary(runs: list[RunFacts], changes: list[StateChange], since: dict[str, float], t0: float, t1: float,
            hourly_rate: float, period: str = "day") -> dict[str, Any]:
    """The whole statistics body of the copies started in [t0, t1): overall figures, and by printer (with its
    utilisation), material, user and period."""
    inside = [r for r in runs if r.started_at is not None and t0 <= r.started_at < t1]
    used = utilisation(changes, since, t0, t1)
    by_printer = grouped(inside, lambda r: r.printer or "", hourly_rate)
    printers: dict[str, Any] = {}
    for name in sorted(set(by_printer) | set(used)):
        f = by_printer.get(name) or figures([], hourly_rate)
        seconds = used.get(name, dict.fromkeys(UTILISATION, 0.0))
        printers[name] = Figures(**{**asdict(f), "utilisation_s": seconds,
                                    "utilisation": _fractions(seconds)}).to_dict()
    assert period in PERIODS
    return {**figures(inside, hourly_rate).to_dict(), "period": period, "by_printer": printers,
            "by_material": _dicts(grouped(inside, lambda r: r.filament.material, hourly_rate)),
            "by_user": _dicts(grouped(inside, lambda r: r.user, hourly_rate)),
            "by_period": _dicts(grouped(inside, lambda r: period_key(r.started_at or 0.0, period), hourly_rate))}


def _dicts(groups: dict[str, Figures]) -> dict[str, dict[str, Any]]:
    """Each group's figures as a plain dict."""
    return {k: v.to_dict() for k, v in groups.items()}
