"""Object labels of a plate's copies, in every host's format: Marlin's `M486`, PrusaSlicer's comments, Klipper's
`EXCLUDE_OBJECT_*`.

Both flavours write, where the copy being printed changes, `; stop printing object <name>` and
`; printing object <name>` (OctoPrint's Cancelobject and Moonraker's object processing read these).
Marlin (profile `flavor = "marlin"`): `M486 T<n>` and per copy `M486 S<k>` / `M486 A<name>` in the header, and
`M486 S<k>` (S-1: none) at each change, as Marlin's cancel-objects takes them. Klipper (`flavor = "klipper"`), which
has no M486: per copy `EXCLUDE_OBJECT_DEFINE NAME=<name> CENTER=x,y POLYGON=[[x,y],…]` (the outline of everything it
prints) in the header and `EXCLUDE_OBJECT_START NAME=` / `EXCLUDE_OBJECT_END NAME=` around its moves; these lines
are longer than Marlin's 96-character command limit, so a Marlin file does not carry them.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def object_names(part: str, copies: int) -> tuple[str, ...]:
    """One name per copy, `<part>_<k>`, with only the characters every host takes in a name (no spaces)."""
    stem = _UNSAFE.sub("_", part).strip("_") or "part"
    return tuple(f"{stem}_{k}" for k in range(copies))


_DIRECTIONS = np.stack([np.cos(np.arange(64) * np.pi / 32), np.sin(np.arange(64) * np.pi / 32)], axis=1)


class Outlines:
    """Each copy's outline on the bed, gathered layer by layer: its farthest points in 64 directions (the polygon
    through them lies within 0.12 % of the copy's size inside its convex hull)."""

    def __init__(self, copies: int) -> None:
        self.reach = np.full((copies, len(_DIRECTIONS)), -np.inf)
        self.at = np.zeros((copies, len(_DIRECTIONS), 2))

    def add(self, points: np.ndarray, owners: np.ndarray) -> None:
        """Take in (N, 2) points printed for the copies `owners` (N,; -1: none)."""
        for k in np.unique(owners[(owners >= 0) & (owners < len(self.reach))]).tolist():
            sel = points[owners == k]
            proj = sel @ _DIRECTIONS.T
            best = proj.argmax(axis=0)
            value = proj[best, np.arange(len(_DIRECTIONS))]
            better = value > self.reach[k]
            self.reach[k, better] = value[better]
            self.at[k, better] = sel[best[better]]

    def polygon(self, k: int) -> np.ndarray:
        """(H, 2) copy `k`'s outline, counter-clockwise, without repeated corners (empty if it printed nothing)."""
        if not np.isfinite(self.reach[k]).any():
            return np.zeros((0, 2))
        pts = np.round(self.at[k][np.isfinite(self.reach[k])], 3)
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
        pts = pts[keep]
        if len(pts) > 1 and np.all(pts[0] == pts[-1]):
            pts = pts[:-1]
        return pts


def header_lines(names: Sequence[str], outlines: Outlines, flavor: str = "marlin") -> list[str]:
    """The header's labels: Marlin's count and each copy's index and name, or Klipper's definitions with outlines."""
    if flavor != "klipper":
        lines = [f"M486 T{len(names)}"]
        for k, name in enumerate(names):
            lines += [f"M486 S{k}", f"M486 A{name}"]
        return lines + ["M486 S-1"]
    lines = []
    for k, name in enumerate(names):
        hull = outlines.polygon(k)
        if len(hull) == 0:
            lines.append(f"EXCLUDE_OBJECT_DEFINE NAME={name}")
            continue
        cx, cy = hull.mean(axis=0)
        poly = ",".join(f"[{x:.3f},{y:.3f}]" for x, y in hull)
        lines.append(f"EXCLUDE_OBJECT_DEFINE NAME={name} CENTER={cx:.3f},{cy:.3f} POLYGON=[{poly}]")
    return lines


def switch_text(names: Sequence[str], before: int, after: int, flavor: str = "marlin") -> str:
    """The lines where printing goes from copy `before` to copy `after` (-1: none, -2: nothing named yet)."""
    if flavor == "klipper":
        out = [f"EXCLUDE_OBJECT_END NAME={names[before]}", f"; stop printing object {names[before]}"] \
            if before >= 0 else []
        if after >= 0:
            out += [f"; printing object {names[after]}", f"EXCLUDE_OBJECT_START NAME={names[after]}"]
        return "\n".join(out)
    out = []
    if before >= 0:
        if after < 0:
            out.append("M486 S-1")
        out.append(f"; stop printing object {names[before]}")
    if after >= 0:
        out += [f"; printing object {names[after]}", f"M486 S{after}"]
    elif before < 0:
        out.append("M486 S-1")
    return "\n".join(out)
