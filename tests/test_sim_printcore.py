"""A host program nobody here wrote — Printrun's printcore — streams 5,000 lines into the simulator over the pty;
every line must be executed once, in order."""
from __future__ import annotations

import threading
import time

from printrun import gcoder
from printrun.printcore import printcore

from tests.sim_helpers import running_sim


def zigzag(n: int) -> list[str]:
    """n G1 lines of a zig-zag over the bed (with a header that homes and sets modes)."""
    lines = ["G28", "G90", "G1 Z0.3 F600"]
    i = 0
    while len(lines) < n:
        x = 20 + (i % 2) * 150
        y = 20 + (i % 1500) * 0.1
        lines.append(f"G1 X{x} Y{y:.1f} F12000")
        i += 1
    return lines


def test_printcore_streams_5000_lines_each_executed_once_in_order():
    lines = zigzag(5000)
    with running_sim("--speed", "max") as sim:
        done = threading.Event()
        core = printcore()
        core.endcb = done.set
        core.connect(sim.info["serial"], 115200)
        deadline = time.monotonic() + 20
        while not core.online and time.monotonic() < deadline:
            time.sleep(0.05)
        assert core.online, "printcore never saw the printer come online"
        core.startprint(gcoder.LightGCode(lines))
        assert done.wait(120), f"print did not finish; sent {core.queueindex} lines"
        time.sleep(0.3)
        core.disconnect()
        st = sim.wait_idle()
        log = sim.log()
    streamed = [r for r in log if r["n"] is not None and r["n"] >= 0]
    assert [r["cmd"] for r in streamed] == lines
    assert [r["n"] for r in streamed] == list(range(len(lines)))
    assert st["lines_executed"] >= len(lines)
    assert st["print_time"] > 0
