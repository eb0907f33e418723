"""Helpers for tests that run the service against real simulated printers (`printloop sim` subprocesses)."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import trimesh

from controller.sim_procs import SimProcess, launch_sim


def small_part_gcode(folder: Path, height_mm: float = 2.0, side_mm: float = 14.0) -> Path:
    """G-code for a small square block (10 layers at 0.2 mm), sliced by printloop: quick to print in a test."""
    from slicing.slicer import slice_file

    mesh = folder / "block.stl"
    trimesh.creation.box(extents=(side_mm, side_mm, height_mm)).export(mesh)
    out = folder / "block.gcode"
    out.write_text(slice_file(mesh).gcode)
    return out


def start_sims(faults: list[str], folder: Path, speed: str = "max") -> list[SimProcess]:
    """One simulated printer per fault spec ('' for none); stopped by the caller."""
    sims: list[SimProcess] = []
    try:
        for i, fault in enumerate(faults):
            extra = ["--faults", fault] if fault else []
            sims.append(launch_sim("--speed", speed, "--seed", str(i + 1), *extra,
                                   log=folder / f"sim-{i}.log"))
    except Exception:
        for s in sims:
            s.stop()
        raise
    return sims


def wait_for(cond: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> object:
    """Poll until cond() is truthy; fail the test with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
