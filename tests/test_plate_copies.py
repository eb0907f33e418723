"""One copy of a plate comes loose: the layer check finds that copy alone, the job skips it, the other copies
finish, and from that layer on none of the loose copy's moves run."""
from __future__ import annotations

import numpy as np
import pytest
import trimesh

from controller.printer.layer_check import LayerCheck
from controller.printer.session import PrinterSession
from slicing import plan
from slicing.slicer import slice_file
from tests.sim_helpers import running_sim
from vision.camera import open_camera
from vision.config import VisionConfig

LOOSE_AT = 4


@pytest.fixture(scope="module")
def plate(tmp_path_factory: pytest.TempPathFactory):
    """Three 12 mm blocks, 2.4 mm high (12 layers), sliced by printloop: each copy an object."""
    folder = tmp_path_factory.mktemp("plate")
    trimesh.creation.box(extents=(12.0, 12.0, 2.4)).export(folder / "block.stl")
    return plan(slice_file(folder / "block.stl", copies=3).gcode)


def run_plate(job_plan, faults: str, folder, policy: str = "pause"):
    """Print the plate on a simulator with the camera checking each layer; (progress, check)."""
    with running_sim("--speed", "max", "--seed", "2", *(["--faults", faults] if faults else [])) as sim:
        session = PrinterSession(sim.info["serial"], 115200)
        session.connect(timeout=60)
        camera = open_camera(sim.info["camera"])
        check = LayerCheck(job_plan.layer_paths(), camera, folder, VisionConfig(policy=policy),
                           object_names=[o.name for o in job_plan.objects])
        job = session.start_job(job_plan, layer_hook=check, wait_for_temperatures=False)
        try:
            progress = job.wait(120)
        finally:
            if not job.finished:
                job.cancel("test over")
            camera.close()
            session.close()
    return progress, check


def test_a_clean_plate_judges_every_copy_and_passes(plate, tmp_path):
    progress, check = run_plate(plate, "", tmp_path)
    assert progress.state == "completed" and progress.skipped == ()
    assert len(check.verdicts) == plate.layer_count
    for v in check.verdicts:
        assert not v.failed and not v.failed_objects, v.message
        assert sorted(o["name"] for o in v.objects) == sorted(o.name for o in plate.objects)


def test_a_copy_that_comes_loose_is_skipped_and_the_rest_of_the_plate_finishes(plate, tmp_path):
    loose = next(o for o in plate.objects if o.index == 1)
    progress, check = run_plate(plate, f"loose@{LOOSE_AT}=1", tmp_path)
    assert progress.state == "completed", progress.reason
    assert progress.skipped == (loose.name,)
    assert [name for name, _layer, _why in check.skipped] == [loose.name]
    layer = check.skipped[0][1]
    assert LOOSE_AT <= layer <= LOOSE_AT + 2                                   # caught within two layers
    failed = next(v for v in check.verdicts if v.failed_objects)
    assert failed.failed_objects == [loose.name] and not failed.failed
    assert not any(v.failed for v in check.verdicts)                           # the plate never stopped
    after = [v for v in check.verdicts if v.layer > layer]
    assert after and all(loose.name not in [o["name"] for o in v.objects] for v in after)  # no longer judged
    assert all(o["status"] == "ok" for v in after for o in v.objects)
    record = (tmp_path / f"layer_{layer:04d}.json").read_text()
    assert '"objects"' in record and loose.name in record


def test_with_warn_a_failed_copy_is_only_said(plate, tmp_path):
    progress, check = run_plate(plate, f"loose@{LOOSE_AT}=1", tmp_path, policy="warn")
    assert progress.state == "completed" and progress.skipped == () and check.skipped == []
    assert any(v.failed_objects == [plate.objects[1].name] for v in check.verdicts)
    assert np.isfinite(progress.percent)
