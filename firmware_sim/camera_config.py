"""The camera's settings: resolution, scene (filament, sheet), pose, light; validated where they are made."""
from __future__ import annotations

from dataclasses import dataclass, replace

from firmware_sim.camera_surfaces import FILAMENTS, SURFACES, Finish, Surface
from firmware_sim.errors import SimError

MAX_TILT_DEG = 60.0
MAX_LIGHT_DRIFT = 0.9


class CameraConfigError(SimError):
    """A camera setting is out of range."""


@dataclass(frozen=True)
class CameraConfig:
    """Camera and scene: resolution, filament and sheet, noise, uneven light, pose and the bed rectangle framed.

    The defaults are the simulator's original look: orange filament on a black textured sheet, 4° from
    straight down, the material drawn on the bed plane (`parallax` False, as the host's vision assumes), no cast
    shadows, steady light. `filament_bgr` / `bed_bgr` override the filament's or the sheet's own colour.
    """

    resolution: tuple[int, int] = (1280, 960)
    filament_bgr: tuple[int, int, int] | None = None
    bed_bgr: tuple[int, int, int] | None = None
    noise_sigma: float = 3.0
    lighting: float = 0.25
    tilt_deg: float = 4.0
    view: tuple[float, float, float, float] = (-30.0, -30.0, 250.0, 250.0)
    jpeg_quality: int = 90
    filament: str = "orange"
    bed: str = "black"
    bed_logo: bool = False
    parallax: bool = False        # project material at its height through the pinhole (walls, displaced tops)
    shadow: float = 0.0           # 0..1: how much of the lamp's light the part's cast shadow takes away
    light_drift: float = 0.0      # 0..0.9: room light drifts between photos by up to ± this fraction
    auto_exposure: float = 0.0    # 0..1: how far the camera's gain moves toward a target mean brightness
    head_in_view: bool = False    # the print head and gantry are drawn where the head is when the photo is taken
    bed_slinger: bool = False     # the bed moves in Y under the fixed camera and nozzle (an i3-style printer): the
    #                               sheet, its markers and the print are drawn where the head's Y puts the bed

    def __post_init__(self) -> None:
        """Reject settings no camera could have, naming the option and its limit."""
        w, h = self.resolution
        if not (16 <= w <= 8192 and 16 <= h <= 8192):
            raise CameraConfigError(f"resolution must be between 16x16 and 8192x8192 pixels, got {w}x{h}")
        if not 1 <= self.jpeg_quality <= 100:
            raise CameraConfigError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if self.view[2] <= self.view[0] or self.view[3] <= self.view[1]:
            raise CameraConfigError(f"view must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {self.view}")
        if not 0.0 <= self.tilt_deg <= MAX_TILT_DEG:
            raise CameraConfigError(f"tilt_deg must be in [0, {MAX_TILT_DEG:g}] degrees, got {self.tilt_deg}")
        if self.noise_sigma < 0 or not 0.0 <= self.lighting < 1.0:
            raise CameraConfigError("noise_sigma must be >= 0 and lighting in [0, 1)")
        if self.filament not in FILAMENTS:
            raise CameraConfigError(f"filament must be one of {', '.join(FILAMENTS)}, got {self.filament!r}")
        if self.bed not in SURFACES:
            raise CameraConfigError(f"bed must be one of {', '.join(SURFACES)}, got {self.bed!r}")
        for name, rgb in (("filament_bgr", self.filament_bgr), ("bed_bgr", self.bed_bgr)):
            if rgb is not None and (len(rgb) != 3 or not all(0 <= v <= 255 for v in rgb)):
                raise CameraConfigError(f"{name} must be three values 0..255 (B, G, R), got {rgb}")
        if not 0.0 <= self.shadow <= 1.0:
            raise CameraConfigError(f"shadow must be in [0, 1], got {self.shadow}")
        if not 0.0 <= self.light_drift <= MAX_LIGHT_DRIFT:
            raise CameraConfigError(f"light_drift must be in [0, {MAX_LIGHT_DRIFT:g}], got {self.light_drift}")
        if not 0.0 <= self.auto_exposure <= 1.0:
            raise CameraConfigError(f"auto_exposure must be in [0, 1], got {self.auto_exposure}")

    @property
    def finish(self) -> Finish:
        """The filament's finish, with `filament_bgr` as its colour when given."""
        f = FILAMENTS[self.filament]
        if self.filament_bgr is None:
            return f
        return replace(f, bgr=self.filament_bgr)

    @property
    def surface(self) -> Surface:
        """The sheet's surface."""
        return SURFACES[self.bed]

    @property
    def sheet_bgr(self) -> tuple[int, int, int]:
        """The sheet's base colour (`bed_bgr` when given)."""
        return self.bed_bgr if self.bed_bgr is not None else self.surface.bgr
