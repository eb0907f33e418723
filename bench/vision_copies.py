"""Milliseconds per layer check on a plate of N copies against the same plate judged whole, on one core.

Renders the simulator's 1280x960 photos of a plate sliced by printloop (N copies of a 12 mm block, or of a shared
model), then times `LayerChecker.check` per layer twice from the same photos: with the copies named (each judged
in its own region) and without (the plate as one part). The issue's budget: <= 20 ms per layer with 6 copies.

    .venv/bin/python bench/vision_copies.py [--copies 6] [--layers 12] [--model block] [--repeat 3]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_sim.camera import CameraConfig, encode_jpeg, render
from firmware_sim.deposition import Deposition
from slicing import plan
from slicing.slicer import slice_file
from vision.check import LayerChecker
from vision.config import VisionConfig
from vision.registration import register

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"


def plate_photos(model: str, copies: int, layers: int, seed: int) -> tuple[list, list[str], list[np.ndarray]]:
    """Layer toolpaths, object names and one decoded photo per layer (plus the bare bed first)."""
    import trimesh

    with tempfile.TemporaryDirectory() as tmp:
        mesh = Path(tmp) / "part.stl"
        if model == "block":
            trimesh.creation.box(extents=(12.0, 12.0, 0.2 * layers)).export(mesh)
        else:
            mesh = SHARED / "models" / f"{model}.stl"
        job_plan = plan(slice_file(mesh, copies=copies).gcode)
    paths = job_plan.layer_paths()[:layers]
    rng = np.random.default_rng(seed)
    cam, dep = CameraConfig(), Deposition()

    def photo(n: int) -> np.ndarray:
        return np.asarray(cv2.imdecode(np.frombuffer(encode_jpeg(render(dep, n, cam, rng)), np.uint8),
                                       cv2.IMREAD_COLOR))

    photos = [photo(0)]
    for lp in paths:
        dep.deposit(lp.segments, lp.extrusion, lp.z, lp.height, lp.index)
        photos.append(photo(lp.index))
    return paths, [o.name for o in job_plan.objects], photos


def time_checks(paths: list, names: list[str], photos: list[np.ndarray], repeat: int) -> tuple[list[float], int]:
    """Per-layer ms of every check (repeat passes over the job) and the number of failed verdicts."""
    cfg = VisionConfig()
    ms: list[float] = []
    failed = 0
    for _ in range(repeat):
        checker = LayerChecker(paths, register(photos[0], cfg), cfg, names)
        for n, image in enumerate(photos[1:]):
            t0 = time.perf_counter()
            verdict, _ = checker.check(image, n, annotated=False)
            ms.append(1000 * (time.perf_counter() - t0))
            failed += int(verdict.failed or bool(verdict.failed_objects))
    return ms, failed


def main(argv: list[str] | None = None) -> int:
    """Print median and p90 ms per layer for the plate judged per copy and whole."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=6)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--model", default="block", help="'block' or a mesh name in ../shared/models")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    paths, names, photos = plate_photos(args.model, args.copies, args.layers, args.seed)
    print(f"# {args.copies} x {args.model}, {len(paths)} layers, {photos[0].shape[1]}x{photos[0].shape[0]}, one core")
    print(f"{'judged':<10} {'median ms':>10} {'p90 ms':>8} {'flagged':>8}")
    whole = [dataclasses.replace(lp, objects=None) for lp in paths]   # the same plate, its labels dropped
    for label, layers, objects in (("per copy", paths, names), ("whole", whole, [])):
        ms, failed = time_checks(layers, objects, photos, args.repeat)
        p90 = float(np.percentile(ms, 90))
        print(f"{label:<10} {statistics.median(ms):>10.1f} {p90:>8.1f} {failed:>8}")
    print("budget: <= 20 ms per layer with 6 copies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
