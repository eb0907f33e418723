"""The queue with spools and capabilities on real simulated printers (`printloop sim` over their pseudo-terminals):
a job goes only to the printer that has its material and nozzle, a copy is not started on a spool without enough
filament and the job says so, and the spools lose exactly the plan's grams of what was printed, also of a copy
that failed or was cancelled part way."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from controller.config import parse_config
from controller.farm.intake import read_plan
from controller.farm.service import LabService
from controller.store import jobs, printers, spools
from controller.store.jobs import NOBODY, PASSED_BY
from controller.store.spools import NewSpool
from slicing.job_plan import plan_file
from tests.sim_rig import small_part_gcode, start_sims, take_part_off, wait_for
from tests.spoolman_rig import SpoolmanServer

DENSITY, DIAMETER = 1.27, 1.75


def layer_grams(gcode: Path, density: float = DENSITY) -> np.ndarray:
    """Grams of each layer of a file, summed here from the plan's extrusion: length × π(d/2)² × density."""
    per_mm = math.pi * (DIAMETER / 2) ** 2 / 1000.0 * density
    return np.array([float(layer.paths.extrusion.sum()) * per_mm for layer in plan_file(gcode).layers])


def _submit(svc: LabService, gcode: Path, copies: int, **requires: object) -> int:
    f = jobs.add_file(svc.store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, svc.clock())
    layer_count, needs = read_plan(gcode)
    return jobs.create_job(svc.store, f.id, gcode.name, copies, 0, svc.clock(), gcode_path=str(gcode),
                           layer_count=layer_count, requires=dict(requires), needs=needs).id


def _spool(svc: LabService, printer: str, material: str, grams: float, colour: str = "black") -> int:
    spool = svc.spools.add(NewSpool(material, DIAMETER, DENSITY, grams, colour, lot=f"lot-{printer}"), svc.clock())
    spools.load(svc.store, printer, spool.id)
    return spool.id


def _lab(tmp_path: Path, sims: list, specs: list[dict], **extra: object) -> LabService:
    cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": ["k"], **extra, "printers": [
        {"port": s.serial, "on_failure": "cancel", **spec} for s, spec in zip(sims, specs)]})
    return LabService(cfg)


