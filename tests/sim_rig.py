"""Helpers for tests that run the service against real simulated printers (`printloop sim` subprocesses)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import trimesh

from controller.api.app import create_app
from controller.api.live import LiveServer
from controller.config import parse_config
from controller.farm.service import LabService
from controller.sim_procs import SimProcess, launch_sim
from tests.conftest import MODELS


def small_part_gcode(folder: Path, height_mm: float = 2.0, side_mm: float = 14.0) -> Path:
    """G-code for a small square block (10 layers at 0.2 mm), sliced by printloop: quick to print in a test."""
    from slicing.slicer import slice_file

    mesh = folder / "block.stl"
    trimesh.creation.box(extents=(side_mm, side_mm, height_mm)).export(mesh)
    out = folder / "block.gcode"
    out.write_text(slice_file(mesh).gcode)
    return out


def cube_gcode(folder: Path) -> Path:
    """The shared 20 mm calibration cube sliced by printloop (100 layers at 0.2 mm)."""
    from slicing.slicer import slice_file

    out = folder / "cube.gcode"
    out.write_text(slice_file(MODELS / "20mm-xyz-cube.stl").gcode)
    return out


def take_part_off(sim: SimProcess) -> None:
    """What the technician's hands do: empty the simulated bed."""
    httpx.post(sim.camera.rsplit("/", 1)[0] + "/clear-bed", timeout=10).raise_for_status()


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


@contextmanager
def served_lab(folder: Path, key: str, timeout: float = 60.0, name: str = "mk3-a"
               ) -> Iterator[tuple[httpx.Client, LabService, SimProcess, LiveServer]]:
    """One simulated printer with its camera, behind `printloop serve`'s app on a live loopback port, and an API
    client holding `key`; everything is stopped at the end."""
    (sim,) = start_sims([""], folder)
    server: LiveServer | None = None
    svc: LabService | None = None
    try:
        cfg = parse_config({"data_dir": str(folder / "data"), "api_keys": [key], "printers": [
            {"name": name, "port": sim.serial, "camera": sim.camera}]})
        svc = LabService(cfg)
        server = LiveServer(create_app(svc)).start()
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": key}, timeout=timeout) as api:
            yield api, svc, sim, server
    finally:
        if server is not None:
            server.stop()
        if svc is not None:
            svc.stop()
        sim.stop()
