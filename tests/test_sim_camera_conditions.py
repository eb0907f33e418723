"""Camera conditions a lab's webcam sees: filament colour and finish, print-sheet surfaces, a tilted pinhole
with parallax, the part's cast shadow, drifting room light and auto-exposure; the defaults keep the original look.

Each test drives `render` (or `printloop sim` over HTTP) and fails when its option is ignored."""
from __future__ import annotations

import base64
import subprocess
import sys
import zlib
from typing import Any

import cv2
import numpy as np
import pytest

from firmware_sim.camera import CameraConfig, CameraConfigError, camera_matrix, project_px, render
from firmware_sim.camera_light import LIGHT, drift_factor, shadow_length
from firmware_sim.camera_surfaces import LOGO_BOX
from firmware_sim.deposition import Deposition
from tests.sim_helpers import command, running_sim
from tests.simproc import REPO
from tests.test_sim_camera import T, W, decode, fill, to_px
from tests.test_sim_fault_injection import squares
from tests.test_sim_http import fetch, markers

QUIET: dict[str, Any] = {"noise_sigma": 0.0}
# The original camera's frame of `_reference_scene` (640x480, rng 1), reduced to 32x24 BGR with INTER_AREA
# and zlib-compressed: rendered by the simulator before camera scenes existed.
ORIGINAL_THUMB = (
    "eNplVltOK0cQXYjH09MzNoILfoBnPLbHnrF9wZdLlI8LUQwIAxIPKTyyg6wgSlaQPWQRkbKXPBaRU3WmG5KURKvd3XNO1anqahbL"
    "5fKj2OHh4bfr9d3d3WazCcPQWhtFUeis2WxyYoyxkWxyEWcwBkHQaAQXFxe3N7dnZ2fz+byqqrIsZ7MZ4Q/V1uv15eXl5moTqdVo"
    "AiZcmGPEL0ywobskEWosnZ+fw73T01PBnxO/XH6s8Y+Ojk4+f765ufnq5CQyggaL49iqYZIkrSRJhCgyGpxMMGKL7MfHx+vzNXAW"
    "i4UPQcCd/zgVq9FJGCAVHfikSBgCJlaPcVHOq4r4A9Nc7R2+gGNCWVot5yfFUSOdYgtmnMR+i18ZFQsBYQHq/N9/TOw7E4ydcfKh"
    "tDtTk3SZC+Yd7F4TJqVmiAxygZXq3/5THiRaYa1XIL/6rXr5o3r5s7P6yWd8a2ur1W4LlgmleMKmT7pRH/ATsG/4Uj+Cj6TUjliR"
    "qN1u55vf569/zV/+7h3/7OUCPtWjJ8Zosdraq0iJUJYen9UP/LniUxyAg2J7eLVbfPeheGp1VoZAqhtG7IKIyRU6G0X1vsevHD4I"
    "hKMqq0hkqT/hSf8JF1HsLE7M4QMXJdexnOF1QwzToqgq4s8gy1INXCxmEafVwkGpB3UqUW8BJenDGcBF1l83HSTduMVMeVFM/P1d"
    "QJelUOAH0wrbam9ZFbz2UHXoffox/eZXVtZ/qlfvDK9IjI3JZFKWFcBnU0nEQmJYFEVRXxyVlzr7UoTtLX7of/0Lb7F1fkcuuaTj"
    "ZDQa0fnpdIpASDEpCsbLKwwQz+Iq3LnqatjvQslAuxDrPx+NCF64RIBiPJlo+RrCCkXLO2/8JeWVpfixRufdJhHGPM8JLkLNEEoJ"
    "CgRl5b6EXlUvPhPBgmQMyLCL5K0FkRj4WZYRfDweg0gSMSuHee7qoXYmcm3T32gJx/p2YN5Us1YatDYQTNJBSnD4DCJSZFnqcuS7"
    "WeQzznv91u5cQ+MxnTcJDzs4OCA4hAJRoZamqTsmXxPMyVCXEKXwI1LKO1X3Oh3gf7+/T/DhcDhWAwtI6VKj0dCXhc1OPAcYEfzr"
    "oPBx3ZPr1td0L2nY6/UVHHnIRmqg6Pf7UmKmDrmpVteJ+u/VqB8g9TZoBr51U1UwdDsdIKdZNhikCAFc+Sjvdrv39/d43FerlcMP"
    "QpWU2rseb/wDB0jvBgxNTJ7429u9vT2oPRgMoAlYsqFYp9N5eHh4enrabK7rfxj0K/08eheI8TnFMlRB2+GziPf99MuX19fvd3d3"
    "Cb6/v48JuLI0Benz8/P15nq1+qT/bzR8yF4uPopyW4PAr+Ok+BCGaAII//HxcXtnG8gQvNfr/QOEQIT4")