@pytest.fixture(scope="module")
def part(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return small_part_gcode(tmp_path_factory.mktemp("part"))


def test_a_petg_job_on_a_06_nozzle_goes_only_to_the_printer_with_both(tmp_path: Path, part: Path) -> None:
    sims = start_sims(["", "", ""], tmp_path)
    svc = None
    try:
        svc = _lab(tmp_path, sims, [{"name": "a", "nozzle": 0.4, "materials": ["PLA", "PETG"]},
                                    {"name": "b", "nozzle": 0.6, "materials": ["PETG"]},
                                    {"name": "c", "nozzle": 0.6, "materials": ["PLA", "PETG"]}])
        spool = {n: _spool(svc, n, m, 1000.0) for n, m in (("a", "PETG"), ("b", "PETG"), ("c", "PLA"))}
        svc.start(0.1)
        job = _submit(svc, part, copies=2, material="PETG", nozzle=0.6)

        def message() -> str:
            return jobs.get_job(svc.store, job).message
        wait_for(lambda: message().startswith(PASSED_BY) and "; c " in message(), 60, "a and c to pass the job by")
        assert "a has a 0.4 mm nozzle; the job needs 0.6 mm" in message()
        assert f"c has PLA loaded (spool {spool['c']}); the job needs PETG" in message()

        def clear_b() -> None:
            if printers.get_printer(svc.store, "b").state == "awaiting_clear":
                take_part_off(sims[1])
                svc.fleet.clear_bed("b")

        def progress() -> bool:
            clear_b()
            return jobs.get_job(svc.store, job).state in ("done", "failed")
        wait_for(progress, 120, "both copies", every=0.3)
        runs = jobs.list_runs(svc.store, job_id=job)
        assert jobs.get_job(svc.store, job).state == "done" and message() == ""
        assert {r.printer for r in runs} == {"b"} and {r.spool_id for r in runs} == {spool["b"]}
        assert svc.spools.get(spool["b"]).remaining_g == pytest.approx(1000.0 - 2 * layer_grams(part).sum(),
                                                                          abs=1e-6)
        assert svc.spools.get(spool["a"]).remaining_g == svc.spools.get(spool["c"]).remaining_g == 1000.0

        nobody = _submit(svc, part, copies=1, material="PETG", tags=["enclosed"])

        def judged() -> bool:  # b judges the job once its last part is off the bed
            clear_b()
            return jobs.get_job(svc.store, nobody).message.startswith(NOBODY)
        wait_for(judged, 60, "every printer to say why", every=0.3)
        said = jobs.get_job(svc.store, nobody).message
        assert all(f"{n} lacks the tag enclosed" in said for n in "abc"), said
        assert jobs.list_runs(svc.store, job_id=nobody)[0].state == "queued"
    finally:
        if svc is not None:
            svc.stop()
        for s in sims:
            s.stop()


@pytest.fixture(scope="module")
def heavy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 42 × 42 × 20 mm solid block: about 40 g of filament."""
    import trimesh

    from slicing.profile import load_profile
    from slicing.slicer import slice_file

    folder = tmp_path_factory.mktemp("heavy")
    trimesh.creation.box(extents=(42, 42, 20)).export(folder / "heavy.stl")
    out = folder / "heavy.gcode"
    out.write_text(slice_file(folder / "heavy.stl", profile=load_profile(None, {"infill_density": "100"})).gcode)
    return out


def test_a_copy_needing_40_g_waits_on_a_spool_with_25_g_and_a_cancelled_copy_keeps_what_it_used(
        tmp_path: Path, heavy: Path) -> None:
    need = layer_grams(heavy)
    assert 40.0 <= need.sum() <= 50.0
    (sim,) = start_sims([""], tmp_path)
    svc = None
    try:
        svc = _lab(tmp_path, [sim], [{"name": "a", "materials": ["PLA"]}])
        low = _spool(svc, "a", "PLA", 25.0)
        svc.start(0.1)
        job = _submit(svc, heavy, copies=1, material="PLA")
        wait_for(lambda: jobs.get_job(svc.store, job).message.startswith(NOBODY), 30, "the job to say why it waits")
        assert jobs.get_job(svc.store, job).message == \
            f"{NOBODY}a spool {low} has 25.0 g left; the copy needs {need.sum():.1f} g"
        assert [r.state for r in jobs.list_runs(svc.store, job_id=job)] == ["queued"]
        assert svc.spools.get(low).remaining_g == 25.0

        full = _spool(svc, "a", "PLA", 1000.0)       # the technician swaps the spool
        wait_for(lambda: (jobs.list_runs(svc.store, job_id=job)[0].layer >= 4), 60, "a few layers printed")
        assert jobs.get_job(svc.store, job).message == ""
        svc.fleet.cancel_job(job, "tester")
        wait_for(lambda: jobs.list_runs(svc.store, job_id=job)[0].state == "cancelled", 30, "the cancel")
        run = jobs.list_runs(svc.store, job_id=job)[0]
        used = 1000.0 - svc.spools.get(full).remaining_g
        assert run.spool_id == full and used == pytest.approx(run.used_g, abs=1e-9)
        done = [k for k in range(len(need) + 1) if math.isclose(used, need[:k].sum(), abs_tol=1e-6)]
        assert done and run.layer <= done[0] <= run.layer + 1, (used, run.layer)   # the layers acknowledged
        assert used < need.sum() / 2 and svc.spools.get(low).remaining_g == 25.0
    finally:
        if svc is not None:
            svc.stop()
        sim.stop()


def test_a_copy_failed_by_the_camera_deducts_its_printed_layers_from_a_spoolman_spool(tmp_path: Path,
                                                                                       part: Path) -> None:
    need = layer_grams(part)
    (sim,) = start_sims(["spaghetti@3"], tmp_path)
    svc = None
    with SpoolmanServer() as spoolman:
        try:
            svc = _lab(tmp_path, [sim], [{"name": "bad", "camera": sim.camera}], spoolman_url=spoolman.url)
            sid = _spool(svc, "bad", "PETG", 1000.0)
            svc.start(0.1)
            job = _submit(svc, part, copies=1)
            wait_for(lambda: printers.get_printer(svc.store, "bad").state == "needs_attention", 90, "vision")
            (failed,) = jobs.list_runs(svc.store, job_id=job, states=("failed",))
            assert failed.failed_layer is not None
            used = spoolman.state.spool_json(sid)["used_weight"]
            assert used == pytest.approx(failed.used_g, abs=1e-9)
            assert used == pytest.approx(need[:failed.failed_layer + 1].sum(), abs=1e-6), (used, failed.failed_layer)
            assert svc.spools.get(sid).remaining_g == pytest.approx(1000.0 - used, abs=1e-9)
            assert len(spoolman.state.uses) >= 2          # deducted as layers were done, not once at the end
        finally:
            if svc is not None:
                svc.stop()
            sim.stop()
