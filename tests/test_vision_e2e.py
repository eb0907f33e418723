"""End to end: `printloop sim --faults ...` on a real pty, streamed by PrinterSession with the layer-check hook.

For each fault class on the 20 mm cube (as sliced by Cura and by PrusaSlicer) and on the torus (sliced by
printloop) the job is paused within 2 layers of the fault, with the right class; clean prints pass every layer
checked. Faults sit at low layers and jobs are cancelled right after the verdict.
Under-extrusion is injected at half flow (E x 0.5): beads half as wide, the layer below showing between them.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from controller.printer.layer_check import LayerCheck
from controller.printer.session import PrinterSession
from slicing.job_plan import read_gcode_file
from tests.conftest import GCODE_SAMPLES
from tests.sim_helpers import running_sim
from vision.camera import open_camera
from vision.config import VisionConfig

SAMPLES = {"cura": GCODE_SAMPLES / "cube.cura.gcode", "prusa": GCODE_SAMPLES / "cube.prusa.gcode"}
MODELS = ["cura", "prusa", "torus"]


@pytest.fixture(scope="module")
def gcode_of(tmp_path_factory):
    """Model name -> G-code path; the torus is sliced by printloop once per module."""
    from slicing.slicer import slice_file
    from tests.conftest import MODELS as MESHES

    torus = tmp_path_factory.mktemp("torus") / "torus.gcode"
    torus.write_text(slice_file(MESHES / "torus_mm.stl").gcode)
    return {**SAMPLES, "torus": torus}


class StopAfter:
    """Wraps the layer check: cancels a clean job once `last` layers have been judged (keeps tests short)."""

    def __init__(self, check: LayerCheck, last: int) -> None:
        self.check, self.last = check, last

    def __call__(self, boundary, job) -> None:
        self.check(boundary, job)
        if boundary.layer - 1 >= self.last and self.check.action is None:
            job.cancel()


def print_with_checks(gcode: Path, faults: str, out: Path, last: int, sim_args: tuple[str, ...] = (),
                      config: VisionConfig | None = None) -> tuple[LayerCheck, str]:
    """Run the job on a fresh simulator (with `sim_args` besides) until it pauses or the clean layers are judged;
    (hook, job state)."""
    args = ["--speed", "max", "--seed", "3", *sim_args] + (["--faults", faults] if faults else [])
    layers = read_gcode_file(gcode).layers
    with running_sim(*args) as sim:
        session = PrinterSession(sim.info["serial"], 115200)
        session.connect(timeout=60)
        camera = open_camera(sim.info["camera"])
        check = LayerCheck(layers, camera, out, config or VisionConfig(policy="pause"))
        try:
            job = session.start_job(gcode, layer_hook=StopAfter(check, last), wait_for_temperatures=False)
            deadline = time.monotonic() + 240
            state = job.progress().state
            while time.monotonic() < deadline:
                state = job.progress().state
                if state != "running":
                    break
                time.sleep(0.05)
            if not job.finished:
                job.cancel()
            job.wait(60)
        finally:
            camera.close()
            session.close()
    return check, state


@pytest.mark.slow
@pytest.mark.parametrize("model,faults,layer,expected", [
    (model, faults, layer, expected)
    for model in MODELS
    for faults, layer, expected in [
        ("layer_shift@4=2.5:0", 4, "layer_shift"),
        ("clog@4", 4, "missing_layer"),
        ("under@4=0.5", 4, "under_extrusion"),
        ("spaghetti@4", 4, "spaghetti"),
    ]
])
def test_fault_pauses_the_job_with_its_class(tmp_path, gcode_of, model, faults, layer, expected):
    check, state = print_with_checks(gcode_of[model], faults, tmp_path, last=layer + 2)
    failed = [v for v in check.verdicts if v.failed]
    assert state == "paused", [v.message for v in check.verdicts]
    assert failed and failed[0].status == expected, [v.message for v in check.verdicts]
    assert layer <= failed[0].layer <= layer + 2
    assert all(v.status == "ok" for v in check.verdicts if v.layer < layer)
    record = json.loads((tmp_path / f"layer_{failed[0].layer:04d}.json").read_text())
    assert record["status"] == expected
    assert (tmp_path / f"layer_{failed[0].layer:04d}_check.jpg").exists()


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_clean_print_passes_every_layer(tmp_path, gcode_of, model):
    check, _state = print_with_checks(gcode_of[model], "", tmp_path, last=10)
    assert len(check.verdicts) >= 11 and not check.errors
    assert all(v.status == "ok" for v in check.verdicts), [v.message for v in check.verdicts if v.failed]
    assert check.action is None


@pytest.mark.slow
def test_a_clean_sequential_plate_passes_every_layer_of_every_copy(tmp_path):
    """Three 2 mm boxes printed one after another: each copy's first layer starts again on the bed."""
    import trimesh

    from slicing.mesh import LoadedMesh
    from slicing.profile import load_profile
    from slicing.slicer import slice_mesh_to_gcode

    box = LoadedMesh(trimesh.creation.box((10, 10, 2)), "box", (), ())
    gcode = tmp_path / "boxes.gcode"
    gcode.write_text(slice_mesh_to_gcode(box, load_profile(overrides={"sequential": "true"}), copies=3).gcode)
    check, state = print_with_checks(gcode, "", tmp_path, last=1000)
    assert state == "completed" and len(check.verdicts) == 30 and not check.errors
    assert all(v.status == "ok" for v in check.verdicts), [v.message for v in check.verdicts if v.failed]


@pytest.mark.slow
def test_printloop_print_with_camera_cancels_on_a_clog(tmp_path):
    import subprocess
    import sys

    from tests.conftest import REPO

    gcode = SAMPLES["prusa"]
    with running_sim("--speed", "max", "--seed", "2", "--faults", "clog@3") as sim:
        out = subprocess.run(
            [sys.executable, "-m", "controller", "print", str(gcode), "--port", sim.info["serial"], "--json",
             "--camera", sim.info["camera"], "--on-failure", "cancel", "--checks-dir", str(tmp_path / "job")],
            cwd=REPO, capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 1, out.stderr
    assert "layer 3 is missing" in out.stderr and "-> cancel" in out.stderr
    rows = [json.loads(x) for x in out.stdout.strip().splitlines()]  # every line one JSON object
    final = rows[-1]
    assert final["state"] == "cancelled"
    assert final["failure"] == {"class": "missing_layer", "layer": 3, "message": final["failure"]["message"]}
    assert final["reason"].startswith("layer 3 is missing") and final["reason"].endswith(": cancelled")
    lines = (tmp_path / "job" / "verdicts.jsonl").read_text().splitlines()
    assert [json.loads(x)["status"] for x in lines] == ["ok", "ok", "ok", "missing_layer"]
    verdicts = [r for r in rows if r.get("event") == "verdict"]               # each layer's verdict as it comes
    assert [(r["layer"], r["status"]) for r in verdicts] == [(0, "ok"), (1, "ok"), (2, "ok"), (3, "missing_layer")]
