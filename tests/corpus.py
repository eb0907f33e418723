"""A corpus of other slicers' G-code, made at test time by the real peers (Debian's `prusa-slicer` and
`cura-engine`, installed by `make test`) from the shared cube and the shared profiles, plus the shared samples.

Each entry has an independent record of its layers: the heights the slicer itself announces (PrusaSlicer's
`;Z:` after `;LAYER_CHANGE`; for Cura the first Z word after each `;LAYER:n` or, when the layer starts before
its marker, the Z it travelled to just before), read with a plain line scan, not with the job plan.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
CUBE = SHARED / "models" / "20mm-xyz-cube.stl"
PRUSA_INI = SHARED / "peers" / "prusa.ini"
CURA_JSON = SHARED / "peers" / "cura.json"
CURA_DEFS = SHARED / "peers" / "cura-definitions" / "fdmprinter.def.json"

PRUSA_VARIANTS: dict[str, list[str]] = {
    "prusa": [],
    "prusa-both-markers-relative-e-labels": ["--use-relative-e-distances", "--layer-gcode", "G92 E0",
                                             "--gcode-label-objects", "--before-layer-gcode", ";LAYER:[layer_num]"],
    "prusa-vase": ["--spiral-vase", "--perimeters", "1", "--top-solid-layers", "0", "--fill-density", "0%"],
    "prusa-zhop-0.15": ["--retract-lift", "0.4", "--layer-height", "0.15", "--first-layer-height", "0.3"],
}
CURA_VARIANTS: dict[str, dict[str, object]] = {
    "cura": {},
    "cura-relative-e-zhop": {"relative_extrusion": True, "retraction_hop_enabled": True, "retraction_hop": 0.4},
    "cura-adaptive": {"adaptive_layer_height_enabled": True},
    "cura-raft": {"adhesion_type": "raft"},
}


@dataclass(frozen=True)
class Entry:
    """One corpus file and the layer heights its slicer announces."""

    name: str
    path: Path
    announced_z: list[float]


def _cura_argv(settings: dict[str, object], out: Path) -> list[str]:
    """`CuraEngine slice` with every setting before and after -e0 (see ../shared/peers/README.md)."""
    pairs: list[str] = []
    for key, value in settings.items():
        if not key.startswith("_"):
            pairs += ["-s", f"{key}={str(value).lower() if isinstance(value, bool) else value}"]
    return ["CuraEngine", "slice", "-j", str(CURA_DEFS), *pairs, "-e0", *pairs, "-l", str(CUBE), "-o", str(out)]


_Z_WORD = re.compile(r"\bZ(-?\d*\.?\d+)")


def announced_z(text: str) -> list[float]:
    """Heights a slicer announces for its layers, by a plain scan of its comments (see module docstring)."""
    lines = text.splitlines()
    if any(line.strip() == ";LAYER_CHANGE" for line in lines):
        out, armed = [], False
        for line in lines:
            if line.strip() == ";LAYER_CHANGE":
                armed = True
            elif armed and line.startswith(";Z:"):
                out.append(round(float(line[3:]), 3))
                armed = False
        return out
    out, last_z, pending = [], None, False
    for line in lines:
        code = line.split(";", 1)[0]
        if line.startswith(";LAYER:"):
            pending = True
            continue
        m = _Z_WORD.search(code) if code.startswith(("G0", "G1")) else None
        if m:
            last_z = float(m.group(1))
        if pending and code.startswith(("G0", "G1")) and " E" in code and last_z is not None:
            out.append(round(last_z, 3))
            pending = False
    return out


def build(root: Path) -> list[Entry]:
    """Make the corpus in `root` (the peers must be installed: `make test` installs them)."""
    missing = [tool for tool in ("prusa-slicer", "CuraEngine") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} not installed: `make test` installs them (Debian packages "
                           "prusa-slicer, cura-engine)")
    entries: list[Entry] = []
    for name, extra in PRUSA_VARIANTS.items():
        out = root / f"{name}.gcode"
        subprocess.run(["prusa-slicer", "--export-gcode", "--load", str(PRUSA_INI), *extra, str(CUBE), "-o",
                        str(out)], check=True, capture_output=True, timeout=120)
        entries.append(Entry(name, out, announced_z(out.read_text())))
    base = json.loads(CURA_JSON.read_text())
    for name, extra in CURA_VARIANTS.items():
        out = root / f"{name}.gcode"
        subprocess.run(_cura_argv({**base, **extra}, out), check=True, capture_output=True, timeout=120)
        entries.append(Entry(name, out, announced_z(out.read_text())))
    for sample in sorted((SHARED / "gcode-samples").glob("*.gcode")):
        entries.append(Entry(f"shared-{sample.stem}", sample, announced_z(sample.read_text())))
    return entries


def stripped(entry: Entry, root: Path) -> Path:
    """A copy of the file with every comment line removed (no markers, no header)."""
    out = root / f"{entry.name}.stripped.gcode"
    text = entry.path.read_text()
    out.write_text("\n".join(line for line in text.splitlines() if not line.lstrip().startswith(";")) + "\n")
    return out
