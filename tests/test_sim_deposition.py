"""Deposition height map: volume conservation, width from E, layer map, loose spaghetti strands."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from firmware_sim.deposition import Deposition

T = 0.2
W = 0.45


def polyline(points: list[tuple[float, float]]) -> np.ndarray:
    """(N,4) segments joining consecutive points."""
    p = np.asarray(points, np.float64)
    return np.hstack([p[:-1], p[1:]])


def e_for(seg: np.ndarray, width: float, dep: Deposition, thickness: float = T) -> np.ndarray:
    """Filament length that makes beads of `width` × `thickness` along the segments."""
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    return width * thickness * length / dep.filament_area


def square(x: float, y: float, side: float) -> np.ndarray:
    """Closed square perimeter from (x, y)."""
    return polyline([(x, y), (x + side, y), (x + side, y + side), (x, y + side), (x, y)])


def volume(dep: Deposition) -> float:
    """Material on the bed, mm³ (height × cell area)."""
    return float(dep.height.sum(dtype=np.float64)) * dep.cell ** 2


@pytest.mark.parametrize("width", [0.3, 0.45, 0.8])
def test_volume_on_bare_bed_equals_extruded_volume(width: float) -> None:
    dep = Deposition()
    seg = square(50.0, 60.0, 20.0)
    e = e_for(seg, width, dep)
    dep.deposit(seg, e, T, T, 0)
    assert volume(dep) == pytest.approx(float(e.sum()) * dep.filament_area, rel=0.05)
    assert float(dep.height.max()) == pytest.approx(T, abs=1e-6)           # bead top at z


def test_volume_of_many_short_varied_beads_is_conserved() -> None:
    rng = np.random.default_rng(3)
    dep = Deposition()
    pts = [(20.0 + 3 * i, 30.0 + 40 * (i % 2)) for i in range(40)]       # zig-zag infill, separated lines
    seg = polyline(pts)
    widths = rng.uniform(0.35, 0.6, seg.shape[0])
    e = e_for(seg, 1.0, dep) * widths
    dep.deposit(seg, e, T, T, 0)
    assert volume(dep) == pytest.approx(float(e.sum()) * dep.filament_area, rel=0.05)


def cross_section_width(dep: Deposition, x: float, y0: float, y1: float, thickness: float = T) -> float:
    """Bead width measured as cross-section area / thickness on the column at x between y0 and y1."""
    c = int(x / dep.cell)
    col = dep.height[int(y0 / dep.cell):int(y1 / dep.cell), c]
    return float(col.sum()) * dep.cell / thickness


def test_half_the_filament_gives_half_width_beads() -> None:
    dep = Deposition()
    full = polyline([(40.0, 50.0), (140.0, 50.0)])
    half = polyline([(40.0, 60.0), (140.0, 60.0)])
    dep.deposit(full, e_for(full, W, dep), T, T, 0)
    dep.deposit(half, e_for(half, W, dep) / 2, T, T, 0)
    xs = np.linspace(50.0, 130.0, 21)
    w_full = np.mean([cross_section_width(dep, x, 48.0, 52.0) for x in xs])
    w_half = np.mean([cross_section_width(dep, x, 58.0, 62.0) for x in xs])
    assert w_full == pytest.approx(W, rel=0.05)
    assert w_half / w_full == pytest.approx(0.5, abs=0.05)
    covered_full = int((dep.layer[480:520, 900] == 0).sum())
    covered_half = int((dep.layer[580:620, 900] == 0).sum())
    assert covered_half < covered_full                                     # visibly thinner line


def test_no_extrusion_deposits_nothing() -> None:
    dep = Deposition()
    seg = square(10.0, 10.0, 10.0)
    dep.deposit(seg, np.zeros(len(seg)), T, T, 0)
    dep.deposit(np.array([[5.0, 5.0, 5.0, 5.0]]), np.array([1.0]), T, T, 0)   # zero-length: ignored
    dep.deposit(np.zeros((0, 4)), np.zeros(0), T, T, 0)
    assert not dep.height.any()
    assert (dep.layer == -1).all()
    assert dep.extent is None


def test_layer_map_records_the_last_layer_and_heights_stack() -> None:
    dep = Deposition()
    # layer 0: a filled 10 mm patch of parallel lines; layer 1: lines over its left half only
    lines0 = np.array([[100.0, 100.0 + 0.45 * i, 110.0, 100.0 + 0.45 * i] for i in range(23)])
    lines1 = np.array([[100.0, 100.0 + 0.45 * i, 105.0, 100.0 + 0.45 * i] for i in range(23)])
    dep.deposit(lines0, e_for(lines0, W, dep), 0.2, T, 0)
    dep.deposit(lines1, e_for(lines1, W, dep), 0.4, T, 1)
    assert dep.layer[1030, 1080] == 0 and dep.height[1030, 1080] == pytest.approx(0.2, abs=0.01)
    assert dep.layer[1030, 1020] == 1 and dep.height[1030, 1020] == pytest.approx(0.4, abs=0.01)
    assert dep.layer[500, 500] == -1 and dep.height[500, 500] == 0.0
    assert dep.layer.dtype == np.int16 and dep.height.dtype == np.float32
    assert dep.height.shape == (2200, 2200)
    r0, r1, c0, c1 = dep.extent
    assert r0 <= 995 and r1 >= 1100 and c0 <= 995 and c1 >= 1100 and r1 - r0 < 150


def test_segments_beyond_the_bed_are_clipped() -> None:
    dep = Deposition()
    seg = polyline([(-20.0, 10.0), (30.0, 10.0), (30.0, 300.0)])
    dep.deposit(seg, e_for(seg, W, dep), T, T, 0)
    assert dep.height[100, 50] == pytest.approx(T, abs=1e-3)
    assert dep.height[2199, 300] == pytest.approx(T, abs=1e-3)


def test_loose_spaghetti_is_low_off_path_and_roughly_conserves_volume() -> None:
    dep = Deposition()
    path = square(90.0, 90.0, 30.0)
    e = e_for(path, W, dep)
    dep.deposit_loose(path, e, 5, np.random.default_rng(7))
    v = volume(dep)
    assert v == pytest.approx(float(e.sum()) * dep.filament_area, rel=0.3)
    assert 0 < float(dep.height.max()) <= 0.5                               # strands lie low
    # compare with where a normal bead would have gone: most strand material is elsewhere
    planned = Deposition()
    planned.deposit(path, e, T, T, 5)
    on_path = (dep.height > 0.1) & (planned.height > 0.1)
    assert on_path.sum() < 0.3 * (dep.height > 0.1).sum()
    # but near it: within 25 mm of the square
    ys, xs = np.nonzero(dep.height > 0.1)
    assert xs.min() * 0.1 > 90.0 - 25 and xs.max() * 0.1 < 120.0 + 25
    assert ys.min() * 0.1 > 90.0 - 25 and ys.max() * 0.1 < 120.0 + 25
    assert (dep.layer[dep.height > 0.1] == 5).all()
    again = Deposition()
    again.deposit_loose(path, e, 5, np.random.default_rng(7))
    assert np.array_equal(again.height, dep.height)                        # deterministic for a seed


def test_bead_width_scales_with_layer_thickness_inverse() -> None:
    dep = Deposition()
    seg = polyline([(40.0, 50.0), (140.0, 50.0)])
    dep.deposit(seg, e_for(seg, W, dep, thickness=0.2), 0.3, 0.3, 0)       # same E, thicker layer: narrower
    w = np.mean([cross_section_width(dep, x, 48.0, 52.0, thickness=0.3) for x in np.linspace(50, 130, 9)])
    assert w == pytest.approx(W * 0.2 / 0.3, rel=0.06)
    assert 0.27 <= float(dep.height.max()) <= 0.3 + 1e-6        # a round bead: the cells straddle its crest


def test_tiled_rasterisation_of_a_full_plate_equals_one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    from firmware_sim import deposition

    rng = np.random.default_rng(11)
    pts = rng.uniform(5.0, 215.0, (120, 2))
    seg = polyline([tuple(p) for p in pts])                       # long criss-crossing beads over the bed
    border = deposition.TILE * 0.1                                 # and beads hugging the tile borders
    hug = np.array([[5.0, border - 0.04, 215.0, border - 0.04], [2 * border + 0.03, 5.0, 2 * border + 0.03, 215.0]])
    seg = np.vstack([seg, hug])
    tiled = Deposition()
    tiled.deposit(seg, e_for(seg, W, tiled), T, T, 0)
    monkeypatch.setattr(deposition, "TILE", 10_000)
    whole = Deposition()
    whole.deposit(seg, e_for(seg, W, whole), T, T, 0)
    # a line clipped at a tile border gets its own pixel staircase (±1 cell); otherwise the same beads
    assert volume(tiled) == pytest.approx(volume(whole), rel=0.005)
    full_t, full_w = tiled.height > T / 2, whole.height > T / 2
    assert full_t.sum() == pytest.approx(full_w.sum(), rel=0.01)
    near = cv2.dilate(full_w.view(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    assert not (full_t & ~near).any()                         # nothing more than one cell off a bead
    assert tiled.extent == whole.extent
    b = deposition.TILE
    for band in (np.s_[b - 8:b + 8, :], np.s_[:, 2 * b - 8:2 * b + 8]):   # no seams along the tile borders
        assert tiled.height[band].sum() == pytest.approx(whole.height[band].sum(), rel=0.01)


def test_garbage_segments_are_ignored_not_fatal() -> None:
    dep = Deposition()
    seg = np.array([[np.nan, 1.0, 2.0, 3.0], [0.0, np.inf, 5.0, 5.0], [1e9, 1e9, 2e9, 2e9], [10.0, 10.0, 10.1, 10.0]])
    dep.deposit(seg, np.array([1.0, 1.0, 1.0, 50.0]), T, T, 0)      # last: a huge blob on a tiny move
    dep.deposit_loose(seg[:2], np.array([1.0, np.nan]), 1, np.random.default_rng(0))
    assert np.isfinite(dep.height).all()
    assert 0 < float(dep.height.max()) <= T + 1e-6


def length_on_bed(seg: np.ndarray, bed: tuple[float, float]) -> np.ndarray:
    """Length of each segment's centre line inside the bed rectangle (Liang-Barsky clipping)."""
    d = seg[:, 2:] - seg[:, :2]
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    sides = ((-d[:, 0], seg[:, 0]), (d[:, 0], bed[0] - seg[:, 0]),
             (-d[:, 1], seg[:, 1]), (d[:, 1], bed[1] - seg[:, 1]))
    for p, q in sides:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = q / p
        t0 = np.where(p < 0, np.maximum(t0, r), t0)
        t1 = np.where(p > 0, np.minimum(t1, r), t1)
        t1 = np.where((p == 0) & (q < 0), 0.0, t1)
    return np.clip(t1 - t0, 0.0, None) * np.hypot(d[:, 0], d[:, 1])


