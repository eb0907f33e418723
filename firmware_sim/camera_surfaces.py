"""What the camera looks at: filament finishes and print-sheet surfaces, as data plus small raster functions.

A `Finish` says how printed material answers light: its colour, a Blinn highlight (the newest layer glossier
than the older, dulled ones), how far light passes into it (translucent material lets the sheet show through
thin layers and glows at its edges) and a silk sheen, an anisotropic highlight along the beads. A `Surface`
says how the sheet under it looks: its base colour and texture, how much of the room it mirrors (a sharp window
reflection on glass, a soft sheen on smooth PEI) and how strongly the part is mirrored in it.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Finish:
    """How one filament looks: colour (BGR), highlight, translucency and silk sheen."""

    bgr: tuple[int, int, int]
    gloss: float = 90.0           # grey levels at the peak of the highlight on the newest layer
    gloss_exp: int = 24           # Blinn exponent: larger is a smaller, sharper highlight
    aged_gloss: float = 0.0       # fraction of the highlight older layers keep
    clarity_mm: float = 0.0       # 0: opaque; else opacity = 1 - exp(-thickness / clarity_mm)
    edge_glow: float = 0.0        # grey levels added where light leaves through a translucent edge
    silk: float = 0.0             # grey levels at the peak of the highlight across the beads


FILAMENTS: dict[str, Finish] = {
    "orange": Finish((40, 90, 230)),
    "white": Finish((222, 228, 232), gloss=55.0, aged_gloss=0.3),
    "black": Finish((30, 29, 28), gloss=110.0, gloss_exp=32, aged_gloss=0.5),
    "grey": Finish((128, 126, 122), gloss=150.0, gloss_exp=40, aged_gloss=0.85),      # PETG: glossy throughout
    "translucent": Finish((200, 214, 206), gloss=120.0, gloss_exp=40, aged_gloss=0.7, clarity_mm=0.45,
                          edge_glow=70.0),
    "silk": Finish((45, 125, 170), gloss=30.0, aged_gloss=0.5, silk=130.0),           # silk gold PLA
}


@dataclass(frozen=True)
class Surface:
    """How one print sheet looks: base colour (BGR), texture, mirror of the room and of the part."""

    bgr: tuple[int, int, int]
    grain: float = 7.0            # grey levels of fine texture
    speckle: float = 0.0          # grey levels of powder-coat speckles (bright and dark dots)
    glare: float = 0.0            # peak grey levels of the room's windows and lamps mirrored in the sheet
    glare_blur: float = 0.0       # softness of that reflection, as a fraction of the image width
    mirror: float = 0.0           # fraction of the part's light the sheet mirrors back to the camera
    marker_margin: float = 4.0    # mm of white around each marker sticker (bright sheets need more for ArUco)


SURFACES: dict[str, Surface] = {
    "black": Surface((35, 35, 35)),
    "textured-pei": Surface((52, 112, 158), grain=9.0, speckle=55.0, glare=14.0, glare_blur=0.12,
                            marker_margin=8.0),
    "smooth-pei": Surface((48, 138, 196), grain=1.5, glare=75.0, glare_blur=0.06, marker_margin=8.0),
    "glass": Surface((34, 34, 30), grain=0.8, glare=120.0, glare_blur=0.003, mirror=0.2, marker_margin=8.0),
}

# The room, in bed mm: a strip lamp over the front left and a window of six panes on the wall behind the
# printer; each pane a quadrilateral (4,3) the sheet may mirror into the camera.
def _window_panes(x0: float, x1: float, y: float, z0: float, z1: float, cols: int, rows: int, bar: float
                  ) -> tuple[np.ndarray, ...]:
    """Quadrilaterals of the panes of a window in the plane y, split by glazing bars `bar` mm wide."""
    xs, zs = np.linspace(x0, x1, cols + 1), np.linspace(z0, z1, rows + 1)
    panes = []
    for i in range(cols):
        for j in range(rows):
            a, b = xs[i] + bar / 2, xs[i + 1] - bar / 2
            c, d = zs[j] + bar / 2, zs[j + 1] - bar / 2
            panes.append(np.array([[a, y, c], [b, y, c], [b, y, d], [a, y, d]]))
    return tuple(panes)


ROOM_LIGHTS: tuple[np.ndarray, ...] = (
    np.array([[-30.0, 320.0, 900.0], [0.0, 320.0, 900.0], [0.0, 820.0, 900.0], [-30.0, 820.0, 900.0]]),
    *_window_panes(-70.0, 30.0, 700.0, 250.0, 1400.0, 2, 3, 12.0),
)

LOGO_TEXT = "printloop"
LOGO_BOX = (45.0, 6.0, 175.0, 22.0)    # mm: where the sheet's printed logo sits, in the front of the print area


def sheet_raster(surface: Surface, shape: tuple[int, int], bgr: tuple[int, int, int], rng: np.random.Generator
                 ) -> np.ndarray:
    """Top-down float32 BGR texture of a sheet (h, w); the black sheet's draws are the ones it always made."""
    h, w = shape
    grain = np.asarray(cv2.GaussianBlur(rng.normal(0, 7, (h, w)).astype(np.float32), (0, 0), 0.8), np.float32)
    mottle = cv2.resize(rng.normal(0, 2.0, (h // 64 + 2, w // 64 + 2)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    if surface.grain != 7.0:
        grain *= np.float32(surface.grain / 7.0)
    texture = grain + mottle
    base = np.asarray(bgr, np.float32)[None, None, :]
    if surface.speckle <= 0:
        return base + texture[..., None]
    dots = rng.random((h, w), np.float32)     # powder coat: a bright or dark dot on about one pixel in eight
    spots = np.where(dots > 0.93, 1.0, np.where(dots < 0.06, -0.8, 0.0)).astype(np.float32)
    texture += np.asarray(cv2.GaussianBlur(spots, (0, 0), 0.6)) * np.float32(surface.speckle)
    return base * (1.0 + texture[..., None] / 160.0)            # the coat's grain scales with its colour


def draw_logo(img: np.ndarray, bounds: tuple[int, int, int, int], px_per_mm: int, bgr: tuple[int, int, int]
              ) -> None:
    """Print the sheet's logo (text and a rule under it) into a top-down raster, in place."""
    x0, _y0, _x1, y1 = bounds
    lx0, ly0, lx1, ly1 = LOGO_BOX
    ink = tuple(int(v) for v in np.clip(np.asarray(bgr, np.float64) * 0.55 + 18, 0, 255))
    height_px = (ly1 - ly0) * px_per_mm
    scale = cv2.getFontScaleFromHeight(cv2.FONT_HERSHEY_DUPLEX, int(height_px * 0.62), 3)
    (tw, _th), _ = cv2.getTextSize(LOGO_TEXT, cv2.FONT_HERSHEY_DUPLEX, scale, 3)
    left = int(((lx0 + lx1) / 2 - x0) * px_per_mm - tw / 2)
    base = int((y1 - ly0) * px_per_mm - height_px * 0.3)
    cv2.putText(img, LOGO_TEXT, (left, base), cv2.FONT_HERSHEY_DUPLEX, scale, ink, 3, cv2.LINE_AA)
    rule = int((y1 - ly0) * px_per_mm - height_px * 0.12)
    cv2.line(img, (int((lx0 - x0) * px_per_mm), rule), (int((lx1 - x0) * px_per_mm), rule), ink, 2, cv2.LINE_AA)
