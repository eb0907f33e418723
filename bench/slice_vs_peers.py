"""Slice the shared models with printloop, CuraEngine and PrusaSlicer in one run and print a side-by-side table.

Usage: python bench/slice_vs_peers.py [--models cube torus ...] [--copies 1] [--repeat 3] [--cura PATH]
       [--prusa PATH] [--keep DIR] [--support everywhere|buildplate]

A model is a name in ../shared/models, a path, or a part of tests/support_parts.py (`bracket`, `shelf`, …).
`--support MODE` turns supports on in every tool with the settings of bench/supports_vs_peers.py.

Wall time (and CPU time, steadier on a shared machine) is the median over repeats of the whole operation. printloop
is timed twice: `process` is the whole `python -m controller slice` process (start-up and imports included), as the
peers are; `in-proc` is loading the mesh, slicing and writing the file in this process, after imports. CuraEngine
is the whole `CuraEngine slice` process, PrusaSlicer the whole `prusa-slicer --export-gcode` process. With
`--copies N` every tool prints N copies of the model on one plate (CuraEngine: the model loaded N times, at the
positions printloop's plate gives; PrusaSlicer: `--duplicate N`,
which PrusaSlicer 2.5 refuses with this profile, 'Objects could not fit on the bed': its row says so). The ratios are printloop's process wall time over each peer's. Both G-code files are then read back with printloop's reader and timed with printloop's estimator,
so the "est. (model)" column compares like with like; "est. (own)" is each tool's own figure; "simulated" is the
time the file takes on `printloop sim`'s board (firmware_sim.dry_run: heating, acceleration and junctions included).
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

from firmware_sim.dry_run import dry_run
from slicing.errors import SlicingError
from slicing.estimate import clock, estimate_time
from slicing.job_plan import parse_moves, read_gcode

SHARED = REPO.parent / "shared"
DEFAULT_MODELS = ["20mm-xyz-cube", "idler_riser_mm", "torus_mm", "3DBenchy"]
PRUSA_HINT = "PrusaSlicer not found ({exe}): install it with `apt-get install -y prusa-slicer` or pass --prusa PATH."
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
    mode: str = "process"
    cpu_s: float | None = None
    layers: int | None = None
    lines: int | None = None
    filament_m: float | None = None
    est_own_s: float | None = None
    est_model_s: float | None = None
    sim_s: float | None = None
    error: str | None = None


def cura_command(engine: str, definitions: Path, settings: dict[str, object], model: Path,
                 out: Path, positions: list[tuple[float, float]] | None = None) -> list[str]:
    """CuraEngine argv: every setting as -s key=value before and after -e0 (extruder settings need both); with
    `positions`, the model once per (x, y) offset from the bed centre (mm)."""
    pairs: list[str] = []
    for key, value in settings.items():
        if key.startswith("_"):
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        pairs += ["-s", f"{key}={text}"]
    meshes = ["-l", str(model)]
    if positions:
        meshes = [a for x, y in positions for a in ("-l", str(model), "-s", f"mesh_position_x={x:g}",
                                                    "-s", f"mesh_position_y={y:g}")]
    return [engine, "slice", "-v", "-j", str(definitions), *pairs, "-e0", *pairs, *meshes, "-o", str(out)]


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


def _read_back(path: Path) -> tuple[int, int, float, float]:
    """(layers, lines, estimated seconds with printloop's model, simulated seconds on `printloop sim`'s board) of a
    G-code file."""
    text = path.read_text(errors="replace")
    job = read_gcode(text)
    sim = dry_run(text.splitlines()).sim_s
    return len(job.layers), job.line_count, estimate_time(parse_moves(text).xyzef), sim


def support_overrides(support: str | None) -> dict[str, str]:
    """printloop's `--set` values that turn supports on as bench/supports_vs_peers.py sets them (none when off)."""
    if support is None:
        return {}
    from bench.supports_vs_peers import SUPPORT

    return {"support": f'"{support}"', **{k: str(v) for k, v in SUPPORT.items()}}


def bench_printloop(model: Path, out: Path, repeat: int, copies: int = 1, support: str | None = None) -> Run:
    """Slice with printloop in this process: load, slice, write the file."""
    try:
        from slicing.layer_pool import default_workers
        from slicing.profile import load_profile
        from slicing.slicer import SliceResult, slice_file
    except ImportError as exc:
        return Run(model.stem, "printloop", None, mode="in-proc", error=f"printloop slicer unavailable: {exc}")
    profile = load_profile(overrides=support_overrides(support))

    def once() -> SliceResult:
        result = slice_file(model, profile, copies=copies, workers=default_workers())  # as `printloop slice`
        out.write_text(result.gcode)
        return result

    try:
        wall, cpu, result = _median_wall(once, repeat)
    except SlicingError as exc:  # a model the slicer refuses is a row, not a crash of the whole table
        return Run(model.stem, "printloop", None, mode="in-proc", error=f"{type(exc).__name__}: {exc}")
    _, lines, est, sim = _read_back(out)
    return Run(model.stem, "printloop", wall, "in-proc", cpu, result.layer_count, lines, result.filament_mm / 1000.0,
               result.estimated_time_s, est, sim)


