"""Vision thresholds and per-printer calibration data, with defaults, loadable from a profile's `[vision]` table.

Units: millimetres, square millimetres, 8-bit grey levels. The defaults give no false alarm on clean simulated
prints of the shared models (see bench/vision.py); a lab tunes them per camera in its profile.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vision.errors import VisionConfigError

# Default bed stickers: ArUco DICT_4X4_50 ids 0..3, centres in bed mm, outside the 220 x 220 print area.
DEFAULT_MARKERS: tuple[tuple[int, float, float], ...] = (
    (0, -14.0, -14.0),
    (1, 234.0, -14.0),
    (2, 234.0, 234.0),
    (3, -14.0, 234.0),
)
POLICIES = ("pause", "cancel", "warn")


@dataclass(frozen=True)
class VisionConfig:
    """Everything a layer check needs besides the image and the toolpaths."""

    px_per_mm: float = 3.0                # resolution of the bed-mm raster the photo is warped to
    margin_mm: float = 8.0                # crop around the part's bounds
    filament_diameter: float = 1.75       # for bead widths from E
    min_bead_mm: float = 0.25             # bead widths are clipped to [min_bead_mm, max_bead_mm]
    max_bead_mm: float = 1.2
    markers: tuple[tuple[int, float, float], ...] = DEFAULT_MARKERS
    marker_size_mm: float = 18.0          # side of the black square of each sticker
    points: tuple[tuple[float, float, float, float], ...] = ()  # (u, v, x, y): image px u, v of bed point x, y mm,
    #                                     four or more picked by hand: registration without markers (a fixed camera)
    drift_mm: float = 1.0                 # re-register when the stored homography is off by more than this
    material_contrast: float = 45.0       # colour distance from the bed that counts as material
    old_ratio: float = 0.65               # brightness of old material / fresh material on wide fill
    old_ratio_narrow: float = 0.72        # ... on walls and lines
    wide_mm: float = 2.0                  # fill at least this wide ages by old_ratio, narrower by old_ratio_narrow
    fresh_step: float = 14.0              # grey-level rise that counts as fresh material over old
    psf_mm: float = 0.25                  # camera blur assumed when predicting how bright thin beads look
    blur_px: float = 1.0                  # Gaussian sigma before differencing, raster px
    dense_level: float = 0.75             # expected fresh fraction (blurred reference) where coverage is judged
    thin_level: float = 0.65              # a layer with less than min_area_mm2 above this is single lines only
    edge_tolerance_mm: float = 0.8        # band around the reference ignored for missing/excess
    min_area_mm2: float = 10.0            # layers smaller than this are not judged
    shift_mm: float = 1.0                 # offset that counts as a layer shift
    shift_min_iou: float = 0.5            # IoU after undoing the offset, for a shift to be believed
    shift_min_response: float = 0.3       # ... or this phase-correlation peak (sparse layers)
    shift_min_gain: float = 0.25          # ... or coverage restored by undoing the offset, at least this much
    missing_coverage: float = 0.2         # fresh coverage of the layer below this: missing layer / clog
    under_coverage: float = 0.76          # below this (and above missing): under-extrusion
    warp_rim_coverage: float = 0.78       # coverage at the layer's corners below this, ...
    warp_ratio: float = 0.8               # ... and below this share of its middle's: corners lifting (warping)
    warp_body_coverage: float = 0.6       # ... while the middle is at least this well covered (else it is low flow)
    spaghetti_area_mm2: float = 5.0       # stray material outside the part's footprint (absolute floor)
    spaghetti_fraction: float = 0.02      # ... or this fraction of the layer's area, whichever is larger
    policy: str = "pause"                 # on a failed check: pause | cancel | warn
    park: tuple[float, float] | None = (110.0, 220.0)  # XY to park at before the photo (mid back edge: clear of
    #                                                    the corner markers); None to stay put
    park_lift_mm: float = 2.0             # Z lift while parked
    park_feedrate: float = 6000.0         # mm/min

    def __post_init__(self) -> None:
        """Reject values a check could not work with, naming the option and its limit."""
        positive = ("px_per_mm", "filament_diameter", "min_bead_mm", "max_bead_mm", "marker_size_mm",
                    "drift_mm", "material_contrast", "old_ratio", "old_ratio_narrow", "wide_mm", "fresh_step", "shift_mm", "park_feedrate")
        for name in positive:
            if not getattr(self, name) > 0:
                raise VisionConfigError(f"option '{name}' in section 'vision' must be > 0 (got {getattr(self, name)})")
        for name in ("margin_mm", "blur_px", "edge_tolerance_mm", "min_area_mm2", "spaghetti_area_mm2",
                     "park_lift_mm"):
            if getattr(self, name) < 0:
                raise VisionConfigError(f"option '{name}' in section 'vision' must have minimum of 0")
        for name in ("dense_level", "thin_level", "shift_min_iou", "shift_min_response", "shift_min_gain", "missing_coverage", "under_coverage", "spaghetti_fraction",
                     "warp_rim_coverage", "warp_ratio", "warp_body_coverage"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise VisionConfigError(f"option '{name}' in section 'vision' must be between 0 and 1")
        if self.missing_coverage > self.under_coverage:
            raise VisionConfigError("option 'missing_coverage' in section 'vision' must not exceed 'under_coverage'")
        if self.policy not in POLICIES:
            raise VisionConfigError(f"option 'policy' in section 'vision' must be one of {', '.join(POLICIES)}")
        if len(self.markers) < 4 and self.markers:
            raise VisionConfigError("option 'markers' in section 'vision' needs four markers (id, x, y)")
        if self.points and len(self.points) < 4:
            raise VisionConfigError(f"option 'points' in section 'vision' needs at least four points (got "
                                    f"{len(self.points)})")

    def marker_centres(self) -> dict[int, tuple[float, float]]:
        """Marker id -> centre in bed mm."""
        return {int(i): (float(x), float(y)) for i, x, y in self.markers}

    def replace(self, **changes: Any) -> VisionConfig:
        """A copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)