def _reference_scene() -> Deposition:
    """A 20 × 16 mm block 12 mm high and a thin 40 × 30 mm plate, both finished in the same (newest) layer."""
    dep = Deposition()
    for layer in range(60):
        fill(dep, (90.0, 100.0, 110.0, 116.0), T * (layer + 1), layer, along_x=layer % 2 == 0)
    fill(dep, (30.0, 150.0, 70.0, 180.0), T * 60, 59, along_x=True)
    return dep


def tower(dep: Deposition, box: tuple[float, float, float, float], height: float, first_layer: int = 0) -> int:
    """Solid layers of a rectangle up to `height` mm; returns the last layer index."""
    n = round(height / T)
    for k in range(n):
        fill(dep, box, T * (k + 1), first_layer + k, along_x=k % 2 == 0)
    return first_layer + n - 1


def fill_at_angle(dep: Deposition, centre: tuple[float, float], half: float, angle_deg: float, layer: int) -> None:
    """One layer of a square filled with parallel beads running at `angle_deg` (from +x), clipped to the square."""
    cx, cy = centre
    d = np.array([np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))])
    n = np.array([-d[1], d[0]])
    reach = half * np.sqrt(2)
    segs = []
    for off in np.arange(-reach + W / 2, reach, W):
        p0 = np.array([cx, cy]) + off * n - reach * d
        t0, t1 = 0.0, 2 * reach                  # Liang-Barsky clip of p0 + t·d to the square
        for axis, lo, hi in ((0, cx - half, cx + half), (1, cy - half, cy + half)):
            if abs(d[axis]) < 1e-12:
                if not lo <= p0[axis] <= hi:
                    t0, t1 = 1.0, 0.0
                continue
            a, b = (lo - p0[axis]) / d[axis], (hi - p0[axis]) / d[axis]
            t0, t1 = max(t0, min(a, b)), min(t1, max(a, b))
        if t1 - t0 > 2 * W:
            segs.append([*(p0 + t0 * d), *(p0 + t1 * d)])
    seg = np.array(segs)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    dep.deposit(seg, W * T * length / dep.filament_area, T, T, layer)


def bgr_at(img: np.ndarray, cfg: CameraConfig, x: float, y: float, r: int = 5) -> np.ndarray:
    """Mean BGR around the image position of bed point (x, y) (on the bed plane)."""
    u, v = to_px(camera_matrix(cfg), np.array([[x, y]]))[0].round().astype(int)
    return img[v - r:v + r + 1, u - r:u + r + 1].reshape(-1, 3).astype(np.float64).mean(axis=0)


def grey_at(img: np.ndarray, cfg: CameraConfig, x: float, y: float, r: int = 5) -> float:
    """Mean grey level around the image position of bed point (x, y)."""
    return float(bgr_at(img, cfg, x, y, r).mean())


# --- defaults ---------------------------------------------------------------------------------------------

