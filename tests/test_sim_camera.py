"""Camera: ArUco registration to bed mm, printed material visible where it is, newest layer distinguishable."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from firmware_sim.camera import MARKER_DICT, MARKERS, CameraConfig, camera_matrix, encode_jpeg, render
from firmware_sim.camera_markers import MARKER_SIZE, marker_corners
from firmware_sim.deposition import Deposition
from tests.test_sim_planner import gcode_moves, run

T = 0.2
W = 0.45


def fill(dep: Deposition, box: tuple[float, float, float, float], z: float, layer: int, along_x: bool) -> None:
    """Fill a rectangle with parallel beads (a solid layer), as a slicer's skin would."""
    x0, y0, x1, y1 = box
    if along_x:
        segs = np.array([[x0, y, x1, y] for y in np.arange(y0 + W / 2, y1, W)])
    else:
        segs = np.array([[x, y0, x, y1] for x in np.arange(x0 + W / 2, x1, W)])
    length = np.hypot(segs[:, 2] - segs[:, 0], segs[:, 3] - segs[:, 1])
    dep.deposit(segs, W * T * length / dep.filament_area, z, T, layer)


def decode(jpeg: bytes) -> np.ndarray:
    """BGR image from JPEG bytes."""
    img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def detect(img: np.ndarray) -> dict[int, np.ndarray]:
    """ArUco marker id -> (4,2) image corners, with sub-pixel refinement as a host would use."""
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    det = cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(MARKER_DICT), params)
    corners, ids, _ = det.detectMarkers(img)
    if ids is None:
        return {}
    return {int(i): c.reshape(4, 2) for i, c in zip(ids.ravel(), corners, strict=True)}


