"""Queue rules over the PrinterDriver interface, ticked by hand: parallel printers, bed clearing, failure re-queue.

The driver here plays a G-code file layer by layer per tick (a deterministic stand-in for the serial link);
tests/test_queue_sims.py runs the same rules against real simulated printers.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.errors import ConflictError
from controller.farm.driver import DriverTemps, LayerCallback, LayerReport, RunProgress
from controller.farm.fleet import Fleet
from controller.farm.intake import count_layers
from controller.store import Store, history, jobs, printers
from controller.store.records import Printer


class TickClock:
    """Time that moves only when told."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class LayerPlayer:
    """A print that advances one layer per progress() call unless paused."""

    def __init__(self, layers: int, on_layer: LayerCallback, fail_at: int | None, policy: str = "pause") -> None:
        self.layers, self.on_layer, self.fail_at, self.policy = layers, on_layer, fail_at, policy
        self.layer, self.state = -1, "running"

    def progress(self) -> RunProgress:
        if self.state == "running":
            self.layer += 1
            bad = self.layer == self.fail_at
            self.on_layer(LayerReport(self.layer, not bad, "spaghetti" if bad else "ok", {"iou": 0.4 if bad else 0.95}))
            if bad and self.policy != "warn":
                self.state = "paused"
            elif self.layer == self.layers - 1:
                self.state = "completed"
        return RunProgress(self.state, self.layer, self.layers, 100.0 * (self.layer + 1) / self.layers)

    def pause(self) -> None:
        self.state = "paused"

    def resume(self) -> None:
        self.state = "running"

    def cancel(self) -> None:
        self.state = "cancelled"


class PlayerDriver:
    """A printer that plays files with LayerPlayer; `fail_at` makes its camera see a fault at that layer."""

    def __init__(self, printer: Printer, fail_at: int | None = None) -> None:
        self.printer, self.fail_at = printer, fail_at
        self.started: list[Path] = []
        self.stopped = False

    def connect(self) -> None: ...
    def close(self) -> None: ...
    def state(self) -> str:
        return "idle"

    def temperatures(self) -> DriverTemps:
        return DriverTemps(210.0, 210.0, 60.0, 60.0)

    def start(self, gcode: Path, photo_dir: Path, on_layer: LayerCallback, objects=()) -> LayerPlayer:
        self.started.append(gcode)
        return LayerPlayer(count_layers(gcode), on_layer, self.fail_at, self.printer.on_failure)

    def emergency_stop(self) -> None:
        self.stopped = True