def config_from_mapping(table: dict[str, Any]) -> VisionConfig:
    """Build a VisionConfig from a `[vision]` table; unknown keys are rejected at load, not mid-print."""
    known = {f.name for f in dataclasses.fields(VisionConfig)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise VisionConfigError(f"unknown option(s) in section 'vision': {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key == "markers":
            try:
                value = tuple((int(m[0]), float(m[1]), float(m[2])) for m in value)
            except (TypeError, ValueError, IndexError) as exc:
                raise VisionConfigError("option 'markers' in section 'vision' must be a list of [id, x, y]") from exc
        elif key == "points":
            try:
                value = tuple((float(p[0]), float(p[1]), float(p[2]), float(p[3])) for p in value)
                if any(len(p) != 4 for p in table[key]):
                    raise ValueError
            except (TypeError, ValueError, IndexError) as exc:
                raise VisionConfigError("option 'points' in section 'vision' must be a list of [u, v, x, y]: the "
                                        "image pixel and the bed position in mm of each point") from exc
        elif key == "park":
            if value in (None, False, "none", []):
                value = None
            else:
                try:
                    value = (float(value[0]), float(value[1]))
                except (TypeError, ValueError, IndexError) as exc:
                    raise VisionConfigError("option 'park' in section 'vision' must be [x, y] or \"none\"") from exc
        elif key == "policy":
            value = str(value)
        else:
            try:
                value = float(value)
            except (TypeError, ValueError) as exc:
                raise VisionConfigError(f"option '{key}' in section 'vision' must be a number (got {value!r})") from exc
        values[key] = value
    return VisionConfig(**values)


def load_config(path: str | Path | None) -> VisionConfig:
    """Read the `[vision]` table of a profile TOML file (defaults when there is no file or no table)."""
    if path is None:
        return VisionConfig()
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VisionConfigError(f"cannot read profile {path}: {exc}") from exc
    table = data.get("vision", {})
    if not isinstance(table, dict):
        raise VisionConfigError(f"section 'vision' in {path} must be a table")
    return config_from_mapping(table)
