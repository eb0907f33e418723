"""Cooling: a layer that would print faster than `min_layer_time` is slowed down to it, never below
`min_print_speed` (as CuraEngine's minimal layer time and PrusaSlicer's slowdown_below_layer_time do); the part
fan runs by layer time between `min_fan_speed` and `max_fan_speed`, at `bridge_fan_speed` on bridges, and at
least at the quartile's `overhang_fans` on overhanging walls, whose speed is at most `overhang_speeds`."""
from __future__ import annotations

import numpy as np

from slicing.profile import Profile
from slicing.toolpath import Feature


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


def _walls(features: np.ndarray) -> np.ndarray:
    """True for wall paths (the only ones that are split by overhang)."""
    return (features == Feature.WALL_OUTER) | (features == Feature.WALL_INNER)


def overhang_speeds(path_speeds: np.ndarray, features: np.ndarray, hang: np.ndarray, profile: Profile) -> np.ndarray:
    """Print speeds (mm/s) per path with overhanging walls (class `hang` 1..4) at most at their quartile's speed."""
    over = _walls(features) & (hang > 0)
    if not over.any():
        return path_speeds
    cap = np.asarray(profile.overhang_speeds)[np.clip(hang, 1, 4) - 1]
    return np.where(over, np.minimum(path_speeds, cap), path_speeds)


def fan_for_layer_time(seconds: float, profile: Profile) -> float:
    """Fan (percent) of a layer whose extrusion takes `seconds` at full speed: min_fan_speed from
    fan_below_layer_time up, max_fan_speed at min_layer_time and below, linear between (PrusaSlicer's rule)."""
    lo, hi = profile.min_layer_time, profile.fan_below_layer_time
    if seconds >= hi:
        return profile.min_fan_speed
    if seconds <= lo or hi <= lo:
        return profile.max_fan_speed
    t = (seconds - lo) / (hi - lo)
    return t * profile.min_fan_speed + (1.0 - t) * profile.max_fan_speed


def layer_fans(seconds: float, features: np.ndarray, hang: np.ndarray, index: int, profile: Profile) -> np.ndarray:
    """(m,) part fan S (0..255) for each path of layer `index` (0-based of its copy) whose extrusion takes
    `seconds` at its speeds before the minimum-layer-time slowdown:
    off below fan_start_layer, the layer-time fan, bridge_fan_speed on bridges, at least the overhang fan of
    each overhanging wall's quartile."""
    if index < profile.fan_start_layer - 1:
        return np.zeros(len(features), dtype=np.int64)
    percent = np.full(len(features), fan_for_layer_time(seconds, profile))
    percent[features == Feature.BRIDGE] = profile.bridge_fan_speed
    over = _walls(features) & (hang > 0)
    if over.any():
        floor = np.asarray(profile.overhang_fans)[np.clip(hang, 1, 4) - 1]
        percent = np.where(over, np.maximum(percent, floor), percent)
    return np.floor(percent * 255.0 / 100.0 + 0.5).astype(np.int64)
