"""Slice parts with thin ribs with printloop (gap fill off and on), CuraEngine and PrusaSlicer (their shared profiles
as they are) and print, per rib width, how much of the part's section each tool leaves empty and how much it
over-fills, measured the same way from each tool's G-code in one run.

Usage: python bench/thin_vs_peers.py [--widths 0.3 0.5 0.6 0.7 0.9 1.2] [--keep DIR]

Each extruding segment of a layer is a bead of the width its filament gives it at the layer's height (a
rectangle model: width = filament volume / (length × height)), drawn as a flat-capped strip; "void" is the share of
the mesh's section that no bead covers, "excess" the bead area outside the section, over the section's area, and
"volume" the filament laid for the rib over its volume (a loop folded onto itself covers the rib but lays twice
its filament); each per rib, over the layers from 1 mm to 1 mm below the top. It prints figures only and never
asserts.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
import trimesh
from shapely.geometry import box

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from slicing import plan
from slicing.job_plan import JobPlan
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from slicing.toolpath import Feature

PEERS = REPO.parent / "shared" / "peers"
LENGTH, HEIGHT, PITCH = 20.0, 5.0, 4.0
FILAMENT_AREA = np.pi * (1.75 / 2.0) ** 2


@dataclass(frozen=True)
class Figures:
    """One tool's void and excess share (%) per rib width."""

    tool: str
    void: dict[float, float]
    excess: dict[float, float]
    volume: dict[float, float]
    error: str | None = None


def ribs(widths: list[float]) -> trimesh.Trimesh:
    """Free-standing ribs LENGTH long and HEIGHT tall, one per width, PITCH apart (their lowest corner at 0)."""
    parts, x = [], 0.0
    for w in widths:
        b = trimesh.creation.box((w, LENGTH, HEIGHT))
        b.apply_translation((x + w / 2.0, LENGTH / 2.0, HEIGHT / 2.0))
        parts.append(b)
        x += w + PITCH
    return trimesh.util.concatenate(parts)


def rib_boxes(widths: list[float]) -> list[shapely.Polygon]:
    """Each rib's footprint in the mesh's own XY."""
    out, x = [], 0.0
    for w in widths:
        out.append(box(x, 0.0, x + w, LENGTH))
        x += w + PITCH
    return out


Beads = tuple[shapely.Geometry, np.ndarray, np.ndarray, float]


def beads(job: JobPlan, k: int) -> Beads | None:
    """Layer k's part beads (skirt and brim left out): one area, each strip as wide as its filament makes it; the
    segments' midpoints, their filament volumes (mm³) and the layer's height."""
    layer = job.layers[k]
    p = layer.paths
    part = (p.feature != Feature.SKIRT) & (p.feature != Feature.BRIM)
    seg, e = p.segments[part], p.extrusion[part]
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    ok = length > 1e-6
    if not ok.any() or layer.height <= 0:
        return None
    seg, e, length = seg[ok], e[ok], length[ok]
    width = e * FILAMENT_AREA / (length * layer.height)
    lines = shapely.linestrings(seg.reshape(-1, 2, 2))
    mids = (seg[:, :2] + seg[:, 2:]) / 2.0
    area = shapely.union_all(shapely.buffer(lines, width / 2.0, cap_style="flat"))
    return area, mids, e * FILAMENT_AREA, float(layer.height)


def measure(tool: str, job: JobPlan, widths: list[float]) -> Figures:
    """Void, excess and volume share per rib over the middle layers, the G-code's part aligned on the mesh."""
    areas = rib_boxes(widths)
    whole = shapely.union_all(areas)
    layers = [k for k, layer in enumerate(job.layers) if 1.0 <= layer.z <= HEIGHT - 1.0]
    drawn = [beads(job, k) for k in layers]
    found = [d for d in drawn if d is not None]
    if not found:
        return Figures(tool, {}, {}, {}, error="no part beads in the middle layers")
    dx, dy = _alignment(shapely.union_all([f[0] for f in found]), whole)
    void = {w: 0.0 for w in widths}
    excess = {w: 0.0 for w in widths}
    volume = {w: 0.0 for w in widths}
    for drawn, mids, vol, height in found:
        d = shapely.affinity.translate(drawn, dx, dy)
        for w, rib in zip(widths, areas):
            near = rib.buffer(PITCH / 2.0, cap_style="flat", join_style="mitre")
            mine = d.intersection(near)
            void[w] += rib.difference(mine).area / rib.area
            excess[w] += mine.difference(rib).area / rib.area
            inside = shapely.contains_xy(near, mids[:, 0] + dx, mids[:, 1] + dy)
            volume[w] += float(vol[inside].sum()) / (rib.area * height)
    n = len(found)
    return Figures(tool, *({w: 100.0 * v / n for w, v in figure.items()} for figure in (void, excess, volume)))


