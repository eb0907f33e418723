"""What G-code comments say: layer markers, `;TYPE:` features and the header's time, filament and flavour.

Cura and printloop write `;LAYER:n`, `;TYPE:WALL-OUTER` and `;KEY:value` headers; PrusaSlicer writes
`;LAYER_CHANGE` + `;Z:`, `;TYPE:External perimeter` and `; key = value` settings.
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
    "support-interface": Feature.SUPPORT, "support-infill": Feature.SUPPORT, "other": Feature.OTHER,
    # PrusaSlicer
    "external perimeter": Feature.WALL_OUTER, "overhang perimeter": Feature.WALL_OUTER,
    "perimeter": Feature.WALL_INNER, "internal infill": Feature.FILL, "solid infill": Feature.SKIN,
    "top solid infill": Feature.SKIN, "bridge infill": Feature.SKIN, "gap fill": Feature.FILL,
    "skirt/brim": Feature.SKIRT, "support material": Feature.SUPPORT,
    "support material interface": Feature.SUPPORT,
}
"""`;TYPE:` names (lower case) of the slicers we read, to Feature; unknown names are Feature.OTHER."""


@dataclass(frozen=True)
class CommentIndex:
    """Lines of the comments the reader acts on, and the header keys."""

    markers: list[int]  # layer starts: `;LAYER_CHANGE` lines if any, else `;LAYER:n` lines
    z_lines: list[int]  # `;Z:` lines and their values
    z_values: list[float]
    type_lines: list[int]  # `;TYPE:` lines and their Feature codes
    type_codes: list[int]
    header: dict[str, str]


def feature_code(name: str) -> int:
    """Feature code of a `;TYPE:` name."""
    return int(FEATURE_NAMES.get(name.strip().lower(), Feature.OTHER))


_PRUSA_KV = re.compile(r"^([^=:;]+?)\s*=\s*(.*)$")
_CURA_KV = re.compile(r"^([A-Za-z][A-Za-z0-9_ ]*?)\s*:\s*(.*)$")
_PER_LAYER_KEYS = {"TYPE", "LAYER", "Z", "HEIGHT", "WIDTH", "TIME_ELAPSED", "MESH"}


def scan_comments(tok: TokenTable) -> CommentIndex:
    """Layer markers, `;Z:` lines, `;TYPE:` lines and header keys from the comments."""
    cura: list[int] = []
    prusa: list[int] = []
    z_lines: list[int] = []
    z_vals: list[float] = []
    type_lines: list[int] = []
    type_codes: list[int] = []
    header: dict[str, str] = {}
    for ln, text in tok.comments:
        if text.startswith("TYPE:"):
            type_lines.append(ln)
            type_codes.append(feature_code(text[5:]))
        elif text.startswith("LAYER:"):
            cura.append(ln)
        elif text == "LAYER_CHANGE":
            prusa.append(ln)
        elif text.startswith("Z:"):
            try:
                z_vals.append(float(text[2:]))
                z_lines.append(ln)
            except ValueError:
                pass
        else:
            m = _PRUSA_KV.match(text) or _CURA_KV.match(text)
            if m is not None and m.group(1) not in _PER_LAYER_KEYS:
                header.setdefault(m.group(1), m.group(2))
    markers = prusa if prusa else cura
    return CommentIndex(markers, z_lines, z_vals, type_lines, type_codes, header)


_DURATION = re.compile(r"(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s)?")


def _duration_s(text: str) -> float | None:
    """Seconds of a PrusaSlicer duration such as '1d 2h 3m 4s'."""
    m = _DURATION.fullmatch(text.strip())
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s


def _float(text: str | None) -> float | None:
    """Leading number of a header value, or None."""
    if text is None:
        return None
    m = re.match(r"\s*([-+]?\d*\.?\d+(?:[eE][-+]?\d+)?)", text)
    return float(m.group(1)) if m else None


def header_figures(header: dict[str, str]) -> tuple[float | None, float | None, str | None]:
    """Estimated time (s), filament (mm) and flavour from Cura's or PrusaSlicer's header keys."""
    time_s = _float(header.get("TIME"))
    if time_s is None and "estimated printing time (normal mode)" in header:
        time_s = _duration_s(header["estimated printing time (normal mode)"])
    filament = _float(header.get("filament used [mm]"))
    if filament is None and "Filament used" in header:
        metres = _float(header["Filament used"].split(",")[0])
        filament = None if metres is None else metres * 1000.0
    flavor = header.get("FLAVOR") or header.get("gcode_flavor")
    return time_s, filament, flavor