@pytest.fixture()
def rig(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    clock = TickClock()
    drivers: dict[str, PlayerDriver] = {}
    faulty = {"c": 2}

    def make(p: Printer) -> PlayerDriver:
        drivers[p.name] = PlayerDriver(p, faulty.get(p.name))
        return drivers[p.name]

    for name in ("a", "b", "c"):
        printers.upsert_printer(store, name, f"/dev/{name}", on_failure="pause")
    gcode = tmp_path / "part.gcode"
    gcode.write_text("".join(f";LAYER:{i}\nG1 Z{0.2 * (i + 1):.1f}\nG1 X{10 + i} E{i + 1}\n" for i in range(5)))
    fleet = Fleet(store, tmp_path, make, clock, temperature_interval_s=1.0)
    return store, fleet, drivers, gcode, clock


def _submit(store: Store, gcode: Path, copies: int, priority: int = 0) -> int:
    f = jobs.add_file(store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, 0.0)
    return jobs.create_job(store, f.id, gcode.name, copies, priority, 0.0, gcode_path=str(gcode),
                           layer_count=count_layers(gcode)).id


def _state(store: Store, name: str) -> str:
    return printers.get_printer(store, name).state


def test_three_printers_print_at_once_and_wait_for_bed_clearing(rig) -> None:
    store, fleet, drivers, gcode, clock = rig
    job = _submit(store, gcode, copies=4)
    fleet.tick()
    assert {n: _state(store, n) for n in "abc"} == {"a": "printing", "b": "printing", "c": "printing"}
    for _ in range(6):
        clock.t += 1
        fleet.tick()
    assert _state(store, "a") == "awaiting_clear" and _state(store, "b") == "awaiting_clear"
    assert len(drivers["a"].started) == 1, "no new copy before the bed is cleared"
    fleet.clear_bed("a")
    fleet.tick()
    assert len(drivers["a"].started) == 2 and _state(store, "a") == "printing"
    with pytest.raises(ConflictError):
        fleet.clear_bed("a")
    assert printers.temperature_history(store, "a")[-1].hotend == 210.0
    assert jobs.get_job(store, job).counts == {"completed": 2, "printing": 1, "failed": 1, "queued": 1}


def test_vision_failure_marks_printer_and_requeues_the_copy_elsewhere(rig) -> None:
    store, fleet, drivers, gcode, clock = rig
    job = _submit(store, gcode, copies=3)
    for _ in range(8):
        clock.t += 1
        fleet.tick()
    assert _state(store, "c") == "needs_attention"
    failed = [r for r in jobs.list_runs(store, job_id=job) if r.state == "failed"]
    assert len(failed) == 1 and failed[0].printer == "c" and failed[0].failed_layer == 2
    assert [c.ok for c in history.list_layer_checks(store, run_id=failed[0].id)] == [True, True, False]
    again = [r for r in jobs.list_runs(store, job_id=job) if r.copy_index == failed[0].copy_index
             and r.id != failed[0].id]
    assert again[0].excluded == ["c"] and again[0].state == "queued"
    for name in ("a", "b"):
        fleet.clear_bed(name)
    for _ in range(8):
        clock.t += 1
        fleet.tick()
    made = [r for r in jobs.list_runs(store, job_id=job) if r.state == "completed"]
    assert len(made) == 3 and "c" not in {r.printer for r in made}
    assert jobs.get_job(store, job).state == "done"
    assert len(drivers["c"].started) == 1, "the failed printer takes nothing until someone clears it"
    kinds = [e.kind for e in history.list_events(store, job_id=job)]
    assert "vision_failure" in kinds


def test_pause_resume_and_cancel_reach_the_running_copies(rig) -> None:
    store, fleet, _drivers, gcode, _clock = rig
    job = _submit(store, gcode, copies=2, priority=1)
    fleet.tick()
    assert fleet.pause_job(job) == 2
    fleet.tick()
    assert _state(store, "a") == "paused"
    runs = jobs.list_runs(store, job_id=job)
    assert {r.state for r in runs} == {"paused"}
    assert fleet.resume_job(job) == 2
    fleet.tick()
    assert _state(store, "a") == "printing"
    assert fleet.cancel_job(job) == 2
    fleet.tick()
    assert {r.state for r in jobs.list_runs(store, job_id=job)} == {"cancelled"}
    assert _state(store, "a") == "awaiting_clear"


def test_emergency_stop_cancels_the_copy_and_needs_attention(rig) -> None:
    store, fleet, drivers, gcode, _clock = rig
    job = _submit(store, gcode, copies=1)
    fleet.tick()
    printing = next(n for n in "abc" if _state(store, n) == "printing")
    fleet.emergency_stop(printing)
    assert drivers[printing].stopped and _state(store, printing) == "needs_attention"
    assert jobs.list_runs(store, job_id=job)[0].state == "cancelled"


def test_higher_priority_job_goes_first(rig) -> None:
    store, fleet, _drivers, gcode, _clock = rig
    fleet.tick()
    low = _submit(store, gcode, copies=3)
    high = _submit(store, gcode, copies=2, priority=9)
    fleet.tick()
    by_job = {r.job_id for r in jobs.list_runs(store, states=("printing",))}
    assert jobs.get_job(store, high).counts.get("printing") == 2 and low in by_job


def test_warn_policy_records_the_failed_check_but_lets_the_copy_finish(rig) -> None:
    store, fleet, _drivers, gcode, clock = rig
    printers.upsert_printer(store, "c", "/dev/c", on_failure="warn")
    fleet.slots.pop("c", None)
    job = _submit(store, gcode, copies=3)
    for _ in range(8):
        clock.t += 1
        fleet.tick()
    run_c = next(r for r in jobs.list_runs(store, job_id=job) if r.printer == "c")
    assert run_c.state == "completed" and _state(store, "c") == "awaiting_clear"
    assert [c.ok for c in history.list_layer_checks(store, run_id=run_c.id)][2] is False
