"""Slice parts that need support with printloop, CuraEngine and PrusaSlicer (supports on, matching settings) and
print how much part extrusion hangs over air and how much support each uses, measured the same way in one run.

Usage: python bench/supports_vs_peers.py [--parts shelf mushroom ...] [--mode everywhere|buildplate] [--keep DIR]

"over air" is the part line length (mm) with no material below within half a line width plus the overhang
allowance (slicing/unsupported.py, read back through the job plan); "support" is the support filament (mm).
It prints figures only and never asserts.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from slicing.job_plan import read_gcode
from slicing.mesh import LoadedMesh
from slicing.profile import load_profile
from slicing.slicer import slice_mesh_to_gcode
from slicing.unsupported import hang_report
from tests.support_parts import PARTS

PEERS = REPO.parent / "shared" / "peers"
SUPPORT = {"support_angle": 50.0, "support_z_gap": 0.2, "support_xy_gap": 0.7, "support_interface_layers": 2,
           "support_density": 15.0, "support_interface_density": 80.0, "support_min_area": 1.0}


@dataclass(frozen=True)
class Figures:
    """One tool's figures on one part."""

    part: str
    tool: str
    over_air_mm: float | None
    part_mm: float | None = None
    support_mm: float | None = None
    error: str | None = None
    over_air: np.ndarray | None = field(default=None, compare=False)  # (K, 4) x, y, z, mm of its samples over air


def only_ours_mm(ours: Figures, peers: list[Figures], reach: float = 1.0, z_reach: float = 0.45) -> float:
    """Our over-air line length (mm) at places where no peer leaves a line over air within `reach` mm and
    `z_reach` mm of height: where a peer bridges the same span with no support, so do we."""
    if ours.over_air is None or not len(ours.over_air):
        return 0.0
    theirs = [p.over_air for p in peers if p.over_air is not None and len(p.over_air)]
    if not theirs:
        return float(ours.over_air[:, 3].sum())
    other = np.concatenate(theirs)
    alone = 0.0
    for start in range(0, len(ours.over_air), 256):  # (in blocks: a few MB of distances at a time)
        mine = ours.over_air[start:start + 256]
        d_xy = np.hypot(mine[:, None, 0] - other[None, :, 0], mine[:, None, 1] - other[None, :, 1])
        near = (d_xy <= reach) & (np.abs(mine[:, None, 2] - other[None, :, 2]) <= z_reach)
        alone += float(mine[~near.any(axis=1), 3].sum())
    return alone


def _measure(part: str, tool: str, gcode: str) -> Figures:
    """Read a G-code text back and measure it."""
    report = hang_report(read_gcode(gcode))
    return Figures(part, tool, report.total_unsupported_mm, float(report.part_mm.sum()), report.support_filament_mm,
                   over_air=report.points)


def ours(part: str, mesh: trimesh.Trimesh, mode: str) -> tuple[Figures, str]:
    """printloop's figures (in this process) and its G-code."""
    overrides = {"support": f'"{mode}"', **{k: str(v) for k, v in SUPPORT.items()}}
    gcode = slice_mesh_to_gcode(LoadedMesh(mesh, part, (), ()), load_profile(overrides=overrides)).gcode
    return _measure(part, "printloop", gcode), gcode


def cura_settings(mode: str) -> dict[str, object]:
    """The shared CuraEngine profile with supports on, set as ours (CuraEngine needs derived values spelled out)."""
    s = json.loads((PEERS / "cura.json").read_text())
    spacing = 0.4 * 100.0 / SUPPORT["support_density"]
    roof = 0.4 * 100.0 / SUPPORT["support_interface_density"]
    s.update({
        "support_enable": True, "support_type": mode, "support_angle": SUPPORT["support_angle"],
        "support_pattern": "lines", "support_infill_rate": SUPPORT["support_density"],
        "support_line_distance": spacing, "support_initial_layer_line_distance": spacing,
        "support_z_distance": SUPPORT["support_z_gap"], "support_top_distance": SUPPORT["support_z_gap"],
        "support_bottom_distance": SUPPORT["support_z_gap"], "support_xy_distance": SUPPORT["support_xy_gap"],
        "support_infill_sparse_thickness": 0.2, "support_line_width": 0.4,
        "support_interface_enable": True, "support_roof_enable": True, "support_bottom_enable": False,
        "support_interface_height": 0.4, "support_roof_height": 0.4, "support_interface_density": 80,
        "support_roof_density": 80, "support_roof_line_distance": roof, "support_interface_pattern": "lines",
        "support_roof_pattern": "lines", "support_roof_line_width": 0.4, "support_interface_line_width": 0.4,
        "minimum_support_area": SUPPORT["support_min_area"], "speed_support": 50, "speed_support_infill": 50,
        "speed_support_interface": 50, "speed_support_roof": 50, "support_wall_count": 0,
    })
    return s


