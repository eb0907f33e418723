"""Cooling: a layer that would print faster than `min_layer_time` is slowed down to it, never below
`min_print_speed` (as CuraEngine's minimal layer time and PrusaSlicer's slowdown_below_layer_time do)."""
from __future__ import annotations

import numpy as np

from slicing.profile import Profile


def slow_for_layer_time(path_lengths: np.ndarray, path_speeds: np.ndarray, profile: Profile) -> np.ndarray:
    """Print speeds (mm/s) per path so the layer's extrusion takes at least min_layer_time, floored at the
    minimum speed (paths already slower keep their speed)."""
    if profile.min_layer_time <= 0 or len(path_speeds) == 0:
        return path_speeds
    seconds = float(np.sum(path_lengths / path_speeds))
    if seconds >= profile.min_layer_time or seconds <= 0:
        return path_speeds
    slowed = path_speeds * (seconds / profile.min_layer_time)
    return np.minimum(path_speeds, np.maximum(slowed, profile.min_print_speed))