def _timed_process(cmd: list[str], repeat: int) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Median wall and CPU time of a whole process over repeat runs, and the last run."""
    def once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600, cwd=REPO)

    return _median_wall(once, repeat)


def _failed(model: Path, tool: str, proc: subprocess.CompletedProcess[str]) -> Run:
    """A row saying why a tool's process gave no G-code."""
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
    return Run(model.stem, tool, None, error=f"exit {proc.returncode}: {tail[0][:120]}")


def bench_printloop_process(model: Path, out: Path, repeat: int, copies: int = 1, support: str | None = None) -> Run:
    """Slice with printloop as a whole process (`python -m controller slice`), as a user runs it."""
    cmd = [sys.executable, "-m", "controller", "slice", str(model), "-o", str(out), "--quiet", "--copies", str(copies)]
    for key, value in support_overrides(support).items():
        cmd += ["--set", f"{key}={value}"]
    wall, cpu, proc = _timed_process(cmd, repeat)
    if proc.returncode != 0 or not out.exists():
        return _failed(model, "printloop", proc)
    layers, lines, est, sim = _read_back(out)
    head = out.read_text(errors="replace")[:2000]
    own = re.search(r"^;TIME:(\d+)", head, re.MULTILINE)
    fil = re.search(r"^;Filament used: ([\d.]+)m", head, re.MULTILINE)
    return Run(model.stem, "printloop", wall, "process", cpu, layers, lines, float(fil.group(1)) if fil else None,
               float(own.group(1)) if own else None, est, sim)


def bench_prusa(exe: str, model: Path, out: Path, repeat: int, copies: int = 1, support: str | None = None) -> Run:
    """Slice with PrusaSlicer as a whole process, with the shared profile (supports on with `support`)."""
    ini = SHARED / "peers" / "prusa.ini"
    if support is not None:
        from bench.supports_vs_peers import prusa_ini

        ini = out.with_suffix(".ini")
        ini.write_text(prusa_ini(support))
    cmd = [exe, "--export-gcode", "--load", str(ini), *(
        ["--duplicate", str(copies)] if copies > 1 else []), str(model), "-o", str(out)]
    wall, cpu, proc = _timed_process(cmd, repeat)
    if proc.returncode != 0 or not out.exists():
        return _failed(model, "PrusaSlicer", proc)
    layers, lines, est, sim = _read_back(out)
    head = out.read_text(errors="replace")
    own = re.search(r"estimated printing time \(normal mode\) = (?:(\d+)d )?(?:(\d+)h )?(?:(\d+)m )?(\d+)s", head)
    est_own = None
    if own:
        d, h, m, sec = (int(g) if g else 0 for g in own.groups())
        est_own = float(((d * 24 + h) * 60 + m) * 60 + sec)
    fil = re.search(r"filament used \[mm\] = ([\d.]+)", head)
    return Run(model.stem, "PrusaSlicer", wall, "process", cpu, layers, lines,
               float(fil.group(1)) / 1000.0 if fil else None, est_own, est, sim)


def plate_positions(model: Path, copies: int) -> list[tuple[float, float]] | None:
    """Offsets from the bed centre of each copy on printloop's plate (None for one copy)."""
    if copies <= 1:
        return None
    from slicing.mesh import load_mesh
    from slicing.plate import arrange

    ext = load_mesh(model).mesh.extents
    centres = arrange((float(ext[0]), float(ext[1])), copies, (220.0, 220.0))
    return [(float(x) - 110.0, float(y) - 110.0) for x, y in centres]


def bench_cura(engine: str, model: Path, out: Path, repeat: int, copies: int = 1, support: str | None = None) -> Run:
    """Slice with CuraEngine as a whole process, with the shared profile (supports on with `support`)."""
    peers = SHARED / "peers"
    settings = json.loads((peers / "cura.json").read_text())
    if support is not None:
        from bench.supports_vs_peers import cura_settings

        settings = cura_settings(support)
    try:
        positions = plate_positions(model, copies)
    except SlicingError as exc:  # the plate does not fit: a row, not a crash
        return Run(model.stem, "CuraEngine", None, error=f"{type(exc).__name__}: {exc}")
    cmd = cura_command(engine, peers / "cura-definitions" / "fdmprinter.def.json", settings, model, out, positions)
    wall, cpu, proc = _timed_process(cmd, repeat)
    if proc.returncode != 0 or not out.exists():
        return _failed(model, "CuraEngine", proc)
    est_own, filament_m = parse_cura_report(proc.stdout + proc.stderr)
    layers, lines, est, sim = _read_back(out)
    return Run(model.stem, "CuraEngine", wall, "process", cpu, layers, lines, filament_m, est_own, est, sim)


