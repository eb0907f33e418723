"""The queue on real simulated printers over their pseudo-terminals: several print at once, a fault caught by the
camera fails that copy on that printer and it is printed elsewhere, finished printers wait for bed clearing."""
from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import parse_config
from controller.farm.intake import count_layers
from controller.farm.service import LabService
from controller.store import history, jobs, printers
from tests.sim_rig import cube_gcode, start_sims, take_part_off, wait_for


@pytest.fixture(scope="module")
def block(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return cube_gcode(tmp_path_factory.mktemp("gcode"))


def _submit(svc: LabService, gcode: Path, copies: int) -> int:
    f = jobs.add_file(svc.store, gcode.name, str(gcode), "gcode", gcode.stat().st_size, "0" * 64, svc.clock())
    return jobs.create_job(svc.store, f.id, gcode.name, copies, 0, svc.clock(), gcode_path=str(gcode),
                           layer_count=count_layers(gcode)).id


def test_three_sims_one_faulty_make_all_copies_elsewhere(tmp_path: Path, block: Path) -> None:
    sims = start_sims(["", "", "spaghetti@3"], tmp_path)
    svc = None
    try:
        names = ["a", "b", "bad"]
        cfg = parse_config({"data_dir": str(tmp_path / "data"), "api_keys": ["k"], "printers": [
            {"name": n, "port": s.serial, "camera": s.camera, "on_failure": "cancel"} for n, s in zip(names, sims)]})
        svc = LabService(cfg)
        svc.start(0.1)
        job = _submit(svc, block, copies=4)

        def state(n: str) -> str:
            return printers.get_printer(svc.store, n).state

        wait_for(lambda: all(state(n) in ("printing", "paused") for n in names)
                 or len(jobs.list_runs(svc.store, job_id=job, states=("printing", "paused"))) == 3,
                 60, "three printers printing at once")
        wait_for(lambda: state("bad") == "needs_attention", 90, "vision to catch the fault on 'bad'")
        failed = jobs.list_runs(svc.store, job_id=job, states=("failed",))
        assert len(failed) == 1 and failed[0].printer == "bad"
        assert failed[0].failed_layer is not None and 2 <= failed[0].failed_layer <= 5
        checks = history.list_layer_checks(svc.store, run_id=failed[0].id)
        assert checks and not checks[-1].ok and Path(checks[-1].image_path or "").is_file()

        made: set[str] = set()
        def progress() -> bool:
            for n in ("a", "b"):
                if state(n) == "awaiting_clear":
                    assert not jobs.list_runs(svc.store, job_id=job, states=("printing",), printer=n), \
                        "a printer waiting for bed clearing must not start a copy"
                    made.add(n)
                    take_part_off(sims[names.index(n)])
                    svc.fleet.clear_bed(n)
            return jobs.get_job(svc.store, job).state in ("done", "failed")
        wait_for(progress, 150, "all four copies", every=0.3)
        final = jobs.get_job(svc.store, job)
        assert final.state == "done" and final.counts.get("completed") == 4
        done_on = {r.printer for r in jobs.list_runs(svc.store, job_id=job, states=("completed",))}
        assert done_on == {"a", "b"} and made == {"a", "b"}
        assert state("bad") == "needs_attention"
        assert any(e.kind == "vision_failure" for e in history.list_events(svc.store, job_id=job))
    finally:
        if svc is not None:
            svc.stop()
        for s in sims:
            s.stop()
