"""Time the G-code reader and the print-time estimator on a large file (median of repeats).

Usage: python bench/gcode_read_speed.py [FILE.gcode] [--min-lines 300000] [--repeat 3]
Without FILE, slices ../shared/models/3DBenchy.stl with printloop first. The text is repeated until it has
at least --min-lines lines, so the figure is for a file of that size.
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
from slicing.job_plan import parse_moves, read_gcode


def _median(fn, repeat: int) -> str:
    """Median wall and CPU seconds of fn() (CPU time is the steadier figure on a shared machine)."""
    wall, cpu = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return f"{statistics.median(wall):.3f} s wall, {statistics.median(cpu):.3f} s CPU"


def main(argv: list[str] | None = None) -> int:
    """Print read/parse/estimate times for the file."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", nargs="?", type=Path)
    ap.add_argument("--min-lines", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if args.file is None:
        from slicing.slicer import slice_file

        text = slice_file(REPO.parent / "shared" / "models" / "3DBenchy.stl").gcode
        name = "3DBenchy (printloop)"
    else:
        text, name = args.file.read_text(errors="replace"), args.file.name
    single = text.count("\n")
    copies = max(1, -(-args.min_lines // max(single, 1)))
    text = text * copies
    moves = parse_moves(text)
    job = read_gcode(text)
    print(f"{name} x{copies}: {job.line_count} lines, {moves.xyzef.shape[0] - 1} moves, {len(job.layers)} layers")
    print(f"read_gcode     {_median(lambda: read_gcode(text), args.repeat)}")
    print(f"parse_moves    {_median(lambda: parse_moves(text), args.repeat)}")
    print(f"estimate_time  {_median(lambda: estimate_time(moves.xyzef), args.repeat)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
