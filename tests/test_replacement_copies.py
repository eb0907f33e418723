"""One copy of a six-copy plate comes loose on a real simulated printer driven by the service: that copy is dropped,
the other five finish, a replacement run for that copy alone is queued and printed, and the job ends with every
copy made. Below, the store's rules for counting copies made from whole plates and replacements."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from sqlalchemy import select

from controller.config import parse_config
from controller.farm.intake import count_layers
from controller.farm.service import LabService
from controller.sim_procs import SimProcess
from controller.store import Store, history, jobs, printers
from controller.store.models import RunRow
from firmware_sim.executed_log import read_executed_log
from slicing import JobPlan, plan
from slicing.job_plan import parse_moves
from slicing.slicer import slice_file
from tests.sim_rig import start_sims, wait_for
from tests.simproc import file_part

LOOSE_AT = 8
COPIES = 6


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, JobPlan]:
    """Six 10 mm blocks, 2.4 mm high (12 layers), sliced by printloop: each copy an object."""
    folder = tmp_path_factory.mktemp("plate")
    trimesh.creation.box(extents=(10.0, 10.0, 2.4)).export(folder / "block.stl")
    gcode = folder / "plate.gcode"
    gcode.write_text(slice_file(folder / "block.stl", copies=COPIES).gcode)
    return gcode, plan(gcode.read_text())


def _footprint(job_plan: JobPlan, index: int) -> tuple[float, float, float, float]:
    """XY box of an object's extruding moves in the file."""
    m = parse_moves("\n".join(job_plan.commands))
    d = np.diff(m.xyzef, axis=0)
    ext = d[:, 3] > 1e-7
    mine = ext & (job_plan.command_object[m.line[1:]] == index)
    pts = m.xyzef[1:][mine]
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _extrusions_in(commands: list[str], box: tuple[float, float, float, float]) -> np.ndarray:
    """Z of every extruding move of `commands` ending inside `box` (grown by 0.3 mm)."""
    m = parse_moves("\n".join(commands))
    d = np.diff(m.xyzef, axis=0)
    end = m.xyzef[1:]
    x0, y0, x1, y1 = box
    inside = ((end[:, 0] > x0 - 0.3) & (end[:, 0] < x1 + 0.3) & (end[:, 1] > y0 - 0.3) & (end[:, 1] < y1 + 0.3))
    return end[(d[:, 3] > 1e-7) & (np.abs(d[:, :2]).max(axis=1) > 1e-9) & inside, 2]


def _ran(sim: SimProcess) -> list[str]:
    """The commands the simulator executed so far, without those the host inserts."""
    assert sim.executed_log is not None
    return file_part(read_executed_log(sim.executed_log))


def test_a_loose_copy_is_dropped_replaced_by_its_own_run_and_the_job_ends_with_every_copy(tmp_path, plate):
    gcode, job_plan = plate
    loose = next(o for o in job_plan.objects if o.index == 1)
    others = [o for o in job_plan.objects if o.index != loose.index]
    sim, spare = start_sims([f"loose@{LOOSE_AT}=1", ""], tmp_path)
    svc = None
    try:
        cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": ["k"], "printers": [
            {"name": "mk4", "port": sim.serial, "camera": sim.camera, "on_failure": "pause"}]})
        svc = LabService(cfg)
        svc.start(0.1)
        f = jobs.add_file(svc.store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, svc.clock())
        job = jobs.create_job(svc.store, f.id, gcode.name, 1, 0, svc.clock(), gcode_path=str(gcode),
                              layer_count=count_layers(gcode)).id

        def state() -> str:
            return jobs.get_job(svc.store, job).state

        wait_for(lambda: jobs.list_runs(svc.store, job_id=job, states=("completed",)), 180, "the plate to finish")
        first, replacement = sorted(jobs.list_runs(svc.store, job_id=job), key=lambda r: r.id)
        assert first.state == "completed" and first.skipped == [loose.name] and first.objects == []
        assert replacement.state == "queued" and replacement.objects == [loose.name]
        assert replacement.replaces == first.id and replacement.copy_index == first.copy_index
        assert state() == "queued", "the job waits for its replacement copy"
        queued = [e for e in history.list_events(svc.store, job_id=job) if e.kind == "replacement_queued"]
        assert len(queued) == 1 and queued[0].data == {"objects": [loose.name], "replaces": first.id}
        checks = history.list_layer_checks(svc.store, run_id=first.id)
        dropped_at = next(c.layer for c in checks
                          if any(o["name"] == loose.name and o["status"] != "ok" for o in c.figures.get("objects", [])))
        assert LOOSE_AT <= dropped_at <= LOOSE_AT + 2
        assert all(c.ok for c in checks), "the plate never stopped"

        # the executed log: the loose copy's extrusion stops after the layer it was dropped at; the others go on
        plate_ran = _ran(sim)
        top = job_plan.layers[dropped_at].z + 1e-3
        z_loose = _extrusions_in(plate_ran, _footprint(job_plan, loose.index))
        assert (z_loose <= top).any() and not (z_loose > top).any()
        for o in others:
            assert (_extrusions_in(plate_ran, _footprint(job_plan, o.index)) > top).any(), o.name

        # a second printer joins while mk4 waits for its bed to be cleared: it takes the replacement
        printers.upsert_printer(svc.store, "mk3", spare.serial, camera=spare.camera, on_failure="pause")
        wait_for(lambda: state() in ("done", "failed"), 180, "the replacement copy")
        final = jobs.get_run(svc.store, replacement.id)
        assert final.state == "completed" and final.skipped == [] and final.printer == "mk3", final.message
        assert state() == "done" and jobs.get_job(svc.store, job).counts == {"completed": 2}
        # the replacement printed that copy alone: every extrusion past the first layer (the skirt) is in its place
        again = _ran(spare)
        z_again = _extrusions_in(again, _footprint(job_plan, loose.index))
        assert z_again.max() >= job_plan.layers[-1].z - 1e-3
        for o in others:
            assert not (_extrusions_in(again, _footprint(job_plan, o.index)) > job_plan.layers[0].z + 1e-3).any()
        # and the replacement's checks judged that copy alone, without expecting the five it leaves out
        rchecks = history.list_layer_checks(svc.store, run_id=replacement.id)
        assert len(rchecks) == job_plan.layer_count and all(c.ok for c in rchecks)
        assert all([o["name"] for o in c.figures.get("objects", [])] == [loose.name] for c in rchecks)
    finally:
        if svc is not None:
            svc.stop()
        sim.stop()
        spare.stop()


