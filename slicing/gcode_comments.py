"""What G-code comments say: layer markers of every slicer, `;TYPE:` features, object labels and the header.

Layer markers by family (one family is used per file, the first of this list that the file has):
``;LAYER_CHANGE`` (+ ``;Z:``; PrusaSlicer, OrcaSlicer, SuperSlicer), ``; CHANGE_LAYER`` (+ ``; Z_HEIGHT:``;
Bambu Studio), ``;LAYER:n`` (Cura, ideaMaker, printloop, and PrusaSlicer profiles written for OctoPrint
plug-ins, which then carry both), ``; layer n, Z = z`` (Simplify3D), ``; BEGIN_LAYER_…`` (KISSlicer).
Object labels: PrusaSlicer's ``; printing object NAME`` / ``; stop printing object NAME`` and Cura's
``;MESH:name``. The header's time and filament are read in each slicer's spelling.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from slicing.gcode_tokens import TokenTable
from slicing.toolpath import Feature

FEATURE_NAMES: dict[str, Feature] = {
    # Cura and printloop
    "wall-outer": Feature.WALL_OUTER, "wall-inner": Feature.WALL_INNER, "skin": Feature.SKIN,
    "fill": Feature.FILL, "skirt": Feature.SKIRT, "support": Feature.SUPPORT, "brim": Feature.BRIM,
    "support-interface": Feature.SUPPORT_INTERFACE, "support-infill": Feature.SUPPORT, "other": Feature.OTHER,
    "bridge": Feature.BRIDGE,
    # PrusaSlicer, OrcaSlicer, Bambu Studio
    "external perimeter": Feature.WALL_OUTER, "overhang perimeter": Feature.WALL_OUTER,
    "outer wall": Feature.WALL_OUTER, "inner wall": Feature.WALL_INNER, "overhang wall": Feature.WALL_OUTER,
    "perimeter": Feature.WALL_INNER, "internal infill": Feature.FILL, "sparse infill": Feature.FILL,
    "solid infill": Feature.SKIN, "internal solid infill": Feature.SKIN,
    "top solid infill": Feature.SKIN, "top surface": Feature.SKIN, "bottom surface": Feature.SKIN,
    "bridge infill": Feature.SKIN, "gap fill": Feature.FILL, "gap infill": Feature.FILL,
    "skirt/brim": Feature.SKIRT, "support material": Feature.SUPPORT,
    "support material interface": Feature.SUPPORT_INTERFACE,
}
"""`;TYPE:` names (lower case) of the slicers we read, to Feature; unknown names are Feature.OTHER."""

UNNAMED = "unnamed object"  # an object labelled with an empty name (`;MESH:`); "" is no object's name
MARKER_FAMILIES = ("LAYER_CHANGE", "CHANGE_LAYER", "LAYER:n", "layer n, Z", "BEGIN_LAYER")
"""Layer marker families in order of preference (see the module docstring)."""


@dataclass(frozen=True)
class CommentIndex:
    """Lines of the comments the plan acts on, and the header keys.

    markers: 0-based lines of the chosen family's layer markers; marker_labels the layer number each gives
    (None when the family has none); marker_z the z it announces (a `;Z:`-style comment before the next
    marker, or the marker's own z), None when not announced.
    """

    family: str | None
    markers: list[int]
    marker_labels: list[int | None]
    marker_z: list[float | None]
    type_lines: list[int]
    type_codes: list[int]
    object_lines: list[int]    # lines where an object's moves start (name) or stop (None)
    object_names: list[str | None]
    header: dict[str, str]


def feature_code(name: str) -> int:
    """Feature code of a `;TYPE:` name."""
    return int(FEATURE_NAMES.get(name.strip().lower(), Feature.OTHER))


_PRUSA_KV = re.compile(r"^([^=:;]+?)\s*=\s*(.*)$")
_CURA_KV = re.compile(r"^([A-Za-z][A-Za-z0-9_ \[\]]*?)\s*:\s*(.*)$")
_PER_LAYER_KEYS = {"TYPE", "LAYER", "Z", "HEIGHT", "WIDTH", "TIME_ELAPSED", "MESH", "Z_HEIGHT", "LAYER_HEIGHT"}
_S3D_LAYER = re.compile(r"^layer (-?\d+), Z = (-?\d*\.?\d+)", re.IGNORECASE)
_KISS_Z = re.compile(r"\bz\s*=\s*(-?\d*\.?\d+)", re.IGNORECASE)
_Z_NOTE = re.compile(r"^(?:Z|Z_HEIGHT)\s*:\s*(-?\d*\.?\d+)\s*$")
_GENERATOR = re.compile(r"^generated (?:by|with)\s+(.+)$", re.IGNORECASE)  # PrusaSlicer, Cura, printloop


def _float_or_none(text: str) -> float | None:
    """The float in text, or None."""
    try:
        return float(text)
    except ValueError:
        return None


def _marker(text: str) -> tuple[str, int | None, float | None] | None:
    """(family, layer label, z) when the comment is a layer marker."""
    if text == "LAYER_CHANGE":
        return "LAYER_CHANGE", None, None
    if text == "CHANGE_LAYER":
        return "CHANGE_LAYER", None, None
    if text.startswith("LAYER:"):
        label = text[6:].strip()
        if label.lstrip("-").isdigit():
            return "LAYER:n", int(label), None
        return None
    if text.startswith("BEGIN_LAYER"):
        m = _KISS_Z.search(text)
        return "BEGIN_LAYER", None, float(m.group(1)) if m else None
    if text[:6].lower() == "layer ":
        m = _S3D_LAYER.match(text)
        if m:
            return "layer n, Z", int(m.group(1)), float(m.group(2))
    return None


def scan_comments(tok: TokenTable) -> CommentIndex:
    """Layer markers, z notes, `;TYPE:` lines, object labels and header keys from the comments."""
    found: dict[str, list[tuple[int, int | None, float | None]]] = {}
    z_notes: list[tuple[int, float]] = []
    type_lines: list[int] = []
    type_codes: list[int] = []
    obj_lines: list[int] = []
    obj_names: list[str | None] = []
    header: dict[str, str] = {}
    for ln, text in tok.comments:
        if text.startswith("TYPE:"):
            type_lines.append(ln)
            type_codes.append(feature_code(text[5:]))
            continue
        mk = _marker(text)
        if mk is not None:
            found.setdefault(mk[0], []).append((ln, mk[1], mk[2]))
            continue
        if (zm := _Z_NOTE.match(text)) is not None:
            z_notes.append((ln, float(zm.group(1))))
            continue
        if text.startswith("MESH:"):
            obj_lines.append(ln)
            name = text[5:].strip()
            obj_names.append(None if name == "NONMESH" else name or UNNAMED)
            continue
        if text.startswith("printing object "):
            obj_lines.append(ln)
            obj_names.append(text[16:].strip() or UNNAMED)
            continue
        if text.startswith("stop printing object"):
            obj_lines.append(ln)
            obj_names.append(None)
            continue
        if (gm := _GENERATOR.match(text)) is not None:
            header.setdefault("generator", gm.group(1).strip())
            continue
        m = _PRUSA_KV.match(text) or _CURA_KV.match(text)
        if m is not None and m.group(1) not in _PER_LAYER_KEYS:
            header.setdefault(m.group(1).strip(), m.group(2).strip())
    family = next((f for f in MARKER_FAMILIES if f in found), None)
    chosen = found.get(family, []) if family else []
    markers = [c[0] for c in chosen]
    labels = [c[1] for c in chosen]
    zs = _announced_z(chosen, z_notes)
    return CommentIndex(family, markers, labels, zs, type_lines, type_codes, obj_lines, obj_names, header)


def _announced_z(chosen: list[tuple[int, int | None, float | None]],
                 z_notes: list[tuple[int, float]]) -> list[float | None]:
    """Each marker's z: its own, else the first z note after it and before the next marker."""
    out: list[float | None] = []
    j = 0
    for k, (ln, _label, z) in enumerate(chosen):
        nxt = chosen[k + 1][0] if k + 1 < len(chosen) else 1 << 62
        while j < len(z_notes) and z_notes[j][0] < ln:
            j += 1
        if z is None and j < len(z_notes) and z_notes[j][0] < nxt:
            z = z_notes[j][1]
        out.append(z)
    return out


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)\b")
_S3D_TIME = re.compile(r"(\d+)\s*hours?\s*(\d+)\s*minutes?", re.IGNORECASE)