def to_px(hom: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a homography to (N,2) points."""
    return cv2.perspectiveTransform(np.asarray(pts, np.float64).reshape(-1, 1, 2), hom).reshape(-1, 2)


@pytest.fixture(scope="module")
def printed() -> Deposition:
    """Five solid layers of a 40 × 30 mm block, then a sixth layer over its left half only."""
    dep = Deposition()
    for layer in range(5):
        fill(dep, (60.0, 60.0, 100.0, 90.0), T * (layer + 1), layer, along_x=layer % 2 == 0)
    fill(dep, (60.0, 60.0, 80.0, 90.0), T * 6, 5, along_x=False)
    return dep


def test_markers_sit_outside_the_print_area() -> None:
    assert sorted(MARKERS) == [0, 1, 2, 3]
    for i in MARKERS:
        c = marker_corners(i)
        outside_x = (c[:, 0] < 0).all() or (c[:, 0] > 220).all()
        outside_y = (c[:, 1] < 0).all() or (c[:, 1] > 220).all()
        assert outside_x and outside_y
        assert np.ptp(c[:, 0]) == MARKER_SIZE


@pytest.mark.parametrize("resolution", [(1280, 960), (800, 600)])
def test_markers_register_the_jpeg_to_bed_mm_within_two_pixels(printed: Deposition, resolution: tuple[int, int]
                                                               ) -> None:
    cfg = CameraConfig(resolution=resolution)
    img = decode(encode_jpeg(render(printed, 5, cfg, np.random.default_rng(1)), cfg.jpeg_quality))
    assert img.shape == (resolution[1], resolution[0], 3)
    found = detect(img)
    assert sorted(found) == [0, 1, 2, 3]
    src = np.vstack([marker_corners(i) for i in sorted(found)])
    dst = np.vstack([found[i] for i in sorted(found)])
    hom, _ = cv2.findHomography(src, dst)
    grid = np.array([[x, y] for x in np.linspace(0, 220, 12) for y in np.linspace(0, 220, 12)])
    err = np.linalg.norm(to_px(hom, grid) - to_px(camera_matrix(cfg), grid), axis=1)
    assert err.max() < 2.0


def test_view_has_a_slight_perspective() -> None:
    hom = camera_matrix(CameraConfig())
    front = to_px(hom, np.array([[0.0, 0.0], [220.0, 0.0]]))
    back = to_px(hom, np.array([[0.0, 220.0], [220.0, 220.0]]))
    w_front, w_back = np.ptp(front[:, 0]), np.ptp(back[:, 0])
    assert 0.9 < w_back / w_front < 0.995                     # far edge a little narrower: not an affine view
    assert back[0, 1] < front[0, 1]                           # the back of the bed is at the top of the image
    flat = camera_matrix(CameraConfig(tilt_deg=0.0))
    f, b = to_px(flat, np.array([[0.0, 0.0], [220.0, 0.0]])), to_px(flat, np.array([[0.0, 220.0], [220.0, 220.0]]))
    assert np.ptp(f[:, 0]) == pytest.approx(np.ptp(b[:, 0]), rel=1e-6)


def patch(img: np.ndarray, hom: np.ndarray, x: float, y: float, r: int = 6) -> np.ndarray:
    """Grey pixels around the image position of bed point (x, y)."""
    u, v = to_px(hom, np.array([[x, y]]))[0].round().astype(int)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return grey[v - r:v + r + 1, u - r:u + r + 1].astype(np.float64)


def test_printed_square_is_brighter_than_the_bed_where_it_was_printed() -> None:
    dep = Deposition()
    fill(dep, (140.0, 30.0, 160.0, 50.0), T, 0, along_x=True)
    cfg = CameraConfig()
    img = decode(encode_jpeg(render(dep, 0, cfg, np.random.default_rng(2))))
    hom = camera_matrix(cfg)
    inside = patch(img, hom, 150.0, 40.0).mean()
    for x, y in [(150.0, 60.0), (130.0, 40.0), (40.0, 150.0)]:
        assert inside > patch(img, hom, x, y).mean() + 40
    # the same spot on an empty bed is dark
    empty = decode(encode_jpeg(render(Deposition(), 0, cfg, np.random.default_rng(2))))
    assert patch(empty, hom, 150.0, 40.0).mean() < inside - 40
    # the material shows the filament colour (red channel dominates in BGR order)
    u, v = to_px(hom, np.array([[150.0, 40.0]]))[0].round().astype(int)
    b, g, r = img[v - 5:v + 6, u - 5:u + 6].reshape(-1, 3).mean(axis=0)
    assert r > g > b


def test_newest_layer_is_distinguishable_from_the_layer_below(printed: Deposition) -> None:
    cfg = CameraConfig()
    img = render(printed, 5, cfg, np.random.default_rng(3))
    hom = camera_matrix(cfg)
    newest = patch(img, hom, 70.0, 75.0, r=15).mean()        # layer 5 on the left half
    below = patch(img, hom, 90.0, 75.0, r=15).mean()         # layer 4 shows on the right half
    assert newest > below + 15
    # once the next layer starts elsewhere, this one becomes "older" and darkens
    img6 = render(printed, 6, cfg, np.random.default_rng(3))
    assert patch(img6, hom, 70.0, 75.0, r=15).mean() < newest - 15


def test_render_is_deterministic_for_a_seed_and_noisy_across_seeds(printed: Deposition) -> None:
    cfg = CameraConfig(resolution=(640, 480))
    a = render(printed, 5, cfg, np.random.default_rng(11))
    b = render(printed, 5, cfg, np.random.default_rng(11))
    c = render(printed, 5, cfg, np.random.default_rng(12))
    assert a.dtype == np.uint8 and a.shape == (480, 640, 3)
    assert np.array_equal(a, b)
    diff = a.astype(int) - c.astype(int)
    assert 1.5 < diff.std() < 8                                 # sensor noise, sigma 3 per frame
    quiet = render(printed, 5, CameraConfig(resolution=(640, 480), noise_sigma=0.0), np.random.default_rng(1))
    assert np.array_equal(quiet, render(printed, 5, CameraConfig(resolution=(640, 480), noise_sigma=0.0),
                                        np.random.default_rng(2)))


def test_lighting_is_uneven_across_the_sheet() -> None:
    cfg = CameraConfig(noise_sigma=0.0)
    img = render(Deposition(), 0, cfg, np.random.default_rng(0))
    hom = camera_matrix(cfg)
    centre = patch(img, hom, 110.0, 110.0, r=20).mean()
    corner = patch(img, hom, 5.0, 215.0, r=20).mean()
    assert centre > corner * 1.05
    even = render(Deposition(), 0, CameraConfig(noise_sigma=0.0, lighting=0.0), np.random.default_rng(0))
    e_centre = patch(even, hom, 110.0, 110.0, r=20).mean()
    e_corner = patch(even, hom, 5.0, 215.0, r=20).mean()
    assert abs(e_centre - e_corner) < abs(centre - corner)


def test_spaghetti_is_visible_off_the_planned_path() -> None:
    dep = Deposition()
    path = np.array([[100.0, 100.0, 130.0, 100.0], [130.0, 100.0, 130.0, 130.0]])
    e = W * T * 30.0 / dep.filament_area * np.ones(2) * 20
    dep.deposit_loose(path, e, 3, np.random.default_rng(5))
    cfg = CameraConfig(noise_sigma=0.0)
    img = render(dep, 3, cfg, np.random.default_rng(0))
    bare = render(Deposition(), 3, cfg, np.random.default_rng(0))
    changed = np.abs(img.astype(int) - bare.astype(int)).max(axis=2) > 30
    assert changed.sum() > 500


def test_a_cura_cube_job_shows_as_a_20_mm_square_where_it_was_printed(gcode_samples_dir: Path) -> None:
    blocks = run(gcode_moves(gcode_samples_dir / "cube.cura.gcode"))
    seg = np.array([[*b.start[:2], *b.end[:2], b.end[3] - b.start[3], b.end[2]] for b in blocks])
    ext = seg[(seg[:, 4] > 1e-6) & (np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]) > 0)]
    zs = np.unique(np.round(ext[:, 5], 3))
    dep = Deposition()
    prev = 0.0
    for layer, z in enumerate(zs):
        sel = ext[np.abs(ext[:, 5] - z) < 1e-3]
        dep.deposit(sel[:, :4], sel[:, 4], float(z), float(z) - prev, layer)
        prev = float(z)
    assert 90 <= len(zs) <= 110 and float(dep.height.max()) == pytest.approx(20.0, abs=0.3)
    cfg = CameraConfig()
    img = decode(encode_jpeg(render(dep, len(zs) - 1, cfg, np.random.default_rng(0))))
    # back to bed mm through the camera's homography; bright filament pixels form the cube's top
    mm_to_quarter = np.array([[4.0, 0, 0], [0, 4.0, 0], [0, 0, 1]])   # bed 0..220 mm at 4 px/mm, row = y
    top_down = cv2.warpPerspective(img, mm_to_quarter @ np.linalg.inv(camera_matrix(cfg)), (880, 880))
    b, _g, r = (top_down[..., i].astype(int) for i in range(3))
    ys, xs = np.nonzero((r > 120) & (r - b > 60))                        # filament-coloured pixels
    assert xs.min() / 4 > ext[:, [0, 2]].min() - 1 and xs.max() / 4 < ext[:, [0, 2]].max() + 1   # cube + skirt
    assert ys.min() / 4 > ext[:, [1, 3]].min() - 1 and ys.max() / 4 < ext[:, [1, 3]].max() + 1
    ys, xs = np.nonzero((r > 190) & (r - b > 60))                        # the bright, newest top layer
    top = ext[ext[:, 5] == zs[-1]]
    assert xs.min() / 4 == pytest.approx(top[:, [0, 2]].min(), abs=1.0)
    assert xs.max() / 4 == pytest.approx(top[:, [0, 2]].max(), abs=1.0)
    assert ys.min() / 4 == pytest.approx(top[:, [1, 3]].min(), abs=1.0)
    assert ys.max() / 4 == pytest.approx(top[:, [1, 3]].max(), abs=1.0)
    assert 18.5 < (xs.max() - xs.min()) / 4 < 20.5                       # 20 mm cube, edges anti-aliased


def test_bad_camera_settings_name_the_option() -> None:
    from firmware_sim.camera import CameraConfigError

    with pytest.raises(CameraConfigError, match="resolution"):
        CameraConfig(resolution=(0, 480))
    with pytest.raises(CameraConfigError, match="jpeg_quality"):
        CameraConfig(jpeg_quality=101)
    with pytest.raises(CameraConfigError, match="view"):
        CameraConfig(view=(10.0, 0.0, 5.0, 100.0))