def _alignment(drawn: shapely.Geometry, whole: shapely.Geometry) -> tuple[float, float]:
    """The shift that lays a tool's beads on the mesh's ribs: the widest (last) rib's far edge on the mesh's and
    the centres in Y, then the X shift within ±0.4 mm that covers the most of the ribs (every tool prints the
    widest rib; a thin one a tool leaves out would throw an alignment by the whole bounds)."""
    _, y0, x1, y1 = drawn.bounds
    _, my0, mx1, my1 = whole.bounds
    dy = (my0 + my1 - y0 - y1) / 2.0
    shifts = mx1 - x1 + np.arange(-0.4, 0.401, 0.02)
    covered = [shapely.affinity.translate(drawn, float(dx), dy).intersection(whole).area for dx in shifts]
    return float(shifts[int(np.argmax(covered))]), dy


def ours(mesh: trimesh.Trimesh, gap_fill: bool, widths: list[float]) -> tuple[Figures, str]:
    """printloop's figures (in this process) and its G-code."""
    profile = load_profile(overrides={"gap_fill": "true" if gap_fill else "false"})
    gcode = slice_mesh_to_gcode(LoadedMesh(mesh, "ribs", (), ()), profile).gcode
    return measure(f"printloop gap_fill={'on' if gap_fill else 'off'}", plan(gcode), widths), gcode


def peer(tool: str, cmd: list[str], out: Path, widths: list[float]) -> Figures:
    """A peer slicer's figures from the file it wrote."""
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.exists():
        return Figures(tool, {}, {}, {}, error=f"exit {proc.returncode}: {proc.stderr.strip()[-200:]}")
    return measure(tool, plan(out.read_text(errors="replace")), widths)


def run(widths: list[float], folder: Path) -> list[Figures]:
    """Every tool on the ribs; a missing peer is left out."""
    import json

    from bench.slice_vs_peers import cura_command

    mesh = ribs(widths)
    stl = folder / "ribs.stl"
    mesh.export(stl)
    rows = []
    for gap_fill in (False, True):
        fig, gcode = ours(mesh, gap_fill, widths)
        (folder / f"ribs.printloop-{int(gap_fill)}.gcode").write_text(gcode)
        rows.append(fig)
    engine, slicer = shutil.which("CuraEngine"), shutil.which("prusa-slicer")
    if engine:
        out = folder / "ribs.cura.gcode"
        settings = json.loads((PEERS / "cura.json").read_text())
        cmd = cura_command(engine, PEERS / "cura-definitions" / "fdmprinter.def.json", settings, stl, out)
        rows.append(peer("CuraEngine", cmd, out, widths))
    if slicer:
        out = folder / "ribs.prusa.gcode"
        rows.append(peer("PrusaSlicer", [slicer, "--export-gcode", "--load", str(PEERS / "prusa.ini"), str(stl),
                                         "-o", str(out)], out, widths))
    return rows


def print_table(rows: list[Figures], widths: list[float]) -> None:
    """Void and excess per rib width, one row per tool."""
    head = " ".join(f"{w:>5.2f}mm" for w in widths)
    print(f"{'':<24} per rib width: void % of the rib's section, excess % beside it, filament % of its volume")
    print(f"{'tool':<24} {head}")
    for r in rows:
        if r.error:
            print(f"{r.tool:<24} {r.error}")
            continue
        print(f"{r.tool:<24} " + " ".join(f"{r.void[w]:>7.1f}" for w in widths) + "   void")
        print(f"{'':<24} " + " ".join(f"{r.excess[w]:>7.1f}" for w in widths) + "   excess")
        print(f"{'':<24} " + " ".join(f"{r.volume[w]:>7.0f}" for w in widths) + "   volume")


def main(argv: list[str] | None = None) -> int:
    """Run and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", nargs="+", type=float, default=[0.3, 0.5, 0.6, 0.7, 0.9, 1.2])
    ap.add_argument("--keep", type=Path, help="keep the mesh and G-code files in this folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print_table(run(args.widths, folder), args.widths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
