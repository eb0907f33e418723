"""A host's heartbeat is written on time even while its fleet is busy (a tick connecting printers holds the fleet
for seconds on a loaded machine): a beat that waited for the fleet would let the other hosts take over this
host's live runs."""
from __future__ import annotations

import threading
from pathlib import Path

from controller.farm.fleet import Fleet
from controller.farm.heartbeat import Heartbeat
from controller.store import Store, hosts


def test_a_beat_is_written_while_a_tick_holds_the_fleet(tmp_path: Path, db_url: str) -> None:
    store = Store(db_url)
    fleet = Fleet(store, tmp_path, make_driver=lambda p: None, host="bench-a")  # type: ignore[arg-type,return-value]
    beat = Heartbeat(store, fleet, "bench-a", 30.0, clock=lambda: 1000.0)
    held, release = threading.Event(), threading.Event()

    def busy_tick() -> None:
        with fleet.lock:
            held.set()
            release.wait(20)
    ticking = threading.Thread(target=busy_tick)
    ticking.start()
    try:
        assert held.wait(5)
        beaten = threading.Event()
        threading.Thread(target=lambda: (beat.once(), beaten.set()), daemon=True).start()
        assert beaten.wait(5), "the heartbeat waited for the fleet"
        assert [(h.name, h.last_heartbeat) for h in hosts.list_hosts(store, 1000.0, 30.0)] == [("bench-a", 1000.0)]
    finally:
        release.set()
        ticking.join(10)
        store.close()
