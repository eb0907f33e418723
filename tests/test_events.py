"""The event bus: published once, delivered to every subscriber on its own thread, never blocking a publisher."""
from __future__ import annotations

import itertools
import threading
import time

from controller.events import Event, EventBus
from controller.store import Store, history


def test_every_subscriber_gets_every_event_of_its_kinds_in_order():
    bus = EventBus()
    seen_all: list[str] = []
    seen_errors: list[str] = []
    bus.subscribe(lambda e: seen_all.append(e.message), name="all")
    bus.subscribe(lambda e: seen_errors.append(e.message), kinds=["firmware_error"], name="errors")
    for i in range(50):
        bus.emit("firmware_error" if i % 10 == 0 else "resend", f"m{i}", printer="mk3")
    bus.close()
    assert seen_all == [f"m{i}" for i in range(50)]
    assert seen_errors == ["m0", "m10", "m20", "m30", "m40"]


def test_a_stuck_subscriber_never_blocks_the_publisher_and_its_losses_are_counted():
    bus = EventBus()
    release = threading.Event()
    got: list[int] = []
    stuck = bus.subscribe(lambda e: release.wait(10), capacity=10, name="stuck")
    bus.subscribe(lambda e: got.append(e.data["i"]), name="quick")
    t0 = time.perf_counter()
    for i in range(1000):
        bus.publish(Event("progress", "p", 0.0, {"i": i}))
    assert time.perf_counter() - t0 < 1.0
    release.set()
    bus.close()
    assert got == list(range(1000))
    assert stuck.dropped >= 1000 - 10 - 1


def test_a_failing_subscriber_is_logged_and_the_others_go_on(caplog):
    bus = EventBus()
    got: list[str] = []

    def broken(e: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe(broken, name="broken")
    bus.subscribe(lambda e: got.append(e.kind), name="fine")
    bus.emit("a", "x")
    bus.emit("b", "y")
    bus.close()
    assert got == ["a", "b"]
    assert "broken failed on a" in caplog.text


def test_the_history_keeps_what_a_printer_says_of_itself(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'h.db'}")
    bus = EventBus()
    history.record_printer_events(store, bus)
    bus.emit("action", "//action:paused filament_runout 0", {"action": "paused"}, printer="mk3")
    bus.emit("paused", "printer paused: runout", {"by": "printer"}, printer="mk3")
    bus.emit("paused", "job paused at line 5", {"line": 5}, printer="mk3")  # the host's: kept by the fleet
    bus.emit("resend", "firmware asked for line 9 again", {"line": 9}, printer="mk3")
    bus.emit("firmware_error", "Error:Printer halted", {}, printer="mk3")
    bus.close()
    kept = [(e.kind, e.printer) for e in history.list_events(store)]
    store.close()
    assert kept == [("action", "mk3"), ("paused", "mk3"), ("firmware_error", "mk3")]


def test_a_printer_publishes_its_temperatures_at_most_twice_a_second_and_each_new_target_at_once():
    from controller.printer.session import TEMPERATURE_EVENT_S, PrinterSession
    from tests.sim_helpers import running_sim

    bus = EventBus()
    temps: list[Event] = []
    heated = threading.Event()

    def seen(e: Event) -> None:
        temps.append(e)
        if e.data["tool0"]["target"] == 180.0:
            heated.set()

    bus.subscribe(seen, ["temperature"], name="test")
    with running_sim("--speed", "max") as sim:   # at full speed the board reports many times a second
        session = PrinterSession(sim.info["serial"], 115200, bus=bus)
        session.connect(timeout=60)
        try:
            session.send_command("M155 S1")              # a report every simulated second: many a wall second
            started = time.monotonic()
            time.sleep(3.0)
            session.send_command("M104 S180")
            assert heated.wait(30.0), "the new target never reached the bus"
            elapsed = time.monotonic() - started
        finally:
            session.close()
    bus.close()
    assert 3 <= len(temps) <= elapsed / TEMPERATURE_EVENT_S + 3
    gaps = [b.t - a.t for a, b in itertools.pairwise(temps) if a.data["tool0"]["target"] == b.data["tool0"]["target"]]
    assert min(gaps) >= TEMPERATURE_EVENT_S - 1e-6