def cura(part: str, stl: Path, out: Path, mode: str, engine: str) -> Figures:
    """CuraEngine's figures on the part."""
    from bench.slice_vs_peers import cura_command

    cmd = cura_command(engine, PEERS / "cura-definitions" / "fdmprinter.def.json", cura_settings(mode), stl, out)
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.exists():
        return Figures(part, "CuraEngine", None, error=f"exit {proc.returncode}")
    return _measure(part, "CuraEngine", out.read_text(errors="replace"))


def prusa_ini(mode: str) -> str:
    """The shared PrusaSlicer profile with supports on (its threshold is measured from horizontal)."""
    text = (PEERS / "prusa.ini").read_text()
    spacing = 0.4 * 100.0 / SUPPORT["support_density"] - 0.4
    extra = {
        "support_material": 1, "support_material_auto": 1,
        "support_material_threshold": round(90 - SUPPORT["support_angle"]),
        "support_material_buildplate_only": int(mode == "buildplate"),
        "support_material_contact_distance": SUPPORT["support_z_gap"],
        "support_material_bottom_contact_distance": SUPPORT["support_z_gap"],
        "support_material_xy_spacing": SUPPORT["support_xy_gap"],
        "support_material_interface_layers": SUPPORT["support_interface_layers"],
        "support_material_bottom_interface_layers": 0, "support_material_spacing": round(spacing, 3),
        "support_material_interface_spacing": round(0.4 * 100.0 / SUPPORT["support_interface_density"] - 0.4, 3),
        "support_material_pattern": "rectilinear", "support_material_speed": 50,
        "support_material_interface_speed": 50,
    }
    lines = [ln for ln in text.splitlines() if ln.split("=")[0].strip() not in extra]
    return "\n".join(lines + [f"{k} = {v}" for k, v in extra.items()]) + "\n"


def prusa(part: str, stl: Path, out: Path, mode: str, exe: str) -> Figures:
    """PrusaSlicer's figures on the part."""
    ini = out.with_suffix(".ini")
    ini.write_text(prusa_ini(mode))
    proc = subprocess.run([exe, "--export-gcode", "--load", str(ini), str(stl), "-o", str(out)],
                          check=False, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.exists():
        return Figures(part, "PrusaSlicer", None, error=f"exit {proc.returncode}")
    return _measure(part, "PrusaSlicer", out.read_text(errors="replace"))


def run(parts: list[str], mode: str, folder: Path) -> list[Figures]:
    """All three tools on every part; a missing peer is left out."""
    engine, slicer = shutil.which("CuraEngine"), shutil.which("prusa-slicer")
    rows: list[Figures] = []
    for name in parts:
        mesh = PARTS[name]()
        stl = folder / f"{name}.stl"
        mesh.export(stl)
        fig, gcode = ours(name, mesh, mode)
        (folder / f"{name}.printloop.gcode").write_text(gcode)
        rows.append(fig)
        if engine:
            rows.append(cura(name, stl, folder / f"{name}.cura.gcode", mode, engine))
        if slicer:
            rows.append(prusa(name, stl, folder / f"{name}.prusa.gcode", mode, slicer))
    return rows


def print_table(rows: list[Figures]) -> None:
    """The side-by-side table; "not a peer's" is a tool's over-air length where neither other tool leaves a line
    over air too (see `only_ours_mm`)."""
    print(f"{'part':<15} {'tool':<12} {'over air mm':>11} {'not a peer’s':>13} {'part mm':>9} {'support mm':>10}")
    for r in rows:
        if r.error:
            print(f"{r.part:<15} {r.tool:<12} {r.error}")
            continue
        others = [o for o in rows if o.part == r.part and o.tool != r.tool and o.error is None]
        alone = only_ours_mm(r, others)
        print(f"{r.part:<15} {r.tool:<12} {r.over_air_mm:>11.1f} {alone:>13.1f} {r.part_mm:>9.0f} "
              f"{r.support_mm:>10.1f}")


def main(argv: list[str] | None = None) -> int:
    """Run and print."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    ap.add_argument("--mode", default="everywhere", choices=["everywhere", "buildplate"])
    ap.add_argument("--keep", type=Path, help="keep the meshes and G-code files in this folder")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        print_table(run(args.parts, args.mode, folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
