"""Print profiles: a frozen set of settings read from TOML and validated at the boundary, Klipper style.

Units: millimetres, mm/s, mm/s², °C; densities and fan speed in percent where the key says so.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from slicing.errors import ProfileError

DEFAULT_PROFILE = Path(__file__).with_name("default_profile.toml")

_INF = float("inf")

# key -> (minimum, maximum, exclusive minimum); numbers only.
_LIMITS: dict[str, tuple[float, float, bool]] = {
    "bed_x": (0.0, 2000.0, True),
    "bed_y": (0.0, 2000.0, True),
    "bed_z": (0.0, 2000.0, True),
    "nozzle_diameter": (0.0, 5.0, True),
    "filament_diameter": (0.0, 5.0, True),
    "filament_density": (0.0, 30.0, True),
    "print_temperature": (0.0, 500.0, False),
    "bed_temperature": (0.0, 150.0, False),
    "layer_height": (0.0, 5.0, True),
    "first_layer_height": (0.0, 5.0, True),
    "line_width": (0.0, 5.0, True),
    "perimeters": (0.0, 50.0, False),
    "top_layers": (0.0, 1000.0, False),
    "bottom_layers": (0.0, 1000.0, False),
    "infill_density": (0.0, 100.0, False),
    "infill_overlap": (0.0, 100.0, False),
    "skin_angle": (-360.0, 360.0, False),
    "print_speed": (0.0, 2000.0, True),
    "wall_outer_speed": (0.0, 2000.0, True),
    "wall_inner_speed": (0.0, 2000.0, True),
    "skin_speed": (0.0, 2000.0, True),
    "infill_speed": (0.0, 2000.0, True),
    "travel_speed": (0.0, 2000.0, True),
    "first_layer_speed": (0.0, 2000.0, True),
    "skirt_speed": (0.0, 2000.0, True),
    "retract_length": (0.0, 50.0, False),
    "retract_speed": (0.0, 500.0, True),
    "retract_min_travel": (0.0, 1000.0, False),
    "z_hop": (0.0, 50.0, False),
    "fan_start_layer": (1.0, 1e9, False),
    "min_fan_speed": (0.0, 100.0, False),
    "max_fan_speed": (0.0, 100.0, False),
    "fan_below_layer_time": (0.0, 3600.0, False),
    "bridge_fan_speed": (0.0, 100.0, False),
    "skirt_loops": (0.0, 100.0, False),
    "skirt_distance": (0.0, 100.0, False),
    "brim_width": (0.0, 100.0, False),
    "acceleration": (0.0, 1e6, True),
    "travel_acceleration": (0.0, 1e6, True),
    "retract_acceleration": (0.0, 1e6, True),
    "max_acceleration_x": (0.0, 1e6, True),
    "max_acceleration_y": (0.0, 1e6, True),
    "max_acceleration_z": (0.0, 1e6, True),
    "max_acceleration_e": (0.0, 1e6, True),
    "jerk_xy": (0.0, 1e4, False),
    "jerk_z": (0.0, 1e4, False),
    "jerk_e": (0.0, 1e4, False),
    "max_feedrate_x": (0.0, 1e4, True),
    "max_feedrate_y": (0.0, 1e4, True),
    "max_feedrate_z": (0.0, 1e4, True),
    "max_feedrate_e": (0.0, 1e4, True),
    # supports (slicing/support.py)
    "support_angle": (0.0, 90.0, False),
    "support_z_gap": (0.0, 10.0, False),
    "support_xy_gap": (0.0, 20.0, False),
    "support_interface_layers": (0.0, 100.0, False),
    "support_density": (0.0, 100.0, True),
    "support_interface_density": (0.0, 100.0, True),
    "support_min_area": (0.0, 1e4, False),
    "support_speed": (0.0, 2000.0, True),
    "support_brim_width": (0.0, 100.0, False),
    # bridges (slicing/bridges.py)
    "bridge_speed": (0.0, 2000.0, True),
    "bridge_flow": (0.0, 200.0, True),
    # cooling (slicing/cooling.py)
    "min_layer_time": (0.0, 600.0, False),
    "min_print_speed": (0.0, 2000.0, True),
    # sequential printing (slicing/sequential.py)
    "extruder_clearance_radius": (0.0, 1000.0, False),
    "extruder_clearance_height": (0.0, 2000.0, False),
}

# key -> (length, minimum, maximum, exclusive minimum) of its list of numbers
_LISTS: dict[str, tuple[int, float, float, bool]] = {
    # overhangs (slicing/overhangs.py): one value per quartile of the line width hanging over air
    "overhang_speeds": (4, 0.0, 2000.0, True),
    "overhang_fans": (4, 0.0, 100.0, False),
}

_ALIASES: dict[str, tuple[str, ...]] = {
    "fan_speed": ("min_fan_speed", "max_fan_speed"),  # the one fan speed of older profiles: the same at any time
}

_CHOICES: dict[str, tuple[str, ...]] = {
    "flavor": ("marlin", "klipper"),  # klipper: objects labelled EXCLUDE_OBJECT_* (slicing/labels.py), not M486
    "infill_pattern": ("lines", "grid"),
    "seam": ("aligned", "nearest"),
    "support": ("off", "buildplate", "everywhere"),
    "support_pattern": ("lines", "grid"),
}


@dataclass(frozen=True)
class Profile:
    """Every setting the slicer and the G-code writer use; build it with load_profile."""

    flavor: str
    bed_x: float
    bed_y: float
    bed_z: float
    nozzle_diameter: float
    filament_diameter: float
    filament_density: float
    print_temperature: float
    bed_temperature: float
    layer_height: float
    first_layer_height: float
    line_width: float
    perimeters: int
    top_layers: int
    bottom_layers: int
    infill_density: float
    infill_pattern: str
    infill_overlap: float
    skin_angle: float
    print_speed: float
    wall_outer_speed: float
    wall_inner_speed: float
    skin_speed: float
    infill_speed: float
    travel_speed: float
    first_layer_speed: float
    skirt_speed: float
    retract_length: float
    retract_speed: float
    retract_min_travel: float
    z_hop: float
    combing: bool
    fan_start_layer: int
    min_fan_speed: float
    max_fan_speed: float
    fan_below_layer_time: float
    bridge_fan_speed: float
    skirt_loops: int
    skirt_distance: float
    brim_width: float
    seam: str
    relative_e: bool
    acceleration: float
    travel_acceleration: float
    retract_acceleration: float
    max_acceleration_x: float
    max_acceleration_y: float
    max_acceleration_z: float
    max_acceleration_e: float
    jerk_xy: float
    jerk_z: float
    jerk_e: float
    max_feedrate_x: float
    max_feedrate_y: float
    max_feedrate_z: float
    max_feedrate_e: float
    start_gcode: str
    end_gcode: str
    # supports (slicing/support.py)
    support: str
    support_angle: float
    support_z_gap: float
    support_xy_gap: float
    support_interface_layers: int
    support_density: float
    support_interface_density: float
    support_pattern: str
    support_min_area: float
    support_speed: float
    support_brim_width: float
    # bridges (slicing/bridges.py)
    bridges: bool
    bridge_speed: float
    bridge_flow: float
    # thin walls and gap fill (slicing/thin.py)
    gap_fill: bool
    # cooling (slicing/cooling.py)
    min_layer_time: float
    min_print_speed: float
    # overhangs (slicing/overhangs.py)
    overhangs: bool
    overhang_speeds: tuple[float, float, float, float]
    overhang_fans: tuple[float, float, float, float]
    # sequential printing (slicing/sequential.py)
    sequential: bool
    extruder_clearance_radius: float
    extruder_clearance_height: float

    @property
    def filament_area(self) -> float:
        """Cross-section of the filament in mm²."""
        return 3.141592653589793 * (self.filament_diameter / 2.0) ** 2


_TYPES: dict[str, type] = {
    f.name: {"float": float, "int": int, "str": str, "bool": bool}.get(str(f.type), tuple) for f in fields(Profile)
}


def _coerce(key: str, value: Any, source: str) -> Any:
    """Check one value's type (ints accepted for floats) and return it as the field's type."""
    want = _TYPES[key]
    if key == "support" and isinstance(value, bool):  # `--set support=true` means supports everywhere
        value = "everywhere" if value else "off"
    if want is tuple:
        length = _LISTS[key][0]
        if not isinstance(value, list) or len(value) != length or \
                any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            raise ProfileError(f"option '{key}' in {source} must be a list of {length} numbers, not {value!r}")
        return tuple(float(v) for v in value)
    if want is bool:
        if not isinstance(value, bool):
            raise ProfileError(f"option '{key}' in {source} must be true or false, not {value!r}")
        return value
    if want is int:
        if isinstance(value, bool) or not (isinstance(value, int) or (isinstance(value, float) and value.is_integer())):
            raise ProfileError(f"option '{key}' in {source} must be a whole number, not {value!r}")
        return int(value)
    if want is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ProfileError(f"option '{key}' in {source} must be a number, not {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ProfileError(f"option '{key}' in {source} must be text, not {value!r}")
    return value.lower() if key in _CHOICES else value


def _check(key: str, value: Any, source: str) -> None:
    """Raise ProfileError naming the key and its limit when a value is outside its allowed range."""
    if key in _LISTS:
        for v in value:
            _check_number(key, v, source, _LISTS[key][1:])
    if key in _LIMITS:
        _check_number(key, value, source, _LIMITS[key])
    if key in _CHOICES and value not in _CHOICES[key]:
        raise ProfileError(f"option '{key}' in {source} must be one of {', '.join(_CHOICES[key])} (got {value!r})")


def _check_number(key: str, value: float, source: str, limits: tuple[float, float, bool]) -> None:
    """Raise ProfileError naming the key and its limit when one number is outside its allowed range."""
    low, high, exclusive = limits
    if exclusive and value <= low:
        raise ProfileError(f"option '{key}' in {source} must be above {low:g} (got {value:g})")
    if not exclusive and value < low:
        raise ProfileError(f"option '{key}' in {source} must have minimum of {low:g} (got {value:g})")
    if value > high:
        raise ProfileError(f"option '{key}' in {source} must have maximum of {high:g} (got {value:g})")


OTHER_TABLES = frozenset({"vision"})
"""Tables of a printer's profile that other parts read (the layer check's `[vision]`); the slicer skips them."""


def _read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML profile file; nested tables are flattened (their keys are used as-is), but for the tables
    other parts of printloop read from the same profile."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ProfileError(f"profile {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile {path} is not valid TOML: {exc}") from None
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            if key not in OTHER_TABLES:
                flat.update(value)
        else:
            flat[key] = value
    return flat


def parse_override(text: str) -> tuple[str, str]:
    """Split a `key=value` command-line override; the value stays text until load_profile parses it."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ProfileError(f"override {text!r} must look like key=value")
    return key.strip(), value.strip()


