"""Time each stage of load -> place -> sections on a mesh (default 3DBenchy); prints the median of N runs.

Usage: python bench/sections_profile.py [MODEL] [--runs 3] [--layer-height 0.2]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slicing.mesh import load_mesh, place_on_bed
from slicing.sections import layer_tops, mid_planes, section_loops, union_layers

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "models" / "3DBenchy.stl"


def run_once(path: Path, layer_height: float, clock: Callable[[], float]) -> dict[str, float]:
    """One load/place/slice pass; seconds per stage on `clock`."""
    t0 = clock()
    loaded = load_mesh(path)
    t1 = clock()
    mesh = place_on_bed(loaded.mesh, (220.0, 220.0, 250.0))
    t2 = clock()
    vertices, faces = np.asarray(mesh.vertices), np.asarray(mesh.faces)
    height = float(vertices[:, 2].max() - vertices[:, 2].min())
    planes = mid_planes(layer_tops(height, layer_height, layer_height))
    loops, _ = section_loops(vertices, faces, planes)
    t3 = clock()
    layers = union_layers(loops)
    t4 = clock()
    assert len(layers) == len(planes)
    return {"load": t1 - t0, "place": t2 - t1, "loops": t3 - t2, "union": t4 - t3, "total": t4 - t0,
            "layers": len(planes), "faces": len(faces)}


def main() -> None:
    """Print the median time of each stage."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", nargs="?", default=str(DEFAULT))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layer-height", type=float, default=0.2)
    args = parser.parse_args()
    wall = [run_once(Path(args.model), args.layer_height, time.perf_counter) for _ in range(args.runs)]
    cpu = [run_once(Path(args.model), args.layer_height, time.process_time) for _ in range(args.runs)]
    print(f"{Path(args.model).name}: {wall[0]['faces']:.0f} triangles, {wall[0]['layers']:.0f} layers, "
          f"median of {args.runs} runs (CPU time is the figure to trust on a shared machine)")
    print(f"  {'stage':<6} {'wall ms':>9} {'cpu ms':>9}")
    for stage in ("load", "place", "loops", "union", "total"):
        w = statistics.median(r[stage] for r in wall) * 1000
        c = statistics.median(r[stage] for r in cpu) * 1000
        print(f"  {stage:<6} {w:9.1f} {c:9.1f}")


if __name__ == "__main__":
    main()