def _fmt(value: float | None, spec: str) -> str:
    """A table cell, '-' when unknown."""
    return "-" if value is None else format(value, spec)


def _clock(seconds: float | None) -> str:
    """h:mm:ss of a duration."""
    return "-" if seconds is None else clock(seconds)


def print_table(runs: list[Run]) -> None:
    """The side-by-side table, with printloop's whole-process wall time over each peer's, per model."""
    head = (f"{'model':<16} {'tool':<11} {'mode':<7} {'wall s':>8} {'cpu s':>7} {'layers':>6} {'lines':>8} "
            f"{'filament m':>10} {'est. (own)':>10} {'est. (model)':>12} {'simulated':>10} {'vs Cura':>8} {'vs Prusa':>8}")
    print(head)
    print("-" * len(head))
    by_model: dict[str, dict[str, Run]] = {}
    for r in runs:
        if r.mode == "process":
            by_model.setdefault(r.model, {})[r.tool] = r
    for r in runs:
        if r.error:
            print(f"{r.model:<16} {r.tool:<11} {r.mode:<7} {r.error}")
            continue
        ratios = []
        for peer_name in ("CuraEngine", "PrusaSlicer"):
            peer = by_model.get(r.model, {}).get(peer_name)
            ok = r.tool == "printloop" and peer is not None and peer.wall_s and r.wall_s is not None
            ratios.append(f"{r.wall_s / peer.wall_s:.2f}x" if ok and peer and peer.wall_s and r.wall_s else "")
        print(f"{r.model:<16} {r.tool:<11} {r.mode:<7} {_fmt(r.wall_s, '8.2f')} {_fmt(r.cpu_s, '7.2f')} "
              f"{_fmt(r.layers, '6d')} {_fmt(r.lines, '8d')} {_fmt(r.filament_m, '10.2f')} {_clock(r.est_own_s):>10} "
              f"{_clock(r.est_model_s):>12} {_clock(r.sim_s):>10} {ratios[0]:>8} {ratios[1]:>8}")


def resolve_model(name: str, folder: Path) -> Path:
    """A model path from a name in ../shared/models (with or without .stl), a path, or a part of
    tests/support_parts.py written as an STL into `folder`."""
    p = Path(name)
    if p.exists():
        return p
    for cand in (SHARED / "models" / name, SHARED / "models" / f"{name}.stl"):
        if cand.exists():
            return cand
    from tests.support_parts import PARTS

    if name in PARTS:
        stl = folder / f"{name}.stl"
        PARTS[name]().export(stl)
        return stl
    raise SystemExit(f"model {name!r} not found (looked in {SHARED / 'models'} and tests/support_parts.py: "
                     f"{', '.join(PARTS)})")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, help="model names in ../shared/models or paths")
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and model; the median is shown")
    ap.add_argument("--cura", default=os.environ.get("CURAENGINE", "CuraEngine"), help="CuraEngine executable")
    ap.add_argument("--prusa", default=os.environ.get("PRUSASLICER", "prusa-slicer"), help="PrusaSlicer executable")
    ap.add_argument("--copies", type=int, default=1, help="copies of each model on one plate (default 1)")
    ap.add_argument("--keep", type=Path, help="keep the G-code files in this folder")
    ap.add_argument("--support", choices=["everywhere", "buildplate"], help="supports on in every tool")
    args = ap.parse_args(argv)
    engine = shutil.which(args.cura)
    if engine is None:
        print(INSTALL_HINT.format(engine=args.cura))
    prusa = shutil.which(args.prusa)
    if prusa is None:
        print(PRUSA_HINT.format(exe=args.prusa))
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        outdir = args.keep or Path(tmp)
        outdir.mkdir(parents=True, exist_ok=True)
        models = [resolve_model(m, outdir) for m in args.models]
        n, k, sup = max(1, args.repeat), args.copies, args.support
        for model in models:
            runs.append(bench_printloop_process(model, outdir / f"{model.stem}.printloop.gcode", n, k, sup))
            runs.append(bench_printloop(model, outdir / f"{model.stem}.printloop-in.gcode", n, k, sup))
            if engine is not None:
                runs.append(bench_cura(engine, model, outdir / f"{model.stem}.cura.gcode", n, k, sup))
            if prusa is not None:
                runs.append(bench_prusa(prusa, model, outdir / f"{model.stem}.prusa.gcode", n, k, sup))
            print(f"  done {model.name}", file=sys.stderr)
    print(f"median of {args.repeat} run(s); {os.cpu_count()} CPU(s); {args.copies} cop(ies) per plate; "
          f"supports {args.support or 'off'}; "
          f"est. (model) = printloop's estimator on each tool's G-code; simulated = printloop sim's board")
    print_table(runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