def _run(store: Store, job: int, copy: int, state: str, objects=(), skipped=(), replaces=None) -> None:
    with store.session() as s:
        s.add(RunRow(job_id=job, copy_index=copy, state=state, objects=list(objects), skipped=list(skipped),
                     replaces=replaces, created_at=1.0))


@pytest.mark.parametrize(("runs", "made"), [
    ([("completed", (), ())], 1),
    ([("completed", (), ("b",))], 0),                                    # a copy short of one object
    ([("completed", (), ("b",)), ("completed", ("b",), ())], 1),          # ... made by its replacement
    ([("completed", (), ("b", "c")), ("completed", ("b", "c"), ("c",))], 0),
    ([("completed", (), ("b", "c")), ("completed", ("b", "c"), ("c",)), ("completed", ("c",), ())], 1),
    ([("completed", (), ("b",)), ("failed", ("b",), ())], 0),             # a failed replacement makes nothing
    ([("failed", (), ()), ("completed", (), ())], 1),
])
def test_copies_made_count_whole_plates_and_their_replacements(tmp_path, runs, made) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    f = jobs.add_file(store, "p.gcode", "/p.gcode", "gcode", 1, "0" * 64, 0.0)
    job = jobs.create_job(store, f.id, "p", 1, 0, 0.0, gcode_path="/p.gcode", layer_count=3)
    for r in jobs.list_runs(store, job_id=job.id):
        jobs.finish_run(store, r.id, "cancelled", 0.5)
    for state, objects, skipped in runs:
        _run(store, job.id, 0, state, objects, skipped)
    with store.session() as s:
        rows = list(s.scalars(select(RunRow).where(RunRow.job_id == job.id).order_by(RunRow.id)))
        assert jobs.copies_made(rows) == made


def test_a_dropped_object_queues_one_replacement_and_a_failed_plate_withdraws_it(tmp_path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    f = jobs.add_file(store, "p.gcode", "/p.gcode", "gcode", 1, "0" * 64, 0.0)
    job = jobs.create_job(store, f.id, "p", 1, 0, 0.0, gcode_path="/p.gcode", layer_count=3)
    printers.upsert_printer(store, "a", "/dev/a")
    claimed = jobs.claim_next_run(store, "a", 1.0)
    assert claimed is not None
    run = claimed[0]
    new = jobs.record_skipped(store, run.id, ["object 2"], 2.0)
    assert new is not None and new.objects == ["object 2"] and new.replaces == run.id and new.state == "queued"
    assert jobs.record_skipped(store, run.id, ["object 2"], 2.5) is None          # said again: nothing new
    assert jobs.get_run(store, run.id).skipped == ["object 2"]
    jobs.finish_run(store, run.id, "failed", 3.0, "spaghetti")
    whole = jobs.requeue_copy(store, run.id, "a", 3.0)
    assert whole.objects == [] and whole.excluded == ["a"]
    assert jobs.get_run(store, new.id).state == "cancelled"                       # the whole copy is made again
    assert jobs.get_job(store, job.id).state == "queued"
