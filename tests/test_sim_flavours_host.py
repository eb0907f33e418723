"""The real host (PrinterSession) streams a 10,000-line file to a simulator of each firmware flavour: every
command executes once, in order; also under line noise for the flavours with line numbers and checksums."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from controller.printer.session import PrinterSession
from tests.simproc import Sim, file_part
from tests.test_session_sim import assert_each_line_once_in_order, numbered

LINES = 10_000


def write_file(path: Path) -> list[str]:
    """A file of LINES extruding moves over a few layers; returns its commands."""
    cmds = ["M83", "G28", "G92 E0", "M302 S0"]
    for i in range(LINES - len(cmds)):
        if i % 500 == 0:
            cmds.append(f"G1 Z{0.2 * (i // 500 + 1):.2f} F600")
        else:
            cmds.append(f"G1 X{10 + (i % 100) * 0.5:.2f} Y{20 + (i % 37):.2f} F30000")
    path.write_text("\n".join(cmds) + "\n")
    return cmds


def stream(path: Path, *args: str) -> tuple[list[dict], str]:
    """Print the file through PrinterSession on a `printloop sim ARGS`; the executed log and the firmware name."""
    with Sim("--speed", "max", *args) as sim:
        s = PrinterSession(sim.serial, timeout=2.0, start_wait=0.5)
        try:
            info = s.connect()
            p = s.start_job(path).wait(60)
        finally:
            s.close()
        assert p.state == "completed", p.reason
        deadline = time.monotonic() + 10
        while True:      # the log reaches the file asynchronously
            log = sim.executed()
            if len(file_part(log)) >= LINES or time.monotonic() > deadline:
                return log, info.name
            time.sleep(0.05)


CLEAN = [("--firmware", f) for f in ("marlin", "prusa", "klipper")]
NOISY = [("--firmware", f, "--seed", "3", "--faults", "corrupt=1e-3,drop_ok=1e-3") for f in ("marlin", "prusa")]


def test_a_long_file_runs_once_in_order_on_every_flavour_clean_and_under_line_noise(tmp_path):
    """All five streams at once (each is bound by its link's round trips, not by the CPU)."""
    path = tmp_path / "long.gcode"
    cmds = write_file(path)
    with ThreadPoolExecutor(len(CLEAN) + len(NOISY)) as pool:
        runs = [pool.submit(stream, path, *args) for args in CLEAN + NOISY]
        results = [r.result() for r in runs]
    clean, noisy = results[:len(CLEAN)], results[len(CLEAN):]
    for args, (log, _) in zip(CLEAN, clean):
        assert file_part(log) == cmds, f"{args}: the executed log differs from the file"
    # under noise a line can differ only where Marlin's XOR checksum cannot see it (two flips of one bit)
    for args, (log, _) in zip(NOISY, noisy):
        assert assert_each_line_once_in_order(numbered(log), cmds) <= 2, args
    assert [name for _, name in clean[:2]] == ["Marlin 2.1.2.1 (printloop sim)",
                                               "Prusa-Firmware 3.13.3 based on Marlin"]
    assert clean[2][1] == "Klipper"  # its M115 answer comes inside the ok