@settings(max_examples=25, deadline=None)
@given(angle=st.floats(0.0, math.pi), width=st.floats(0.25, 1.0), thickness=st.floats(0.08, 0.4),
       length=st.floats(3.0, 40.0), n=st.integers(1, 12), x=st.floats(30.0, 150.0), y=st.floats(30.0, 150.0))
# beads running off the bed at x < 0: only the part over the bed can be deposited
@example(angle=math.pi, width=0.253, thickness=0.4, length=38.5, n=11, x=34.96, y=59.73)
@example(angle=3.0, width=1.0, thickness=0.25, length=32.0, n=1, x=30.0, y=30.0)
@example(angle=0.0, width=0.25, thickness=0.4, length=3.0, n=12, x=100.0, y=100.0)     # short, thick beads
def test_volume_is_conserved_for_any_bead_geometry(angle: float, width: float, thickness: float, length: float,
                                                    n: int, x: float, y: float) -> None:
    dep = Deposition()
    d = np.array([math.cos(angle), math.sin(angle)])
    normal = np.array([-d[1], d[0]])
    starts = np.array([x, y]) + np.outer(np.arange(n) * 2.0 * width + 0.5, normal)
    seg = np.hstack([starts, starts + length * d])
    e = e_for(seg, width, dep, thickness)
    dep.deposit(seg, e, thickness, thickness, 0)
    # what lands on the bed: a straight bead cut by the bed edge keeps width × thickness × its length inside
    on_bed = float(length_on_bed(seg, dep.bed).sum()) * width * thickness
    assert volume(dep) == pytest.approx(on_bed, rel=0.05)
    assert 0.7 * thickness <= float(dep.height.max()) <= thickness + 1e-6