def test_default_frame_is_the_original_cameras_frame() -> None:
    img = render(_reference_scene(), 59, CameraConfig(resolution=(640, 480)), np.random.default_rng(1))
    thumb = cv2.resize(img, (32, 24), interpolation=cv2.INTER_AREA).astype(int)
    original = np.frombuffer(zlib.decompress(base64.b64decode("".join(ORIGINAL_THUMB))), np.uint8)
    diff = np.abs(thumb - original.reshape(24, 32, 3).astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.1


def test_default_config_is_the_original_fields_orange_on_black_at_4_degrees_without_drift() -> None:
    dep = _reference_scene()
    original = CameraConfig(resolution=(1280, 960), filament_bgr=(40, 90, 230), bed_bgr=(35, 35, 35),
                            noise_sigma=3.0, lighting=0.25, tilt_deg=4.0, view=(-30.0, -30.0, 250.0, 250.0),
                            jpeg_quality=90)
    default = CameraConfig()
    assert (default.filament, default.bed, default.tilt_deg, default.parallax) == ("orange", "black", 4.0, False)
    assert (default.shadow, default.light_drift, default.auto_exposure, default.bed_logo) == (0.0, 0.0, 0.0, False)
    a = render(dep, 59, default, np.random.default_rng(4), photo=17, seed=3)
    b = render(dep, 59, original, np.random.default_rng(4))
    assert np.array_equal(a, b)


# --- filament ---------------------------------------------------------------------------------------------

def test_white_filament_on_textured_pei_is_a_bright_neutral_part_on_a_bronze_sheet() -> None:
    dep = Deposition()
    fill(dep, (100.0, 100.0, 130.0, 120.0), T, 0, along_x=True)
    cfg = CameraConfig(filament="white", bed="textured-pei", **QUIET)
    img = render(dep, 0, cfg, np.random.default_rng(0))
    b, g, r = bgr_at(img, cfg, 115.0, 110.0, 8)
    assert min(b, g, r) > 170 and max(b, g, r) - min(b, g, r) < 25     # white, not orange
    sb, sg, sr = bgr_at(img, cfg, 60.0, 60.0, 12)
    assert sr > sg + 20 > sb + 40 and 90 < sr < 220                        # bronze / gold sheet, not black
    orange = render(dep, 0, CameraConfig(bed="textured-pei", **QUIET), np.random.default_rng(0))
    ob, _og, orr = bgr_at(orange, cfg, 115.0, 110.0, 8)
    assert orr - ob > 100


@pytest.mark.parametrize(("name", "low", "high", "neutral"), [
    ("white", 170, 255, True), ("black", 0, 70, True), ("grey", 80, 170, True), ("orange", 40, 255, False),
    ("silk", 60, 255, False),
])
def test_each_filament_shows_its_own_colour(name: str, low: float, high: float, neutral: bool) -> None:
    dep = Deposition()
    fill(dep, (100.0, 100.0, 130.0, 120.0), T, 0, along_x=True)
    cfg = CameraConfig(filament=name, bed="smooth-pei", **QUIET)
    bgr = bgr_at(render(dep, 0, cfg, np.random.default_rng(0)), cfg, 115.0, 110.0, 8)
    assert low <= bgr.mean() <= high, bgr
    assert (np.ptp(bgr) < 25) == neutral, bgr
    if not neutral:
        assert bgr[2] > bgr[1] > bgr[0]                                    # warm: orange and silk gold


def test_grey_petg_keeps_its_gloss_on_older_layers_where_matte_pla_dulls() -> None:
    """A glossy filament's older layers stay close to its newest layer; orange PLA's highlight goes with age."""
    def dulling(name: str) -> float:
        dep = Deposition()
        fill(dep, (100.0, 100.0, 130.0, 120.0), T, 0, along_x=True)
        cfg = CameraConfig(filament=name, **QUIET)
        new = grey_at(render(dep, 0, cfg, np.random.default_rng(0)), cfg, 115.0, 110.0, 8)
        old = grey_at(render(dep, 1, cfg, np.random.default_rng(0)), cfg, 115.0, 110.0, 8)
        return old / new
    assert dulling("grey") > dulling("orange") + 0.1


def test_translucent_single_layer_lets_the_sheets_logo_show_through_and_glows_at_its_edges() -> None:
    lx0, ly0, lx1, ly1 = LOGO_BOX
    box = (lx0 - 5.0, ly0 - 3.0, lx1 + 5.0, ly1 + 3.0)
    dep = Deposition()
    fill(dep, box, T, 0, along_x=True)
    bare_cfg = CameraConfig(bed="smooth-pei", bed_logo=True, **QUIET)
    bare = cv2.cvtColor(render(Deposition(), 0, bare_cfg, np.random.default_rng(0)), cv2.COLOR_BGR2GRAY)
    plain = cv2.cvtColor(render(Deposition(), 0, CameraConfig(bed="smooth-pei", **QUIET),
                                np.random.default_rng(0)), cv2.COLOR_BGR2GRAY)
    ink = (plain.astype(int) - bare.astype(int)) > 25                    # the logo's printed letters
    assert ink.sum() > 300

    def contrast(filament: str) -> float:
        cfg = CameraConfig(filament=filament, bed="smooth-pei", bed_logo=True, **QUIET)
        g = cv2.cvtColor(render(dep, 0, cfg, np.random.default_rng(0)), cv2.COLOR_BGR2GRAY).astype(float)
        near = cv2.dilate(ink.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool) & ~ink
        return float(g[near].mean() - g[ink].mean())
    assert contrast("translucent") > 15                                   # the letters show through
    assert contrast("white") < 3                                          # an opaque layer hides them
    cfg = CameraConfig(filament="translucent", bed="smooth-pei", **QUIET)
    img = render(dep, 0, cfg, np.random.default_rng(0))
    rim = grey_at(img, cfg, box[0] + 0.3, (box[1] + box[3]) / 2, 1)
    inner = grey_at(img, cfg, box[0] + 4.0, (box[1] + box[3]) / 2, 1)
    assert rim > inner + 8


def test_silk_highlight_depends_on_the_bead_direction_relative_to_the_lamp() -> None:
    bearing = np.degrees(np.arctan2(LIGHT[1], LIGHT[0]))                 # toward the lamp, seen from above
    dep = Deposition()
    fill_at_angle(dep, (80.0, 110.0), 10.0, bearing + 90.0, 0)            # beads across the lamp's bearing
    fill_at_angle(dep, (140.0, 110.0), 10.0, bearing, 0)                  # beads along it

    def contrast(filament: str) -> float:
        cfg = CameraConfig(filament=filament, **QUIET)
        img = render(dep, 0, cfg, np.random.default_rng(0))
        return grey_at(img, cfg, 80.0, 110.0, 10) - grey_at(img, cfg, 140.0, 110.0, 10)
    assert contrast("silk") > 30                                          # anisotropic: bright across the lamp
    assert abs(contrast("white")) < 6                                     # isotropic gloss does not care


# --- print sheets -----------------------------------------------------------------------------------------

def top_down(img: np.ndarray, cfg: CameraConfig, px_per_mm: float = 2.0) -> np.ndarray:
    """The print area (0..220 mm, row = y) seen from above through the camera's bed homography."""
    s = np.array([[px_per_mm, 0, 0], [0, px_per_mm, 0], [0, 0, 1]])
    size = round(220 * px_per_mm)
    return np.asarray(cv2.warpPerspective(img, s @ np.linalg.inv(camera_matrix(cfg)), (size, size)))


def test_textured_pei_is_speckled_and_smooth_pei_is_smooth_with_a_soft_sheen() -> None:
    def fine_and_broad(bed: str) -> tuple[float, float]:
        cfg = CameraConfig(bed=bed, lighting=0.0, **QUIET)
        g = cv2.cvtColor(top_down(render(Deposition(), 0, cfg, np.random.default_rng(0)), cfg, 3.0),
                         cv2.COLOR_BGR2GRAY).astype(np.float32)
        fine = float((g - cv2.GaussianBlur(g, (0, 0), 3)).std())
        broad = cv2.GaussianBlur(g, (0, 0), 25)[60:-60, 60:-60]
        return fine, float(broad.max() - broad.min())
    textured, smooth, black = fine_and_broad("textured-pei"), fine_and_broad("smooth-pei"), fine_and_broad("black")
    assert textured[0] > 3 * smooth[0] and textured[0] > 4                # powder-coat speckle
    assert smooth[1] > 25 and black[1] < 10                               # a soft sheen across the smooth sheet


def test_glass_mirrors_a_bright_window_and_it_moves_with_the_camera() -> None:
    def bright(bed: str, **kw: Any) -> np.ndarray:
        cfg = CameraConfig(bed=bed, **QUIET, **kw)
        g = cv2.cvtColor(top_down(render(Deposition(), 0, cfg, np.random.default_rng(0)), cfg), cv2.COLOR_BGR2GRAY)
        return np.argwhere(g > 100)
    assert len(bright("black")) == 0
    low = bright("glass")
    assert len(low) > 1000                                                # a window-like streak of light
    high = bright("glass", tilt_deg=30.0, parallax=True)
    assert len(high) > 1000
    assert np.linalg.norm(low.mean(axis=0) - high.mean(axis=0)) / 2.0 > 20   # mm: a reflection, not a print


def test_glass_shows_a_faint_mirror_image_of_a_tall_part_in_front_of_it() -> None:
    dep = Deposition()
    last = tower(dep, (100.0, 100.0, 120.0, 120.0), 20.0)

    def below_front_edge(bed: str) -> float:
        cfg = CameraConfig(filament="white", bed=bed, tilt_deg=30.0, parallax=True, **QUIET)
        part = render(dep, last, cfg, np.random.default_rng(0)).astype(float)
        bare = render(Deposition(), last, cfg, np.random.default_rng(0)).astype(float)
        u0, v0 = project_px(cfg, np.array([[104.0, 100.0, 0.0]]))[0].round().astype(int)
        u1, _ = project_px(cfg, np.array([[116.0, 100.0, 0.0]]))[0].round().astype(int)
        return float((part - bare)[v0 + 4:v0 + 14, u0:u1].mean())
    assert below_front_edge("glass") > 8
    assert abs(below_front_edge("black")) < 2


def test_bed_logo_is_printed_on_the_sheet_only_where_the_logo_sits() -> None:
    cfg, logo = CameraConfig(bed="textured-pei", **QUIET), CameraConfig(bed="textured-pei", bed_logo=True, **QUIET)
    a = top_down(render(Deposition(), 0, cfg, np.random.default_rng(0)), cfg).astype(int)
    b = top_down(render(Deposition(), 0, logo, np.random.default_rng(0)), cfg).astype(int)
    diff = np.abs(a - b).max(axis=2)
    x0, y0, x1, y1 = (round(v * 2) for v in LOGO_BOX)
    assert (diff[y0:y1, x0:x1] > 30).sum() > 500
    outside = diff.copy()
    outside[y0 - 4:y1 + 4, x0 - 4:x1 + 4] = 0
    assert outside.max() == 0


# --- camera pose ------------------------------------------------------------------------------------------

def test_tilt_30_shows_the_top_of_a_20_mm_block_where_a_pinhole_sees_it() -> None:
    dep = Deposition()
    last = tower(dep, (100.0, 100.0, 120.0, 120.0), 20.0)
    top_z = float(dep.height.max())
    cfg = CameraConfig(filament="white", tilt_deg=30.0, parallax=True, **QUIET)
    grey = cv2.cvtColor(render(dep, last, cfg, np.random.default_rng(0)), cv2.COLOR_BGR2GRAY)
    vs, us = np.nonzero(grey[300:700, 400:900] > 170)                    # the bright, newest top face
    vs, us = vs + 300, us + 400                                          # (the window leaves out the markers)
    seen = np.array([us.mean(), vs.mean()])
    # the geometry the camera documents: 2 × 280 mm from the view centre (110, 110), 30° from straight down
    cam = np.array([110.0, 110.0 - 560.0 * np.sin(np.radians(30)), 560.0 * np.cos(np.radians(30))])
    on_bed = cam[:2] + (np.array([110.0, 110.0]) - cam[:2]) * cam[2] / (cam[2] - top_z)
    predicted = to_px(camera_matrix(cfg), on_bed[None])[0]
    footprint = to_px(camera_matrix(cfg), np.array([[110.0, 110.0]]))[0]
    assert np.linalg.norm(seen - predicted) < 2.0
    assert predicted[1] < footprint[1] - 30                              # toward the far side, well displaced
    corners = np.array([[100.0, 100.0], [120.0, 100.0], [120.0, 120.0], [100.0, 120.0]])
    top_quad = to_px(camera_matrix(cfg), cam[:2] + (corners - cam[:2]) * cam[2] / (cam[2] - top_z))
    assert len(us) == pytest.approx(cv2.contourArea(top_quad.astype(np.float32)), rel=0.15)
    flat = CameraConfig(filament="white", tilt_deg=30.0, **QUIET)        # drawn on the bed plane instead
    flat_grey = cv2.cvtColor(render(dep, last, flat, np.random.default_rng(0)), cv2.COLOR_BGR2GRAY)
    fv, fu = np.nonzero(flat_grey[300:700, 400:900] > 170)
    assert np.linalg.norm(np.array([fu.mean() + 400, fv.mean() + 300]) - footprint) < 2.0


def test_tilt_30_shows_the_front_wall_between_the_footprint_and_the_top() -> None:
    dep = Deposition()
    last = tower(dep, (100.0, 100.0, 120.0, 120.0), 20.0)
    cfg = CameraConfig(filament="white", tilt_deg=30.0, parallax=True, **QUIET)
    img = render(dep, last, cfg, np.random.default_rng(0))
    bare = render(Deposition(), last, cfg, np.random.default_rng(0))
    u, v_foot = project_px(cfg, np.array([[110.0, 100.0, 0.0]]))[0].round().astype(int)
    v_top = round(float(project_px(cfg, np.array([[110.0, 100.0, 20.0]]))[0][1]))
    wall = np.abs(img.astype(int) - bare.astype(int)).max(axis=2)[v_top + 3:v_foot - 2, u]
    assert len(wall) > 20 and (wall > 40).all()                          # material all the way down


def test_tilt_limits_are_0_to_60_degrees() -> None:
    CameraConfig(tilt_deg=60.0)
    CameraConfig(tilt_deg=50.0, parallax=True)
    with pytest.raises(CameraConfigError, match=r"tilt_deg must be in \[0, 60\] degrees"):
        CameraConfig(tilt_deg=61.0)
    with pytest.raises(CameraConfigError, match="filament must be one of orange, white, black, grey, translucent"):
        CameraConfig(filament="purple")
    with pytest.raises(CameraConfigError, match="bed must be one of"):
        CameraConfig(bed="wood")
    with pytest.raises(CameraConfigError, match=r"light_drift must be in \[0, 0.9\]"):
        CameraConfig(light_drift=1.5)


# --- light ------------------------------------------------------------------------------------------------

def away_from_lamp() -> np.ndarray:
    """Unit vector on the bed pointing away from the lamp (where shadows fall)."""
    v = -np.asarray(LIGHT[:2], np.float64)
    return v / np.linalg.norm(v)


def test_a_tower_casts_a_soft_shadow_away_from_the_lamp_on_the_plate_and_on_the_bed() -> None:
    dep = Deposition()
    fill(dep, (80.0, 80.0, 130.0, 130.0), T, 0, along_x=True)             # a plate ...
    last = tower(dep, (100.0, 100.0, 110.0, 110.0), 10.0, first_layer=1) # ... with a 10 mm tower on it
    last = tower(dep, (160.0, 160.0, 170.0, 170.0), 10.0, first_layer=1) # and a tower on the bare sheet
    d = away_from_lamp()
    lit, dark = (CameraConfig(filament="white", bed="textured-pei", shadow=s, **QUIET) for s in (0.0, 0.8))
    a = render(dep, last, lit, np.random.default_rng(0))
    b = render(dep, last, dark, np.random.default_rng(0))
    for centre in ((105.0, 105.0), (165.0, 165.0)):
        exit_t = 5.0 / max(abs(d[0]), abs(d[1]))                        # leave the 10 mm square along d
        behind = np.array(centre) + d * (exit_t + 3.0)
        front = np.array(centre) - d * (exit_t + 3.0)
        assert grey_at(b, lit, behind[0], behind[1], 2) < grey_at(a, lit, behind[0], behind[1], 2) - 20     # in the shadow
        assert abs(grey_at(b, lit, front[0], front[1], 2) - grey_at(a, lit, front[0], front[1], 2)) < 2   # the lamp's side: lit


def test_a_taller_part_casts_a_longer_shadow() -> None:
    d = away_from_lamp()
    dep = Deposition()
    tower(dep, (60.0, 100.0, 70.0, 110.0), 4.0, first_layer=0)
    last = tower(dep, (150.0, 100.0, 160.0, 110.0), 16.0, first_layer=0)
    assert shadow_length(4.0) < 9.0 < shadow_length(16.0)
    lit, dark = (CameraConfig(bed="textured-pei", shadow=s, **QUIET) for s in (0.0, 0.8))
    a, b = (render(dep, last, c, np.random.default_rng(0)) for c in (lit, dark))
    exit_t = 5.0 / max(abs(d[0]), abs(d[1]))
    for cx, reach in ((65.0, shadow_length(4.0)), (155.0, shadow_length(16.0))):
        far = np.array([cx, 105.0]) + d * (exit_t + 9.0)
        loss = grey_at(a, lit, far[0], far[1], 2) - grey_at(b, lit, far[0], far[1], 2)
        assert (loss > 15) == (reach > 9.0), (cx, loss)


def test_light_drift_changes_the_brightness_between_photos_slowly_and_within_its_bound() -> None:
    dep = _reference_scene()
    steady = CameraConfig(resolution=(320, 240), **QUIET)
    drifting = CameraConfig(resolution=(320, 240), light_drift=0.2, **QUIET)
    m0 = float(render(dep, 59, steady, np.random.default_rng(0)).mean())
    means = np.array([render(dep, 59, drifting, np.random.default_rng(0), photo=n, seed=5).mean()
                      for n in range(0, 80, 2)])
    assert means.max() - means.min() > 0.1 * m0                           # it drifts ...
    assert (means > 0.8 * m0 - 1).all() and (means < 1.2 * m0 + 1).all() # ... within ±20 %
    assert np.abs(np.diff(means)).max() < 0.06 * m0                        # ... slowly (2 photos apart)
    factors = [drift_factor(0.2, 5, n) for n in range(2000)]
    assert 0.8 <= min(factors) and max(factors) <= 1.2
    again = render(dep, 59, drifting, np.random.default_rng(0), photo=30, seed=5)
    assert np.array_equal(again, render(dep, 59, drifting, np.random.default_rng(0), photo=30, seed=5))
    assert [drift_factor(0.2, 5, n) for n in range(10)] != [drift_factor(0.2, 6, n) for n in range(10)]


def test_auto_exposure_darkens_the_sheet_when_a_large_bright_part_fills_the_frame() -> None:
    plate = Deposition()
    fill(plate, (20.0, 20.0, 170.0, 200.0), T, 0, along_x=True)
    for auto, expect_darker in ((1.0, True), (0.0, False)):
        cfg = CameraConfig(filament="white", auto_exposure=auto, **QUIET)
        empty = grey_at(render(Deposition(), 0, cfg, np.random.default_rng(0)), cfg, 200.0, 110.0, 8)
        full = grey_at(render(plate, 0, cfg, np.random.default_rng(0)), cfg, 200.0, 110.0, 8)
        assert (full < 0.8 * empty) == expect_darker, (auto, empty, full)
    fixed = CameraConfig(**QUIET)
    auto_cfg = CameraConfig(auto_exposure=1.0, **QUIET)
    assert render(Deposition(), 0, auto_cfg, np.random.default_rng(0)).mean() > \
        1.5 * render(Deposition(), 0, fixed, np.random.default_rng(0)).mean()   # a black sheet is lifted


# --- through printloop sim --------------------------------------------------------------------------------

def test_printloop_sim_white_filament_on_textured_pei_over_its_http_snapshot_url() -> None:
    with running_sim("--speed", "max", "--resolution", "640x480", "--filament", "white",
                     "--bed", "textured-pei") as sim:
        empty = decode(fetch(sim.info["camera"]))
        assert markers(empty) == {0, 1, 2, 3}
        cfg = CameraConfig(resolution=(640, 480))
        sb, sg, sr = bgr_at(empty, cfg, 60.0, 60.0, 8)
        assert sr > sg + 20 > sb + 40                                     # the bronze sheet
        ser = sim.open()
        for line in squares(3):
            command(ser, line)
        command(ser, "M400")
        printed = decode(fetch(sim.info["camera"]))
        changed = cv2.absdiff(printed, empty).max(axis=2) > 40
        assert changed.sum() > 150
        b, g, r = printed[changed].astype(float).mean(axis=0)
        rise = (printed[changed].astype(float) - empty[changed].astype(float)).mean(axis=0)
        assert rise[0] > 50 and r - b < 50 and min(b, g, r) > 130           # white beads (orange has no blue)


def test_printloop_sim_tilted_camera_with_drift_and_shadow_still_shows_all_markers() -> None:
    with running_sim("--speed", "max", "--resolution", "800x600", "--camera-tilt", "30", "--light-drift", "0.3",
                     "--shadow", "0.6", "--bed", "glass", "--bed-logo") as sim:
        assert markers(decode(fetch(sim.info["camera"]))) == {0, 1, 2, 3}


@pytest.mark.parametrize(("args", "message"), [
    (["--filament", "purple"], "--filament must be one of orange, white, black, grey, translucent, silk"),
    (["--bed", "wood"], "--bed must be one of black, textured-pei, smooth-pei, glass"),
    (["--camera-tilt", "75"], "--camera-tilt must be between 0 and 60 degrees"),
    (["--light-drift", "2"], "--light-drift must be between 0 and 0.9"),
    (["--shadow", "-1"], "--shadow must be between 0 and 1"),
])
def test_bad_camera_options_exit_2_naming_the_option_and_its_limits(args: list[str], message: str) -> None:
    out = subprocess.run([sys.executable, "-m", "controller", "sim", *args], check=False, cwd=REPO, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2
    assert message in out.stderr


def test_head_in_view_draws_the_parked_head_where_the_pinhole_sees_it() -> None:
    nozzle = (60.0, 150.0, 15.0)
    cfg = CameraConfig(bed="textured-pei", tilt_deg=30.0, parallax=True, head_in_view=True, **QUIET)
    with_head = render(Deposition(), 0, cfg, np.random.default_rng(0), head=nozzle)
    without = render(Deposition(), 0, cfg, np.random.default_rng(0))
    hidden = CameraConfig(bed="textured-pei", tilt_deg=30.0, parallax=True, **QUIET)
    assert np.array_equal(render(Deposition(), 0, hidden, np.random.default_rng(0), head=nozzle),
                          render(Deposition(), 0, hidden, np.random.default_rng(0)))
    top = project_px(cfg, np.array([[nozzle[0], nozzle[1], nozzle[2] + 55.0]]))[0].round().astype(int)
    u, v = top
    assert with_head[v - 3:v + 4, u - 3:u + 4].mean() < 90 < without[v - 3:v + 4, u - 3:u + 4].mean()
    far = project_px(cfg, np.array([[180.0, 60.0, 0.0]]))[0].round().astype(int)
    assert np.array_equal(with_head[far[1], far[0]], without[far[1], far[0]])   # the rest of the bed is as it was


def test_printloop_sim_head_in_view_shows_the_head_where_it_was_moved() -> None:
    cfg = CameraConfig(resolution=(640, 480))
    with running_sim("--speed", "max", "--resolution", "640x480", "--head-in-view", "--bed", "smooth-pei") as sim:
        ser = sim.open()
        frames = []
        for y in (200.0, 60.0):
            for line in ("G28", f"G1 X110 Y{y:g} Z30 F6000", "M400"):
                command(ser, line)
            frames.append(decode(fetch(sim.info["camera"])))
    for (x, y), dark_in in (((110.0, 200.0), 0), ((110.0, 60.0), 1)):
        u, v = project_px(cfg, np.array([[x, y, 30.0 + 55.0]]))[0].round().astype(int)
        levels = [float(f[v - 2:v + 3, u - 2:u + 3].mean()) for f in frames]
        assert levels[dark_in] < 70 and levels[1 - dark_in] > levels[dark_in] + 10, (x, y, levels)
