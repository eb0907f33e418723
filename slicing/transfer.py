"""The head's way from a finished copy to the next one when copies print one after another (sequential): retract,
straight up to clear everything printed so far, across at that height, straight down to the next copy's first
layer, unretract. Pure text and machine states; units mm, mm/s."""
from __future__ import annotations

import numpy as np

from slicing.profile import Profile

CLEAR_MM = 2.0
"""How far above the tallest finished copy the head travels between copies."""


def transfer(at: tuple[float, float, float, float], target: tuple[float, float], clear_z: float, z: float,
             profile: Profile) -> tuple[str, np.ndarray]:
    """G-code from the head at `at` (x, y, z, absolute E) to `target` XY at height `z`, passing at `clear_z`
    (the tallest printed copy) + CLEAR_MM, and the (R, 5) machine states [x, y, z, e_abs, f] after each move."""
    x, y, z0, e = at
    r = profile.retract_length
    up = max(clear_z + CLEAR_MM, z0)
    fz = min(profile.travel_speed, profile.max_feedrate_z)
    tx, ty = target
    lines, moves = [], []
    if r > 0:
        lines.append(f"G1 F{profile.retract_speed * 60:.0f} E{-r if profile.relative_e else e - r:.5f}")
        moves.append((x, y, z0, e - r, profile.retract_speed))
    lines += [f"G0 F{fz * 60:.0f} Z{up:.3f}", f"G0 F{profile.travel_speed * 60:.0f} X{tx:.3f} Y{ty:.3f}",
              f"G0 F{fz * 60:.0f} Z{z:.3f}"]
    moves += [(x, y, up, e - r, fz), (tx, ty, up, e - r, profile.travel_speed), (tx, ty, z, e - r, fz)]
    if r > 0:
        lines.append(f"G1 F{profile.retract_speed * 60:.0f} E{r if profile.relative_e else e:.5f}")
        moves.append((tx, ty, z, e, profile.retract_speed))
    return "\n".join(lines), np.asarray(moves, dtype=np.float64)