def test_short_thick_free_beads_add_no_volume_at_their_round_ends() -> None:
    dep = Deposition()
    seg = np.array([[50.0 + 2.0 * i, 50.0, 50.0 + 2.0 * i, 51.5] for i in range(40)])   # 40 separate beads
    e = e_for(seg, 0.3, dep, 0.4)
    dep.deposit(seg, e, 0.4, 0.4, 0)
    assert volume(dep) == pytest.approx(float(e.sum()) * dep.filament_area, rel=0.01)


def test_bad_dimensions_are_rejected() -> None:
    from firmware_sim.deposition import DepositionError

    with pytest.raises(DepositionError, match="cell"):
        Deposition(cell=0.0)
    with pytest.raises(DepositionError, match="too fine"):
        Deposition(cell=0.001)


def test_layer_map_covers_the_bead_width_so_thin_beads_leave_gaps() -> None:
    # a solid patch of parallel lines, then the same lines with half the filament: half as much fresh top
    dep = Deposition()
    ys = np.arange(60.0 + W / 2, 70.0, W)
    segs = np.array([[60.0, y, 80.0, y] for y in ys])
    dep.deposit(segs, e_for(segs, W, dep), T, T, 0)
    dep.deposit(segs, e_for(segs, W, dep) / 2, 2 * T, T, 1)
    win = np.s_[610:690, 610:790]
    fresh = float((dep.layer[win] == 1).mean())
    assert fresh == pytest.approx(0.5, abs=0.08)                           # coverage = bead width / spacing
    assert float((dep.layer[win] == 0).mean()) == pytest.approx(1.0 - fresh, abs=0.01)  # the layer below shows
    full = Deposition()
    full.deposit(segs, e_for(segs, W, full), T, T, 0)
    assert float((full.layer[win] == 0).mean()) > 0.97                     # full beads close the surface
