"""Slice the shared models with printloop and with CuraEngine in one run and print a side-by-side table.

Usage: python bench/slice_vs_peers.py [--models cube torus ...] [--repeat 3] [--cura PATH] [--keep DIR]

Wall time (and CPU time, steadier on a shared machine) is the median over repeats of the whole operation: for printloop, loading the mesh, slicing and
writing the G-code file (in this process, after imports); for CuraEngine, the whole `CuraEngine slice`
process. Both G-code files are then read back with printloop's reader and timed with printloop's estimator,
so the "est. (model)" column compares like with like; "est. (own)" is each tool's own figure.
It prints figures only and never asserts on time.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from slicing.errors import SlicingError
from slicing.estimate import estimate_time
from slicing.job_plan import parse_moves, read_gcode

SHARED = REPO.parent / "shared"
DEFAULT_MODELS = ["20mm-xyz-cube", "idler_riser_mm", "torus_mm", "3DBenchy"]
INSTALL_HINT = ("CuraEngine not found ({engine}): install it with `apt-get update && apt-get install -y "
                "cura-engine` (CuraEngine 4.13) or pass --cura PATH; printing printloop's figures only.")
FILAMENT_DIAMETER_MM = 1.75
T = TypeVar("T")


@dataclass(frozen=True)
class Run:
    """One tool's figures on one model."""

    model: str
    tool: str
    wall_s: float | None
    cpu_s: float | None = None
    layers: int | None = None
    lines: int | None = None
    filament_m: float | None = None
    est_own_s: float | None = None
    est_model_s: float | None = None
    error: str | None = None


def cura_command(engine: str, definitions: Path, settings: dict[str, object], model: Path,
                 out: Path) -> list[str]:
    """CuraEngine argv: every setting as -s key=value before and after -e0 (extruder settings need both)."""
    pairs: list[str] = []
    for key, value in settings.items():
        if key.startswith("_"):
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        pairs += ["-s", f"{key}={text}"]
    return [engine, "slice", "-v", "-j", str(definitions), *pairs, "-e0", *pairs, "-l", str(model),
            "-o", str(out)]


_PRINT_TIME = re.compile(r"Print time \(s\):\s*([\d.]+)")
_FILAMENT_MM3 = re.compile(r"Filament \(mm\^3\):\s*([\d.]+)")


def parse_cura_report(text: str) -> tuple[float | None, float | None]:
    """(print time s, filament m) from CuraEngine's -v report."""
    t = _PRINT_TIME.search(text)
    v = _FILAMENT_MM3.search(text)
    area = math.pi * (FILAMENT_DIAMETER_MM / 2) ** 2
    return (float(t.group(1)) if t else None, float(v.group(1)) / area / 1000.0 if v else None)


def _cpu_now() -> float:
    """CPU seconds used so far by this process and its finished children."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _median_wall(fn: Callable[[], T], repeat: int) -> tuple[float, float, T]:
    """Median wall and CPU time of fn over repeat (≥ 1) calls, and the last call's result."""
    wall, cpu, results = [], [], []
    for _ in range(max(1, repeat)):
        w0, c0 = time.perf_counter(), _cpu_now()
        results.append(fn())
        wall.append(time.perf_counter() - w0)
        cpu.append(_cpu_now() - c0)
    return statistics.median(wall), statistics.median(cpu), results[-1]


def _read_back(path: Path) -> tuple[int, int, float]:
    """(layers, lines, estimated seconds with printloop's model) of a G-code file."""
    text = path.read_text(errors="replace")
    job = read_gcode(text)
    return len(job.layers), job.line_count, estimate_time(parse_moves(text).xyzef)


def bench_printloop(model: Path, out: Path, repeat: int) -> Run:
    """Slice with printloop in this process: load, slice, write the file."""
    try:
        from slicing.slicer import SliceResult, slice_file
    except ImportError as exc:
        return Run(model.stem, "printloop", None, error=f"printloop slicer unavailable: {exc}")

    def once() -> SliceResult:
        result = slice_file(model)
        out.write_text(result.gcode)
        return result

    try:
        wall, cpu, result = _median_wall(once, repeat)
    except SlicingError as exc:  # a model the slicer refuses is a row, not a crash of the whole table
        return Run(model.stem, "printloop", None, error=f"{type(exc).__name__}: {exc}")
    _, lines, est = _read_back(out)
    return Run(model.stem, "printloop", wall, cpu, result.layer_count, lines, result.filament_mm / 1000.0,
               result.estimated_time_s, est)


