"""After a layer check's park the head goes back to exactly where the file left it: every extruding move of the
file is drawn from the same place, at the same height and feed rate as the file alone draws it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from controller.printer.job import CheckPoint, Job
from controller.printer.layer_check import park_commands
from controller.printer.session import PrinterSession
from slicing import JobPlan, plan
from slicing.job_plan import parse_moves
from tests.simproc import Sim
from vision.config import VisionConfig

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "gcode-samples"


def extrusions(commands: list[str]) -> np.ndarray:
    """(start x, y, end x, y, z, feed, filament) of every extruding XY move the commands draw."""
    m = parse_moves("\n".join(commands)).xyzef
    d = np.diff(m, axis=0)
    ext = (d[:, 3] > 1e-7) & (np.abs(d[:, :2]).max(axis=1) > 1e-9)
    a, b = m[:-1][ext], m[1:][ext]
    return np.column_stack([a[:, 0], a[:, 1], b[:, 0], b[:, 1], b[:, 2], b[:, 4], d[ext, 3]])


def _relative_inch_file() -> str:
    """A file whose layers start with a relative extruding move (from where the last layer ended), some in
    inches, with relative E (re-set after each G90, which makes E absolute on Marlin) and z-hop travels."""
    absolute = "G90\nM83"
    lines = ["G21", absolute, "G28", "G1 Z0.2 F600", "G1 X30 Y30 F6000"]
    for k in range(6):
        lines += [f";LAYER:{k}", *(["G20"] if k % 2 else []), "G91", "G1 X0.1 Y0.05 E0.01 F300",
                  absolute, "G21", "G91", "G1 Z0.4", absolute, f"G1 X{20 + k} Y20 F6000", f"G1 Z{0.2 * (k + 1):.2f}"]
        lines += ["G1 X40 Y20 E1.2 F1200", "G1 X40 Y40 E1.2", "G1 X20 Y40 E1.2", "G1 X20 Y20 E1.2"]
        lines += ["G91", "G1 X1 Y1 E0.1 F900", "G1 Z0.4"]  # the layer ends in relative mode
    return "\n".join(lines) + "\n"


def stream_with_parks(job_plan: JobPlan) -> list[str]:
    """Stream a plan to the simulator with a park for a photo at every check point; the commands it ran (from
    the first file command on, the host's park and return included)."""
    stops: list[int] = []

    def park(point: CheckPoint, job: Job) -> None:
        stops.append(point.layer)
        job.step_aside(park_commands(VisionConfig()))

    with Sim("--speed", "max") as sim:
        s = PrinterSession(sim.serial, timeout=2.0)
        s.connect()
        p = s.start_job(job_plan, layer_hook=park, wait_for_temperatures=False).wait(300)
        s.close()
        ran = sim.ran_from_file(len(job_plan.commands))
    assert p.state == "completed", p.reason
    assert stops == list(range(job_plan.layer_count))
    return ran


@pytest.mark.parametrize("source", ["cube.cura.gcode", "cube.prusa.gcode", "relative-inches"])
def test_park_for_photo_and_return_draws_every_move_as_the_file_does(source):
    text = _relative_inch_file() if source == "relative-inches" else (SAMPLES / source).read_text()
    job_plan = plan(text)
    alone, with_checks = extrusions(list(job_plan.commands)), extrusions(stream_with_parks(job_plan))
    assert with_checks.shape == alone.shape
    np.testing.assert_allclose(with_checks, alone, atol=2e-3)
