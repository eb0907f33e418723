"""On a plate printed one copy after another, the host's own moves (the layer check's park and its return, a
pause, the travel after a skipped copy) pass above the finished copies, as the file's own moves between copies do.

Every move the simulator ran is replayed; a move that is not extruding and passes over a copy's footprint (grown by
a nozzle's reach) must be at or above the highest bead laid there so far."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import trimesh
from shapely.geometry import LineString, Point, box

from controller.printer.job import CheckPoint, Job
from controller.printer.job_state import ParkConfig
from controller.printer.layer_check import LayerCheck
from controller.printer.session import PrinterSession
from slicing import JobPlan, plan
from slicing.job_plan import parse_moves
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from tests.simproc import Sim
from vision.camera import open_camera
from vision.config import VisionConfig

HEIGHT = 5.0
REACH = 3.0    # how far from a copy's outline the nozzle's body still hits it, mm


@pytest.fixture(scope="module")
def boxes() -> JobPlan:
    """Three 10 × 10 × 5 mm boxes printed one after another."""
    mesh = LoadedMesh(trimesh.creation.box((10, 10, HEIGHT)), "box", (), ())
    return plan(slice_mesh_to_gcode(mesh, load_profile(overrides={"sequential": "true"}), copies=3).gcode)


def footprints(job: JobPlan) -> list[tuple[float, float, float, float]]:
    """Each copy's extruded XY bounds (min x, min y, max x, max y)."""
    out = []
    for k in range(len(job.objects)):
        seg = np.concatenate([layer.paths.segments[layer.paths.objects == k] for layer in job.layers])
        xy = seg.reshape(-1, 2)
        out.append((*xy.min(axis=0), *xy.max(axis=0)))
    return out


def collisions(ran: list[str], job: JobPlan) -> list[str]:
    """Moves that pass below material already printed under them: 'x0,y0 -> x1,y1 at z below copy k's top'."""
    areas = [box(a - REACH, b - REACH, c + REACH, d + REACH) for a, b, c, d in footprints(job)]
    m = parse_moves("\n".join(ran)).xyzef
    d = np.diff(m, axis=0)
    extruding = (d[:, 3] > 1e-7) & (np.abs(d[:, :2]).max(axis=1) > 1e-9)
    tops = [-np.inf] * len(areas)   # the highest bead laid so far within each copy's reach
    out = []
    for i in range(len(d)):
        a, b = m[i], m[i + 1]
        if extruding[i]:
            for k, r in enumerate(areas):
                if r.contains(Point((a[:2] + b[:2]) / 2.0)):
                    tops[k] = max(tops[k], float(b[2]))
            continue
        path = LineString([a[:2], b[:2]]) if np.abs(d[i, :2]).max() > 1e-9 else Point(a[:2])
        low = min(a[2], b[2])
        for k, r in enumerate(areas):
            if low < tops[k] - 1e-3 and r.intersects(path):
                out.append(f"{a[0]:.1f},{a[1]:.1f} -> {b[0]:.1f},{b[1]:.1f} at z {low:.2f} below copy {k}'s top "
                           f"{tops[k]:.2f}")
    return out


def test_the_file_alone_never_crosses_a_finished_copy(boxes):
    assert collisions(list(boxes.commands), boxes) == []


def test_parks_a_pause_and_a_skip_clear_the_finished_copies(boxes, tmp_path):
    """The layer check at every layer, a pause on the third copy's first layers and the second copy skipped.

    The parks are placed beyond a finished copy as seen from the copies printed after it: the photo's park on
    the far side of the first copy from the second, the pause's on the far side of the first from the third."""
    layers = len(boxes.layers) // 3
    (x0, y0, *_), (x1, y1, *_), (x2, y2, *_) = footprints(boxes)
    config = VisionConfig(park=(2 * x0 - x1, 2 * y0 - y1), park_lift_mm=2.0, policy="warn")
    check: LayerCheck | None = None

    def hook(point: CheckPoint, job: Job) -> None:
        assert check is not None
        if point.layer == 2 * layers + 1:     # paused from where the layer ended, not from the photo's park
            job.pause("a look at the third copy")
            threading.Timer(0.5, job.resume).start()
            return
        check(point, job)
        if point.layer == layers + 2:
            job.skip_object("box_1")

    with Sim("--speed", "max") as sim:
        camera = open_camera(sim.endpoints["camera"])
        check = LayerCheck(boxes.layer_paths(), camera, tmp_path, config, object_names=[o.name for o in boxes.objects])
        session = PrinterSession(sim.serial, timeout=2.0, park=ParkConfig(x=2 * x0 - x2, y=2 * y0 - y2, lift=2.0))
        session.connect()
        try:
            progress = session.start_job(boxes, layer_hook=hook, wait_for_temperatures=False).wait(300)
        finally:
            session.close()
            camera.close()
        ran = sim.ran_from_file(len(boxes.commands) // 2)
    assert progress.state == "completed", progress.reason
    assert any(c.startswith(f"G1 X{2 * x0 - x1:.3f} Y{2 * y0 - y1:.3f}") for c in ran)   # it did park
    assert any(c.startswith(f"G1 X{2 * x0 - x2:.3f} Y{2 * y0 - y2:.3f}") for c in ran)   # ... and pause
    assert collisions(ran, boxes) == []
    assert len(check.verdicts) >= 2 * layers and not check.errors