def _parse_scalar(key: str, text: str) -> Any:
    """Parse an override value as a TOML scalar, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _expand_aliases(data: dict[str, Any]) -> dict[str, Any]:
    """The options with an older key (`fan_speed`) spelled as the keys it now sets."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        for name in _ALIASES.get(key, (key,)):
            out[name] = value
    return out


def load_profile(path: str | os.PathLike[str] | None = None, overrides: dict[str, str] | None = None) -> Profile:
    """Load the defaults, then the TOML file at `path`, then `--set` overrides; validate everything at once."""
    values = _read_toml(DEFAULT_PROFILE)
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), _read_toml(Path(path))))
    if overrides:
        layers.append(("--set", {k: _parse_scalar(k, str(v)) for k, v in overrides.items()}))
    for source, data in [("default_profile.toml", dict(values))] + layers:
        for key, value in _expand_aliases(data).items():
            if key not in _TYPES:
                raise ProfileError(f"option '{key}' in {source} is not a valid option")
            values[key] = _coerce(key, value, source)
            _check(key, values[key], source)
    missing = [k for k in _TYPES if k not in values]
    if missing:
        raise ProfileError(f"profile is missing options: {', '.join(missing)}")
    nozzle = values["nozzle_diameter"]
    for key, low, high in (("line_width", 0.5, 2.0), ("layer_height", 0.0, 0.8), ("first_layer_height", 0.0, 0.8)):
        if values[key] < low * nozzle:
            raise ProfileError(f"option '{key}' must have minimum of {low:g} x nozzle_diameter = {low * nozzle:g}")
        if values[key] > high * nozzle:
            raise ProfileError(f"option '{key}' must have maximum of {high:g} x nozzle_diameter = {high * nozzle:g}")
    if values["min_fan_speed"] > values["max_fan_speed"]:
        raise ProfileError(f"option 'min_fan_speed' ({values['min_fan_speed']:g}) must not be above "
                           f"max_fan_speed ({values['max_fan_speed']:g})")
    return Profile(**values)
