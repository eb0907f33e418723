"""Speed of the simulated printer's physics: planner µs/move, deposition ms/layer, camera ms/frame.

Usage: python bench/sim_physics.py [GCODE] [--repeat N]
Feeds the G-code's moves (default: ../shared/gcode-samples/cube.prusa.gcode, repeated to ~300k moves, the size
of a 3DBenchy job) through the planner, deposits every layer's extruding moves, renders one camera frame per
layer, and prints the figures next to the goals (planner <= 15 µs/move, deposit a few ms/layer, render <= 40 ms).
Times are CPU time of this process (time.process_time), so that other jobs on a shared machine do not inflate them.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.deposition import Deposition
from firmware_sim.planner import Planner

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "gcode-samples" / "cube.prusa.gcode"
WORD = re.compile(r"([XYZEF])(-?\d*\.?\d+)")


def moves_of(path: Path) -> list[tuple[tuple[float, float, float, float], float]]:
    """Absolute (x, y, z, e) targets and feed rates (mm/s) of the G0/G1 moves (G90/G91, M82/M83, G92 E)."""
    pos = {"X": 0.0, "Y": 0.0, "Z": 0.0, "E": 0.0}
    feed = 1500.0
    rel_e = False
    e_offset = 0.0
    out = []
    for raw in path.read_text().splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line:
            continue
        cmd = line.split(None, 1)[0]
        if cmd == "M83":
            rel_e = True
        elif cmd == "M82":
            rel_e = False
        elif cmd == "G92":
            for k, v in WORD.findall(line):
                if k == "E":
                    e_offset += pos["E"] - float(v)
                    pos["E"] = float(v)
        elif cmd in ("G0", "G1"):
            for k, v in WORD.findall(line):
                if k == "F":
                    feed = float(v)
                elif k == "E" and rel_e:
                    pos["E"] += float(v)
                else:
                    pos[k] = float(v)
            out.append(((pos["X"], pos["Y"], pos["Z"], pos["E"] + e_offset), feed / 60.0))
    return out


def main() -> None:
    """Run the three stages and print their figures."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("gcode", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--repeat", type=int, default=0, help="repeat the job to reach ~300k moves (0 = auto)")
    args = ap.parse_args()
    moves = moves_of(args.gcode)
    repeat = args.repeat or max(1, 300_000 // max(1, len(moves)))

    planner = Planner()
    blocks = []
    t0 = time.process_time()
    for r in range(repeat):
        for target, feed in moves:
            out = planner.queue_move(target, feed)
            if r == 0:
                blocks += out
        out = planner.flush()
        if r == 0:
            blocks += out
        planner.set_position((0.0, 0.0, 0.0, 0.0))
    plan_s = time.process_time() - t0
    n = repeat * len(moves)
    sim_time = sum(b.duration for b in blocks)
    print(f"planner: {n} moves in {plan_s:.2f} s = {plan_s / n * 1e6:.2f} µs/move (goal <= 15); "
          f"one job = {sim_time / 60:.1f} min simulated")

    # layers: extruding XY blocks grouped by Z
    seg = np.array([[*b.start[:2], *b.end[:2], b.end[3] - b.start[3], b.end[2]] for b in blocks])
    ext = seg[(seg[:, 4] > 1e-9) & (np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) > 0)]
    zs = np.unique(np.round(ext[:, 5], 3))
    dep = Deposition()
    cfg = CameraConfig()
    rng = np.random.default_rng(0)
    t_dep, t_cam, sizes = [], [], []
    prev_z = 0.0
    jpeg = b""
    for layer, z in enumerate(zs):
        sel = ext[np.abs(ext[:, 5] - z) < 1e-3]
        t0 = time.process_time()
        dep.deposit(sel[:, :4], sel[:, 4], float(z), float(z - prev_z) or 0.2, layer)
        t_dep.append(time.process_time() - t0)
        t0 = time.process_time()
        img = render(dep, layer, cfg, rng)
        t_cam.append(time.process_time() - t0)
        sizes.append(len(sel))
        prev_z = float(z)
    t0 = time.process_time()
    jpeg = encode_jpeg(img)
    t_jpeg = time.process_time() - t0
    print(f"deposition: {len(zs)} layers, {np.mean(sizes):.0f} segments/layer: mean {np.mean(t_dep) * 1e3:.2f} ms, "
          f"max {np.max(t_dep) * 1e3:.2f} ms per layer")
    print(f"camera {cfg.resolution[0]}x{cfg.resolution[1]}: render mean {np.mean(t_cam[1:]) * 1e3:.1f} ms, "
          f"max {np.max(t_cam[1:]) * 1e3:.1f} ms (goal <= 40); jpeg {t_jpeg * 1e3:.1f} ms, {len(jpeg) // 1024} KiB")

    per_job = plan_s / repeat + float(np.sum(t_dep)) + float(np.sum(t_cam))
    print(f"physics of one job (plan + deposit + one frame per layer): {per_job:.2f} s CPU for "
          f"{sim_time:.0f} s simulated = {sim_time / per_job:.0f}x real time (goal >= 200x overall)")

    # worst case for the camera: parts over the whole bed
    full = Deposition()
    for i in range(6):
        for j in range(6):
            x, y = 10 + 35 * i, 10 + 35 * j
            lines = np.array([[x, y + 0.45 * k, x + 25, y + 0.45 * k] for k in range(56)])
            length = np.hypot(lines[:, 2] - lines[:, 0], lines[:, 3] - lines[:, 1])
            full.deposit(lines, 0.45 * 0.2 * length / full.filament_area, 0.2, 0.2, 0)
    t0 = time.process_time()
    for _ in range(5):
        render(full, 0, cfg, rng)
    print(f"camera, 36 parts over the whole bed: {(time.process_time() - t0) / 5 * 1e3:.1f} ms per frame")
    print(f"(CPU time; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while measuring)")


if __name__ == "__main__":
    main()
