"""A line longer than the firmware takes is refused before the job starts, naming the line; Klipper takes it."""
from __future__ import annotations

import pytest

from controller.errors import JobError
from controller.printer.session import PrinterSession
from tests.simproc import Sim

POLYGON = ",".join(f"[{x},{y}]" for x, y in [(100, 100), (120, 100), (120, 120), (100, 120)] * 6)
FILE = "\n".join(["G28", f"EXCLUDE_OBJECT_DEFINE NAME=cube_1 CENTER=110,110 POLYGON=[{POLYGON}]",
                  "EXCLUDE_OBJECT_START NAME=cube_1", "G1 X10 Y10 F3000", "EXCLUDE_OBJECT_END NAME=cube_1"]) + "\n"


def test_marlin_refuses_a_line_longer_than_its_buffer_naming_it(tmp_path):
    path = tmp_path / "klipper-made.gcode"
    path.write_text(FILE)
    with Sim("--speed", "max") as sim:
        s = PrinterSession(sim.serial, timeout=2.0)
        s.connect()
        try:
            with pytest.raises(JobError, match=r"line 2 is \d+ characters long, more than the \d+ this firmware"):
                s.start_job(path)
            assert s.state == "idle"  # nothing was sent, the printer is free
        finally:
            s.close()


def test_klipper_takes_the_same_file(tmp_path):
    path = tmp_path / "klipper-made.gcode"
    path.write_text(FILE)
    with Sim("--speed", "max", "--firmware", "klipper") as sim:
        s = PrinterSession(sim.serial, timeout=2.0)
        assert s.connect().name == "Klipper"
        p = s.start_job(path).wait(30)
        s.close()
    assert p.state == "completed", p.reason
