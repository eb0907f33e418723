"""A host's pulse in a farm sharing one database: it beats, takes over the runs of hosts silent past the
timeout, and stops its own copies that another host took over while it was silent."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from controller.farm.fleet import Fleet
from controller.store import Store, history, hosts
from controller.store.records import Run

log = logging.getLogger(__name__)
Clock = Callable[[], float]
CHECK_EVERY_S = 5.0   # a silent host is taken over at most this long after its timeout (the issue allows 10 s)


def beat_interval(timeout_s: float) -> float:
    """How often a host beats and looks at the others: often enough that a live host is never timed out."""
    return max(0.2, min(CHECK_EVERY_S, timeout_s / 6))


class Heartbeat:
    """Beats for host `name` every `beat_interval(timeout_s)` seconds on a thread; `once()` is one round."""

    def __init__(self, store: Store, fleet: Fleet, name: str, timeout_s: float, clock: Clock = time.time,
                 url: str | None = None) -> None:
        """Wire the store, this host's fleet, its name and the timeout after which a silent host is taken over."""
        self.store, self.fleet, self.name, self.timeout_s, self.clock = store, fleet, name, timeout_s, clock
        self.url = url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def once(self) -> tuple[dict[str, list[Run]], list[Run]]:
        """Beat, take over silent hosts, stop copies taken over from us; returns (taken over, stopped here)."""
        t = self.clock()
        hosts.heartbeat(self.store, self.name, t, self.url)
        taken = hosts.take_over(self.store, self.name, t, self.timeout_s)
        for host, runs in taken.items():
            for run in runs:
                history.add_event(self.store, "interrupted", run.message, t, job_id=run.job_id, run_id=run.id,
                                  printer=run.printer, data={"layer": run.layer, "host": host, "by": self.name})
            log.warning("took over %d runs of silent host %s", len(runs), host)
        if taken:
            self.fleet.notify()
        return taken, self.fleet.stop_taken_over(wait=False)

    def start(self) -> None:
        """Beat once now (so the host is known before it recovers), then on a thread until `stop()`."""
        self.once()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        """Beat until stopped; a failed round (database unreachable) is logged and tried again."""
        while not self._stop.wait(beat_interval(self.timeout_s)):
            try:
                self.once()
            except Exception:
                log.exception("heartbeat of host %s failed", self.name)

    def stop(self) -> None:
        """Stop beating (the host then times out like a dead one unless it starts again)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