def bench_cura(engine: str, model: Path, out: Path, repeat: int) -> Run:
    """Slice with CuraEngine as a whole process, with the shared profile."""
    peers = SHARED / "peers"
    settings = json.loads((peers / "cura.json").read_text())
    cmd = cura_command(engine, peers / "cura-definitions" / "fdmprinter.def.json", settings, model, out)

    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)

    wall, cpu, proc = _median_wall(once, repeat)
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return Run(model.stem, "CuraEngine", None, error=f"exit {proc.returncode}: {tail[0][:120]}")
    est_own, filament_m = parse_cura_report(proc.stdout + proc.stderr)
    layers, lines, est = _read_back(out)
    return Run(model.stem, "CuraEngine", wall, cpu, layers, lines, filament_m, est_own, est)


def _fmt(value: float | None, spec: str) -> str:
    """A table cell, '-' when unknown."""
    return "-" if value is None else format(value, spec)


def _clock(seconds: float | None) -> str:
    """h:mm:ss of a duration."""
    if seconds is None:
        return "-"
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def print_table(runs: list[Run]) -> None:
    """The side-by-side table, with printloop ÷ CuraEngine wall time per model."""
    head = (f"{'model':<16} {'tool':<11} {'wall s':>8} {'cpu s':>7} {'layers':>6} {'lines':>8} {'filament m':>10} "
            f"{'est. (own)':>10} {'est. (model)':>12} {'wall ratio':>10} {'cpu ratio':>9}")
    print(head)
    print("-" * len(head))
    by_model: dict[str, dict[str, Run]] = {}
    for r in runs:
        by_model.setdefault(r.model, {})[r.tool] = r
    for r in runs:
        if r.error:
            print(f"{r.model:<16} {r.tool:<11} {r.error}")
            continue
        ratio = cpu_ratio = ""
        peer = by_model[r.model].get("CuraEngine")
        if r.tool == "printloop" and peer and peer.wall_s and r.wall_s is not None:
            ratio = f"{r.wall_s / peer.wall_s:.2f}x"
            if peer.cpu_s and r.cpu_s is not None:
                cpu_ratio = f"{r.cpu_s / peer.cpu_s:.2f}x"
        print(f"{r.model:<16} {r.tool:<11} {_fmt(r.wall_s, '8.2f')} {_fmt(r.cpu_s, '7.2f')} {_fmt(r.layers, '6d')} "
              f"{_fmt(r.lines, '8d')} {_fmt(r.filament_m, '10.2f')} {_clock(r.est_own_s):>10} "
              f"{_clock(r.est_model_s):>12} {ratio:>10} {cpu_ratio:>9}")


def resolve_model(name: str) -> Path:
    """A model path from a name in ../shared/models (with or without .stl) or a path."""
    p = Path(name)
    if p.exists():
        return p
    for cand in (SHARED / "models" / name, SHARED / "models" / f"{name}.stl"):
        if cand.exists():
            return cand
    raise SystemExit(f"model {name!r} not found (looked in {SHARED / 'models'})")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="model names in ../shared/models or paths")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and model; the median is shown")
    ap.add_argument("--cura", default=os.environ.get("CURAENGINE", "CuraEngine"), help="CuraEngine executable")
    ap.add_argument("--keep", type=Path, help="keep the G-code files in this folder")
    args = ap.parse_args(argv)
    engine = shutil.which(args.cura)
    if engine is None:
        print(INSTALL_HINT.format(engine=args.cura))
    models = [resolve_model(m) for m in args.models]
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        outdir = args.keep or Path(tmp)
        outdir.mkdir(parents=True, exist_ok=True)
        for model in models:
            runs.append(bench_printloop(model, outdir / f"{model.stem}.printloop.gcode", max(1, args.repeat)))
            if engine is not None:
                runs.append(bench_cura(engine, model, outdir / f"{model.stem}.cura.gcode", max(1, args.repeat)))
            print(f"  done {model.name}", file=sys.stderr)
    print(f"median of {args.repeat} run(s); {os.cpu_count()} CPU(s); est. (model) = printloop's estimator "
          f"on each tool's G-code")
    print_table(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
