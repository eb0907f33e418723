"""Time each stage of printloop's slicer on shared models and print a table (figures only, never asserts).

Usage: python bench/slice_stages.py [--models 3DBenchy torus_mm ...] [--repeat 3] [--copies 1]

Stages: load (read + repair), sections, regions (walls, skins, infill lines), order (copies, islands, seams,
zig-zag), gcode (text), estimate (acceleration-aware time). Wall (or --cpu) seconds, median over repeats.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from slicing.estimate import estimate_time
from slicing.gcode_writer import header, write_program
from slicing.layers import build_layers
from slicing.mesh import load_mesh, place_on_bed
from slicing.planner import plan_layers
from slicing.profile import load_profile
from slicing.sections import layer_tops, mid_planes, slice_mesh
from slicing.slicer import copy_shifts, motion_limits

_clock = time.perf_counter


def use_cpu_clock() -> None:
    """Time stages in this process's CPU seconds (steadier than wall time on a shared machine)."""
    global _clock
    _clock = time.process_time


MODELS = REPO.parent / "shared" / "models"
STAGES = ("load", "sections", "regions", "order", "gcode", "estimate")


def run_once(path: Path, copies: int) -> dict[str, float]:
    """Slice one model, timing each stage in wall seconds."""
    profile = load_profile()
    t: dict[str, float] = {}
    t0 = _clock()
    loaded = load_mesh(path)
    t["load"] = _clock() - t0
    t0 = _clock()
    mesh = place_on_bed(loaded.mesh, (profile.bed_x, profile.bed_y, profile.bed_z))
    lo, hi = mesh.bounds
    tops = layer_tops(float(hi[2] - lo[2]), profile.first_layer_height, profile.layer_height)
    sections = slice_mesh(mesh, mid_planes(tops))
    t["sections"] = _clock() - t0
    t0 = _clock()
    layers = build_layers(sections, profile)
    t["regions"] = _clock() - t0
    t0 = _clock()
    plans = plan_layers(layers, tops, copy_shifts(hi[:2] - lo[:2], copies, profile), profile)
    t["order"] = _clock() - t0
    t0 = _clock()
    program = write_program(plans, profile)
    t["gcode"] = _clock() - t0
    t0 = _clock()
    seconds = estimate_time(program.moves, motion_limits(profile))
    header(profile, seconds, program.filament_mm, 0.0, len(plans), program.bounds) + program.body
    t["estimate"] = _clock() - t0
    return t


def main() -> None:
    """Print the stage table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["20mm-xyz-cube", "torus_mm", "3DBenchy"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--copies", type=int, default=1)
    ap.add_argument("--cpu", action="store_true", help="CPU seconds of this process instead of wall seconds")
    args = ap.parse_args()
    if args.cpu:
        use_cpu_clock()
    kind = "CPU" if args.cpu else "wall"
    print(f"median of {args.repeat} run(s), {kind} seconds, copies={args.copies}")
    print(f"{'model':<16}" + "".join(f"{s:>10}" for s in STAGES) + f"{'total':>10}")
    for name in args.models:
        path = MODELS / (name if name.endswith(".stl") else name + ".stl")
        runs = [run_once(path, args.copies) for _ in range(args.repeat)]
        med = {s: statistics.median(r[s] for r in runs) for s in STAGES}
        total = statistics.median(sum(r.values()) for r in runs)
        print(f"{name:<16}" + "".join(f"{med[s]:>10.3f}" for s in STAGES) + f"{total:>10.3f}")


if __name__ == "__main__":
    main()