def duration_s(text: str) -> float | None:
    """Seconds of a duration such as '1d 2h 3m 4s' (PrusaSlicer, Bambu Studio), None without a number."""
    parts = _DURATION.findall(text.lower())
    if not parts:
        return None
    scale = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(n) * scale[u] for n, u in parts)


def _leading_float(text: str | None) -> float | None:
    """Leading number of a header value, or None."""
    if text is None:
        return None
    m = re.match(r"\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)", text)
    return float(m.group(1)) if m else None


def header_time_s(header: dict[str, str]) -> float | None:
    """The print time the file states about itself, in seconds (None when it states none)."""
    if (t := _leading_float(header.get("TIME"))) is not None:
        return t
    for key in ("estimated printing time (normal mode)", "total estimated time", "model printing time"):
        if key in header and (t := duration_s(header[key])) is not None:
            return t
    if "Build time" in header and (m := _S3D_TIME.search(header["Build time"])):
        return int(m.group(1)) * 3600.0 + int(m.group(2)) * 60.0
    if (t := _leading_float(header.get("Print Time"))) is not None:
        return t
    if "Estimated Build Time" in header and (t := _leading_float(header["Estimated Build Time"])) is not None:
        return t * 60.0
    return None


def header_filament_mm(header: dict[str, str]) -> float | None:
    """Filament length the file states, mm (None when it states none)."""
    for key in ("filament used [mm]", "total filament length [mm]"):
        if (f := _leading_float(header.get(key))) is not None:
            return f
    if "Filament used" in header:
        metres = _leading_float(header["Filament used"].split(",")[0])
        return None if metres is None else metres * 1000.0
    if "Filament length" in header:
        return _leading_float(header["Filament length"])
    return None


def header_layer_height(header: dict[str, str]) -> float | None:
    """Nominal layer height the file states (mm), None when it states none."""
    for key in ("layer_height", "Layer height", "layerHeight"):
        if (h := _leading_float(header.get(key))) is not None and h > 0:
            return h
    return None


def header_flavor(header: dict[str, str]) -> str | None:
    """G-code flavour the file states (Cura `FLAVOR`, PrusaSlicer `gcode_flavor`)."""
    return header.get("FLAVOR") or header.get("gcode_flavor")
