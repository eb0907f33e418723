"""The MTConnect agent's circular buffer of observations, numbered as the standard describes.

Every observation gets the next sequence number (1, 2, 3, …). The buffer keeps the newest `capacity` of them:
`first` is the oldest still kept, `last` the newest, `next` the number the next one will get. A `sample` reads
from a sequence number on; its `next` is where the following request should start, so paging through never
skips or repeats one. The latest observation of every data item is kept apart, for `current`, even after it
has left the ring. Thread-safe; no IO, no clock (timestamps come with each observation).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

UNAVAILABLE = "UNAVAILABLE"


@dataclass(frozen=True)
class Observation:
    """One reported value of a data item; `level` (NORMAL|WARNING|FAULT|UNAVAILABLE) only for conditions."""

    sequence: int
    timestamp: float
    item: str
    value: str
    level: str | None = None
    native_code: str | None = None


@dataclass(frozen=True)
class Window:
    """The buffer's sequence numbers at one moment (the Streams header's firstSequence, lastSequence, next)."""

    first: int
    last: int
    next: int


class SequenceOutOfRange(ValueError):
    """A `from` or `count` outside what the buffer holds (the standard's OUT_OF_RANGE)."""


class ObservationBuffer:
    """A ring of the last `capacity` observations (see module docstring)."""

    def __init__(self, capacity: int) -> None:
        """An empty buffer; sequence numbers start at 1."""
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ring: list[Observation | None] = [None] * capacity
        self._next = 1
        self._latest: dict[str, Observation] = {}
        self._lock = threading.Lock()

    def add(self, item: str, timestamp: float, value: str, level: str | None = None,
            native_code: str | None = None, *, force: bool = False) -> Observation | None:
        """Append an observation, unless it repeats the item's latest value (then None; `force` adds anyway)."""
        with self._lock:
            prev = self._latest.get(item)
            if not force and prev is not None and (prev.value, prev.level, prev.native_code) == (
                    value, level, native_code):
                return None
            obs = Observation(self._next, timestamp, item, value, level, native_code)
            self._ring[self._next % self.capacity] = obs
            self._latest[item] = obs
            self._next += 1
            return obs

    def _window(self) -> Window:
        """Sequence numbers now (caller holds the lock)."""
        first = max(1, self._next - self.capacity)
        return Window(first, self._next - 1, self._next)

    def window(self) -> Window:
        """firstSequence, lastSequence and nextSequence now."""
        with self._lock:
            return self._window()

    def latest(self, items: set[str] | None = None) -> tuple[list[Observation], Window]:
        """The latest observation of every data item (or of these), in sequence order, and the window."""
        with self._lock:
            found = [o for k, o in self._latest.items() if items is None or k in items]
            return sorted(found, key=lambda o: o.sequence), self._window()

    def sample(self, start: int | None, count: int,
               items: set[str] | None = None) -> tuple[list[Observation], Window, int]:
        """Up to `count` observations from sequence `start` on (default: the oldest kept), of these items if
        given; returns them, the window and the sequence number the next page starts at."""
        with self._lock:
            window = self._window()
            begin = window.first if start is None else start
            if begin < window.first or begin > window.next:
                raise SequenceOutOfRange(f"'from' must be between {window.first} and {window.next}; "
                                         f"it was {begin}")
            if count < 1 or count > self.capacity:
                raise SequenceOutOfRange(f"'count' must be between 1 and {self.capacity}; it was {count}")
            found: list[Observation] = []
            seq = begin
            while seq < window.next and len(found) < count:
                obs = self._ring[seq % self.capacity]
                assert obs is not None and obs.sequence == seq
                if items is None or obs.item in items:
                    found.append(obs)
                seq += 1
            return found, window, seq
